//! Where one server stands against its source: the one meaning of "in sync" and of
//! "changed here" that `diff`, `status`, `servers list/show`, `auto` and the metrics all
//! show.
//!
//! - **In sync** is a plan with no step: what a sync would change, after both sides'
//!   device-specific items are left out and shared files are merged (so a merged file
//!   that differs only in its kept keys is in sync). A plan is the masked comparison: a
//!   category digest alone cannot be, since a server that keeps items never has its
//!   source's digest.
//! - **Changed here** is the drift against the last-sync record
//!   ([`LastSync::since`](crate::last_sync::LastSync::since)), in which kept items are
//!   recorded as the sync left them and masked out.

use crate::category::Category;
use crate::server::DriftReport;
use crate::view::PlanView;

/// Where a server stands, from its plan against the source and its drift.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    /// Nothing a sync would change, and nothing changed here since the last sync.
    InSync,
    /// The source has changes it lacks; nothing changed here.
    Pending { files: u64, bytes: u64 },
    /// Changed here since its last sync (and `pending_files` differ from the source).
    EditedHere { pending_files: u64 },
    /// Never synchronized, and it differs.
    NeverSynced { files: u64, bytes: u64 },
}

/// Where the server `plan` was made for stands; `drift` is its own report, and
/// `synced_before` whether it ever committed a generation.
pub fn judge(plan: &PlanView, drift: &DriftReport, synced_before: bool) -> Standing {
    let (files, bytes) = (plan.files_changed(), plan.counts().bytes);
    if drift.total > 0 {
        Standing::EditedHere { pending_files: files }
    } else if plan.is_empty() {
        Standing::InSync
    } else if !drift.recorded && !synced_before {
        Standing::NeverSynced { files, bytes }
    } else {
        Standing::Pending { files, bytes }
    }
}

/// Per category of `plan`, whether it is in sync, and whether something changed there
/// since the last sync: a category is in sync only when both hold.
pub fn categories(plan: &PlanView, drift: &DriftReport) -> Vec<(Category, bool)> {
    plan.categories
        .iter()
        .map(|c| {
            // The report lists its first paths only; past them, any drift counts.
            let listed = drift.paths.iter().any(|(category, _, _)| *category == c.category);
            let unlisted = drift.total > drift.paths.len() as u64;
            (c.category, c.in_sync && !listed && !unlisted)
        })
        .collect()
}
