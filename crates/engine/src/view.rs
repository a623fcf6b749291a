//! A plan as it is reviewed: what the destination computed, reduced to what an
//! administrator (or a script) reads and what the apply is pinned to. The destination
//! makes it from its [`Plan`], the protocol carries it, the command line shows it, and
//! [`PlanView::decision`] is the one place that decides between "in sync", "refused" and
//! "ready to apply" for every command.

use crate::category::Category;
use crate::effects::Notice;
use crate::entry::{Digest, EntryKind};
use crate::path::RelPath;
use crate::plan::{Action, CategoryPlan, Counts, Kept, KeptBy, Plan, Step};
use crate::refusal::Refusal;
use crate::rules::Origin;

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PlanView {
    /// Pins the apply: the destination refuses when its plan is no longer this one.
    pub digest: Digest,
    pub source_name: String,
    pub destination_name: String,
    pub categories: Vec<CategoryView>,
    pub warnings: Vec<String>,
    pub refusals: Vec<Refusal>,
    /// What applying it would mean for the destination (its effect rules).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<Notice>,
    /// This destination's part of a two-way sync, when it is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub two_way: Option<crate::two_way::part::TwoWayPlan>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CategoryView {
    pub category: Category,
    pub counts: Counts,
    pub in_sync: bool,
    pub steps: Vec<StepView>,
    /// What the plan leaves alone in this category (device-specific, unmanageable).
    pub kept: Vec<KeptView>,
}

/// An entry the plan leaves alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeptView {
    pub path: RelPath,
    pub kind: EntryKind,
    /// As plans word it.
    pub why: String,
    /// The path rule that keeps it, and whose it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<Origin>,
    /// Held by the source and not carried: the destination does not equal the source.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub skipped: bool,
}

impl KeptView {
    fn from_kept(kept: &Kept) -> KeptView {
        let (rule, origin) = match &kept.why {
            KeptBy::Rule { pattern, origin } => (Some(pattern.clone()), Some(*origin)),
            _ => (None, None),
        };
        KeptView {
            path: kept.path.clone(),
            kind: kept.kind,
            why: kept.why.describe(),
            rule,
            origin,
            skipped: matches!(kept.why, KeptBy::Skipped(_)),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StepView {
    pub action: Action,
    pub path: RelPath,
    pub kind: EntryKind,
    pub size: u64,
    pub mode: u32,
    pub downgrade: bool,
    /// Changed on the destination since its last sync.
    pub local_edit: bool,
    /// A merged file: the destination keeps its own values for these keys.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kept_keys: Vec<String>,
    /// What changes key by key or record by record (when asked for).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub semantic: Vec<String>,
    /// What changes besides content (`mode 644 → 600`, `owner root → nobody`, `mtime`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attrs: Vec<String>,
}

/// What to do with a plan (or with both parts of a two-way run): the same answer for the
/// wizard, `sync`, `auto`, `import` and `rollback`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing differs. A standing refusal (a hold, protection) has nothing to refuse,
    /// so this is success; the refusals are still shown as notes.
    InSync,
    /// Something differs and these refusals stand: nothing is applied.
    Refused(Vec<Refusal>),
    /// Something differs and nothing refuses it.
    Ready,
}

impl StepView {
    pub fn from_step(step: &Step, mask: crate::attrs::Mask) -> StepView {
        let entry = step.entry();
        let attrs = match (step.action, &step.source, &step.current) {
            (Action::Attrs, Some(after), Some(before)) => after.meta_changes(before, mask),
            _ => Vec::new(),
        };
        StepView {
            action: step.action,
            path: step.path.clone(),
            kind: step.kind(),
            size: entry.map_or(0, |e| e.size),
            mode: entry.map_or(0, |e| e.mode),
            downgrade: step.downgrade,
            local_edit: step.local_edit,
            kept_keys: step.kept_keys.clone(),
            semantic: step.semantic.clone(),
            attrs,
        }
    }

    /// Bytes of file content this step brings.
    pub fn bytes(&self) -> u64 {
        match self.action {
            Action::Create | Action::Overwrite if self.kind == EntryKind::File => self.size,
            _ => 0,
        }
    }

    /// Whether the step writes a file or a symlink (what "files" counts in a summary).
    pub fn writes_content(&self) -> bool {
        matches!(self.action, Action::Create | Action::Overwrite) && self.kind != EntryKind::Dir
    }
}

impl CategoryView {
    pub fn new(category: Category, steps: Vec<StepView>) -> CategoryView {
        let mut counts = Counts::default();
        for step in &steps {
            match step.action {
                Action::Create => counts.created += 1,
                Action::Overwrite => counts.overwritten += 1,
                Action::Delete => counts.deleted += 1,
                Action::Attrs => counts.attrs += 1,
            }
            counts.bytes += step.bytes();
        }
        CategoryView { category, counts, in_sync: steps.is_empty(), steps, kept: Vec::new() }
    }

    fn from_plan(plan: &CategoryPlan, mask: crate::attrs::Mask) -> CategoryView {
        let steps = plan.steps.iter().map(|s| StepView::from_step(s, mask)).collect();
        let mut view = CategoryView::new(plan.category, steps);
        view.kept = plan.kept.iter().map(KeptView::from_kept).collect();
        view
    }
}

impl PlanView {
    /// Entries the source holds and this sync does not carry (listed as skipped): while
    /// there are any, the destination does not equal the source, whatever else is in sync.
    pub fn skipped(&self) -> usize {
        self.categories.iter().flat_map(|c| &c.kept).filter(|k| k.skipped).count()
    }

    pub fn from_plan(plan: &Plan, source_name: &str, destination_name: &str) -> PlanView {
        PlanView {
            digest: plan.digest,
            source_name: source_name.to_string(),
            destination_name: destination_name.to_string(),
            categories: plan
                .categories
                .iter()
                .map(|c| CategoryView::from_plan(c, plan.mask))
                .collect(),
            warnings: plan.warnings.iter().cloned().chain(plan.overwrite_warnings()).collect(),
            refusals: plan.refusals.clone(),
            notices: Vec::new(),
            two_way: plan.two_way.clone(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.categories.iter().all(|c| c.steps.is_empty())
    }

    pub fn counts(&self) -> Counts {
        let mut total = Counts::default();
        for c in &self.categories {
            total.created += c.counts.created;
            total.overwritten += c.counts.overwritten;
            total.deleted += c.counts.deleted;
            total.attrs += c.counts.attrs;
            total.bytes += c.counts.bytes;
        }
        total
    }

    /// Files and symlinks the plan writes.
    pub fn files_written(&self) -> u64 {
        self.categories.iter().flat_map(|c| &c.steps).filter(|s| s.writes_content()).count() as u64
    }

    /// Distinct paths that are (or become) no folder: "files change", counted as the
    /// generation's record counts them.
    pub fn files_changed(&self) -> u64 {
        let mut paths = std::collections::BTreeSet::new();
        for c in &self.categories {
            for step in c.steps.iter().filter(|s| s.kind != EntryKind::Dir) {
                paths.insert((c.category, step.path.as_str()));
            }
        }
        paths.len() as u64
    }

    pub fn categories(&self) -> Vec<Category> {
        self.categories.iter().map(|c| c.category).collect()
    }

    /// In sync, refused, or ready: see [`Decision`].
    pub fn decision(&self) -> Decision {
        if self.is_empty() {
            Decision::InSync
        } else if !self.refusals.is_empty() {
            Decision::Refused(self.refusals.clone())
        } else {
            Decision::Ready
        }
    }
}

/// The one decision on both parts of a two-way run (`decides`: the deciding side's part,
/// with the conflicts; `takes`: the other side's): in sync when neither part has a step
/// and no conflict is left undecided; refused when a part with steps (or an undecided
/// conflict) has a refusal standing; else ready.
pub fn both_ways(decides: &PlanView, takes: &PlanView) -> Decision {
    let undecided =
        decides.two_way.as_ref().is_some_and(|t| t.conflicts.iter().any(|c| c.winner.is_none()));
    let mut refusals = Vec::new();
    if !decides.is_empty() || undecided {
        refusals.extend(decides.refusals.iter().cloned());
    }
    if !takes.is_empty() {
        refusals.extend(takes.refusals.iter().cloned());
    }
    if decides.is_empty() && takes.is_empty() && !undecided {
        Decision::InSync
    } else if !refusals.is_empty() {
        Decision::Refused(refusals)
    } else {
        Decision::Ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::refusal::RefusalKind;

    fn view(steps: Vec<StepView>, refusals: Vec<Refusal>) -> PlanView {
        PlanView {
            digest: Digest::ZERO,
            source_name: "primary".into(),
            destination_name: "backup-1".into(),
            categories: vec![CategoryView::new(Category::Config, steps)],
            warnings: Vec::new(),
            refusals,
            notices: Vec::new(),
            two_way: None,
        }
    }

    /// A step creating `a.conf` of `size` bytes.
    fn create(size: u64) -> StepView {
        StepView {
            action: Action::Create,
            path: RelPath::new("a.conf").expect("valid"),
            kind: EntryKind::File,
            size,
            mode: 0o644,
            downgrade: false,
            local_edit: false,
            kept_keys: Vec::new(),
            semantic: Vec::new(),
            attrs: Vec::new(),
        }
    }

    #[test]
    fn in_sync_wins_over_a_standing_refusal_and_a_refusal_wins_over_ready() {
        let step = create(3);
        let hold = Refusal::new(RefusalKind::Hold, "on hold");
        assert_eq!(view(vec![], vec![hold.clone()]).decision(), Decision::InSync);
        let refused = view(vec![step.clone()], vec![hold.clone()]);
        assert_eq!(refused.decision(), Decision::Refused(vec![hold]));
        let ready = view(vec![step], vec![]);
        assert_eq!(ready.decision(), Decision::Ready);
        assert_eq!(
            (ready.counts().created, ready.counts().bytes, ready.files_written()),
            (1, 3, 1)
        );
    }

    #[test]
    fn both_parts_of_a_two_way_run_get_one_decision() {
        let step = create(1);
        let hold = Refusal::new(RefusalKind::Hold, "on hold");
        let (empty, held_empty) = (view(vec![], vec![]), view(vec![], vec![hold.clone()]));
        assert_eq!(both_ways(&empty, &held_empty), Decision::InSync, "nothing to refuse");
        let taking = view(vec![step.clone()], vec![hold.clone()]);
        assert_eq!(both_ways(&empty, &taking), Decision::Refused(vec![hold.clone()]));
        assert_eq!(both_ways(&view(vec![step], vec![]), &held_empty), Decision::Ready);
    }
}
