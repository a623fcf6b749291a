//! Confinement rules that span several entries of a peer's manifest (single paths and
//! symlink targets are checked in [`super::path`]).
//!
//! A manifest must describe a tree: every entry's parent is a directory entry of the same
//! category, and no path appears twice. Otherwise an entry could be placed beneath a
//! symlink: with `x/y -> ../z` (one level up, allowed at depth 1) and `x/y/l -> ../../e`
//! (two levels up, allowed at depth 2), `l` would really sit in `z/` at depth 1, and its
//! target would leave the category. Refusing such manifests keeps every symlink's
//! lexical depth equal to its real one, which is what [`super::path::check_symlink_target`]
//! relies on.

use std::collections::HashMap;

use crate::entry::{Entry, EntryKind};
use crate::path::Short;

/// Most entries accepted in one peer manifest (all categories): bounds the memory a
/// source can make a destination spend, and keeps byte counts far from overflowing
/// (with [`MAX_FILE_BYTES`]).
pub const MAX_MANIFEST_ENTRIES: usize = 4 << 20;
/// Most memory one peer manifest may take here, counted as each entry's path and symlink
/// target plus the entry itself: a source that sends long paths is stopped at this bound
/// rather than at the entry count (1,000,000 entries of 100-byte paths take about 200 MiB).
pub const MAX_MANIFEST_BYTES: usize = 256 << 20;

/// What one entry of a manifest costs in memory, for [`MAX_MANIFEST_BYTES`].
pub fn entry_bytes(entry: &Entry) -> usize {
    std::mem::size_of::<Entry>()
        + entry.path.as_str().len()
        + entry.symlink_target.as_ref().map_or(0, String::len)
}

/// Largest file a peer may declare (1 TiB).
pub const MAX_FILE_BYTES: u64 = 1 << 40;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("{:?} appears twice in the manifest", Short(.path))]
    Duplicate { path: String },
    #[error(
        "{:?} lies beneath {:?}, which is not a folder in the manifest (a {kind}); refusing a path through a symlink or a file",
        Short(.path),
        Short(.parent)
    )]
    NotUnderFolder { path: String, parent: String, kind: &'static str },
    #[error("{:?} is declared another name of {:?}, which {why}; refusing the manifest", Short(.path), Short(.first))]
    BadHardlink { path: String, first: String, why: &'static str },
}

/// Checks that `entries` (one category) form a tree, and that every hard link names a
/// file of the same content that comes first in path order and is no link itself (so
/// that what a link is made from is always in place before it). The order of `entries`
/// is free.
pub fn check_tree(entries: &[Entry]) -> Result<(), ShapeError> {
    let mut kinds: HashMap<&str, EntryKind> = HashMap::with_capacity(entries.len());
    for entry in entries {
        if kinds.insert(entry.path.as_str(), entry.kind).is_some() {
            return Err(ShapeError::Duplicate { path: entry.path.to_string() });
        }
    }
    let linked: Vec<&Entry> = entries.iter().filter(|e| e.hardlink.is_some()).collect();
    if !linked.is_empty() {
        let by_path: HashMap<&str, &Entry> = entries.iter().map(|e| (e.path.as_str(), e)).collect();
        for entry in linked {
            let Some(first) = &entry.hardlink else { continue };
            let bad = |why| ShapeError::BadHardlink {
                path: entry.path.to_string(),
                first: first.to_string(),
                why,
            };
            let Some(target) = by_path.get(first.as_str()) else {
                return Err(bad("is not in the manifest"));
            };
            if entry.kind != EntryKind::File || target.kind != EntryKind::File {
                return Err(bad("is not a file, or the link is not"));
            }
            if target.hardlink.is_some() || first >= &entry.path {
                return Err(bad("is not the first of the names"));
            }
            if target.digest != entry.digest || target.size != entry.size {
                return Err(bad("holds other content"));
            }
        }
    }
    for entry in entries {
        let Some(parent) = entry.path.parent() else { continue };
        let kind = match kinds.get(parent.as_str()) {
            Some(EntryKind::Dir) => continue,
            Some(EntryKind::File) => "file",
            Some(EntryKind::Symlink) => "symlink",
            None => "missing folder",
        };
        return Err(ShapeError::NotUnderFolder {
            path: entry.path.to_string(),
            parent: parent.to_string(),
            kind,
        });
    }
    Ok(())
}

/// Whether a regular file with several names (`nlink > 1`) shares its inode with a file
/// under `licenses`: such a hard link would carry a license's bytes out of the machine
/// under another category's name, so it is never served.
pub fn is_linked_to_licenses(licenses: &std::path::Path, file: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    if file.nlink() < 2 {
        return false;
    }
    walkdir::WalkDir::new(licenses)
        .follow_links(false)
        .into_iter()
        .filter_map(std::result::Result::ok)
        .filter_map(|e| e.metadata().ok())
        .any(|m| m.is_file() && m.dev() == file.dev() && m.ino() == file.ino())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Digest;
    use crate::path::RelPath;

    fn entry(path: &str, kind: EntryKind) -> Entry {
        Entry {
            path: RelPath::new(path).expect("valid"),
            kind,
            size: 0,
            mode: 0o644,
            mtime_ns: 0,
            digest: Digest::ZERO,
            symlink_target: None,
            attrs: None,
            hardlink: None,
        }
    }

    #[test]
    fn a_path_beneath_a_symlink_or_a_file_is_refused() {
        let tree = [
            entry("x", EntryKind::Dir),
            entry("x/y", EntryKind::Dir),
            entry("x/y/f", EntryKind::File),
            entry("top", EntryKind::File),
        ];
        check_tree(&tree).expect("a tree");
        let beneath_link = [
            entry("x", EntryKind::Dir),
            entry("x/y", EntryKind::Symlink),
            entry("x/y/l", EntryKind::Symlink),
        ];
        let err = check_tree(&beneath_link).expect_err("beneath a symlink");
        assert!(
            err.to_string().contains("\"x/y/l\"") && err.to_string().contains("symlink"),
            "{err}"
        );
        assert!(check_tree(&[entry("f", EntryKind::File), entry("f/g", EntryKind::File)]).is_err());
        assert!(check_tree(&[entry("orphan/f", EntryKind::File)]).is_err());
        assert!(check_tree(&[entry("a", EntryKind::File), entry("a", EntryKind::Dir)]).is_err());
    }

    #[test]
    fn a_hard_link_must_name_the_first_file_of_the_same_content() {
        let file = |path: &str, content: &[u8], link: Option<&str>| Entry {
            size: content.len() as u64,
            digest: Digest::of(content),
            hardlink: link.map(|l| RelPath::new(l).expect("valid")),
            ..entry(path, EntryKind::File)
        };
        check_tree(&[file("a", b"x", None), file("b", b"x", Some("a"))]).expect("a pair");
        for (bad, why) in [
            (vec![file("b", b"x", Some("a"))], "not in the manifest"),
            (vec![file("a", b"x", None), file("b", b"y", Some("a"))], "other content"),
            (vec![file("a", b"x", Some("b")), file("b", b"x", None)], "not the first"),
            (
                vec![file("a", b"x", None), file("b", b"x", Some("a")), file("c", b"x", Some("b"))],
                "not the first",
            ),
            (vec![entry("a", EntryKind::Dir), file("b", b"", Some("a"))], "not a file"),
        ] {
            let err = check_tree(&bad).expect_err(why);
            assert!(err.to_string().contains(why), "{err}");
        }
    }
}
