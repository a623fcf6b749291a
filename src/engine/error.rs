//! The engine's error type: each variant says what failed and where, and where there is
//! an obvious next step, the message names it.

use std::io;
use std::path::PathBuf;

use crate::engine::path::PathError;

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("could not {op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error(transparent)]
    Path(#[from] PathError),

    #[error(
        "the source or destination changed since the preview (plan {expected} is now {actual}); \
         nothing was changed: run the diff again and review the new plan"
    )]
    ChangedSincePreview { expected: String, actual: String },

    #[error(
        "another apply is already running on this server; nothing was changed: wait for it to finish and run again"
    )]
    Busy,

    #[error(
        "server {name:?} is protected and refuses to be overwritten; pass --allow-protected if you really mean to write to it"
    )]
    Protected { name: String },

    #[error("refused by a safety guard: {}", .0.join("; "))]
    Refused(Vec<String>),

    #[error("the source failed: {0}")]
    Source(String),

    #[error("data for {path} failed verification: {detail}; nothing was changed")]
    Integrity { path: String, detail: String },

    #[error("cancelled: {0}; nothing was changed")]
    Cancelled(String),

    #[error("state under {path} is damaged: {detail}")]
    State { path: PathBuf, detail: String },

    #[error("configuration problem: {0}")]
    Config(String),

    #[error("cannot roll back: {0}")]
    Rollback(String),
}

impl EngineError {
    /// Wraps an I/O error with the operation and the path it concerned.
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> EngineError {
        let path = path.into();
        move |source| EngineError::Io { op, path, source }
    }

    /// Whether the error is a refusal (guard, protected, busy, stale plan) rather than a
    /// failure: refusals change nothing and map to exit code 4.
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            EngineError::ChangedSincePreview { .. }
                | EngineError::Busy
                | EngineError::Protected { .. }
                | EngineError::Refused(_)
                | EngineError::Rollback(_)
        )
    }
}
