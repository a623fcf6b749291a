//! The engine's error type: each variant says what failed and where, and where there is
//! an obvious next step, the message names it. Refusals (nothing was changed, on purpose)
//! are one variant carrying typed [`Refusal`]s.

use std::io;
use std::path::PathBuf;

use crate::entry::Digest;
use crate::path::{PathError, Short};
use crate::refusal::{self, Refusal, RefusalKind};

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("could not {op} {}: {source}", Short(&.path.display().to_string()))]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    #[error(transparent)]
    Path(#[from] PathError),

    /// Declined on purpose; nothing was changed.
    #[error("{}", refusal::joined(.0))]
    Refused(Vec<Refusal>),

    #[error("the source failed: {0}")]
    Source(String),

    #[error("data for {} failed verification: {detail}; nothing was changed", Short(.path))]
    Integrity { path: String, detail: String },

    #[error("cancelled: {0}; nothing was changed")]
    Cancelled(String),

    #[error("state under {path} is damaged: {detail}")]
    State { path: PathBuf, detail: String },

    #[error("configuration problem: {0}")]
    Config(String),

    /// A commit failed before its commit point and was undone.
    #[error("{0}; the commit was undone: nothing was changed")]
    Undone(Box<EngineError>),

    /// A commit failed and so did its undo; recovery finishes the undo.
    #[error(
        "{error}; undoing the commit failed too ({undo}): the tree is partly new, the journal \
         and the replaced files are kept, and the agent finishes the undo before its next apply \
         or at its next start"
    )]
    CommitStuck { error: Box<EngineError>, undo: Box<EngineError> },

    /// A service this agent cannot offer now (no file watcher could start, say).
    #[error("{0}")]
    Unavailable(String),
}

impl EngineError {
    /// Wraps an I/O error with the operation and the path it concerned.
    pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> EngineError {
        let path = path.into();
        move |source| EngineError::Io { op, path, source }
    }

    /// One refusal of `kind`.
    pub fn refused(kind: RefusalKind, message: impl Into<String>) -> EngineError {
        EngineError::Refused(vec![Refusal::new(kind, message)])
    }

    /// Another apply holds this destination.
    pub fn busy() -> EngineError {
        EngineError::refused(
            RefusalKind::Busy,
            "another apply is already running on this server; nothing was changed: wait for it \
             to finish and run again",
        )
    }

    /// The plan computed now is not the one reviewed.
    pub fn changed_since_preview(expected: Option<Digest>, actual: Digest) -> EngineError {
        let expected = expected.map_or_else(|| "(none)".to_string(), Digest::short);
        EngineError::refused(
            RefusalKind::ChangedSincePreview,
            format!(
                "the source or destination changed since the preview (plan {expected} is now {}); \
                 nothing was changed: run the diff again and review the new plan",
                actual.short()
            ),
        )
    }

    /// A rollback that cannot be planned.
    pub fn rollback(message: impl Into<String>) -> EngineError {
        EngineError::refused(
            RefusalKind::RollbackUnavailable,
            format!("cannot roll back: {}", message.into()),
        )
    }

    /// The refusals this error carries (none when it is a failure).
    pub fn refusals(&self) -> &[Refusal] {
        match self {
            EngineError::Refused(refusals) => refusals,
            _ => &[],
        }
    }

    /// Whether the error is a refusal rather than a failure: refusals change nothing and
    /// map to exit code 4.
    pub fn is_refusal(&self) -> bool {
        matches!(self, EngineError::Refused(_))
    }
}
