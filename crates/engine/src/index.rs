//! The persistent hash index: remembers each file's digest under its size, mtime, inode
//! and ctime, so a file that has not changed since the last scan is never hashed again.
//! A large file's chunk list is kept with its digest, so a delta against it (as the source
//! or as the destination's old version) does not read it again to learn its chunks.
//!
//! Saved as JSON under the state folder. A missing or damaged index is only a cache miss:
//! everything is hashed again and the index rewritten.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::chunk::{ChunkInfo, ChunkList};
use crate::entry::Digest;
use crate::error::Result;
use crate::fsutil::write_json;

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
    /// A large file's chunks, as (length, digest): the offsets follow from the lengths.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    chunks: Option<Vec<(u32, Digest)>>,
    /// The file had no extended attributes confsync carries when it had this stamp: any
    /// change of them moves the ctime, so a scan need not ask again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    no_xattrs: bool,
}

#[derive(Debug, Default)]
pub struct HashIndex {
    path: PathBuf,
    records: HashMap<String, Record>,
    /// Chunk lists of files too recently written to be remembered on disk (the racy
    /// window), kept in memory under their stamp: the agent that just scanned a changed
    /// image serves its chunk list without reading it again. Using one is safe even if the
    /// file changed within the same timestamp tick: every chunk received is checked against
    /// its digest and every staged file against the whole digest.
    fresh_chunks: HashMap<String, (FileStamp, Arc<ChunkList>)>,
    dirty: bool,
}

/// Chunk lists kept in memory only; beyond this the oldest are not worth the memory.
const FRESH_CHUNK_LISTS: usize = 64;

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
        HashIndex { path: path.to_path_buf(), records, fresh_chunks: HashMap::new(), dirty: false }
    }

    pub fn lookup(&self, key: &str, stamp: &FileStamp) -> Option<Digest> {
        self.records.get(key).filter(|r| r.stamp == *stamp).map(|r| r.digest)
    }

    /// The digest of the file at `key` with exactly this stamp, and whether it was seen
    /// with no extended attributes confsync carries.
    pub fn lookup_bare(&self, key: &str, stamp: &FileStamp) -> Option<(Digest, bool)> {
        self.records.get(key).filter(|r| r.stamp == *stamp).map(|r| (r.digest, r.no_xattrs))
    }

    /// Remembers that the file at `key`, with this stamp, has no extended attributes
    /// confsync carries (once its digest is remembered under the same stamp).
    pub fn remember_no_xattrs(&mut self, key: &str, stamp: &FileStamp) {
        if let Some(r) = self.records.get_mut(key).filter(|r| r.stamp == *stamp && !r.no_xattrs) {
            r.no_xattrs = true;
            self.dirty = true;
        }
    }

    pub fn remember(&mut self, key: String, stamp: FileStamp, digest: Digest) {
        if is_racy(&stamp) {
            self.records.remove(&key);
            return;
        }
        match self.records.get_mut(&key) {
            // Same file, same content: the chunks stay known.
            Some(r) if r.stamp == stamp && r.digest == digest => return,
            _ => {}
        }
        self.records.insert(key, Record { stamp, digest, chunks: None, no_xattrs: false });
        self.dirty = true;
    }

    /// The chunk list of the file at `key`, if it was learned for this very stamp.
    pub fn lookup_chunks(&self, key: &str, stamp: &FileStamp) -> Option<Arc<ChunkList>> {
        if let Some((at, list)) = self.fresh_chunks.get(key)
            && at == stamp
        {
            return Some(Arc::clone(list));
        }
        let record = self.records.get(key).filter(|r| r.stamp == *stamp)?;
        let mut offset = 0u64;
        let chunks = record
            .chunks
            .as_ref()?
            .iter()
            .map(|&(length, digest)| {
                let chunk = ChunkInfo { offset, length, digest };
                offset += u64::from(length);
                chunk
            })
            .collect();
        Some(Arc::new(ChunkList { size: offset, digest: record.digest, chunks }))
    }

    /// Remembers a file's digest and chunk list under its stamp: on disk, or, while the
    /// file is too fresh for that, the chunks in memory only (and the digest not at all,
    /// as [`HashIndex::remember`]).
    pub fn remember_chunks(&mut self, key: String, stamp: FileStamp, list: Arc<ChunkList>) {
        if is_racy(&stamp) {
            self.dirty |= self.records.remove(&key).is_some();
            if self.fresh_chunks.len() >= FRESH_CHUNK_LISTS {
                self.fresh_chunks.clear();
            }
            self.fresh_chunks.insert(key, (stamp, list));
            return;
        }
        self.fresh_chunks.remove(&key);
        let chunks = Some(list.chunks.iter().map(|c| (c.length, c.digest)).collect());
        self.records.insert(key, Record { stamp, digest: list.digest, chunks, no_xattrs: false });
        self.dirty = true;
    }

    /// Forgets one file: its next scan reads it, and its chunks are learned again.
    pub fn forget(&mut self, key: &str) {
        self.fresh_chunks.remove(key);
        self.dirty |= self.records.remove(key).is_some();
    }

    /// Forgets every key under `prefix` that `keep` does not hold (deleted files).
    pub fn retain_under(&mut self, prefix: &str, keep: &dyn Fn(&str) -> bool) {
        let before = self.records.len();
        self.records.retain(|key, _| !key.starts_with(prefix) || keep(key));
        self.fresh_chunks.retain(|key, _| !key.starts_with(prefix) || keep(key));
        self.dirty |= self.records.len() != before;
    }

    /// Writes the index if it changed, atomically (temporary file, then rename).
    pub fn save(&mut self) -> Result<()> {
        if !self.dirty {
            return Ok(());
        }
        // Streamed: the index of 100,000 files is a document of tens of MiB.
        write_json(&self.path, &self.records)?;
        self.dirty = false;
        Ok(())
    }
}

fn is_racy(stamp: &FileStamp) -> bool {
    now_ns().saturating_sub(stamp.mtime_ns) < RACY_WINDOW_NS
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

    #[test]
    fn chunk_lists_are_kept_under_their_stamp_and_fresh_ones_only_in_memory() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("index.json");
        let data = crate::noise::noise(1 << 20, 3);
        let list = Arc::new(crate::chunk::chunk_reader(&data[..]).expect("chunk"));
        let old = FileStamp { size: 1 << 20, mtime_ns: 1_000, inode: 7, ctime_ns: 1_000 };
        let fresh = FileStamp { mtime_ns: now_ns(), ctime_ns: now_ns(), inode: 8, ..old };
        let mut index = HashIndex::load(&path);
        index.remember_chunks("firmware/a".into(), old, Arc::clone(&list));
        index.remember_chunks("firmware/b".into(), fresh, Arc::clone(&list));
        assert_eq!(index.lookup_chunks("firmware/b", &fresh).as_deref(), Some(&*list));
        assert_eq!(index.lookup("firmware/b", &fresh), None, "a fresh digest is never trusted");
        // Learning the same digest again keeps the chunks.
        index.remember("firmware/a".into(), old, list.digest);
        index.save().expect("save");

        let mut index = HashIndex::load(&path);
        assert_eq!(index.lookup_chunks("firmware/a", &old).as_deref(), Some(&*list));
        assert_eq!(index.lookup("firmware/a", &old), Some(list.digest));
        assert_eq!(index.lookup_chunks("firmware/a", &FileStamp { ctime_ns: 2, ..old }), None);
        assert_eq!(index.lookup_chunks("firmware/b", &fresh), None, "not saved");
        index.forget("firmware/a");
        assert_eq!(index.lookup_chunks("firmware/a", &old), None);
    }
}
