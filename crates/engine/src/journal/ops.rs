//! Carrying out, undoing and inspecting the operations of a journal, through directory
//! handles anchored at each category root.
//!
//! Every operation checks its injected fault first ([`crate::fault`]), and moves what it
//! replaces aside with a rename that never replaces anything (`RENAME_NOREPLACE`), after
//! checking the entry is still the one planned ([`Stamp`]): an entry edited after the
//! last check before the commit stops the commit instead of vanishing into a backup.

use std::path::{Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::{Dir, Permissions, PermissionsExt};
use rustix::fs::{AtFlags, RenameFlags};

use super::{Journal, Op, Stamp, backup_path, generation_dir, staging_dir};
use crate::category::Category;
use crate::entry::EntryKind;
use crate::error::{EngineError, Result};
use crate::fault;
use crate::layout::Layout;
use crate::path::RelPath;
use crate::path::{open_parent, split};

/// Open handles on everything a commit touches.
pub(super) struct Handles {
    categories: Vec<(Category, Dir)>,
    staging: Dir,
    generation: Dir,
    generation_path: PathBuf,
    layout: Layout,
}

impl Handles {
    pub(super) fn open(layout: &Layout, journal: &Journal) -> Result<Handles> {
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

    /// Moves the entry at `path` into the generation's backup, refusing when it is not
    /// the entry planned.
    fn backup(&self, category: Category, path: &RelPath, expect: Option<&Stamp>) -> Result<()> {
        let dir = self.category(category)?;
        let full = self.full(category, path);
        if let Some(expect) = expect {
            let now = stamp_in(dir, path.as_ref()).map_err(EngineError::io("inspect", &full))?;
            // A file with several names: moving another of its names (this commit may)
            // moves its change time and its count of names, and nothing else.
            let unchanged = match &now {
                Some(now) if expect.nlink > 1 => now.same_content(expect),
                _ => now.as_ref() == Some(expect),
            };
            if !unchanged {
                return Err(changed_in_commit(category, path));
            }
        }
        let backup = backup_path(category, path);
        if let Some(parent) = backup.parent() {
            self.generation.create_dir_all(parent).map_err(EngineError::io(
                "create backup folder",
                self.generation_path.join(parent),
            ))?;
        }
        fault::check("move aside", &full)
            .and_then(|()| rename_noreplace(dir, path.as_ref(), &self.generation, &backup))
            .map_err(EngineError::io("move aside", &full))?;
        if let Some(expect) = expect {
            // What moved must be what was checked: the same inode, untouched.
            let moved = stamp_in(&self.generation, &backup)
                .map_err(EngineError::io("inspect", self.generation_path.join(&backup)))?;
            if moved.is_none_or(|m| !m.same_content(expect)) {
                return Err(changed_in_commit(category, path));
            }
        }
        Ok(())
    }

    /// Refuses when the file at `path` is another name of a file under `licenses`: its
    /// metadata set here, or a link made to it, would reach the license itself.
    fn refuse_a_license(&self, category: Category, path: &RelPath) -> Result<()> {
        let full = self.full(category, path);
        // A file with one name is no license's (the check walks licenses only otherwise).
        let linked = std::fs::symlink_metadata(&full).is_ok_and(|meta| {
            meta.is_file() && crate::confine::is_linked_to_licenses(self.layout.licenses(), &meta)
        });
        if linked {
            return Err(EngineError::refused(
                crate::refusal::RefusalKind::Protected,
                format!(
                    "{category}/{} is another name of a license file (a hard link into licenses); \
                     licenses are never touched: nothing was changed. Replace the link with a copy",
                    crate::path::shorten(path.as_str())
                ),
            ));
        }
        Ok(())
    }

    fn has_backup(&self, category: Category, path: &RelPath) -> bool {
        self.generation.symlink_metadata(backup_path(category, path)).is_ok()
    }

    fn restore(&self, category: Category, path: &RelPath) -> Result<()> {
        let dir = self.category(category)?;
        let full = self.full(category, path);
        if dir.symlink_metadata(path).is_ok() {
            fault::check("remove", &full)
                .and_then(|()| dir.remove_file(path))
                .map_err(EngineError::io("remove", &full))?;
        }
        fault::check("restore", &full)
            .and_then(|()| self.generation.rename(backup_path(category, path), dir, path))
            .map_err(EngineError::io("restore", &full))
    }
}

fn changed_in_commit(category: Category, path: &RelPath) -> EngineError {
    EngineError::refused(
        crate::refusal::RefusalKind::ChangedSincePreview,
        format!(
            "{category}/{} changed since the preview (edited while the commit was under way); \
             the commit was undone and nothing was changed: run the diff again and review the \
             new plan",
            crate::path::shorten(path.as_str())
        ),
    )
}

/// Carries out one operation.
pub(super) fn run(h: &Handles, op: &Op) -> Result<()> {
    match op {
        Op::Remove { category, path, expect } => h.backup(*category, path, expect.as_ref()),
        Op::RemoveDir { category, path, .. } => {
            let (dir, full) = (h.category(*category)?, h.full(*category, path));
            fault::check("remove folder", &full)
                .and_then(|()| dir.remove_dir(path))
                .map_err(EngineError::io("remove folder", full))
        }
        Op::MakeDir { category, path } => {
            let dir = h.category(*category)?;
            fault::check("create folder", &h.full(*category, path))
                .and_then(|()| dir.create_dir(path))
                .and_then(|()| dir.set_permissions(path, Permissions::from_mode(0o700)))
                .map_err(EngineError::io("create folder", h.full(*category, path)))
        }
        Op::Put { category, path, staged, replaces, expect } => {
            if *replaces {
                h.backup(*category, path, expect.as_ref())?;
            }
            let (dir, full) = (h.category(*category)?, h.full(*category, path));
            fault::check("move into place", &full)
                .and_then(|()| rename_noreplace(&h.staging, Path::new(staged), dir, path.as_ref()))
                .map_err(EngineError::io("move into place", full))
        }
        Op::PutTree { category, path, staged } => {
            let (dir, full) = (h.category(*category)?, h.full(*category, path));
            fault::check("move folder into place", &full)
                .and_then(|()| rename_noreplace(&h.staging, Path::new(staged), dir, path.as_ref()))
                .map_err(EngineError::io("move folder into place", full))
        }
        Op::Link { category, path, first, replaces, expect } => {
            h.refuse_a_license(*category, first)?;
            if *replaces {
                h.backup(*category, path, expect.as_ref())?;
            }
            let (dir, full) = (h.category(*category)?, h.full(*category, path));
            fault::check("link", &full)
                .and_then(|()| hard_link(dir, first.as_ref(), path.as_ref()))
                .map_err(EngineError::io("link", full))
        }
        Op::SetMeta { category, path, to, .. } | Op::DirMeta { category, path, to } => {
            h.refuse_a_license(*category, path)?;
            let (dir, full) = (h.category(*category)?, h.full(*category, path));
            fault::check("set metadata", &full)
                .and_then(|()| set_meta(dir, path.as_ref(), to))
                .map_err(EngineError::io("set owner, mode and times of", full))
        }
        Op::Chmod { category, path, to: mode, .. } | Op::DirMode { category, path, mode } => {
            let (dir, full) = (h.category(*category)?, h.full(*category, path));
            fault::check("set mode", &full)
                .and_then(|()| dir.set_permissions(path, Permissions::from_mode(*mode)))
                .map_err(EngineError::io("set mode of", full))
        }
    }
}

/// Sets an entry's metadata in place, never through a symlink: owner and extended
/// attributes first (a new owner clears setuid bits), then the mode (not of a symlink),
/// then the modification time, last because the others change nothing of it.
pub(crate) fn set_meta(dir: &Dir, path: &Path, meta: &super::Meta) -> std::io::Result<()> {
    if let Some(attrs) = &meta.attrs {
        crate::attrs::set_on_path(dir, path, attrs, meta.mask)?;
    }
    if meta.kind != EntryKind::Symlink {
        // The setgid bit of a folder is this server's own (never carried): it stays.
        let own = match dir.symlink_metadata(path) {
            Ok(now) if now.is_dir() => now.permissions().mode() & 0o2000,
            _ => 0,
        };
        dir.set_permissions(path, Permissions::from_mode(meta.mode | own))?;
    }
    crate::attrs::set_mtime(dir, path, meta.mtime_ns)
}

/// Undoes operations in reverse, judging from the disk what each had done. Running it
/// again on what it left changes nothing: an undo that was interrupted is finished by the
/// next one.
pub(super) fn undo(h: &Handles, ops: &[Op]) -> Result<()> {
    for op in ops.iter().rev() {
        match op {
            Op::DirMode { .. } | Op::DirMeta { .. } => {}
            Op::SetMeta { category, path, from, .. } => {
                // Setting the old metadata again is harmless where it was never changed;
                // a path that holds another kind of entry now is left alone.
                let dir = h.category(*category)?;
                let kind = dir.symlink_metadata(path).ok().map(|m| {
                    if m.is_dir() {
                        EntryKind::Dir
                    } else if m.is_symlink() {
                        EntryKind::Symlink
                    } else {
                        EntryKind::File
                    }
                });
                if kind == Some(from.kind) {
                    let full = h.full(*category, path);
                    fault::check("restore metadata", &full)
                        .and_then(|()| set_meta(dir, path.as_ref(), from))
                        .map_err(EngineError::io("restore owner, mode and times of", full))?;
                }
            }
            Op::Chmod { category, path, from, to } => {
                // Only an entry showing the new mode was changed; a path still holding
                // the old entry (a change of kind not reached yet) is left alone.
                let dir = h.category(*category)?;
                let changed = dir
                    .symlink_metadata(path)
                    .is_ok_and(|m| m.permissions().mode() & 0o7777 == *to);
                if changed {
                    fault::check("restore mode", &h.full(*category, path))
                        .and_then(|()| dir.set_permissions(path, Permissions::from_mode(*from)))
                        .map_err(EngineError::io("restore mode of", h.full(*category, path)))?;
                }
            }
            Op::Link { category, path, first, replaces, .. } => {
                if h.has_backup(*category, path) {
                    h.restore(*category, path)?;
                } else if !replaces {
                    // Only the link this commit made: a file that is `first` itself. What
                    // else stands there (the entry of a change of kind whose removal was not
                    // reached, something made meanwhile) is left alone.
                    let dir = h.category(*category)?;
                    let inode = |p: &RelPath| {
                        dir.symlink_metadata(p).ok().filter(|m| m.is_file()).map(|m| {
                            (cap_std::fs::MetadataExt::dev(&m), cap_std::fs::MetadataExt::ino(&m))
                        })
                    };
                    if inode(path).is_some() && inode(path) == inode(first) {
                        fault::check("remove", &h.full(*category, path))
                            .and_then(|()| dir.remove_file(path))
                            .map_err(EngineError::io("remove", h.full(*category, path)))?;
                    }
                }
            }
            Op::Put { category, path, staged, replaces, .. } => {
                if h.has_backup(*category, path) {
                    h.restore(*category, path)?;
                } else if !replaces && h.staging.symlink_metadata(staged).is_err() {
                    let dir = h.category(*category)?;
                    if dir.symlink_metadata(path).is_ok() {
                        fault::check("remove", &h.full(*category, path))
                            .and_then(|()| dir.remove_file(path))
                            .map_err(EngineError::io("remove", h.full(*category, path)))?;
                    }
                }
            }
            Op::PutTree { category, path, staged } => {
                // In place only if the staged folder is gone from staging: move it back.
                let dir = h.category(*category)?;
                let moved = h.staging.symlink_metadata(staged).is_err()
                    && dir.symlink_metadata(path).is_ok_and(|m| m.is_dir());
                if moved {
                    let full = h.full(*category, path);
                    fault::check("move folder back", &full)
                        .and_then(|()| {
                            rename_noreplace(dir, path.as_ref(), &h.staging, Path::new(staged))
                        })
                        .map_err(EngineError::io("move folder back", full))?;
                }
            }
            Op::MakeDir { category, path } => {
                let dir = h.category(*category)?;
                if dir.symlink_metadata(path).is_ok_and(|m| m.is_dir()) {
                    fault::check("remove folder", &h.full(*category, path))
                        .and_then(|()| dir.remove_dir(path))
                        .map_err(EngineError::io("remove folder", h.full(*category, path)))?;
                }
            }
            Op::RemoveDir { category, path, mode } => {
                let dir = h.category(*category)?;
                if dir.symlink_metadata(path).is_err() {
                    fault::check("recreate folder", &h.full(*category, path))
                        .and_then(|()| dir.create_dir(path))
                        .and_then(|()| dir.set_permissions(path, Permissions::from_mode(*mode)))
                        .map_err(EngineError::io("recreate folder", h.full(*category, path)))?;
                }
            }
            Op::Remove { category, path, .. } => {
                if h.has_backup(*category, path) {
                    h.restore(*category, path)?;
                }
            }
        }
    }
    Ok(())
}

/// Whether every operation's effect is on disk: each replaced entry in the backup, each
/// staged entry in place, each folder made or removed, each mode set. A journal marked
/// committed whose effects are not all there was undone after its mark was written (the
/// mark's write failed half way), and recovery undoes it too.
pub(super) fn in_effect(h: &Handles, ops: &[Op]) -> bool {
    let meta = |category: Category, path: &RelPath| {
        h.category(category).ok().and_then(|d| d.symlink_metadata(path).ok())
    };
    // What stands at a path now may be a later operation's (a change of kind is a removal
    // and a creation at one path): each check looks only at its own effect.
    ops.iter().all(|op| match op {
        Op::Remove { category, path, .. } => h.has_backup(*category, path),
        Op::RemoveDir { category, path, .. } => !meta(*category, path).is_some_and(|m| m.is_dir()),
        Op::MakeDir { category, path } => meta(*category, path).is_some_and(|m| m.is_dir()),
        Op::PutTree { category, path, staged } => {
            meta(*category, path).is_some_and(|m| m.is_dir())
                && h.staging.symlink_metadata(staged).is_err()
        }
        Op::Put { category, path, staged, replaces, .. } => {
            meta(*category, path).is_some()
                && h.staging.symlink_metadata(staged).is_err()
                && (!replaces || h.has_backup(*category, path))
        }
        Op::Link { category, path, replaces, .. } => {
            meta(*category, path).is_some() && (!replaces || h.has_backup(*category, path))
        }
        Op::SetMeta { category, path, to, .. } | Op::DirMeta { category, path, to } => {
            meta(*category, path).is_some_and(|m| {
                let mtime = cap_std::fs::MetadataExt::mtime(&m)
                    .saturating_mul(1_000_000_000)
                    .saturating_add(cap_std::fs::MetadataExt::mtime_nsec(&m));
                mtime == to.mtime_ns
                    && (to.kind == EntryKind::Symlink || m.permissions().mode() & 0o1777 == to.mode)
            })
        }
        Op::Chmod { category, path, to: mode, .. } | Op::DirMode { category, path, mode } => {
            meta(*category, path).is_some_and(|m| m.permissions().mode() & 0o7777 == *mode)
        }
    })
}

/// Fsyncs every folder whose entries a commit renamed, so the renames are durable. A
/// folder that is gone (an undo removed it) has nothing left to make durable.
pub(super) fn sync_touched(h: &Handles, ops: &[Op]) -> Result<()> {
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
        let full = h.layout.root(category).join(&folder);
        let synced = fault::check("fsync folder", &full)
            .and_then(|()| dir.open(target))
            .and_then(|f| f.into_std().sync_all());
        match synced {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(EngineError::io("fsync folder", full)(e)),
            Ok(()) => {}
        }
    }
    // The backups' folders too: what was moved aside must still be there after a crash.
    let backups = h.generation_path.join("backup");
    for category in h.categories.iter().map(|(c, _)| *c) {
        let folder = backups.join(category.name());
        if folder.exists() {
            crate::fsutil::sync_dir(&folder)?;
        }
    }
    Ok(())
}

/// Renames `from` (under `from_dir`) to `to` (under `to_dir`), failing rather than
/// replacing anything at `to`. Each parent folder is opened through its directory handle
/// first, so the rename itself only sees single names: nothing can lead it outside.
fn rename_noreplace(from_dir: &Dir, from: &Path, to_dir: &Dir, to: &Path) -> std::io::Result<()> {
    let (from_parent, from_name) = split(from)?;
    let (to_parent, to_name) = split(to)?;
    let from_parent = open_parent(from_dir, from_parent)?;
    let to_parent = open_parent(to_dir, to_parent)?;
    match rustix::fs::renameat_with(
        &from_parent,
        from_name,
        &to_parent,
        to_name,
        RenameFlags::NOREPLACE,
    ) {
        Ok(()) => Ok(()),
        // A file system without RENAME_NOREPLACE: check, then rename (a narrow window).
        Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {
            if to_parent.symlink_metadata(to_name).is_ok() {
                return Err(std::io::ErrorKind::AlreadyExists.into());
            }
            from_parent.rename(from_name, &to_parent, to_name)
        }
        Err(e) => Err(e.into()),
    }
}

/// Makes `to` (under `dir`) another name of the file at `from`, through handles on both
/// parent folders: neither path can lead outside, and a symlink at `from` is linked as
/// itself, never followed.
fn hard_link(dir: &Dir, from: &Path, to: &Path) -> std::io::Result<()> {
    let (from_parent, from_name) = split(from)?;
    let (to_parent, to_name) = split(to)?;
    let from_parent = open_parent(dir, from_parent)?;
    let to_parent = open_parent(dir, to_parent)?;
    rustix::fs::linkat(&from_parent, from_name, &to_parent, to_name, AtFlags::empty())
        .map_err(Into::into)
}

/// The stamp of the entry at `path` under `dir`, or `None` when there is none.
pub(super) fn stamp_in(dir: &Dir, path: &Path) -> std::io::Result<Option<Stamp>> {
    let (parent, name) = split(path)?;
    let parent = match open_parent(dir, parent) {
        Ok(parent) => parent,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    match rustix::fs::statat(&parent, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => Ok(Some(Stamp::of(&stat))),
        Err(rustix::io::Errno::NOENT | rustix::io::Errno::NOTDIR) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

impl Stamp {
    fn of(stat: &rustix::fs::Stat) -> Stamp {
        let file_type = rustix::fs::FileType::from_raw_mode(stat.st_mode);
        let kind = match file_type {
            rustix::fs::FileType::Directory => EntryKind::Dir,
            rustix::fs::FileType::Symlink => EntryKind::Symlink,
            _ => EntryKind::File,
        };
        let ns = |secs: i64, nsec: i64| secs.saturating_mul(1_000_000_000).saturating_add(nsec);
        Stamp {
            kind,
            size: u64::try_from(stat.st_size).unwrap_or(0),
            mtime_ns: ns(stat.st_mtime, i64::try_from(stat.st_mtime_nsec).unwrap_or(0)),
            ctime_ns: ns(stat.st_ctime, i64::try_from(stat.st_ctime_nsec).unwrap_or(0)),
            inode: stat.st_ino,
            mode: stat.st_mode & 0o7777,
            // u32 on some platforms.
            #[allow(clippy::useless_conversion)]
            nlink: u64::from(stat.st_nlink),
        }
    }

    /// The same entry with the same content and mode; the change time and the count of
    /// names aside, which a rename (of it, or of another name of it) may move.
    fn same_content(&self, other: &Stamp) -> bool {
        Stamp { ctime_ns: 0, nlink: 0, ..*self } == Stamp { ctime_ns: 0, nlink: 0, ..*other }
    }
}
