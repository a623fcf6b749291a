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
use crate::plan::{Action, KeptBy, Plan};
use crate::rules::{Format, Rules};

const FILE_NAME: &str = "last-sync.json";
const VERSION: u32 = 1;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LastSync {
    version: u32,
    /// Per category, every entry but folders (device-specific ones excepted) with the
    /// digest it had; a merged file with the digest of the merged file the sync left.
    categories: BTreeMap<Category, BTreeMap<RelPath, Digest>>,
    /// Per category, what the sync kept as this server's own, by either side's rules:
    /// masked out of every later comparison (older records have none).
    #[serde(default)]
    kept: BTreeMap<Category, BTreeMap<RelPath, KeptRecord>>,
}

/// How the last sync kept an entry as this server's own.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum KeptRecord {
    /// A path rule: the entry, and anything beneath it, is this server's own.
    Rule,
    /// A merged file (key rules): compared without the values of its kept keys, by the
    /// masked digest of the file the sync left (none when it could not be read as
    /// `format`: then by its whole digest).
    Keys { format: Format, keys: Vec<String>, masked: Option<Digest> },
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

    /// How `digest` at `path` compares with the last sync: the one answer to "changed
    /// here?" for status, drift, metrics and the plan's local-edit marks. A merged file
    /// whose whole digest differs is as synced when its data beside its kept keys is
    /// (`read` gives its bytes).
    pub fn since(
        &self,
        category: Category,
        path: &RelPath,
        digest: &Digest,
        read: ReadFile<'_>,
    ) -> Since {
        let Some(paths) = self.categories.get(&category) else { return Since::Unknown };
        match paths.get(path) {
            Some(then) if then == digest => Since::AsSynced,
            Some(_) => match self.kept.get(&category).and_then(|k| k.get(path)) {
                Some(KeptRecord::Keys { format, keys, masked: Some(then) }) => {
                    let now = read(category, path)
                        .filter(|b| Digest::of(b) == *digest)
                        .and_then(|b| crate::merge::masked_digest(*format, &b, keys).ok());
                    if now.as_ref() == Some(then) { Since::AsSynced } else { Since::EditedHere }
                }
                _ => Since::EditedHere,
            },
            None => Since::EditedHere,
        }
    }

    /// Records what `plan`, once committed over `before` (the destination's manifest it
    /// was planned against), leaves in each of its categories: the destination now
    /// equals the source there, device-specific entries aside. `kept` says what is this
    /// server's own: the rules a sync was planned with (and a reader of what it left, for
    /// the merged files' masked digests), or `None` for a rollback, which keeps what the
    /// record kept.
    pub fn record(&mut self, plan: &Plan, before: &Manifest, kept: Option<&Keeping<'_>>) {
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
            let Some(keeping) = kept else {
                let own = self.kept.get(&category).cloned().unwrap_or_default();
                now.retain(|path, _| !masked_by(&own, path));
                self.categories.insert(category, now);
                continue;
            };
            let mut own = BTreeMap::new();
            for kept in &category_plan.kept {
                if matches!(kept.why, KeptBy::Rule { .. }) {
                    own.insert(kept.path.clone(), KeptRecord::Rule);
                }
            }
            // A merged file stays in the record as the sync left it (its changes outside
            // the kept keys are local edits), and is also compared without those keys.
            for (path, digest) in &now {
                if let Some(rule) = keeping.rules.key_rule(category, path) {
                    let bytes = plan
                        .merged
                        .get(&(category, path.clone()))
                        .map(|b| b.as_ref().clone())
                        .or_else(|| (keeping.read)(category, path))
                        .filter(|b| Digest::of(b) == *digest);
                    let masked = bytes.and_then(|b| {
                        crate::merge::masked_digest(rule.format, &b, &rule.keys).ok()
                    });
                    let record =
                        KeptRecord::Keys { format: rule.format, keys: rule.keys.clone(), masked };
                    own.insert(path.clone(), record);
                }
            }
            now.retain(|path, _| !masked_by(&own, path));
            self.categories.insert(category, now);
            self.kept.insert(category, own);
        }
    }
}

/// Reads a small file of the tree whole (a merged file), if it can be read.
pub type ReadFile<'a> = &'a dyn Fn(Category, &RelPath) -> Option<Vec<u8>>;

/// What a sync keeps as the server's own, for [`LastSync::record`].
pub struct Keeping<'a> {
    /// Both sides' rules, as the plan was made with them.
    pub rules: &'a Rules,
    /// The bytes of a file of the tree (small merged files only), if it can be read.
    pub read: ReadFile<'a>,
}

/// Whether a path rule the record holds keeps `path`: the path itself or a folder above it.
fn masked_by(kept: &BTreeMap<RelPath, KeptRecord>, path: &RelPath) -> bool {
    let mut at = Some(path.clone());
    while let Some(p) = at {
        if kept.get(&p) == Some(&KeptRecord::Rule) {
            return true;
        }
        at = p.parent();
    }
    false
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
    /// What differs between `now` and the record, leaving out what the last sync kept as
    /// this server's own and what `rules` (this server's own, as they read now) keep. A
    /// merged file counts as changed only when its data beside its kept keys changed;
    /// `read` gives its bytes.
    pub fn drift(&self, now: &Manifest, rules: &Rules, read: ReadFile<'_>) -> Drift {
        let mut drift = Drift { recorded: !self.categories.is_empty(), paths: Vec::new() };
        let none = BTreeMap::new();
        for (category, recorded) in &self.categories {
            let Some(live) = now.get(*category) else { continue };
            let kept = self.kept.get(category).unwrap_or(&none);
            let own =
                |path: &RelPath| masked_by(kept, path) || rules.keeps(*category, path).is_some();
            let mut seen = std::collections::BTreeSet::new();
            for entry in live.entries.iter().filter(|e| e.kind != EntryKind::Dir) {
                if own(&entry.path) {
                    continue;
                }
                seen.insert(&entry.path);
                let change = match recorded.get(&entry.path) {
                    None => Some(DriftKind::Added),
                    Some(_) => (self.since(*category, &entry.path, &entry.digest, read)
                        == Since::EditedHere)
                        .then_some(DriftKind::Changed),
                };
                if let Some(kind) = change {
                    drift.paths.push((*category, entry.path.clone(), kind));
                }
            }
            for path in recorded.keys().filter(|p| !seen.contains(p) && !own(p)) {
                drift.paths.push((*category, path.clone(), DriftKind::Deleted));
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
pub fn classify(
    plan: &mut Plan,
    record: &LastSync,
    guards: &crate::plan::Guards,
    read: ReadFile<'_>,
) -> Classified {
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
            if record.since(category, &step.path, &current.digest, read) == Since::EditedHere {
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

/// Records `plan` committed over `before` in `layout`'s record (`rules`: those of the
/// sync it was planned with; `None` for a rollback). A failure is logged, not returned:
/// the commit it follows has happened and stands.
pub fn record_committed(layout: &Layout, plan: &Plan, before: &Manifest, rules: Option<&Rules>) {
    let mut record = LastSync::load(layout);
    let read = |category: Category, path: &RelPath| read_small(layout, category, path);
    let keeping = rules.map(|rules| Keeping { rules, read: &read });
    record.record(plan, before, keeping.as_ref());
    if let Err(e) = record.save(layout) {
        tracing::warn!(error = %e, "cannot update the last-sync record; local edits may be reported as downgrades");
    }
}

/// A file of the tree that can be merged key by key, read whole; `None` when it is larger
/// or cannot be read (it is then compared by its whole digest).
pub fn read_small(layout: &Layout, category: Category, path: &RelPath) -> Option<Vec<u8>> {
    use std::io::Read;
    let dir = layout.open_category(category).ok()??;
    let file = dir.open(path.as_str()).ok()?;
    let mut bytes = Vec::new();
    let limit = crate::merge::MAX_STRUCTURED_BYTES as u64 + 1;
    file.take(limit).read_to_end(&mut bytes).ok()?;
    ((bytes.len() as u64) < limit).then_some(bytes)
}
