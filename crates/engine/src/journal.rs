//! The commit journal and the generations it leaves behind.
//!
//! Before the first rename of a commit, the full list of operations is written and
//! fsynced as `journal.json` in the state folder. Every operation moves what it replaces
//! into `generations/<id>/backup/<category>/<path>`, so each one can be undone from what is
//! on disk alone. At agent start, [`recover`] undoes a journal that never reached
//! `committed` (the client was never told of success, so "all old" is the honest state)
//! and finishes one that did; staging is then cleared.

use std::path::{Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::{Dir, Permissions, PermissionsExt};

use crate::category::Category;
use crate::entry::Entry;
use crate::error::{EngineError, Result};
use crate::failpoint;
use crate::fsutil::write_atomically;
use crate::layout::Layout;
use crate::path::RelPath;

/// One step of a commit, recorded before it is carried out.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Move a file or symlink into the generation's backup.
    Remove { category: Category, path: RelPath },
    /// Remove an (emptied) directory, remembering its mode.
    RemoveDir { category: Category, path: RelPath, mode: u32 },
    /// Create a directory (owner-writable until its final Chmod).
    MakeDir { category: Category, path: RelPath },
    /// Move what is at `path` (if `replaces`) into the backup, then rename the staged
    /// entry into place.
    Put { category: Category, path: RelPath, staged: String, replaces: bool },
    /// Change the mode of an entry that was there before.
    Chmod { category: Category, path: RelPath, from: u32, to: u32 },
    /// Give a folder this commit created its final mode; undone with the folder itself.
    DirMode { category: Category, path: RelPath, mode: u32 },
}

impl Op {
    /// The entry the operation is about.
    pub fn target(&self) -> (Category, &RelPath) {
        let (Op::Remove { category, path }
        | Op::RemoveDir { category, path, .. }
        | Op::MakeDir { category, path }
        | Op::Put { category, path, .. }
        | Op::Chmod { category, path, .. }
        | Op::DirMode { category, path, .. }) = self;
        (*category, path)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JournalState {
    Committing,
    Committed,
}

/// What a generation is: who asked for it, from where, and what it did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GenerationRecord {
    pub id: u64,
    /// Seconds since the Unix epoch.
    pub started_at: u64,
    pub source: String,
    pub requested_by: String,
    pub categories: Vec<Category>,
    pub files_changed: u64,
    pub bytes_received: u64,
    pub bytes_written: u64,
    /// Set when this generation is a rollback: it undid this generation and every newer one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback_of: Option<u64>,
}

/// One path a commit changes: the entry before and after (`None`: nothing there). A
/// rollback restores `before` and first checks the tree still holds `after`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Change {
    pub category: Category,
    pub path: RelPath,
    pub before: Option<Entry>,
    pub after: Option<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Journal {
    pub state: JournalState,
    pub record: GenerationRecord,
    pub ops: Vec<Op>,
    /// What the commit changes, path by path (empty in records of older versions).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<Change>,
}

/// Where each generation keeps what it replaced.
pub fn generation_dir(layout: &Layout, id: u64) -> PathBuf {
    layout.generations_dir().join(format!("{id:08}"))
}

pub fn staging_dir(layout: &Layout, id: u64) -> PathBuf {
    layout.staging_dir().join(format!("{id:08}"))
}

fn backup_path(category: Category, path: &RelPath) -> PathBuf {
    Path::new("backup").join(category.name()).join(path)
}

impl Journal {
    pub fn write(&self, layout: &Layout) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| EngineError::State {
            path: layout.journal_path(),
            detail: e.to_string(),
        })?;
        write_atomically(&layout.journal_path(), &bytes)
    }

    pub fn read(layout: &Layout) -> Result<Option<Journal>> {
        let path = layout.journal_path();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| EngineError::State {
                path,
                detail: format!("unreadable journal: {e}"),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(EngineError::io("read journal", path)(e)),
        }
    }
}

/// Open handles on everything a commit touches.
struct Handles {
    categories: Vec<(Category, Dir)>,
    staging: Dir,
    generation: Dir,
    generation_path: PathBuf,
    layout: Layout,
}

impl Handles {
    fn open(layout: &Layout, journal: &Journal) -> Result<Handles> {
        let id = journal.record.id;
        let generation_path = generation_dir(layout, id);
        std::fs::create_dir_all(&generation_path)
            .map_err(EngineError::io("create generation folder", &generation_path))?;
        let staging_path = staging_dir(layout, id);
        std::fs::create_dir_all(&staging_path)
            .map_err(EngineError::io("create staging folder", &staging_path))?;
        let open = |p: &Path| {
            Dir::open_ambient_dir(p, ambient_authority()).map_err(EngineError::io("open", p))
        };
        let mut categories = Vec::new();
        for category in &journal.record.categories {
            if let Some(dir) = layout.open_category(*category)? {
                categories.push((*category, dir));
            }
        }
        Ok(Handles {
            categories,
            staging: open(&staging_path)?,
            generation: open(&generation_path)?,
            generation_path,
            layout: layout.clone(),
        })
    }

    fn category(&self, category: Category) -> Result<&Dir> {
        self.categories.iter().find(|(c, _)| *c == category).map(|(_, d)| d).ok_or_else(|| {
            EngineError::State {
                path: self.layout.root(category).to_path_buf(),
                detail: "the category folder is missing during commit".into(),
            }
        })
    }

    fn full(&self, category: Category, path: &RelPath) -> PathBuf {
        self.layout.root(category).join(path)
    }

    fn backup(&self, category: Category, path: &RelPath) -> Result<()> {
        let dir = self.category(category)?;
        let backup = backup_path(category, path);
        if let Some(parent) = backup.parent() {
            self.generation.create_dir_all(parent).map_err(EngineError::io(
                "create backup folder",
                self.generation_path.join(parent),
            ))?;
        }
        dir.rename(path, &self.generation, &backup)
            .map_err(EngineError::io("move aside", self.full(category, path)))
    }

    fn has_backup(&self, category: Category, path: &RelPath) -> bool {
        self.generation.symlink_metadata(backup_path(category, path)).is_ok()
    }

    fn restore(&self, category: Category, path: &RelPath) -> Result<()> {
        let dir = self.category(category)?;
        if dir.symlink_metadata(path).is_ok() {
            dir.remove_file(path).map_err(EngineError::io("remove", self.full(category, path)))?;
        }
        self.generation
            .rename(backup_path(category, path), dir, path)
            .map_err(EngineError::io("restore", self.full(category, path)))
    }
}

/// Carries out every operation of `journal`. On an error, undoes what was done and
/// returns the error: the tree is then as it was.
pub fn commit(layout: &Layout, journal: &Journal) -> Result<()> {
    let handles = Handles::open(layout, journal)?;
    let crash_after = failpoint::value(failpoint::COMMIT_CRASH_AFTER);
    for (done, op) in journal.ops.iter().enumerate() {
        if crash_after == Some(done as u64) {
            tracing::error!(
                "failpoint {}: aborting after {done} operations",
                failpoint::COMMIT_CRASH_AFTER
            );
            std::process::abort();
        }
        if let Err(e) = run(&handles, op) {
            tracing::error!(error = %e, "commit failed; undoing what was done");
            if let Err(undo_error) = undo_ops(&handles, &journal.ops) {
                tracing::error!(error = %undo_error, "undo after a failed commit failed too");
            }
            return Err(e);
        }
    }
    sync_touched(&handles, &journal.ops);
    Ok(())
}

fn run(h: &Handles, op: &Op) -> Result<()> {
    match op {
        Op::Remove { category, path } => h.backup(*category, path),
        Op::RemoveDir { category, path, .. } => h
            .category(*category)?
            .remove_dir(path)
            .map_err(EngineError::io("remove folder", h.full(*category, path))),
        Op::MakeDir { category, path } => {
            let dir = h.category(*category)?;
            dir.create_dir(path)
                .and_then(|()| dir.set_permissions(path, Permissions::from_mode(0o700)))
                .map_err(EngineError::io("create folder", h.full(*category, path)))
        }
        Op::Put { category, path, staged, replaces } => {
            if *replaces {
                h.backup(*category, path)?;
            }
            h.staging
                .rename(staged, h.category(*category)?, path)
                .map_err(EngineError::io("move into place", h.full(*category, path)))
        }
        Op::Chmod { category, path, to: mode, .. } | Op::DirMode { category, path, mode } => h
            .category(*category)?
            .set_permissions(path, Permissions::from_mode(*mode))
            .map_err(EngineError::io("set mode of", h.full(*category, path))),
    }
}

/// Undoes operations in reverse, judging from the disk what each had done.
fn undo_ops(h: &Handles, ops: &[Op]) -> Result<()> {
    for op in ops.iter().rev() {
        match op {
            Op::DirMode { .. } => {}
            Op::Chmod { category, path, from, to } => {
                // Only an entry showing the new mode was changed; a path still holding
                // the old entry (a change of kind not reached yet) is left alone.
                let dir = h.category(*category)?;
                let changed = dir
                    .symlink_metadata(path)
                    .is_ok_and(|m| m.permissions().mode() & 0o7777 == *to);
                if changed {
                    dir.set_permissions(path, Permissions::from_mode(*from))
                        .map_err(EngineError::io("restore mode of", h.full(*category, path)))?;
                }
            }
            Op::Put { category, path, staged, replaces } => {
                if h.has_backup(*category, path) {
                    h.restore(*category, path)?;
                } else if !replaces && h.staging.symlink_metadata(staged).is_err() {
                    let dir = h.category(*category)?;
                    if dir.symlink_metadata(path).is_ok() {
                        dir.remove_file(path)
                            .map_err(EngineError::io("remove", h.full(*category, path)))?;
                    }
                }
            }
            Op::MakeDir { category, path } => {
                let dir = h.category(*category)?;
                if dir.symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
                    dir.remove_dir(path)
                        .map_err(EngineError::io("remove folder", h.full(*category, path)))?;
                }
            }
            Op::RemoveDir { category, path, mode } => {
                let dir = h.category(*category)?;
                if dir.symlink_metadata(path).is_err() {
                    dir.create_dir(path)
                        .and_then(|()| dir.set_permissions(path, Permissions::from_mode(*mode)))
                        .map_err(EngineError::io("recreate folder", h.full(*category, path)))?;
                }
            }
            Op::Remove { category, path } => {
                if h.has_backup(*category, path) {
                    h.restore(*category, path)?;
                }
            }
        }
    }
    sync_touched(h, ops);
    Ok(())
}

/// Fsyncs every folder whose entries a commit renamed, so the renames are durable.
fn sync_touched(h: &Handles, ops: &[Op]) {
    let mut folders = std::collections::BTreeSet::new();
    for op in ops {
        let (category, path) = op.target();
        let parent = path.parent().map_or_else(PathBuf::new, |p| PathBuf::from(p.as_str()));
        folders.insert((category, parent));
    }
    for (category, folder) in folders {
        let Ok(dir) = h.category(category) else {
            continue;
        };
        let target = if folder.as_os_str().is_empty() { Path::new(".") } else { folder.as_path() };
        match dir.open(target).and_then(|f| f.into_std().sync_all()) {
            // A folder the undo removed has nothing left to make durable.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                tracing::warn!(folder = %h.layout.root(category).join(&folder).display(), error = %e, "could not fsync folder");
            }
            Ok(()) => {}
        }
    }
}

/// Runs only the first `count` operations, as a crash after them would leave the tree.
#[cfg(test)]
pub(crate) fn commit_first(layout: &Layout, journal: &Journal, count: usize) -> Result<()> {
    let handles = Handles::open(layout, journal)?;
    journal.ops.iter().take(count).try_for_each(|op| run(&handles, op))
}

/// What recovery found at agent start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    Clean,
    /// An unfinished commit was undone: the tree is as before that generation.
    Undone(u64),
    /// A commit that had completed was finalised.
    Finished(u64),
}

/// Completes or undoes an unfinished journal and clears staging. Runs before serving.
pub fn recover(layout: &Layout) -> Result<Recovery> {
    let outcome = match Journal::read(layout)? {
        None => Recovery::Clean,
        Some(journal) if journal.state == JournalState::Committed => {
            finish(layout, &journal)?;
            Recovery::Finished(journal.record.id)
        }
        Some(journal) => {
            let handles = Handles::open(layout, &journal)?;
            undo_ops(&handles, &journal.ops)?;
            drop(handles);
            let generation = generation_dir(layout, journal.record.id);
            remove_all(&generation)?;
            remove_file(&layout.journal_path())?;
            Recovery::Undone(journal.record.id)
        }
    };
    remove_all(&layout.staging_dir())?;
    Ok(outcome)
}

/// After the renames are durable: record the generation, drop the journal and staging.
pub fn finish(layout: &Layout, journal: &Journal) -> Result<()> {
    let dir = generation_dir(layout, journal.record.id);
    std::fs::create_dir_all(&dir).map_err(EngineError::io("create generation folder", &dir))?;
    let bytes = serde_json::to_vec_pretty(journal)
        .map_err(|e| EngineError::State { path: dir.clone(), detail: e.to_string() })?;
    write_atomically(&dir.join("generation.json"), &bytes)?;
    remove_file(&layout.journal_path())?;
    remove_all(&staging_dir(layout, journal.record.id))
}

/// Reads the records of every kept generation, newest first.
pub fn generations(layout: &Layout) -> Result<Vec<Journal>> {
    let dir = layout.generations_dir();
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(EngineError::io("list generations", dir)(e)),
    };
    for entry in entries.flatten() {
        let path = entry.path().join("generation.json");
        if let Ok(bytes) = std::fs::read(&path) {
            match serde_json::from_slice::<Journal>(&bytes) {
                Ok(journal) => out.push(journal),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "skipping unreadable generation record")
                }
            }
        }
    }
    out.sort_by_key(|j| std::cmp::Reverse(j.record.id));
    Ok(out)
}

/// The id the next generation gets: one past the highest ever kept.
pub fn next_generation_id(layout: &Layout) -> u64 {
    let highest = std::fs::read_dir(layout.generations_dir())
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u64>().ok()))
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0);
    highest + 1
}

/// Removes all but the newest `keep` generations.
pub fn prune(layout: &Layout, keep: usize) -> Result<()> {
    let mut ids: Vec<u64> = std::fs::read_dir(layout.generations_dir())
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u64>().ok()))
                .collect()
        })
        .unwrap_or_default();
    ids.sort_unstable_by_key(|id| std::cmp::Reverse(*id));
    for id in ids.into_iter().skip(keep.max(1)) {
        remove_all(&generation_dir(layout, id))?;
    }
    Ok(())
}

fn remove_all(path: &Path) -> Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(EngineError::io("remove", path)(e))
        }
        _ => Ok(()),
    }
}

fn remove_file(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(EngineError::io("remove", path)(e))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests;
