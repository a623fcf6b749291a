//! Test-only fault injection, switched on by the `CONFSYNC_FAILPOINTS` environment
//! variable (for example `commit-crash-after=2,transfer-delay-ms=5`). Tests use it to
//! crash an agent between two renames of a commit, or to slow a transfer enough to kill
//! the agent in the middle of it. Unset, every point is a no-op lookup.
//!
//! Only builds with the `failpoints` feature read the variable (the tests' builds, and the
//! engine's own unit tests): a release build or a package ignores it, so no environment
//! can make a production agent crash or stall on purpose.

use std::collections::HashMap;
use std::sync::OnceLock;

pub const ENV: &str = "CONFSYNC_FAILPOINTS";

/// Abort the process after this many commit operations.
pub const COMMIT_CRASH_AFTER: &str = "commit-crash-after";
/// Sleep this many milliseconds after each chunk received.
pub const TRANSFER_DELAY_MS: &str = "transfer-delay-ms";
/// Sleep this many milliseconds after the last check that the destination is unchanged,
/// just before committing (to change the tree in that window, as an attacker would).
pub const COMMIT_DELAY_MS: &str = "commit-delay-ms";
/// Sleep this many milliseconds in every scan, between the walk and the hashing (to edit
/// the tree while a scan runs).
pub const SCAN_DELAY_MS: &str = "scan-delay-ms";
/// The agent's file watcher drops every change event, as a watcher that missed them would.
pub const WATCH_IGNORE_EVENTS: &str = "watch-ignore-events";
/// The agent's file watcher turns every change event into a queue overflow (what inotify
/// reports when its queue overflows: the events are lost, only the overflow is told).
pub const WATCH_OVERFLOW: &str = "watch-overflow";
/// Replace the agent's handshake (and HTTP/2 preface) timeout with this many milliseconds.
pub const HANDSHAKE_TIMEOUT_MS: &str = "handshake-timeout-ms";
/// Tell peers a clock this many milliseconds ahead in `Hello` (a server whose clock is off).
pub const CLOCK_AHEAD_MS: &str = "clock-ahead-ms";
/// Replace every client call deadline and stream idle timeout with this many milliseconds.
pub const CLIENT_TIMEOUT_MS: &str = "client-timeout-ms";

#[cfg(not(any(test, feature = "failpoints")))]
fn points() -> &'static HashMap<String, u64> {
    static NONE: OnceLock<HashMap<String, u64>> = OnceLock::new();
    NONE.get_or_init(HashMap::new)
}

#[cfg(any(test, feature = "failpoints"))]
fn points() -> &'static HashMap<String, u64> {
    static POINTS: OnceLock<HashMap<String, u64>> = OnceLock::new();
    POINTS.get_or_init(|| {
        let raw = std::env::var(ENV).unwrap_or_default();
        raw.split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|p| match p.split_once('=') {
                Some((name, value)) => (name.trim().to_string(), value.trim().parse().unwrap_or(1)),
                None => (p.trim().to_string(), 1),
            })
            .collect()
    })
}

/// The value of a failpoint, when it is switched on.
pub fn value(name: &str) -> Option<u64> {
    points().get(name).copied()
}
