//! The last plan a destination made, kept for the apply that follows its review: an
//! apply of the reviewed plan on unchanged trees neither scans nor fetches manifests again.

use confsync_engine::apply::Phases;
use confsync_engine::entry::Digest;
use confsync_engine::last_sync::Classified;
use confsync_engine::manifest::Manifest;
use confsync_engine::plan::Plan;
use confsync_engine::request::PlanRequest;
use confsync_engine::rules::RulesFile;

/// A plan computed against a source, with what is needed to apply it.
#[derive(Clone)]
pub struct Planned {
    pub plan: Plan,
    pub source_name: String,
    pub source: crate::agent::source::Source,
    pub destination: Manifest,
    /// The source's category digests the plan was made from.
    pub source_digests: Vec<Option<Digest>>,
    /// Both sides' device-specific rules as they read then.
    pub rules: (RulesFile, RulesFile),
    /// How long its scan, exchange and diff took.
    pub timings: Phases,
    /// What this server's own classification added (local edits, downgrades, refusals),
    /// once made: undone before the plan is classified again.
    pub classified: Option<Classified>,
}

/// The last plan made, for the apply that follows its review.
pub struct PlanMemo {
    pub request: PlanRequest,
    pub content: Planned,
    pub made: std::time::Instant,
}

/// How long a plan is kept for its apply; older ones are made again.
pub const MEMO_LIFETIME: std::time::Duration = std::time::Duration::from_secs(15 * 60);
