//! One entry of a tree: a file, directory or symlink, with what identifies its content
//! and the metadata that travels with it (mode, mtime, owner, extended attributes).

use std::fmt;
use std::sync::Arc;

use crate::attrs::{Attrs, Mask};
use crate::path::RelPath;

/// A BLAKE3 digest.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    pub const ZERO: Digest = Digest([0; 32]);

    pub fn of(bytes: &[u8]) -> Digest {
        Digest(*blake3::hash(bytes).as_bytes())
    }

    pub fn from_slice(bytes: &[u8]) -> Option<Digest> {
        <[u8; 32]>::try_from(bytes).ok().map(Digest)
    }

    pub fn to_hex(self) -> String {
        blake3::Hash::from_bytes(self.0).to_hex().to_string()
    }

    /// The first 12 hex digits, enough for a human to compare two digests.
    pub fn short(self) -> String {
        self.to_hex()[..12].to_string()
    }

    pub fn from_hex(hex: &str) -> Option<Digest> {
        blake3::Hash::from_hex(hex).ok().map(|h| Digest(*h.as_bytes()))
    }
}

impl From<blake3::Hash> for Digest {
    fn from(hash: blake3::Hash) -> Self {
        Digest(*hash.as_bytes())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.short())
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Digest::from_hex(&text).ok_or_else(|| serde::de::Error::custom("not a 64-digit hex digest"))
    }
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    File,
    Dir,
    Symlink,
}

impl EntryKind {
    pub fn name(self) -> &'static str {
        match self {
            EntryKind::File => "file",
            EntryKind::Dir => "directory",
            EntryKind::Symlink => "symlink",
        }
    }
}

/// Permission bits that are synchronized: rwx for all and the sticky bit. setuid and
/// setgid are stripped so that a peer can never plant a privileged executable.
pub const SYNCED_MODE_BITS: u32 = 0o1777;

/// One entry of a category.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    pub path: RelPath,
    pub kind: EntryKind,
    /// Bytes of content (files) or of the target (symlinks); 0 for directories.
    pub size: u64,
    /// Permission bits, already masked with [`SYNCED_MODE_BITS`].
    pub mode: u32,
    pub mtime_ns: i64,
    /// BLAKE3 of the content (file) or of the target (symlink); zero for directories.
    pub digest: Digest,
    pub symlink_target: Option<String>,
    /// Owner, group and extended attributes; `None` where they were not recorded (a
    /// record or bundle written before confsync carried them): then nothing is compared
    /// or set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attrs: Option<Arc<Attrs>>,
    /// A file that is another name of the file at this path (one inode with several
    /// names in the category): the first of its names in path order, which holds the
    /// content; this one is made a hard link to it, as `rsync -H` does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardlink: Option<RelPath>,
}

impl Entry {
    /// Whether anything but the content differs: the mode (not of symlinks), the
    /// modification time, or the attributes `mask` does not leave out.
    pub fn meta_differs(&self, other: &Entry, mask: Mask) -> bool {
        self.mode_differs(other)
            || self.mtime_ns != other.mtime_ns
            || match (&self.attrs, &other.attrs) {
                // One shared set (most of a tree) is equal to itself.
                (Some(a), Some(b)) => !Arc::ptr_eq(a, b) && !a.equal(b, mask),
                _ => false,
            }
    }

    /// What changes from `before` to this entry besides content, as plans word it:
    /// `mode 644 → 600`, `owner root → nobody`, `mtime`.
    pub fn meta_changes(&self, before: &Entry, mask: Mask) -> Vec<String> {
        let mut out = Vec::new();
        if self.mode_differs(before) {
            out.push(format!("mode {:o} → {:o}", before.mode, self.mode));
        }
        if let (Some(a), Some(b)) = (&self.attrs, &before.attrs) {
            out.extend(a.differences(b, mask));
        }
        if self.mtime_ns != before.mtime_ns {
            out.push("mtime".to_string());
        }
        out
    }

    /// Feeds the metadata comparisons cover into a digest (see [`Entry::meta_differs`]).
    pub fn hash_meta(&self, hasher: &mut blake3::Hasher) {
        if let Some(first) = &self.hardlink {
            hasher.update(b"hardlink\0");
            hasher.update(first.as_str().as_bytes());
            hasher.update(&[0]);
        }
        hasher.update(&self.mode.to_le_bytes());
        hasher.update(&self.mtime_ns.to_le_bytes());
        match &self.attrs {
            Some(attrs) => {
                hasher.update(&[1]);
                attrs.hash_into(hasher, Mask::default());
            }
            None => {
                hasher.update(&[0]);
            }
        }
    }

    /// Whether two entries hold the same content (kind, bytes or target), mode aside.
    pub fn same_content(&self, other: &Entry) -> bool {
        self.kind == other.kind && self.digest == other.digest
    }

    /// Whether this is a hard link to another entry's content (which travels once).
    pub fn is_link(&self) -> bool {
        self.hardlink.is_some()
    }

    /// Whether the permission bits matter and differ (symlink modes do not matter).
    pub fn mode_differs(&self, other: &Entry) -> bool {
        self.kind != EntryKind::Symlink && self.mode != other.mode
    }
}
