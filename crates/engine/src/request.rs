//! What a destination is asked to do, as the engine sees it: plan against a source, apply
//! the plan that was reviewed, roll back. The protocol carries these; the agent carries
//! them out.

use crate::category::Category;
use crate::entry::Digest;
use crate::plan::Guards;

/// Guards and overrides for one plan.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanOptions {
    pub guards: Guards,
    /// Write to a server marked protected.
    pub allow_protected: bool,
    /// Leave shared files that cannot be merged as they are, and apply the rest.
    pub allow_unmergeable: bool,
    /// Describe what changes key by key (display only; the plan is the same).
    pub semantic: bool,
}

/// Plan this destination against the source at `source`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanRequest {
    /// The source agent's address, as this destination reaches it.
    pub source: String,
    /// The categories to compare; never empty (all four when none were named).
    pub categories: Vec<Category>,
    pub options: PlanOptions,
    /// A two-way sync: this destination's part of it (deciding, or taking what the other
    /// side decided); `None`: one way.
    pub two_way: Option<crate::two_way::TwoWay>,
    /// Plan against this bundle file on the destination's machine instead of a source.
    pub bundle: Option<std::path::PathBuf>,
}

/// Apply the plan of `plan` whose digest was reviewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyRequest {
    pub plan: PlanRequest,
    /// The digest of the plan the administrator saw; the apply is refused when the plan
    /// computed now differs.
    pub reviewed: Digest,
    /// Commit-confirmed: roll the generation back unless confirmed within this long.
    pub confirm_within: Option<std::time::Duration>,
}

/// Roll back to the state before a kept generation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RollbackRequest {
    /// The generation whose prior state is restored; `None`: the newest.
    pub generation: Option<u64>,
    pub allow_protected: bool,
    /// Roll back even paths that changed after the generation that wrote them.
    pub force: bool,
    /// For the rollback itself: the digest of the previewed plan.
    pub reviewed: Option<Digest>,
    /// Restore only these entries (and what lies inside them); empty: everything the
    /// generations changed.
    pub paths: Vec<(Category, crate::path::RelPath)>,
}
