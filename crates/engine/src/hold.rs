//! Holding a server: while held, it refuses every apply (manual, scheduled or rollback)
//! with the reason, until released. The hold is a small file in the state folder
//! (`hold.json`), so it survives restarts; it is read at each check, so there is no copy
//! in memory to go stale.

use std::path::PathBuf;

use crate::clock;
use crate::error::{EngineError, Result};
use crate::fsutil::write_atomically;
use crate::layout::Layout;
use crate::refusal::{Refusal, RefusalKind};

/// What `hold.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hold {
    pub reason: String,
    /// Seconds since the Unix epoch.
    pub since: u64,
    pub held_by: String,
}

fn path(layout: &Layout) -> PathBuf {
    layout.state_dir().join("hold.json")
}

/// The hold in force, if any. A hold file that cannot be read counts as a hold: refusing
/// is the safe reading of "someone meant to stop applies here".
pub fn current(layout: &Layout) -> Option<Hold> {
    let path = path(layout);
    let unreadable = |e: &dyn std::fmt::Display| {
        tracing::warn!(path = %path.display(), error = %e, "unreadable hold file; treating the server as held");
        Hold {
            reason: format!(
                "the hold file {} is unreadable ({e}); fix or remove it, or run `confsync release`",
                path.display()
            ),
            since: 0,
            held_by: String::new(),
        }
    };
    match std::fs::read(&path) {
        Ok(bytes) => Some(serde_json::from_slice(&bytes).unwrap_or_else(|e| unreadable(&e))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => Some(unreadable(&e)),
    }
}

/// Places a hold (or replaces the one in force).
pub fn place(layout: &Layout, hold: &Hold) -> Result<()> {
    let path = path(layout);
    let bytes = serde_json::to_vec_pretty(hold)
        .map_err(|e| EngineError::State { path: path.clone(), detail: e.to_string() })?;
    write_atomically(&path, &bytes)
}

/// Ends the hold; no hold is no error.
pub fn release(layout: &Layout) -> Result<()> {
    let path = path(layout);
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(EngineError::io("remove", path)(e))
        }
        _ => Ok(()),
    }
}

/// Why an apply is refused on the held server `name`, naming the way out; `None` when
/// not held.
pub fn refusal(layout: &Layout, name: &str) -> Option<Refusal> {
    let hold = current(layout)?;
    let reason = if hold.reason.is_empty() { "no reason given".to_string() } else { hold.reason };
    let by = if hold.held_by.is_empty() { String::new() } else { format!(" by {}", hold.held_by) };
    let since =
        if hold.since == 0 { String::new() } else { format!(" since {}", clock::utc(hold.since)) };
    Some(Refusal::new(
        RefusalKind::Hold,
        format!(
            "server {name:?} is on hold{since}{by} ({reason}); it refuses every apply and rollback \
             until `confsync release --server {name}`"
        ),
    ))
}
