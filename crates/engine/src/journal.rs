//! The commit journal and the generations it leaves behind.
//!
//! A commit, in order ([`commit`]):
//!
//! 1. the generation's record is written and fsynced (`generations/<id>/generation.json`),
//!    so that a commit is never without its record;
//! 2. the journal, the full list of operations, is written and fsynced (`journal.json`,
//!    state `committing`);
//! 3. every operation runs, each moving what it replaces into
//!    `generations/<id>/backup/<category>/<path>`, so each one can be undone from what is
//!    on disk alone;
//! 4. every touched folder is fsynced;
//! 5. the journal is marked `committed`: **the commit point**. Before it, any error undoes
//!    the commit; after it, the commit stands and what fails is reported alongside.
//!
//! When an undo fails too, the journal (still unmarked) and the backups stay, and
//! [`recover`] finishes the undo, at the next start of the agent or before its next
//! apply. Recovery decides from the disk the same way every time: a journal marked
//! committed whose effects are all in place is finished; any other is undone (the client
//! was never told of success, so "all old" is the honest state). Staging is then cleared.

mod generations;
mod ops;

use std::path::{Path, PathBuf};

use crate::category::Category;
use crate::entry::{Entry, EntryKind};
use crate::error::{EngineError, Result};
use crate::failpoint;
use crate::fsutil;
use crate::layout::Layout;
use crate::path::RelPath;

pub use generations::{generations, next_generation_id, prune};

/// One step of a commit, recorded before it is carried out.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Move a file or symlink into the generation's backup.
    Remove {
        category: Category,
        path: RelPath,
        /// The entry planned to be moved aside, as it was just before the commit.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expect: Option<Stamp>,
    },
    /// Remove an (emptied) directory, remembering its mode.
    RemoveDir { category: Category, path: RelPath, mode: u32 },
    /// Create a directory (owner-writable until its final Chmod).
    MakeDir { category: Category, path: RelPath },
    /// Move what is at `path` (if `replaces`) into the backup, then rename the staged
    /// entry into place.
    Put {
        category: Category,
        path: RelPath,
        staged: String,
        replaces: bool,
        /// The entry planned to be replaced, as it was just before the commit.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expect: Option<Stamp>,
    },
    /// Rename a whole staged folder (a new subtree, see [`subtree`](crate::subtree))
    /// into place at `path`, where nothing is.
    PutTree { category: Category, path: RelPath, staged: String },
    /// Move what is at `path` (if `replaces`) into the backup, then make `path` another
    /// name (a hard link) of the file at `first`, which is in place by then.
    Link {
        category: Category,
        path: RelPath,
        first: RelPath,
        replaces: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        expect: Option<Stamp>,
    },
    /// Change the metadata (mode, mtime, owner, group, extended attributes) of an entry
    /// that was there before, in place; undone by setting `from` again.
    SetMeta { category: Category, path: RelPath, from: Meta, to: Meta },
    /// Give a folder this commit created its final metadata; undone with the folder.
    DirMeta { category: Category, path: RelPath, to: Meta },
    /// Change the mode of an entry that was there before (journals of earlier versions).
    Chmod { category: Category, path: RelPath, from: u32, to: u32 },
    /// Give a folder its final mode (journals of earlier versions).
    DirMode { category: Category, path: RelPath, mode: u32 },
}

/// An entry's metadata as a commit sets it, and what of it the destination leaves alone.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Meta {
    pub kind: EntryKind,
    pub mode: u32,
    pub mtime_ns: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attrs: Option<std::sync::Arc<crate::attrs::Attrs>>,
    #[serde(default)]
    pub mask: crate::attrs::Mask,
}

impl Meta {
    pub fn of(entry: &crate::entry::Entry, mask: crate::attrs::Mask) -> Meta {
        Meta {
            kind: entry.kind,
            mode: entry.mode,
            mtime_ns: entry.mtime_ns,
            attrs: entry.attrs.clone(),
            mask,
        }
    }
}

impl Op {
    /// The entry the operation is about.
    pub fn target(&self) -> (Category, &RelPath) {
        let (Op::Remove { category, path, .. }
        | Op::RemoveDir { category, path, .. }
        | Op::MakeDir { category, path }
        | Op::Put { category, path, .. }
        | Op::PutTree { category, path, .. }
        | Op::Link { category, path, .. }
        | Op::SetMeta { category, path, .. }
        | Op::DirMeta { category, path, .. }
        | Op::Chmod { category, path, .. }
        | Op::DirMode { category, path, .. }) = self;
        (*category, path)
    }
}

/// What identifies an entry without reading it: kind, size, times, inode and mode. An
/// entry whose stamp moved was written to, renamed over or replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Stamp {
    pub kind: EntryKind,
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub inode: u64,
    pub mode: u32,
    /// Names the file has: moving or linking any of them moves the change time of all.
    #[serde(default)]
    pub nlink: u64,
}

impl Stamp {
    /// The stamp of `category/path` on this server now, `None` when nothing is there.
    pub fn read(layout: &Layout, category: Category, path: &RelPath) -> Result<Option<Stamp>> {
        let Some(dir) = layout.open_category(category)? else { return Ok(None) };
        Stamp::read_in(&dir, path)
            .map_err(EngineError::io("inspect", layout.root(category).join(path)))
    }

    /// The stamp of `path` under a category's directory handle, `None` when nothing is
    /// there (nor can be: a file stands where a folder of the path would be).
    pub fn read_in(dir: &cap_std::fs::Dir, path: &RelPath) -> std::io::Result<Option<Stamp>> {
        ops::stamp_in(dir, path.as_ref())
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
    /// What the change meant for this server ("effective after the next startup").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<crate::effects::Notice>,
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
    /// What the commit changes, path by path. Kept beside the record
    /// (`changes.json`), not in the journal file (older versions wrote it there).
    #[serde(default, skip_serializing)]
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
        self.write_as(layout, self.state)
    }

    /// Writes the journal with `state` (without copying it: a journal of a large commit
    /// is large).
    fn write_as(&self, layout: &Layout, state: JournalState) -> Result<()> {
        #[derive(serde::Serialize)]
        struct View<'a> {
            state: JournalState,
            record: &'a GenerationRecord,
            ops: &'a [Op],
        }
        let view = View { state, record: &self.record, ops: &self.ops };
        fsutil::write_json(&layout.journal_path(), &view)
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

    /// Writes the generation's changes, then its record, the file a kept generation is
    /// known by (so that a record never lacks its changes).
    fn write_record(&self, layout: &Layout) -> Result<()> {
        let dir = generation_dir(layout, self.record.id);
        std::fs::create_dir_all(&dir).map_err(EngineError::io("create generation folder", &dir))?;
        fsutil::write_json(&dir.join(CHANGES), &self.changes)?;
        fsutil::write_json(&dir.join(RECORD), &self.record)
    }
}

/// The file in a generation's folder that records it (small: listing it is cheap).
const RECORD: &str = "record.json";
/// Its changes path by path, read only to roll it back.
const CHANGES: &str = "changes.json";
/// Record and changes in one file, as older versions kept them.
const LEGACY_RECORD: &str = "generation.json";

/// The changes the kept generation `id` made, path by path; `None` when it was recorded
/// by an older confsync without them.
pub fn changes(layout: &Layout, id: u64) -> Result<Option<Vec<Change>>> {
    let dir = generation_dir(layout, id);
    let read = |name: &str| match std::fs::File::open(dir.join(name)) {
        Ok(file) => Ok(Some(std::io::BufReader::new(file))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(EngineError::io("read", dir.join(name))(e)),
    };
    let damaged = |name: &str, e: serde_json::Error| EngineError::State {
        path: dir.join(name),
        detail: format!("unreadable record of generation {id}: {e}"),
    };
    if let Some(file) = read(CHANGES)? {
        return serde_json::from_reader(file).map(Some).map_err(|e| damaged(CHANGES, e));
    }
    if let Some(file) = read(LEGACY_RECORD)? {
        let journal: Journal =
            serde_json::from_reader(file).map_err(|e| damaged(LEGACY_RECORD, e))?;
        return Ok(
            (!journal.changes.is_empty() || journal.ops.is_empty()).then_some(journal.changes)
        );
    }
    Ok(None)
}

/// Why a commit did not happen.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    /// Nothing was committed and the tree is as it was.
    #[error("{0}")]
    Undone(EngineError),
    /// The commit failed and undoing it failed too: the journal and the backups are kept,
    /// and [`recover`] finishes the undo.
    #[error("{error}; undoing the commit failed too ({undo})")]
    Stuck { error: EngineError, undo: EngineError },
}

/// A commit that stands, with what failed after its commit point (reported, not undone).
#[derive(Debug, Default)]
pub struct Committed {
    pub warnings: Vec<String>,
}

/// Commits `journal` (see the module documentation for the order). Its staged entries
/// must be durable already.
pub fn commit(layout: &Layout, journal: &Journal) -> std::result::Result<Committed, CommitError> {
    let id = journal.record.id;
    let generation = generation_dir(layout, id);
    let nothing_done = |error: EngineError| {
        // Nothing in the tree moved; the record and the journal go again (a journal left
        // behind names no operation that ran, and recovery clears it).
        let _ = fsutil::remove_file(&layout.journal_path());
        let _ = fsutil::remove_all(&generation);
        CommitError::Undone(error)
    };
    journal.write_record(layout).map_err(nothing_done)?;
    journal.write(layout).map_err(nothing_done)?;
    let handles = ops::Handles::open(layout, journal).map_err(nothing_done)?;
    let crash_after = failpoint::value(failpoint::COMMIT_CRASH_AFTER);
    for (done, op) in journal.ops.iter().enumerate() {
        if crash_after == Some(done as u64) {
            tracing::error!(
                "failpoint {}: aborting after {done} operations",
                failpoint::COMMIT_CRASH_AFTER
            );
            std::process::abort();
        }
        if let Err(e) = ops::run(&handles, op) {
            return Err(undo_after(layout, &handles, journal, e));
        }
    }
    if let Err(e) = ops::sync_touched(&handles, &journal.ops) {
        return Err(undo_after(layout, &handles, journal, e));
    }
    let mut committed = Committed::default();
    if let Err(e) = journal.write_as(layout, JournalState::Committed) {
        // The mark is what the journal file says now: when its rename went through (only
        // the flush of its folder failed), the commit point is passed, and recovery would
        // decide the same from the file.
        let marked = Journal::read(layout)
            .ok()
            .flatten()
            .is_some_and(|j| j.state == JournalState::Committed);
        if !marked {
            return Err(undo_after(layout, &handles, journal, e));
        }
        committed.warnings.push(format!(
            "the commit's mark may not be on disk yet ({e}); the tree is the new one"
        ));
    }
    // The commit point is behind: from here on, failures are reported, never undone.
    drop(handles);
    if let Err(e) = fsutil::remove_file(&layout.journal_path()) {
        committed.warnings.push(format!(
            "the finished journal could not be removed ({e}); the agent removes it at its next start"
        ));
    }
    if let Err(e) = fsutil::remove_all(&staging_dir(layout, id)) {
        tracing::warn!(error = %e, "could not clear the staging folder; it is cleared at the next start");
    }
    Ok(committed)
}

/// Undoes a commit that failed with `error` before its commit point.
fn undo_after(
    layout: &Layout,
    handles: &ops::Handles,
    journal: &Journal,
    error: EngineError,
) -> CommitError {
    tracing::error!(error = %error, "commit failed; undoing what was done");
    if let Err(undo) =
        ops::undo(handles, &journal.ops).and_then(|()| ops::sync_touched(handles, &journal.ops))
    {
        tracing::error!(error = %undo, "undoing the failed commit failed too; the journal and the backups are kept");
        return CommitError::Stuck { error, undo };
    }
    // The tree is as it was. The generation goes first, then the journal: a journal left
    // behind makes recovery finish this clean-up before anything else happens.
    let cleaned = fsutil::remove_all(&generation_dir(layout, journal.record.id))
        .and_then(|()| fsutil::remove_file(&layout.journal_path()));
    if let Err(e) = cleaned {
        tracing::warn!(error = %e, "the undone commit's journal is left; recovery clears it before the next apply");
    }
    CommitError::Undone(error)
}

/// Runs only the first `count` operations, as a crash after them would leave the tree.
#[cfg(test)]
pub(crate) fn commit_first(layout: &Layout, journal: &Journal, count: usize) -> Result<()> {
    let handles = ops::Handles::open(layout, journal)?;
    journal.ops.iter().take(count).try_for_each(|op| ops::run(&handles, op))
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

/// Completes or undoes an unfinished journal and clears staging. Runs before serving,
/// and before any apply when a journal is left.
pub fn recover(layout: &Layout) -> Result<Recovery> {
    let outcome = match Journal::read(layout)? {
        None => Recovery::Clean,
        Some(journal) => {
            let handles = ops::Handles::open(layout, &journal)?;
            if journal.state == JournalState::Committed && ops::in_effect(&handles, &journal.ops) {
                drop(handles);
                finish(layout, &journal)?;
                Recovery::Finished(journal.record.id)
            } else {
                ops::undo(&handles, &journal.ops)?;
                ops::sync_touched(&handles, &journal.ops)?;
                drop(handles);
                fsutil::remove_all(&generation_dir(layout, journal.record.id))?;
                fsutil::remove_file(&layout.journal_path())?;
                Recovery::Undone(journal.record.id)
            }
        }
    };
    crate::resume::keep_staged(layout, &layout.staging_dir());
    crate::resume::keep_free(layout);
    fsutil::remove_all(&layout.staging_dir())?;
    Ok(outcome)
}

/// A committed journal's last steps: its record (written before the commit by this
/// version, perhaps not by an older one), then the journal and the staging go.
pub fn finish(layout: &Layout, journal: &Journal) -> Result<()> {
    let dir = generation_dir(layout, journal.record.id);
    if !dir.join(RECORD).exists() && !dir.join(LEGACY_RECORD).exists() {
        journal.write_record(layout)?;
    }
    fsutil::remove_file(&layout.journal_path())?;
    fsutil::remove_all(&staging_dir(layout, journal.record.id))
}

#[cfg(test)]
mod tests;
