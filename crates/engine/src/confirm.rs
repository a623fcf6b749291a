//! Commit-confirmed: an apply made with a deadline stands only if it is confirmed in time;
//! otherwise the destination rolls the generation back itself. The pending confirmation
//! is a small file in the state folder (`confirm.json`), so the deadline survives a
//! restart; while it stands, every other apply is refused (a scheduled `auto` could
//! otherwise pile changes onto a generation that is about to be undone).

use std::path::PathBuf;

use crate::clock;
use crate::error::{EngineError, Result};
use crate::fsutil::write_atomically;
use crate::layout::Layout;
use crate::refusal::{Refusal, RefusalKind};

/// What `confirm.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pending {
    pub generation: u64,
    /// Seconds since the Unix epoch: rolled back at this time unless confirmed.
    pub deadline: u64,
    pub requested_by: String,
}

fn path(layout: &Layout) -> PathBuf {
    layout.state_dir().join("confirm.json")
}

/// The confirmation pending, if any. An unreadable file is reported and kept (it may be
/// all that stands between a bad push and its undo), and counts as none.
pub fn current(layout: &Layout) -> Option<Pending> {
    let path = path(layout);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .inspect_err(|e| tracing::error!(path = %path.display(), error = %e, "unreadable pending confirmation; fix or remove it"))
            .ok(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            tracing::error!(path = %path.display(), error = %e, "cannot read the pending confirmation");
            None
        }
    }
}

/// Starts waiting for the confirmation of `pending`.
pub fn start(layout: &Layout, pending: &Pending) -> Result<()> {
    let path = path(layout);
    let bytes = serde_json::to_vec_pretty(pending)
        .map_err(|e| EngineError::State { path: path.clone(), detail: e.to_string() })?;
    write_atomically(&path, &bytes)
}

/// Ends the wait (confirmed, or rolled back); none pending is no error.
pub fn end(layout: &Layout) -> Result<()> {
    let path = path(layout);
    match std::fs::remove_file(&path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(EngineError::io("remove", &path)(e)),
    }
}

/// The refusal every apply meets while a confirmation is pending on `server`.
pub fn refusal(layout: &Layout, server: &str) -> Option<Refusal> {
    let pending = current(layout)?;
    Some(Refusal::new(
        RefusalKind::AwaitingConfirmation,
        format!(
            "{server} awaits the confirmation of generation {} until {}; confirm it first \
             (confsync confirm --server {server}), or let it roll back then",
            pending.generation,
            clock::utc(pending.deadline)
        ),
    ))
}
