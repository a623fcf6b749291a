//! Rolling a tree back to its state before a kept generation.
//!
//! Every generation records, path by path, the entry before and after it
//! ([`journal::Change`]) and keeps what it replaced in its backup folder. Undoing the
//! generations newest first, down to the chosen one, gives the target: the current tree
//! with every path they touched set back to its `before`. The target is planned against
//! the current tree like any source and applied by the same
//! [`Applier`](crate::apply::Applier): staged from the backups (each file verified
//! against its recorded digest), journaled, committed, and recorded as a generation of
//! its own, so a rollback can itself be rolled back. Licenses are no category, so no
//! generation ever touched them and no rollback does.
//!
//! Refused: a generation that is not there or no longer kept; a path that changed after
//! the generation that last wrote it (the rollback would overwrite that change; `force`
//! overrides, and the overwritten entry is then kept in the rollback's own generation);
//! a target that cannot exist (an entry left in a folder that the rollback removes).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use futures::StreamExt;

use crate::category::Category;
use crate::chunk::{self, ChunkList};
use crate::entry::{Digest, Entry, EntryKind};
use crate::error::{EngineError, Result};
use crate::journal::{self, GenerationRecord};
use crate::layout::Layout;
use crate::live::LiveTree;
use crate::manifest::{CategoryManifest, Manifest};
use crate::path::RelPath;
use crate::plan::{self, Action, Guards, Plan};
use crate::refusal::{Refusal, RefusalKind};
use crate::transfer::{ByteRange, ChunkSource, MAX_RANGE, PieceStream};

/// A rollback ready to apply.
pub struct Prepared {
    /// From the current tree to the state before `oldest`.
    pub plan: Plan,
    /// The current tree, which the plan was computed against.
    pub current: Manifest,
    /// The generation whose prior state is restored (the oldest undone).
    pub oldest: u64,
    /// Every generation undone, newest first.
    pub undone: Vec<u64>,
    /// Where the content the plan brings back is kept.
    pub source: BackupSource,
}

type Key = (Category, RelPath);

/// Plans the rollback to the state before `generation` (default: the newest), of only
/// `paths` (and what lies inside them) when some are named.
pub fn prepare(
    tree: &LiveTree,
    generation: Option<u64>,
    force: bool,
    paths: &[Key],
) -> Result<Prepared> {
    let layout = tree.layout();
    let kept = journal::generations(layout)?;
    let mut undone = generations_to_undo(layout, &kept, generation)?;
    if !paths.is_empty() {
        let wanted = |c: &journal::Change| {
            paths.iter().any(|(category, path)| {
                c.category == *category && (c.path == *path || c.path.is_inside(path))
            })
        };
        for generation in &mut undone {
            generation.changes.retain(wanted);
        }
        if undone.iter().all(|g| g.changes.is_empty()) {
            let named: Vec<String> = paths.iter().map(|(c, p)| format!("{c}/{p}")).collect();
            return Err(EngineError::rollback(format!(
                "the generations it would undo did not change {} (see `confsync history`)",
                named.join(", ")
            )));
        }
    }
    let oldest = undone.last().map_or(0, |j| j.record.id);
    let categories: Vec<Category> = undone
        .iter()
        .flat_map(|j| j.changes.iter().map(|c| c.category))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let current = tree.scan(&categories)?;
    let now: BTreeMap<Key, Entry> = current
        .categories
        .values()
        .flat_map(|m| m.entries.iter().map(move |e| ((m.category, e.path.clone()), e.clone())))
        .collect();

    let mut target = now.clone();
    let mut kept_content: HashMap<Digest, PathBuf> = HashMap::new();
    // The newest generation to touch a path is what should still be there.
    let mut expected: BTreeMap<Key, (u64, Option<Entry>)> = BTreeMap::new();
    for generation in &undone {
        let id = generation.record.id;
        for change in &generation.changes {
            let key = (change.category, change.path.clone());
            expected.entry(key.clone()).or_insert_with(|| (id, change.after.clone()));
            match &change.before {
                Some(entry) => {
                    let backup = backup_path(layout, id, change.category, &change.path);
                    if entry.kind == EntryKind::File
                        && backup.symlink_metadata().is_ok_and(|m| m.is_file())
                    {
                        kept_content.insert(entry.digest, backup);
                    }
                    target.insert(key, entry.clone());
                }
                None => {
                    target.remove(&key);
                }
            }
        }
    }
    check_folders(&target, &undone)?;

    let mut changed_since = Vec::new();
    for (key, (id, after)) in &expected {
        let (now, wanted) = (now.get(key), target.get(key));
        if !same(now, after.as_ref()) && !same(now, wanted) {
            changed_since.push(format!("{}/{} (after generation {id})", key.0, key.1));
        }
    }

    let mut target_manifest = Manifest::default();
    for category in &categories {
        let entries =
            target.iter().filter(|((c, _), _)| c == category).map(|(_, e)| e.clone()).collect();
        target_manifest.insert(CategoryManifest::new(*category, entries));
    }
    let guards = Guards { allow_empty_source: true, ..Guards::default() };
    let rules = tree.for_agent(crate::rules::Rules::default());
    let mut plan = plan::plan_with(&target_manifest, &current, &guards, &rules);
    // Bringing older files back is the point: no downgrade warnings.
    plan.warnings.clear();
    plan.categories.iter_mut().flat_map(|c| c.steps.iter_mut()).for_each(|s| s.downgrade = false);
    if !changed_since.is_empty() && !force {
        let listed: Vec<&str> = changed_since.iter().map(String::as_str).collect();
        plan.refusals.push(Refusal::new(
            RefusalKind::ChangedAfterGeneration,
            format!(
                "{} changed after the generation that wrote {} and rolling back would overwrite {}: {} \
                 (override: --force; what is overwritten is then kept as the rollback's own generation)",
                count(changed_since.len(), "path", "paths"),
                if changed_since.len() == 1 { "it" } else { "them" },
                if changed_since.len() == 1 { "that change" } else { "those changes" },
                plan::abbreviate(&listed, 5)
            ),
        ));
    }
    let local: BTreeSet<Digest> =
        current.categories.values().flat_map(|m| m.files().map(|e| e.digest)).collect();
    let mut files = HashMap::new();
    for (category, step) in plan.steps() {
        let Some(entry) = step.source.as_ref().filter(|e| e.kind == EntryKind::File) else {
            continue;
        };
        if !matches!(step.action, Action::Create | Action::Overwrite) {
            continue;
        }
        match kept_content.get(&entry.digest) {
            Some(path) => {
                files.insert((category, entry.path.clone()), path.clone());
            }
            None if local.contains(&entry.digest) => {}
            None => {
                return Err(EngineError::rollback(format!(
                    "the earlier content of {category}/{} is kept nowhere (its generation's backup is \
                     incomplete); nothing was changed",
                    entry.path
                )));
            }
        }
    }
    Ok(Prepared {
        plan,
        current,
        oldest,
        undone: undone.iter().map(|j| j.record.id).collect(),
        source: BackupSource { files },
    })
}

/// A generation to undo: its record and what it changed.
struct Undone {
    record: GenerationRecord,
    changes: Vec<journal::Change>,
}

/// The kept generations from the newest down to `generation`, refusing when one of them
/// is missing (pruned) or was recorded without the details a rollback needs.
fn generations_to_undo(
    layout: &Layout,
    kept: &[GenerationRecord],
    generation: Option<u64>,
) -> Result<Vec<Undone>> {
    let (Some(newest), Some(oldest)) = (kept.first(), kept.last()) else {
        return Err(EngineError::rollback(
            "this server keeps no generation: nothing was applied here yet, or every \
             generation was pruned",
        ));
    };
    let (newest, oldest) = (newest.id, oldest.id);
    let wanted = generation.unwrap_or(newest);
    if wanted == 0 || wanted > newest {
        return Err(EngineError::rollback(format!(
            "there is no generation {wanted}; the newest is {newest} (see `confsync history`)"
        )));
    }
    let undone: Vec<&GenerationRecord> = kept.iter().take_while(|r| r.id >= wanted).collect();
    for (expected, record) in (wanted..=newest).rev().zip(undone.iter().copied()) {
        if record.id != expected {
            return Err(EngineError::rollback(pruned(expected, wanted, oldest, newest)));
        }
    }
    if undone.len() as u64 != newest - wanted + 1 {
        return Err(EngineError::rollback(pruned(wanted, wanted, oldest, newest)));
    }
    undone
        .into_iter()
        .map(|record| match journal::changes(layout, record.id)? {
            Some(changes) => Ok(Undone { record: record.clone(), changes }),
            None => Err(EngineError::rollback(format!(
                "generation {} was recorded by an older confsync, without the per-file record a \
                 rollback needs",
                record.id
            ))),
        })
        .collect()
}

fn pruned(missing: u64, wanted: u64, oldest: u64, newest: u64) -> String {
    let missing = if wanted < oldest { wanted } else { missing };
    format!(
        "generation {missing} is no longer kept (pruned), so the state before generation \
         {wanted} cannot be rebuilt; this server keeps generations {oldest} to {newest}: \
         choose one of those"
    )
}

/// Every entry of the target must sit in a folder of the target.
fn check_folders(target: &BTreeMap<Key, Entry>, undone: &[Undone]) -> Result<()> {
    for (category, path) in target.keys() {
        let Some(parent) = path.parent() else { continue };
        let parent_is_dir =
            target.get(&(*category, parent.clone())).is_some_and(|e| e.kind == EntryKind::Dir);
        if !parent_is_dir {
            let by = undone
                .iter()
                .rev()
                .find(|j| j.changes.iter().any(|c| c.category == *category && c.path == parent))
                .map_or_else(String::new, |j| format!(" by generation {}", j.record.id));
            return Err(EngineError::rollback(format!(
                "{category}/{path} was added after {category}/{parent} was created{by}, and rolling \
                 back removes that folder; move {category}/{path} away and run again"
            )));
        }
    }
    Ok(())
}

/// Same kind, content and (where it matters) mode; both absent counts as the same.
fn same(a: Option<&Entry>, b: Option<&Entry>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => a.same_content(b) && !a.mode_differs(b),
        _ => false,
    }
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn backup_path(layout: &Layout, id: u64, category: Category, path: &RelPath) -> PathBuf {
    journal::generation_dir(layout, id).join("backup").join(category.name()).join(path)
}

/// The content a rollback brings back, read from the generations' backup folders. Files
/// are opened through a handle on the backup folder, so no path leads outside it.
pub struct BackupSource {
    files: HashMap<Key, PathBuf>,
}

impl BackupSource {
    fn open(&self, category: Category, path: &RelPath) -> Result<(std::fs::File, PathBuf)> {
        let full =
            self.files.get(&(category, path.clone())).ok_or_else(|| EngineError::Integrity {
                path: format!("{category}/{path}"),
                detail: "no kept content was planned for it".into(),
            })?;
        let folder = full.parent().unwrap_or(full);
        let name = full.file_name().unwrap_or_default();
        let dir = Dir::open_ambient_dir(folder, ambient_authority())
            .map_err(EngineError::io("open backup folder", folder))?;
        let file = dir.open(name).map_err(EngineError::io("open kept file", full))?;
        Ok((file.into_std(), full.clone()))
    }
}

impl ChunkSource for BackupSource {
    async fn chunk_list(&self, category: Category, path: &RelPath) -> Result<ChunkList> {
        let (file, full) = self.open(category, path)?;
        tokio::task::spawn_blocking(move || {
            chunk::chunk_reader(file).map_err(EngineError::io("chunk kept file", full))
        })
        .await
        .map_err(|e| EngineError::State {
            path: PathBuf::from(path.as_str()),
            detail: format!("chunking task failed: {e}"),
        })?
    }

    async fn fetch(
        &self,
        category: Category,
        path: &RelPath,
        ranges: Vec<ByteRange>,
    ) -> Result<PieceStream> {
        let (file, full) = self.open(category, path)?;
        let file = Arc::new(file);
        let pieces = futures::stream::iter(ranges).then(move |range| {
            let (file, full) = (Arc::clone(&file), full.clone());
            async move {
                if range.length > MAX_RANGE {
                    return Err(EngineError::State {
                        path: full,
                        detail: format!(
                            "a read of {} bytes is over the {MAX_RANGE}-byte limit",
                            range.length
                        ),
                    });
                }
                tokio::task::spawn_blocking(move || {
                    // Bounded by MAX_RANGE, checked above.
                    let mut data = vec![0u8; usize::try_from(range.length).unwrap_or(0)];
                    file.read_exact_at(&mut data, range.offset)
                        .map(|()| (range.offset, data))
                        .map_err(EngineError::io("read kept file", full))
                })
                .await
                .map_err(|e| EngineError::State {
                    path: PathBuf::new(),
                    detail: format!("reading task failed: {e}"),
                })?
            }
        });
        Ok(pieces.boxed())
    }
}

#[cfg(test)]
mod tests;
