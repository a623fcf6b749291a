//! What a cut transfer leaves for the next attempt: staged content, whole or partial,
//! kept under the digest of the file it belongs to in `.confsync/resume/`.
//!
//! - An apply that fails or is cancelled before its commit point, or a crash the agent
//!   recovers from at start, moves every staged regular file here (staged names carry
//!   the digest: [`staged_name`]); a longer piece of the same file wins.
//! - Staging a file whose digest has a piece here uses it: a whole piece whose content
//!   hashes to the digest is copied; a partial piece of a large file is a basis for the
//!   delta, and since content-defined chunks of a prefix are the file's own chunks (all
//!   but the last), only what is missing is fetched, every chunk checked against the
//!   source's chunk list. A piece is never trusted, only its verified chunks are used.
//! - Bounded: it holds what one plan staged at most. Each apply first drops the pieces
//!   its plan does not need (the plan changed), and a committed apply clears them all.
//! - Never at the cost of the server's space: pieces are kept only while their file
//!   system keeps [`KEEP_FREE_PERCENT`] free. An apply that failed for lack of space
//!   would otherwise leave the disk full of what it staged; the largest pieces go first,
//!   and the error says so ([`keep_free`]).
//!
//! Every operation here is advisory: a failure is logged and costs only a refetch.

use std::path::{Path, PathBuf};

use crate::entry::{Digest, EntryKind};
use crate::layout::Layout;
use crate::plan::{Action, Plan};

const DIR_NAME: &str = "resume";

pub fn dir(layout: &Layout) -> PathBuf {
    layout.state_dir().join(DIR_NAME)
}

/// The digests that have a piece kept, read once per apply.
pub fn pieces(layout: &Layout) -> std::collections::HashSet<Digest> {
    let Ok(entries) = std::fs::read_dir(dir(layout)) else { return Default::default() };
    entries.flatten().filter_map(|e| e.file_name().to_str().and_then(Digest::from_hex)).collect()
}

/// The piece kept for content `digest`, opened, with its path and length.
pub fn open_piece(layout: &Layout, digest: &Digest) -> Option<(cap_std::fs::File, PathBuf, u64)> {
    let folder = dir(layout);
    let resume = cap_std::fs::Dir::open_ambient_dir(&folder, cap_std::ambient_authority()).ok()?;
    let name = digest.to_hex();
    let file = resume.open(&name).ok()?;
    let meta = file.metadata().ok()?;
    (meta.is_file() && meta.len() > 0).then(|| (file, folder.join(name), meta.len()))
}

/// Moves what is staged under `staging` (generation folders of staged files, as an apply
/// or a crash left them) into the resume folder, by digest.
pub fn keep_staged(layout: &Layout, staging: &Path) {
    let Ok(generations) = std::fs::read_dir(staging) else { return };
    let resume = dir(layout);
    if let Err(e) = std::fs::create_dir_all(&resume) {
        tracing::warn!(error = %e, folder = %resume.display(), "cannot keep staged data for a retry");
        return;
    }
    let mut kept = (0u64, 0u64);
    for generation in generations.flatten() {
        let Ok(files) = std::fs::read_dir(generation.path()) else { continue };
        for file in files.flatten() {
            let Some(digest) = file.file_name().to_str().and_then(digest_of_staged) else {
                continue;
            };
            let Ok(meta) = file.metadata() else { continue };
            if !meta.is_file() || meta.len() == 0 {
                continue;
            }
            let target = resume.join(digest.to_hex());
            let longer_kept = std::fs::symlink_metadata(&target)
                .is_ok_and(|t| t.is_file() && t.len() >= meta.len());
            if longer_kept {
                continue;
            }
            match std::fs::rename(file.path(), &target) {
                Ok(()) => {
                    kept.0 += 1;
                    kept.1 += meta.len();
                }
                Err(e) => {
                    tracing::warn!(error = %e, file = %file.path().display(), "cannot keep a staged file for a retry")
                }
            }
        }
    }
    if kept.0 > 0 {
        tracing::info!(
            files = kept.0,
            bytes = kept.1,
            "kept what was staged, for the next attempt to resume from"
        );
    }
}

/// The share of its file system (in percent) the resume folder leaves free.
pub const KEEP_FREE_PERCENT: u64 = 10;

/// What [`keep_free`] dropped.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    pub files: u64,
    pub bytes: u64,
}

impl Dropped {
    /// How errors and logs say it.
    pub fn describe(&self) -> String {
        format!(
            "the {} staged {} ({} bytes) kept for a retry {} dropped to leave {KEEP_FREE_PERCENT} % \
             of the file system free: the next attempt fetches {} again",
            self.files,
            if self.files == 1 { "file" } else { "files" },
            self.bytes,
            if self.files == 1 { "was" } else { "were" },
            if self.files == 1 { "it" } else { "them" },
        )
    }
}

/// Drops kept pieces, the largest first, until the file system holding them has
/// [`KEEP_FREE_PERCENT`] of its size free, or none is left.
pub fn keep_free(layout: &Layout) -> Dropped {
    let folder = dir(layout);
    let Ok(entries) = std::fs::read_dir(&folder) else { return Dropped::default() };
    let mut pieces: Vec<(u64, PathBuf)> =
        entries.flatten().filter_map(|e| Some((e.metadata().ok()?.len(), e.path()))).collect();
    pieces.sort_unstable_by_key(|p| std::cmp::Reverse(p.0));
    let mut dropped = Dropped::default();
    for (len, path) in pieces {
        if !short_of_space(&folder) {
            break;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => {
                dropped.files += 1;
                dropped.bytes += len;
            }
            Err(e) => {
                tracing::warn!(error = %e, piece = %path.display(), "cannot drop a kept piece")
            }
        }
    }
    if dropped.files > 0 {
        tracing::warn!(files = dropped.files, bytes = dropped.bytes, "{}", dropped.describe());
    }
    dropped
}

/// Whether the file system holding `folder` has less than [`KEEP_FREE_PERCENT`] free (as
/// an unprivileged writer sees it). Unknown counts as enough: dropping is only a saving.
fn short_of_space(folder: &Path) -> bool {
    match rustix::fs::statvfs(folder) {
        Ok(fs) => {
            let free = u128::from(fs.f_bavail) * u128::from(fs.f_frsize);
            let size = u128::from(fs.f_blocks) * u128::from(fs.f_frsize);
            free * 100 < size * u128::from(KEEP_FREE_PERCENT)
        }
        Err(_) => false,
    }
}

/// Drops the pieces `plan` does not bring: what a changed plan will never use.
pub fn prune_to(layout: &Layout, plan: &Plan) {
    let Ok(pieces) = std::fs::read_dir(dir(layout)) else { return };
    let needed: std::collections::HashSet<String> = plan
        .steps()
        .filter(|(_, s)| matches!(s.action, Action::Create | Action::Overwrite))
        .filter_map(|(_, s)| s.source.as_ref())
        .filter(|e| e.kind == EntryKind::File)
        .map(|e| e.digest.to_hex())
        .collect();
    for piece in pieces.flatten() {
        let name = piece.file_name();
        if !name.to_str().is_some_and(|n| needed.contains(n)) {
            let _ = std::fs::remove_file(piece.path());
        }
    }
}

/// Clears the resume folder (after a commit: whatever it held has been used or is stale).
pub fn clear(layout: &Layout) {
    let resume = dir(layout);
    match std::fs::remove_dir_all(&resume) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            tracing::warn!(error = %e, folder = %resume.display(), "cannot clear the resume folder")
        }
    }
}

/// Where the step at `index` of a plan, bringing content `digest`, is staged inside the
/// generation's staging folder. The digest in the name lets what a cut transfer staged be
/// kept for the next attempt even when only the folder is left.
pub fn staged_name(index: usize, digest: &Digest) -> String {
    format!("{index}.{}", digest.to_hex())
}

/// The digest in a staged file's name (`<index>.<digest hex>`).
fn digest_of_staged(name: &str) -> Option<Digest> {
    let (_, hex) = name.split_once('.')?;
    Digest::from_hex(hex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_names_carry_the_digest() {
        let digest = Digest::of(b"content");
        let name = staged_name(7, &digest);
        assert_eq!(digest_of_staged(&name), Some(digest));
        assert_eq!(digest_of_staged("7"), None);
        assert_eq!(digest_of_staged("7.not-hex"), None);
    }
}
