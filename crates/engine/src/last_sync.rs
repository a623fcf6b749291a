//! What the last sync left on this server, path by path: the content each managed entry
//! had when a sync (or a rollback) committed, or found the category already equal.
//!
//! Planning compares with it to tell two things an mtime cannot: a file changed on this
//! server since its last sync (a local edit a sync would destroy) and a source whose copy
//! is older than the one the last sync brought (a downgrade). A category never synced has
//! no record: its overwrites fall back to comparing modification times.
//!
//! The record is advisory. A missing or unreadable one means "unknown", never an error
//! that stops a sync; it is written after the commit point, so a crash leaves the
//! previous record, which at worst reports a file as edited that was not.

use std::collections::BTreeMap;

use crate::category::Category;
use crate::entry::{Digest, EntryKind};
use crate::error::Result;
use crate::layout::Layout;
use crate::manifest::Manifest;
use crate::path::RelPath;
use crate::plan::{Action, Plan};

const FILE_NAME: &str = "last-sync.json";
const VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LastSync {
    version: u32,
    /// Per category, every entry but folders (device-specific ones excepted) with the
    /// digest it had.
    categories: BTreeMap<Category, BTreeMap<RelPath, Digest>>,
}

/// How a destination entry compares with what the last sync left there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Since {
    /// It is as the last sync left it.
    AsSynced,
    /// Changed, or created, on this server since its last sync.
    EditedHere,
    /// The category has no record (never synchronized by this version of confsync).
    Unknown,
}

impl LastSync {
    /// The record in `layout`'s state folder; empty when there is none or it cannot be
    /// read (logged), which only makes planning fall back to modification times.
    pub fn load(layout: &Layout) -> LastSync {
        let path = layout.state_dir().join(FILE_NAME);
        let text = match std::fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return LastSync::default(),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot read the last-sync record; local edits cannot be told from downgrades");
                return LastSync::default();
            }
        };
        match serde_json::from_slice::<LastSync>(&text) {
            Ok(record) if record.version == VERSION => record,
            Ok(_) | Err(_) => {
                tracing::warn!(path = %path.display(), "the last-sync record is not one this version reads; it is rebuilt at the next sync");
                LastSync::default()
            }
        }
    }

    pub fn save(&self, layout: &Layout) -> Result<()> {
        let mut record = self.clone();
        record.version = VERSION;
        crate::fsutil::write_json(&layout.state_dir().join(FILE_NAME), &record)
    }

    /// How `digest` at `path` compares with the last sync.
    pub fn since(&self, category: Category, path: &RelPath, digest: &Digest) -> Since {
        match self.categories.get(&category) {
            None => Since::Unknown,
            Some(paths) if paths.get(path) == Some(digest) => Since::AsSynced,
            Some(_) => Since::EditedHere,
        }
    }

    /// Records what `plan`, once committed over `before` (the destination's manifest it
    /// was planned against), leaves in each of its categories: the destination now
    /// equals the source there, device-specific entries aside.
    pub fn record(&mut self, plan: &Plan, before: &Manifest) {
        for category_plan in &plan.categories {
            let category = category_plan.category;
            let mut now: BTreeMap<RelPath, Digest> = before
                .get(category)
                .map(|m| {
                    m.entries
                        .iter()
                        .filter(|e| e.kind != EntryKind::Dir)
                        .map(|e| (e.path.clone(), e.digest))
                        .collect()
                })
                .unwrap_or_default();
            for step in &category_plan.steps {
                match (&step.action, &step.source) {
                    (Action::Delete, _) => {
                        now.remove(&step.path);
                    }
                    (_, Some(entry)) if entry.kind != EntryKind::Dir => {
                        now.insert(step.path.clone(), entry.digest);
                    }
                    _ => {}
                }
            }
            // Kept entries are this server's own: a change there is no local edit to warn of.
            for kept in &category_plan.kept {
                now.remove(&kept.path);
            }
            self.categories.insert(category, now);
        }
    }
}

/// How a server's tree differs from what its last sync left there: the local edits a
/// status shows as drift.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Drift {
    /// Whether a last sync was recorded at all (none: never synchronized).
    pub recorded: bool,
    /// Every drifted path, in order.
    pub paths: Vec<(Category, RelPath, DriftKind)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DriftKind {
    Changed,
    Added,
    Deleted,
}

impl DriftKind {
    pub fn name(self) -> &'static str {
        match self {
            DriftKind::Changed => "changed",
            DriftKind::Added => "added",
            DriftKind::Deleted => "deleted",
        }
    }
}

impl LastSync {
    /// What differs between `now` and the record, leaving out what `rules` keep on this
    /// server (device-specific items are its own, never drift).
    pub fn drift(&self, now: &Manifest, rules: &crate::rules::Rules) -> Drift {
        let mut drift = Drift { recorded: !self.categories.is_empty(), paths: Vec::new() };
        for (category, recorded) in &self.categories {
            let Some(live) = now.get(*category) else { continue };
            let mut seen = std::collections::BTreeSet::new();
            for entry in live.entries.iter().filter(|e| e.kind != EntryKind::Dir) {
                if rules.keeps(*category, &entry.path).is_some() {
                    continue;
                }
                seen.insert(&entry.path);
                match recorded.get(&entry.path) {
                    Some(digest) if *digest == entry.digest => {}
                    Some(_) => {
                        drift.paths.push((*category, entry.path.clone(), DriftKind::Changed))
                    }
                    None => drift.paths.push((*category, entry.path.clone(), DriftKind::Added)),
                }
            }
            for path in recorded.keys().filter(|p| !seen.contains(p)) {
                if rules.keeps(*category, path).is_none() {
                    drift.paths.push((*category, path.clone(), DriftKind::Deleted));
                }
            }
        }
        drift.paths.sort();
        drift
    }
}

/// Marks each step that overwrites or deletes an entry changed on this server since its
/// last sync (a local edit, never also a downgrade), and for entries as the last sync
/// left them, keeps the downgrade mark only where the source's copy is older. Then adds
/// the refusals `guards` ask for. Run after merging, on the plan as it will be applied.
pub fn classify(plan: &mut Plan, record: &LastSync, guards: &crate::plan::Guards) -> Classified {
    let mut classified = Classified { marked: Vec::new(), refusals_before: plan.refusals.len() };
    for (c, category_plan) in plan.categories.iter_mut().enumerate() {
        let category = category_plan.category;
        for (i, step) in category_plan.steps.iter_mut().enumerate() {
            let Some(current) = step.current.as_ref().filter(|e| e.kind != EntryKind::Dir) else {
                continue;
            };
            if step.action == Action::Attrs || step.local_edit {
                continue;
            }
            if record.since(category, &step.path, &current.digest) == Since::EditedHere {
                classified.marked.push((c, i, step.downgrade));
                step.local_edit = true;
                step.downgrade = false;
            }
        }
    }
    let refusals = plan.overwrite_refusals(guards);
    plan.refusals.extend(refusals);
    classified
}

/// What [`classify`] changed in a plan, so that a plan kept for later can be classified
/// again against the record as it is then (without a copy of the whole plan).
#[derive(Debug, Clone, Default)]
pub struct Classified {
    /// (category index, step index, its downgrade mark before) of each step marked.
    marked: Vec<(usize, usize, bool)>,
    refusals_before: usize,
}

impl Classified {
    /// Puts the plan back as it was before [`classify`], dropping every refusal added
    /// since (classify's and whatever followed it).
    pub fn undo(self, plan: &mut Plan) {
        for (c, i, downgrade) in self.marked {
            if let Some(step) = plan.categories.get_mut(c).and_then(|p| p.steps.get_mut(i)) {
                step.local_edit = false;
                step.downgrade = downgrade;
            }
        }
        plan.refusals.truncate(self.refusals_before);
    }
}

/// Records `plan` committed over `before` in `layout`'s record. A failure is logged, not
/// returned: the commit it follows has happened and stands.
pub fn record_committed(layout: &Layout, plan: &Plan, before: &Manifest) {
    let mut record = LastSync::load(layout);
    record.record(plan, before);
    if let Err(e) = record.save(layout) {
        tracing::warn!(error = %e, "cannot update the last-sync record; local edits may be reported as downgrades");
    }
}
