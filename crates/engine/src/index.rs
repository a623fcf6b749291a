//! The persistent hash index: remembers each file's digest under its size, mtime, inode
//! and ctime, so a file that has not changed since the last scan is never hashed again.
//!
//! Saved as JSON under the state folder. A missing or damaged index is only a cache miss:
//! everything is hashed again and the index rewritten.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::entry::Digest;
use crate::error::{EngineError, Result};
use crate::fsutil::write_atomically;

/// What identifies an unchanged file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileStamp {
    pub size: u64,
    pub mtime_ns: i64,
    pub inode: u64,
    pub ctime_ns: i64,
}

impl FileStamp {
    pub fn of(meta: &std::fs::Metadata) -> FileStamp {
        use std::os::unix::fs::MetadataExt;
        let ns = |secs: i64, nsec: i64| secs.saturating_mul(1_000_000_000).saturating_add(nsec);
        FileStamp {
            size: meta.size(),
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            inode: meta.ino(),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
        }
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Record {
    stamp: FileStamp,
    digest: Digest,
}

#[derive(Debug, Default)]
pub struct HashIndex {
    path: PathBuf,
    records: HashMap<String, Record>,
    dirty: bool,
}

/// A file whose content changed this recently may change again within the same clock
/// tick without its stamp changing (the "racy git" problem); its digest is not
/// remembered. Only the modification time counts: a content change always sets it to
/// now, while a rename or chmod (what an apply does to a file it wrote, whose mtime is
/// the source's) changes only the ctime, which the stamp still compares.
const RACY_WINDOW_NS: i64 = 2_000_000_000;

impl HashIndex {
    /// Loads the index at `path`; a missing or unreadable index starts empty.
    pub fn load(path: &Path) -> HashIndex {
        let records = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), error = %e, "hash index is damaged; rehashing everything");
                HashMap::new()
            }),
            Err(_) => HashMap::new(),
        };
        HashIndex { path: path.to_path_buf(), records, dirty: false }
    }

    pub fn lookup(&self, key: &str, stamp: &FileStamp) -> Option<Digest> {
        self.records.get(key).filter(|r| r.stamp == *stamp).map(|r| r.digest)
    }

    pub fn remember(&mut self, key: String, stamp: FileStamp, digest: Digest) {
        if now_ns().saturating_sub(stamp.mtime_ns) < RACY_WINDOW_NS {
            self.records.remove(&key);
            return;
        }
        self.records.insert(key, Record { stamp, digest });
        self.dirty = true;
    }

    /// Forgets one file: its next scan reads it.
    pub fn forget(&mut self, key: &str) {
        self.dirty |= self.records.remove(key).is_some();
    }

    /// Forgets every key under `prefix` that `keep` does not hold (deleted files).
    pub fn retain_under(&mut self, prefix: &str, keep: &dyn Fn(&str) -> bool) {
        let before = self.records.len();
        self.records.retain(|key, _| !key.starts_with(prefix) || keep(key));
        self.dirty |= self.records.len() != before;
    }

    /// Writes the index if it changed, atomically (temporary file, then rename).
    pub fn save(&mut self) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        let bytes = serde_json::to_vec(&self.records)
            .map_err(|e| EngineError::State { path: self.path.clone(), detail: e.to_string() })?;
        write_atomically(&self.path, &bytes)?;
        self.dirty = false;
        Ok(())
    }
}

/// Now, in nanoseconds since the epoch, as stamps count.
pub(crate) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_across_save_and_load_but_not_racy_files() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("index.json");
        let old = FileStamp { size: 3, mtime_ns: 1_000, inode: 7, ctime_ns: 1_000 };
        let racy = FileStamp { mtime_ns: now_ns(), ctime_ns: now_ns(), ..old };
        let mut index = HashIndex::load(&path);
        index.remember("config/a".into(), old, Digest::of(b"abc"));
        index.remember("config/b".into(), racy, Digest::of(b"abc"));
        index.save().expect("save");

        let index = HashIndex::load(&path);
        assert_eq!(index.lookup("config/a", &old), Some(Digest::of(b"abc")));
        assert_eq!(index.lookup("config/a", &FileStamp { size: 4, ..old }), None);
        assert_eq!(index.lookup("config/b", &racy), None);
    }
}
