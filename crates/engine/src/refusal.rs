//! Refusals: what confsync declines to do on purpose, changing nothing.
//!
//! A refusal has a kind and a message. The kind travels from where the refusal is made
//! (a guard in the plan, the apply lock, a hold) through the protocol to the command line
//! unchanged, so that `auto` tells a busy destination from a held one, the exit code is
//! chosen, and the JSON `error` event carries it, without anyone reading the message.

use std::fmt;

/// Why something was refused.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum RefusalKind {
    /// Another apply is running on the destination; it will be free shortly.
    Busy,
    /// A tree changed between the preview and the apply; plan again.
    ChangedSincePreview,
    /// The source's category is empty while the destination's is not (a wiped source).
    EmptySource,
    /// The plan deletes more than the allowed share of a category's entries.
    MaxDelete,
    /// The destination is marked protected (usually the primary).
    Protected,
    /// The destination is on hold for maintenance.
    Hold,
    /// The source and the destination are one server.
    SameServer,
    /// A rollback cannot be planned: no such generation, pruned, or its content is lost.
    RollbackUnavailable,
    /// A rollback would overwrite changes made after the generation that wrote a path.
    ChangedAfterGeneration,
    /// The administrator answered no, or there was no terminal to ask on.
    NotConfirmed,
    /// Stopped (Ctrl-C) before anything was committed.
    Cancelled,
    /// The agent's policy does not allow this caller the call (role, certificate, TLS).
    Denied,
    /// The peer speaks another protocol version.
    VersionMismatch,
    /// A request over one of the agent's limits (ranges, files per request).
    OverLimit,
    /// An earlier commit could not be undone completely; its recovery must finish first.
    RecoveryPending,
    /// A shared file under a key rule cannot be merged (it does not parse, or is too large).
    Unmergeable,
    /// `--refuse-downgrade`: the source's copy of a file is older than the destination's.
    Downgrade,
    /// `--refuse-local-edits`: a file was changed on the destination since its last sync.
    LocalEdits,
    /// A `[[check]]` of the destination failed on the staged tree; nothing was changed.
    CheckFailed,
    /// A commit-confirmed generation awaits its confirmation; confirm it first.
    AwaitingConfirmation,
    /// Two-way: the servers' clocks disagree too much to tell the newer of a conflict.
    ClockSkew,
    /// Two-way: a file changed on both servers and nobody decided which version wins.
    Conflict,
    /// A delta bundle made for another state of this destination (or another server).
    BundleMismatch,
    /// The agent cannot set owners, and replacing a file another user owns would leave it
    /// owned by the agent.
    Ownership,
}

impl RefusalKind {
    pub const ALL: [RefusalKind; 24] = [
        RefusalKind::Busy,
        RefusalKind::ChangedSincePreview,
        RefusalKind::EmptySource,
        RefusalKind::MaxDelete,
        RefusalKind::Protected,
        RefusalKind::Hold,
        RefusalKind::SameServer,
        RefusalKind::RollbackUnavailable,
        RefusalKind::ChangedAfterGeneration,
        RefusalKind::NotConfirmed,
        RefusalKind::Cancelled,
        RefusalKind::Denied,
        RefusalKind::VersionMismatch,
        RefusalKind::OverLimit,
        RefusalKind::RecoveryPending,
        RefusalKind::Unmergeable,
        RefusalKind::Downgrade,
        RefusalKind::LocalEdits,
        RefusalKind::CheckFailed,
        RefusalKind::AwaitingConfirmation,
        RefusalKind::ClockSkew,
        RefusalKind::Conflict,
        RefusalKind::BundleMismatch,
        RefusalKind::Ownership,
    ];

    /// The name in JSON and logs (`changed_since_preview`).
    pub fn name(self) -> &'static str {
        match self {
            RefusalKind::Busy => "busy",
            RefusalKind::ChangedSincePreview => "changed_since_preview",
            RefusalKind::EmptySource => "empty_source",
            RefusalKind::MaxDelete => "max_delete",
            RefusalKind::Protected => "protected",
            RefusalKind::Hold => "hold",
            RefusalKind::SameServer => "same_server",
            RefusalKind::RollbackUnavailable => "rollback_unavailable",
            RefusalKind::ChangedAfterGeneration => "changed_after_generation",
            RefusalKind::NotConfirmed => "not_confirmed",
            RefusalKind::Cancelled => "cancelled",
            RefusalKind::Denied => "denied",
            RefusalKind::VersionMismatch => "version_mismatch",
            RefusalKind::OverLimit => "over_limit",
            RefusalKind::RecoveryPending => "recovery_pending",
            RefusalKind::Unmergeable => "unmergeable",
            RefusalKind::Downgrade => "downgrade",
            RefusalKind::LocalEdits => "local_edits",
            RefusalKind::CheckFailed => "check_failed",
            RefusalKind::AwaitingConfirmation => "awaiting_confirmation",
            RefusalKind::ClockSkew => "clock_skew",
            RefusalKind::Conflict => "conflict",
            RefusalKind::BundleMismatch => "bundle_mismatch",
            RefusalKind::Ownership => "ownership",
        }
    }

    /// "Not now" rather than "not this": trying again a moment later may well succeed.
    pub fn is_transient(self) -> bool {
        matches!(self, RefusalKind::Busy | RefusalKind::ChangedSincePreview)
    }

    /// A safety guard of the plan, lifted by a flag the message names.
    pub fn is_guard(self) -> bool {
        matches!(
            self,
            RefusalKind::EmptySource
                | RefusalKind::MaxDelete
                | RefusalKind::Unmergeable
                | RefusalKind::Downgrade
                | RefusalKind::LocalEdits
        )
    }
}

impl fmt::Display for RefusalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One refusal: its kind, and a message for an administrator that says why and what to do.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct Refusal {
    pub kind: RefusalKind,
    pub message: String,
}

impl Refusal {
    pub fn new(kind: RefusalKind, message: impl Into<String>) -> Refusal {
        Refusal { kind, message: message.into() }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Several refusals as one sentence, in order.
pub fn joined(refusals: &[Refusal]) -> String {
    refusals.iter().map(|r| r.message.as_str()).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip_through_json() {
        let mut names: Vec<&str> = RefusalKind::ALL.iter().map(|k| k.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), RefusalKind::ALL.len());
        for kind in RefusalKind::ALL {
            let json = serde_json::to_string(&kind).expect("serialize");
            assert_eq!(json, format!("\"{}\"", kind.name()));
            assert_eq!(serde_json::from_str::<RefusalKind>(&json).expect("parse"), kind);
        }
    }
}
