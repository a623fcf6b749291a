//! Exit codes, and the error types that choose them.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success, or already in sync |
//! | 1 | differences found (`diff`) |
//! | 2 | usage error |
//! | 3 | failed |
//! | 4 | refused: safety guard, protected server, on hold, busy, stale plan, not confirmed, cancelled |
//!
//! The code is chosen from the error's type, never from its message.

use confsync_engine::EngineError;
use confsync_engine::refusal::{self, Refusal, RefusalKind};
use confsync_wire::ClientError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitCode {
    Success = 0,
    Differences = 1,
    Usage = 2,
    Failed = 3,
    Refused = 4,
}

impl From<ExitCode> for std::process::ExitCode {
    fn from(code: ExitCode) -> Self {
        std::process::ExitCode::from(code as u8)
    }
}

/// Something was refused on purpose; nothing was changed.
#[derive(Debug, thiserror::Error)]
#[error("{}", refusal::joined(.0))]
pub struct Refused(pub Vec<Refusal>);

impl Refused {
    pub fn one(kind: RefusalKind, message: impl Into<String>) -> Refused {
        Refused(vec![Refusal::new(kind, message)])
    }

    /// The administrator said no (or could not be asked).
    pub fn not_confirmed(message: impl Into<String>) -> Refused {
        Refused::one(RefusalKind::NotConfirmed, message)
    }
}

/// The command line asked for something impossible.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The exit code for an error, judged by the first typed error in its chain.
pub fn code_for(error: &anyhow::Error) -> ExitCode {
    if !refusals(error).is_empty() {
        return ExitCode::Refused;
    }
    if error.chain().any(|cause| cause.is::<UsageError>()) {
        return ExitCode::Usage;
    }
    ExitCode::Failed
}

/// The refusals an error carries, wherever in its chain (none when it is a failure).
pub fn refusals(error: &anyhow::Error) -> Vec<Refusal> {
    for cause in error.chain() {
        if let Some(Refused(refusals)) = cause.downcast_ref::<Refused>() {
            return refusals.clone();
        }
        if let Some(e) = cause.downcast_ref::<ClientError>() {
            return e.refusals().to_vec();
        }
        if let Some(e) = cause.downcast_ref::<EngineError>() {
            return e.refusals().to_vec();
        }
        if cause.is::<UsageError>() {
            return Vec::new();
        }
    }
    Vec::new()
}
