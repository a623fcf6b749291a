//! Scanning a category: walk it (walkdir, never following symlinks), stat every entry,
//! and hash in parallel only the files the [`HashIndex`] does not vouch for.
//!
//! Every entry is read with its metadata ([`crate::attrs`]): mode, mtime, owner and group,
//! extended attributes. Every symlink is carried as the string it holds, wherever it
//! points; with `symlinks = "confined"` those leading out of their category are skipped.
//! What cannot be synchronized is skipped rather than failing the scan, and listed
//! (`CategoryManifest::unmanaged`), never silent: FIFOs, sockets and devices, names and
//! symlink targets that are not UTF-8.

use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;

use crate::attrs;
use crate::category::Category;
use crate::chunk::{self, ChunkList, WHOLE_FILE_LIMIT};
use crate::entry::{Digest, Entry, EntryKind, SYNCED_MODE_BITS};
use crate::error::{EngineError, Result};
use crate::index::{FileStamp, HashIndex};
use crate::layout::Layout;
use crate::manifest::CategoryManifest;
use crate::path::{RelPath, check_symlink_syntax, check_symlink_target};

/// A scanned category and what was skipped in it.
#[derive(Debug)]
pub struct Scanned {
    pub manifest: CategoryManifest,
    pub warnings: Vec<String>,
    /// Files actually read and hashed (the rest came from the index).
    pub hashed_files: u64,
    /// The latest modification or status change of any entry (ns since the epoch): a
    /// scan of a tree that changed just before is not to be trusted for long.
    pub newest_change_ns: i64,
}

/// What a server's scans carry (agent.toml's `ids`, `xattrs` and `symlinks`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Carry {
    pub attrs: attrs::Settings,
    pub symlinks: Symlinks,
}

/// Which symlinks a tree carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Symlinks {
    /// Every symlink, as the string it holds (`/usr/share/zoneinfo/UTC`, `../x`).
    #[default]
    All,
    /// Only those that stay inside their category; the others are skipped and listed.
    Confined,
}

/// The index key of a path in a category.
pub fn index_key(category: Category, path: &RelPath) -> String {
    format!("{}/{}", category.name(), path)
}

pub fn scan_category(
    layout: &Layout,
    category: Category,
    index: &mut HashIndex,
) -> Result<Scanned> {
    scan_category_with(layout, category, index, true, Carry::default())
}

/// [`scan_category`], learning large files' chunks only with `learn_chunks`: a read-back
/// of everything (`verify`) wants digests alone, and chunking costs several times the
/// hashing.
pub fn scan_category_with(
    layout: &Layout,
    category: Category,
    index: &mut HashIndex,
    learn_chunks: bool,
    carry: Carry,
) -> Result<Scanned> {
    let root = layout.root(category);
    let mut reader = attrs::Reader::new(carry.attrs);
    let mut warnings = Vec::new();
    let Some(dir) = layout.open_category(category)? else {
        return Ok(Scanned {
            manifest: CategoryManifest::new(category, Vec::new()),
            warnings,
            hashed_files: 0,
            newest_change_ns: 0,
        });
    };

    let mut entries = Vec::new();
    let mut unmanaged = Vec::new();
    // Files to hash: where, their stamp, and whether they have no extended attributes.
    let mut to_hash: Vec<(usize, FileStamp, bool)> = Vec::new();
    let mut newest_change_ns = 0i64;
    // Files with several names, by inode: the names found in this category.
    let mut inodes: std::collections::HashMap<(u64, u64), Vec<usize>> = Default::default();
    let walker = walkdir::WalkDir::new(root).min_depth(1).follow_links(false);
    for item in walker {
        let item = item.map_err(|e| walk_error(root, e))?;
        if item.path().starts_with(layout.state_dir()) {
            continue;
        }
        let Some(path) = relative(root, item.path(), &mut warnings) else {
            continue;
        };
        let meta = item.metadata().map_err(|e| walk_error(root, e))?;
        let file_type = item.file_type();
        let mtime_ns = meta.mtime().saturating_mul(1_000_000_000).saturating_add(meta.mtime_nsec());
        let mode = meta.mode() & SYNCED_MODE_BITS;
        let ctime_ns = meta.ctime().saturating_mul(1_000_000_000).saturating_add(meta.ctime_nsec());
        newest_change_ns = newest_change_ns.max(mtime_ns).max(ctime_ns);
        let key = file_type.is_file().then(|| (index_key(category, &path), FileStamp::of(&meta)));
        let known = key.as_ref().and_then(|(key, stamp)| index.lookup_bare(key, stamp));
        let known_bare = known.is_some_and(|(_, bare)| bare);
        let attrs = reader.read(item.path(), meta.uid(), meta.gid(), known_bare);
        // Seen bare under this stamp: any change of extended attributes moves the ctime,
        // so the next scan need not ask again (remembered here for files the index knows,
        // with the digest for the others).
        let bare = !known_bare && !attrs.xattrs_unread && attrs.xattrs.is_empty();
        if bare
            && known.is_some()
            && let Some((key, stamp)) = &key
        {
            index.remember_no_xattrs(key, stamp);
        }
        let attrs = Some(attrs);
        let entry = if file_type.is_dir() {
            Entry {
                path,
                kind: EntryKind::Dir,
                size: 0,
                mode,
                mtime_ns,
                digest: Digest::ZERO,
                symlink_target: None,
                attrs,
                hardlink: None,
            }
        } else if file_type.is_symlink() {
            let target = std::fs::read_link(item.path())
                .map_err(EngineError::io("read symlink", item.path()))?;
            let Some(target) = target.to_str().map(str::to_string) else {
                warnings
                    .push(format!("skipped symlink {category}/{path}: its target is not UTF-8"));
                unmanaged.push((path, "a symlink whose target is not UTF-8".to_string()));
                continue;
            };
            if let Err(e) = check_symlink_syntax(&path, &target) {
                warnings.push(format!("skipped {category}/{path}: {e}"));
                unmanaged.push((path, "a symlink confsync cannot carry".to_string()));
                continue;
            }
            if carry.symlinks == Symlinks::Confined && check_symlink_target(&path, &target).is_err()
            {
                unmanaged.push((
                    path,
                    "a symlink leading out of its category, which the source keeps confined \
                     (symlinks = \"confined\" in its agent.toml; \"all\" carries it)"
                        .to_string(),
                ));
                continue;
            }
            let digest = Digest::of(target.as_bytes());
            Entry {
                path,
                kind: EntryKind::Symlink,
                size: target.len() as u64,
                mode,
                mtime_ns,
                digest,
                symlink_target: Some(target),
                attrs,
                hardlink: None,
            }
        } else if file_type.is_file() {
            if meta.nlink() > 1 {
                inodes.entry((meta.dev(), meta.ino())).or_default().push(entries.len());
            }
            let stamp = FileStamp::of(&meta);
            let digest = known.map(|(digest, _)| digest).unwrap_or_else(|| {
                to_hash.push((entries.len(), stamp, bare));
                Digest::ZERO
            });
            Entry {
                path,
                kind: EntryKind::File,
                size: meta.size(),
                mode,
                mtime_ns,
                digest,
                symlink_target: None,
                attrs,
                hardlink: None,
            }
        } else {
            unmanaged
                .push((path, "a FIFO, socket or device, which is never synchronized".to_string()));
            continue;
        };
        entries.push(entry);
    }

    if let Some(ms) = crate::failpoint::value(crate::failpoint::SCAN_DELAY_MS) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
    // A large file's chunks are learned in the same read as its digest: a delta against
    // it later does not read it again.
    let hashed: Vec<(usize, FileStamp, bool, Result<Hashed>)> = to_hash
        .par_iter()
        .map(|(i, stamp, bare)| {
            let path = &entries[*i].path;
            let hashed = if learn_chunks && stamp.size > WHOLE_FILE_LIMIT {
                chunk_file(&dir, root, path).map(|list| Hashed::Chunked(Arc::new(list)))
            } else {
                hash_file(&dir, root, path).map(Hashed::Whole)
            };
            (*i, *stamp, *bare, hashed)
        })
        .collect();
    let hashed_files = hashed.len() as u64;
    for (i, stamp, bare, hashed) in hashed {
        let key = index_key(category, &entries[i].path);
        match hashed? {
            Hashed::Whole(digest) => {
                entries[i].digest = digest;
                index.remember(key.clone(), stamp, digest);
            }
            Hashed::Chunked(list) => {
                entries[i].digest = list.digest;
                index.remember_chunks(key.clone(), stamp, list);
            }
        }
        if bare {
            index.remember_no_xattrs(&key, &stamp);
        }
    }
    link_names(&mut entries, inodes);
    let prefix = format!("{}/", category.name());
    let present: std::collections::HashSet<String> =
        entries.iter().map(|e| index_key(category, &e.path)).collect();
    index.retain_under(&prefix, &|key| present.contains(key));

    let manifest = CategoryManifest::new(category, entries).with_unmanaged(unmanaged);
    Ok(Scanned { manifest, warnings, hashed_files, newest_change_ns })
}

/// Marks every name of a file with several in this category but the first (in path
/// order) as a hard link to that first one. Names in other categories or outside the tree
/// are not followed: each category carries its own.
fn link_names(entries: &mut [Entry], inodes: std::collections::HashMap<(u64, u64), Vec<usize>>) {
    for mut names in inodes.into_values().filter(|n| n.len() > 1) {
        names.sort_by(|a, b| entries[*a].path.cmp(&entries[*b].path));
        let first = entries[names[0]].path.clone();
        for &i in &names[1..] {
            entries[i].hardlink = Some(first.clone());
        }
    }
}

enum Hashed {
    Whole(Digest),
    Chunked(Arc<ChunkList>),
}

fn relative(root: &Path, full: &Path, warnings: &mut Vec<String>) -> Option<RelPath> {
    let rel = full.strip_prefix(root).ok()?;
    let Some(text) = rel.to_str() else {
        warnings.push(format!("skipped {}: its name is not UTF-8", full.display()));
        return None;
    };
    match RelPath::new(text) {
        Ok(path) => Some(path),
        Err(e) => {
            warnings.push(format!("skipped {}: {e}", full.display()));
            None
        }
    }
}

fn walk_error(root: &Path, e: walkdir::Error) -> EngineError {
    let path = e.path().unwrap_or(root).to_path_buf();
    let source = e.into_io_error().unwrap_or_else(|| std::io::Error::other("filesystem loop"));
    EngineError::Io { op: "read", path, source }
}

/// Bytes read at a time when hashing; a large read lets BLAKE3 hash it on every core.
const HASH_READ: usize = 8 << 20;

thread_local! {
    /// One read buffer per hashing thread: 100,000 small files are not 100,000 buffers.
    static HASH_BUFFER: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Hashes one file read through the category's directory handle.
pub fn hash_file(dir: &cap_std::fs::Dir, root: &Path, path: &RelPath) -> Result<Digest> {
    let full = root.join(path);
    let mut file = dir.open(path).map_err(EngineError::io("open for hashing", &full))?;
    let mut hasher = blake3::Hasher::new();
    HASH_BUFFER.with_borrow_mut(|buffer| {
        buffer.resize(HASH_READ, 0);
        loop {
            let n = file.read(buffer).map_err(EngineError::io("read for hashing", &full))?;
            if n == 0 {
                return Ok::<(), EngineError>(());
            }
            // Below a few chunks the threads cost more than they save.
            if n >= 1 << 20 {
                hasher.update_rayon(&buffer[..n]);
            } else {
                hasher.update(&buffer[..n]);
            }
        }
    })?;
    Ok(hasher.finalize().into())
}

/// Hashes one file and its chunks in one read, through the category's directory handle.
pub fn chunk_file(dir: &cap_std::fs::Dir, root: &Path, path: &RelPath) -> Result<ChunkList> {
    let full = root.join(path);
    let file = dir.open(path).map_err(EngineError::io("open for hashing", &full))?;
    chunk::chunk_reader(file).map_err(EngineError::io("read for hashing", &full))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    #[test]
    fn scans_files_dirs_and_every_symlink_and_lists_the_rest() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let layout = Layout::under_root(tmp.path());
        let root = tmp.path().join("config");
        std::fs::create_dir_all(root.join("sub/empty")).expect("mkdir");
        std::fs::write(root.join("sub/a.conf"), b"alpha").expect("write");
        std::fs::set_permissions(root.join("sub/a.conf"), std::fs::Permissions::from_mode(0o4755))
            .expect("chmod");
        symlink("sub/a.conf", root.join("link")).expect("symlink");
        symlink("../../etc/passwd", root.join("sub/evil")).expect("symlink");
        let fifo = root.join("fifo");
        assert!(
            std::process::Command::new("mkfifo").arg(&fifo).status().expect("mkfifo").success()
        );

        let mut index = HashIndex::load(&layout.index_path());
        let scanned = scan_category(&layout, Category::Config, &mut index).expect("scan");
        let paths: Vec<&str> = scanned.manifest.entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(paths, ["link", "sub", "sub/a.conf", "sub/empty", "sub/evil"]);
        let file = &scanned.manifest.entries[2];
        assert_eq!(file.digest, Digest::of(b"alpha"));
        assert_eq!(file.mode, 0o755, "setuid is stripped");
        let owner = file.attrs.as_ref().expect("attributes read");
        let meta = std::fs::metadata(root.join("sub/a.conf")).expect("stat");
        assert_eq!((owner.uid, owner.gid), (meta.uid(), meta.gid()));
        let evil = &scanned.manifest.entries[4];
        assert_eq!(evil.symlink_target.as_deref(), Some("../../etc/passwd"), "carried as it is");
        let unmanaged: Vec<&str> =
            scanned.manifest.unmanaged.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(unmanaged, ["fifo"], "listed, never silent");

        // symlinks = "confined": the escaping link is listed, not carried.
        let carry = Carry { symlinks: Symlinks::Confined, ..Carry::default() };
        let confined =
            scan_category_with(&layout, Category::Config, &mut index, true, carry).expect("scan");
        let unmanaged: Vec<&str> =
            confined.manifest.unmanaged.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(unmanaged, ["fifo", "sub/evil"]);
        assert!(confined.manifest.unmanaged[1].1.contains("symlinks = \"confined\""));
    }

    #[test]
    fn names_of_one_file_are_one_file_and_one_content() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let layout = Layout::under_root(tmp.path());
        let root = tmp.path().join("firmware");
        std::fs::create_dir_all(root.join("b")).expect("mkdir");
        std::fs::write(root.join("b/second"), b"one file").expect("write");
        std::fs::hard_link(root.join("b/second"), root.join("a-first")).expect("link");
        std::fs::hard_link(root.join("b/second"), root.join("c-third")).expect("link");
        std::fs::write(root.join("alone"), b"one file").expect("write");
        let scanned =
            scan_category(&layout, Category::Firmware, &mut HashIndex::default()).expect("scan");
        let links: Vec<(&str, Option<&str>)> = scanned
            .manifest
            .files()
            .map(|e| (e.path.as_str(), e.hardlink.as_ref().map(RelPath::as_str)))
            .collect();
        assert_eq!(
            links,
            [
                ("a-first", None),
                ("alone", None),
                ("b/second", Some("a-first")),
                ("c-third", Some("a-first"))
            ]
        );
        crate::confine::check_tree(&scanned.manifest.entries).expect("a valid manifest");
    }

    #[test]
    fn a_missing_category_is_empty() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let layout = Layout::under_root(tmp.path());
        let mut index = HashIndex::default();
        let scanned = scan_category(&layout, Category::Firmware, &mut index).expect("scan");
        assert!(scanned.manifest.entries.is_empty());
    }
}

#[cfg(test)]
mod index_tests {
    use super::*;

    #[test]
    fn an_unchanged_file_is_not_hashed_again() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let layout = Layout::under_root(tmp.path());
        std::fs::create_dir_all(tmp.path().join("modules")).expect("mkdir");
        std::fs::write(tmp.path().join("modules/m.ko"), b"module").expect("write");
        std::fs::create_dir_all(layout.state_dir()).expect("mkdir");
        // Files younger than the racy window are always rehashed; let it pass.
        std::thread::sleep(std::time::Duration::from_millis(2100));

        let mut index = HashIndex::load(&layout.index_path());
        let first = scan_category(&layout, Category::Modules, &mut index).expect("scan");
        index.save().expect("save");
        let mut index = HashIndex::load(&layout.index_path());
        let second = scan_category(&layout, Category::Modules, &mut index).expect("scan");
        assert_eq!((first.hashed_files, second.hashed_files), (1, 0));
        assert_eq!(first.manifest, second.manifest);

        std::fs::write(tmp.path().join("modules/m.ko"), b"module v2").expect("write");
        let third = scan_category(&layout, Category::Modules, &mut index).expect("scan");
        assert_eq!(third.hashed_files, 1);
        assert_ne!(third.manifest.digest, second.manifest.digest);
    }

    #[test]
    fn a_large_file_s_chunks_are_learned_in_the_same_read_as_its_digest() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let layout = Layout::under_root(tmp.path());
        let data = crate::noise::noise(1 << 20, 11);
        std::fs::create_dir_all(tmp.path().join("firmware")).expect("mkdir");
        std::fs::write(tmp.path().join("firmware/image.bin"), &data).expect("write");
        std::fs::write(tmp.path().join("firmware/small.bin"), b"small").expect("write");

        let mut index = HashIndex::default();
        let scanned = scan_category(&layout, Category::Firmware, &mut index).expect("scan");
        assert_eq!(scanned.hashed_files, 2);
        let stamp = |name: &str| {
            FileStamp::of(&std::fs::metadata(tmp.path().join("firmware").join(name)).expect("stat"))
        };
        let list = index.lookup_chunks("firmware/image.bin", &stamp("image.bin")).expect("known");
        assert_eq!(*list, chunk::chunk_reader(&data[..]).expect("chunk"));
        assert_eq!(scanned.manifest.entries[0].digest, list.digest);
        assert_eq!(index.lookup_chunks("firmware/small.bin", &stamp("small.bin")), None);
    }
}
