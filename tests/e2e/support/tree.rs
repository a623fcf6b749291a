//! Building trees (files with modes, folders, links, large pseudo-random files) and
//! taking whole-tree snapshots to compare them.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The synchronized categories (licenses never are).
pub(crate) const CATEGORIES: [&str; 4] = ["firmware", "capdb", "modules", "config"];

/// Writes `bytes` at `root/rel`, creating parent folders.
pub(crate) fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create parent folders");
    }
    std::fs::write(&path, bytes).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
}

/// A fixed instant (2026-01-01T00:00:00Z) for [`pin_times`].
pub(crate) const PINNED_MTIME_S: i64 = 1_767_225_600;

/// Sets the modification time of everything under `root` (files, folders, symlinks, the
/// state folder aside) to one fixed instant: two trees built by the same writes at
/// different moments are then equal as a sync means it (times included), not merely byte
/// for byte.
pub(crate) fn pin_times(root: &Path) {
    let times = rustix::fs::Timestamps {
        last_access: rustix::fs::Timespec { tv_sec: PINNED_MTIME_S, tv_nsec: 0 },
        last_modification: rustix::fs::Timespec { tv_sec: PINNED_MTIME_S, tv_nsec: 0 },
    };
    let walker = walkdir::WalkDir::new(root).min_depth(1).contents_first(true);
    for item in walker.into_iter().filter_entry(|e| e.file_name() != ".confsync") {
        let item = item.expect("walk the tree");
        rustix::fs::utimensat(
            rustix::fs::CWD,
            item.path(),
            &times,
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        )
        .unwrap_or_else(|e| panic!("set the mtime of {}: {e}", item.path().display()));
    }
}

/// Writes a file and sets its permission bits.
pub(crate) fn write_mode(root: &Path, rel: &str, bytes: &[u8], mode: u32) {
    write(root, rel, bytes);
    set_mode(root, rel, mode);
}

pub(crate) fn set_mode(root: &Path, rel: &str, mode: u32) {
    let path = root.join(rel);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("chmod {}: {e}", path.display()));
}

/// Creates a folder (and its parents) with the given mode.
pub(crate) fn mkdir(root: &Path, rel: &str, mode: u32) {
    std::fs::create_dir_all(root.join(rel)).expect("create folder");
    set_mode(root, rel, mode);
}

pub(crate) fn symlink(root: &Path, rel: &str, target: &str) {
    let path = root.join(rel);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create parent folders");
    }
    std::os::unix::fs::symlink(target, &path)
        .unwrap_or_else(|e| panic!("symlink {}: {e}", path.display()));
}

/// The engine's deterministic noise: the same seed gives the demo's and the tests' bytes.
pub(crate) use confsync_engine::noise::{Noise, noise};

/// Writes `len` pseudo-random bytes at `root/rel`, a MiB at a time.
pub(crate) fn write_noise(root: &Path, rel: &str, len: u64, seed: u64) {
    write(root, rel, b"");
    let mut file = std::fs::File::create(root.join(rel)).expect("create large file");
    let mut noise = Noise::new(seed);
    let mut buffer = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(buffer.len() as u64) as usize;
        noise.fill(&mut buffer[..n]);
        file.write_all(&buffer[..n]).expect("write large file");
        left -= n as u64;
    }
    file.sync_all().expect("fsync large file");
}

/// Overwrites `data.len()` bytes at `offset` of an existing file, keeping its size.
pub(crate) fn patch(root: &Path, rel: &str, offset: u64, data: &[u8]) {
    use std::os::unix::fs::FileExt;
    let file =
        std::fs::OpenOptions::new().write(true).open(root.join(rel)).expect("open file to patch");
    file.write_all_at(data, offset).expect("patch file");
    file.sync_all().expect("fsync patched file");
}

// ---------------------------------------------------------------------------------------
// Snapshots

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    File,
    Dir,
    Symlink,
}

/// One entry of a tree: kind, permission bits, and the content (size and BLAKE3 of a
/// file, target of a symlink, nothing for a folder).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Node {
    pub kind: Kind,
    pub mode: u32,
    pub content: String,
}

pub(crate) type Tree = BTreeMap<String, Node>;

/// Every entry under `dir` by relative path, empty folders included; any `.confsync`
/// (agent state) is left out. A missing `dir` is an empty tree.
pub(crate) fn snapshot(dir: &Path) -> Tree {
    let mut tree = Tree::new();
    if !dir.exists() {
        return tree;
    }
    let walker = walkdir::WalkDir::new(dir).min_depth(1).follow_links(false).sort_by_file_name();
    for item in walker.into_iter().filter_entry(|e| e.file_name() != ".confsync") {
        let item = item.expect("walk tree");
        let rel = item.path().strip_prefix(dir).expect("inside the walked folder");
        let rel = rel.to_str().expect("UTF-8 test paths").to_string();
        let meta = item.path().symlink_metadata().expect("stat");
        let mode = meta.permissions().mode() & 0o7777;
        let node = if meta.file_type().is_symlink() {
            let target = std::fs::read_link(item.path()).expect("read link");
            Node { kind: Kind::Symlink, mode, content: target.to_string_lossy().into_owned() }
        } else if meta.is_dir() {
            Node { kind: Kind::Dir, mode, content: String::new() }
        } else {
            let mut hasher = blake3::Hasher::new();
            hasher
                .update_reader(std::fs::File::open(item.path()).expect("open file"))
                .expect("hash file");
            Node {
                kind: Kind::File,
                mode,
                content: format!("{} bytes, blake3 {}", meta.len(), hasher.finalize()),
            }
        };
        tree.insert(rel, node);
    }
    tree
}

/// Fails with the differing paths (not two whole trees) when `actual` is not `expected`.
pub(crate) fn assert_same_tree(expected: &Tree, actual: &Tree, what: &str) {
    if expected == actual {
        return;
    }
    let mut differences = Vec::new();
    for (path, node) in expected {
        match actual.get(path) {
            None => differences.push(format!("missing {path}: expected {node:?}")),
            Some(other) if other != node => {
                differences.push(format!("{path}: expected {node:?}, found {other:?}"))
            }
            Some(_) => {}
        }
    }
    for (path, node) in actual {
        if !expected.contains_key(path) {
            differences.push(format!("unexpected {path}: {node:?}"));
        }
    }
    panic!("{what}: {} difference(s):\n  {}", differences.len(), differences.join("\n  "));
}

/// Every synchronized category of `destination` equals the source's.
pub(crate) fn assert_categories_equal(source: &Path, destination: &Path) {
    for category in CATEGORIES {
        assert_same_tree(
            &snapshot(&source.join(category)),
            &snapshot(&destination.join(category)),
            &format!("{category} of the destination compared with the source's"),
        );
    }
}

/// `.confsync/staging` is absent or empty.
pub(crate) fn assert_no_staging(root: &Path) {
    let staging = root.join(".confsync/staging");
    if let Ok(entries) = std::fs::read_dir(&staging) {
        let left: Vec<_> = entries.map(|e| e.expect("list staging").path()).collect();
        assert!(left.is_empty(), "staging still holds {left:?}");
    }
}
