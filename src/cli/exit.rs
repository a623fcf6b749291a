//! Exit codes, and the error types that choose them.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success, or already in sync |
//! | 1 | differences found (`diff`) |
//! | 2 | usage error |
//! | 3 | failed |
//! | 4 | refused: safety guard, protected server, busy, stale plan, not confirmed |

use crate::client::ClientError;
use crate::engine::EngineError;

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
#[error("{0}")]
pub struct Refusal(pub String);

/// The command line asked for something impossible.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The exit code for an error, judged by the first typed error in its chain.
pub fn code_for(error: &anyhow::Error) -> ExitCode {
    for cause in error.chain() {
        if cause.is::<Refusal>() {
            return ExitCode::Refused;
        }
        if cause.is::<UsageError>() {
            return ExitCode::Usage;
        }
        if let Some(e) = cause.downcast_ref::<ClientError>() {
            return if e.is_refusal() { ExitCode::Refused } else { ExitCode::Failed };
        }
        if let Some(e) = cause.downcast_ref::<EngineError>() {
            return if e.is_refusal() { ExitCode::Refused } else { ExitCode::Failed };
        }
    }
    ExitCode::Failed
}
