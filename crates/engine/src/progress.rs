//! The progress trait the engine reports to. The agent turns reports into gRPC events;
//! the CLI draws them with bars, JSON lines or nothing.

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    Planning,
    Transferring,
    Committing,
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ProgressEvent {
    pub phase: Phase,
    pub current_file: String,
    pub bytes_done: u64,
    pub bytes_total: u64,
    pub files_done: u64,
    pub files_total: u64,
}

impl ProgressEvent {
    /// An event that only names the phase (no counts yet).
    pub fn phase(phase: Phase) -> ProgressEvent {
        ProgressEvent {
            phase,
            current_file: String::new(),
            bytes_done: 0,
            bytes_total: 0,
            files_done: 0,
            files_total: 0,
        }
    }
}

pub trait Progress: Send + Sync {
    fn report(&self, event: ProgressEvent);

    /// Whether whoever asked has gone away or asked to stop; staging stops at the next
    /// chunk and nothing is committed.
    fn is_cancelled(&self) -> bool {
        false
    }
}

/// Reports nowhere and never cancels.
pub struct NoProgress;

impl Progress for NoProgress {
    fn report(&self, _event: ProgressEvent) {}
}
