//! One entry of a tree: a file, directory or symlink, with what identifies its content.

use std::fmt;

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
}

impl Entry {
    /// Whether two entries hold the same content (kind, bytes or target), mode aside.
    pub fn same_content(&self, other: &Entry) -> bool {
        self.kind == other.kind && self.digest == other.digest
    }

    /// Whether the permission bits matter and differ (symlink modes do not matter).
    pub fn mode_differs(&self, other: &Entry) -> bool {
        self.kind != EntryKind::Symlink && self.mode != other.mode
    }
}
