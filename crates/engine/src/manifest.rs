//! Manifests: every entry of some categories, with a Merkle digest per category and one
//! for the whole set, so that equal digests mean equal content and a no-op sync is a
//! comparison of 32 bytes per category.
//!
//! The digest covers path, kind, content digest and the metadata that travels with an
//! entry (mode, mtime, owner and group, extended attributes): two trees with equal
//! digests are equal as `rsync -aAXH` would judge them.

use std::collections::BTreeMap;

use crate::category::Category;
use crate::entry::{Digest, Entry, EntryKind};

/// The entries of one category, sorted by path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryManifest {
    pub category: Category,
    pub entries: Vec<Entry>,
    pub digest: Digest,
    /// Entries of this tree that a scan found and cannot manage (a FIFO, a socket, a
    /// symlink `symlinks = "confined"` leaves out...), with what they are: never
    /// overwritten or removed by a plan, and listed in every plan from this tree. The
    /// digest covers their paths, so a tree holding one never passes for equal to a tree
    /// without it.
    pub unmanaged: Vec<(crate::path::RelPath, String)>,
}

impl CategoryManifest {
    /// Builds a manifest from entries in any order; duplicates keep the last.
    pub fn new(category: Category, mut entries: Vec<Entry>) -> Self {
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        entries.dedup_by(|later, earlier| later.path == earlier.path);
        let digest = category_digest(&entries);
        CategoryManifest { category, entries, digest, unmanaged: Vec::new() }
    }

    /// This manifest with the entries it found and cannot manage (sorted by path), its
    /// digest covering them.
    pub fn with_unmanaged(mut self, mut unmanaged: Vec<(crate::path::RelPath, String)>) -> Self {
        if unmanaged.is_empty() {
            return self;
        }
        unmanaged.sort();
        unmanaged.dedup_by(|a, b| a.0 == b.0);
        let mut hasher = blake3::Hasher::new();
        hasher.update(b"confsync-unmanaged-v1\0");
        hasher.update(&self.digest.0);
        for (path, what) in &unmanaged {
            hasher.update(path.as_str().as_bytes());
            hasher.update(&[0]);
            hasher.update(what.as_bytes());
            hasher.update(&[0]);
        }
        self.digest = hasher.finalize().into();
        self.unmanaged = unmanaged;
        self
    }

    pub fn files(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter().filter(|e| e.kind == EntryKind::File)
    }

    /// Count of non-directory entries (what an administrator calls "files").
    pub fn file_count(&self) -> u64 {
        self.entries.iter().filter(|e| e.kind != EntryKind::Dir).count() as u64
    }

    pub fn byte_count(&self) -> u64 {
        self.files().map(|e| e.size).sum()
    }
}

/// Eight bytes standing for what the category digest covers of one entry (path, kind,
/// content, metadata): a destination sends these for its entries, and the source answers only
/// the entries that are not among them. A collision can only make the rebuilt manifest's
/// digest differ from the source's, which the destination checks.
pub fn fingerprint(entry: &Entry) -> u64 {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"confsync-entry-v2\0");
    hash_entry(&mut hasher, entry);
    let bytes = hasher.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&bytes.as_bytes()[..8]);
    u64::from_le_bytes(first)
}

/// The digest of entries (sorted by path) alone, without what a tree could not carry.
pub fn entries_digest(entries: &[Entry]) -> Digest {
    category_digest(entries)
}

fn category_digest(entries: &[Entry]) -> Digest {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"confsync-category-v2\0");
    for entry in entries {
        hash_entry(&mut hasher, entry);
    }
    hasher.finalize().into()
}

/// The category digest as bundle format 1 recorded it (path, kind, mode, content), to
/// verify such a bundle.
pub fn format_1_digest(entries: &[Entry]) -> Digest {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"confsync-category-v1\0");
    for entry in entries {
        hasher.update(entry.path.as_str().as_bytes());
        hasher.update(&[0, kind_byte(entry.kind)]);
        hasher.update(&entry.mode.to_le_bytes());
        hasher.update(&entry.digest.0);
    }
    hasher.finalize().into()
}

fn hash_entry(hasher: &mut blake3::Hasher, entry: &Entry) {
    hasher.update(entry.path.as_str().as_bytes());
    hasher.update(&[0, kind_byte(entry.kind)]);
    hasher.update(&entry.digest.0);
    entry.hash_meta(hasher);
}

fn kind_byte(kind: EntryKind) -> u8 {
    match kind {
        EntryKind::File => 1,
        EntryKind::Dir => 2,
        EntryKind::Symlink => 3,
    }
}

/// Several categories of one tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    pub categories: BTreeMap<Category, CategoryManifest>,
}

impl Manifest {
    pub fn insert(&mut self, manifest: CategoryManifest) {
        self.categories.insert(manifest.category, manifest);
    }

    pub fn get(&self, category: Category) -> Option<&CategoryManifest> {
        self.categories.get(&category)
    }

    /// The digest of all categories held, named by category.
    pub fn digest(&self) -> Digest {
        tree_digest(self.categories.values().map(|m| (m.category, m.digest)))
    }
}

/// The digest of a whole tree from its categories' digests, in any order.
pub fn tree_digest(categories: impl IntoIterator<Item = (Category, Digest)>) -> Digest {
    let sorted: BTreeMap<Category, Digest> = categories.into_iter().collect();
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"confsync-tree-v1\0");
    for (category, digest) in sorted {
        hasher.update(category.name().as_bytes());
        hasher.update(&[0]);
        hasher.update(&digest.0);
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::path::RelPath;

    fn file(path: &str, content: &[u8], mode: u32, mtime_ns: i64) -> Entry {
        Entry {
            path: RelPath::new(path).expect("valid"),
            kind: EntryKind::File,
            size: content.len() as u64,
            mode,
            mtime_ns,
            digest: Digest::of(content),
            symlink_target: None,
            attrs: None,
            hardlink: None,
        }
    }

    #[test]
    fn digest_depends_on_content_path_mode_and_mtime_but_not_order() {
        let a = CategoryManifest::new(
            Category::Config,
            vec![file("b", b"2", 0o644, 1), file("a", b"1", 0o644, 1)],
        );
        let same = CategoryManifest::new(
            Category::Config,
            vec![file("a", b"1", 0o644, 1), file("b", b"2", 0o644, 1)],
        );
        assert_eq!(a.digest, same.digest);
        for changed in [
            vec![file("a", b"1", 0o644, 2), file("b", b"2", 0o644, 1)],
            vec![file("a", b"1", 0o644, 1), file("b", b"3", 0o644, 1)],
            vec![file("a", b"1", 0o600, 1), file("b", b"2", 0o644, 1)],
            vec![file("a", b"1", 0o644, 1), file("c", b"2", 0o644, 1)],
            vec![file("a", b"1", 0o644, 1)],
        ] {
            assert_ne!(a.digest, CategoryManifest::new(Category::Config, changed).digest);
        }
        // The owner, by name where there is one, and the extended attributes.
        let owned = |user: &str, xattr: &[u8]| {
            let mut entry = file("a", b"1", 0o644, 1);
            entry.attrs = Some(std::sync::Arc::new(crate::attrs::Attrs {
                uid: 7,
                user: Some(user.into()),
                xattrs: vec![crate::attrs::Xattr { name: "user.k".into(), value: xattr.to_vec() }],
                ..Default::default()
            }));
            CategoryManifest::new(Category::Config, vec![entry]).digest
        };
        assert_eq!(owned("svc", b"v"), owned("svc", b"v"));
        assert_ne!(owned("svc", b"v"), owned("nobody", b"v"));
        assert_ne!(owned("svc", b"v"), owned("svc", b"w"));
        // What a tree holds and cannot carry counts too.
        let plain = CategoryManifest::new(Category::Config, vec![file("a", b"1", 0o644, 1)]);
        let with_fifo = plain
            .clone()
            .with_unmanaged(vec![(RelPath::new("fifo").expect("valid"), "a FIFO".into())]);
        assert_ne!(plain.digest, with_fifo.digest);
    }
}
