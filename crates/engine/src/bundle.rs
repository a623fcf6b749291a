//! Offline bundles: one file that carries a source's tree (some categories of it) to a
//! destination that cannot reach the source. The layout is documented for administrators
//! in `docs/BUNDLE.md`; this module writes it, reads it back verified, and serves it to
//! the ordinary apply as a [`ChunkSource`](crate::transfer::ChunkSource) ([`source`]).
//!
//! A bundle is a magic and a format number, then *records*, each `tag (1 byte), length
//! (4, little-endian), payload, BLAKE3 of tag and payload (32)`: a header (who made it,
//! from which server, for which destination state), the manifest in batches, the chunk
//! lists of large files, the chunks (content-addressed by their BLAKE3, each stored once,
//! zstd-compressed where that pays), and an end record with the count of records and a
//! digest over all their digests. [`Bundle::open`] reads every record before anything is
//! planned: a truncated file, a flipped bit, an oversized record, a path that leaves its
//! category or names licenses is refused naming the record and its offset.
//!
//! Licenses are no category, so no bundle can hold them; the state folder is never
//! scanned, so no bundle holds it either.

pub mod source;

use std::collections::{BTreeMap, HashMap};
use std::io::{BufReader, Read, Write};
use std::path::{Path, PathBuf};

use crate::category::Category;
use crate::chunk::{ChunkInfo, ChunkList, WHOLE_FILE_LIMIT};
use crate::confine::{MAX_FILE_BYTES, MAX_MANIFEST_ENTRIES, check_tree};
use crate::entry::{Digest, Entry};
use crate::error::{EngineError, Result};
use crate::manifest::{CategoryManifest, Manifest};
use crate::path::RelPath;
use crate::rules::RulesFile;

pub const MAGIC: &[u8; 8] = b"CSBUNDLE";
/// The format this version writes. 2 carries each entry's owner, group and extended
/// attributes, and its category digests cover them with the mtime; format 1 is still read
/// (its entries carry no attributes, so none are compared or set).
pub const FORMAT: u32 = 2;
/// The oldest format this version reads.
pub const OLDEST_FORMAT: u32 = 1;
/// No record is larger: a chunk is at most 256 KiB, a manifest batch is kept well below.
pub const MAX_RECORD: u32 = 16 << 20;
/// Entries per manifest record.
const ENTRIES_PER_RECORD: usize = 8192;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Tag {
    Header = 1,
    Entries = 2,
    ChunkList = 3,
    Chunk = 4,
    End = 9,
}

impl Tag {
    fn from_byte(byte: u8) -> Option<Tag> {
        Some(match byte {
            1 => Tag::Header,
            2 => Tag::Entries,
            3 => Tag::ChunkList,
            4 => Tag::Chunk,
            9 => Tag::End,
            _ => return None,
        })
    }
}

/// What a bundle says about itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Header {
    /// `confsync 0.1.0`.
    pub made_by: String,
    pub format: u32,
    /// The server it was exported from.
    pub origin: Server,
    /// Seconds since the Unix epoch.
    pub created_at: u64,
    pub categories: Vec<Category>,
    /// The origin's device-specific rules: what every destination of it keeps.
    pub device_specific: RulesFile,
    /// A delta bundle: the destination state it was made for (only that state can take it).
    pub for_destination: Option<DestinationState>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Server {
    pub name: String,
    pub instance_id: String,
    pub address: String,
}

/// A destination as a destination manifest described it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DestinationState {
    pub server: Server,
    /// When its manifest was taken.
    pub taken_at: u64,
    /// Its category digests then.
    pub digests: BTreeMap<Category, Digest>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct EntriesRecord {
    category: Category,
    entries: Vec<Entry>,
    /// On a category's last record: its Merkle digest.
    digest: Option<Digest>,
}

/// The chunks of one file, as a bundle and a destination manifest keep them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FileChunks {
    pub category: Category,
    pub path: RelPath,
    pub size: u64,
    pub digest: Digest,
    /// (offset, length, digest) of each chunk.
    pub chunks: Vec<(u64, u32, Digest)>,
}

impl FileChunks {
    pub fn new(category: Category, path: &RelPath, list: &ChunkList) -> FileChunks {
        FileChunks {
            category,
            path: path.clone(),
            size: list.size,
            digest: list.digest,
            chunks: list.chunks.iter().map(|c| (c.offset, c.length, c.digest)).collect(),
        }
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct EndRecord {
    records: u64,
    chunks: u64,
    /// BLAKE3 over the digests of every record before this one.
    digest: Digest,
}

/// Writes a bundle record by record to `out` (a file being made; the caller renames it
/// into place once [`Writer::finish`] returned).
pub struct Writer<W: Write> {
    out: W,
    records: u64,
    chunks: u64,
    written: u64,
    all: blake3::Hasher,
}

impl<W: Write> Writer<W> {
    pub fn new(mut out: W, header: &Header) -> std::io::Result<Writer<W>> {
        out.write_all(MAGIC)?;
        out.write_all(&FORMAT.to_le_bytes())?;
        let mut writer =
            Writer { out, records: 0, chunks: 0, written: 12, all: blake3::Hasher::new() };
        writer.record(Tag::Header, &json(header)?)?;
        Ok(writer)
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    pub fn manifest(&mut self, manifest: &CategoryManifest) -> std::io::Result<()> {
        let batches: Vec<&[Entry]> = if manifest.entries.is_empty() {
            vec![&[]]
        } else {
            manifest.entries.chunks(ENTRIES_PER_RECORD).collect()
        };
        let last = batches.len() - 1;
        for (i, batch) in batches.into_iter().enumerate() {
            let record = EntriesRecord {
                category: manifest.category,
                entries: batch.to_vec(),
                // Over the entries alone: a bundle does not carry what its source could not.
                digest: (i == last).then(|| crate::manifest::entries_digest(&manifest.entries)),
            };
            let packed = zstd::bulk::compress(&json(&record)?, 3)?;
            self.record(Tag::Entries, &packed)?;
        }
        Ok(())
    }

    pub fn chunk_list(
        &mut self,
        category: Category,
        path: &RelPath,
        list: &ChunkList,
    ) -> std::io::Result<()> {
        self.record(Tag::ChunkList, &json(&FileChunks::new(category, path, list))?)
    }

    /// One chunk (or a small file whole), whose BLAKE3 the caller verified is `digest`.
    pub fn chunk(&mut self, digest: Digest, data: Vec<u8>) -> std::io::Result<()> {
        let (stored, compressed) = crate::compress::pack(data);
        let mut payload = Vec::with_capacity(33 + stored.len());
        payload.extend_from_slice(&digest.0);
        payload.push(u8::from(compressed));
        payload.extend_from_slice(&stored);
        self.chunks += 1;
        self.record(Tag::Chunk, &payload)
    }

    /// Writes the end record; returns the stream and the bundle's digest.
    pub fn finish(mut self) -> std::io::Result<(W, Digest)> {
        let digest: Digest = self.all.finalize().into();
        let end = EndRecord { records: self.records, chunks: self.chunks, digest };
        self.record(Tag::End, &json(&end)?)?;
        self.out.flush()?;
        Ok((self.out, digest))
    }

    fn record(&mut self, tag: Tag, payload: &[u8]) -> std::io::Result<()> {
        let length = u32::try_from(payload.len())
            .ok()
            .filter(|l| *l <= MAX_RECORD)
            .ok_or_else(|| std::io::Error::other("a bundle record over 16 MiB"))?;
        let digest = record_digest(tag as u8, payload);
        self.out.write_all(&[tag as u8])?;
        self.out.write_all(&length.to_le_bytes())?;
        self.out.write_all(payload)?;
        self.out.write_all(&digest.0)?;
        self.all.update(&digest.0);
        self.records += 1;
        self.written += 1 + 4 + u64::from(length) + 32;
        Ok(())
    }
}

fn json(value: &impl serde::Serialize) -> std::io::Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(std::io::Error::other)
}

fn record_digest(tag: u8, payload: &[u8]) -> Digest {
    let mut hasher = blake3::Hasher::new();
    hasher.update(&[tag]);
    hasher.update(payload);
    hasher.finalize().into()
}

/// A bundle an agent received and verified, kept in its state folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredBundle {
    pub path: PathBuf,
    pub digest: Digest,
    pub size: u64,
}

/// Where a chunk's stored bytes are in the bundle file.
#[derive(Debug, Clone, Copy)]
struct Stored {
    offset: u64,
    length: u32,
    compressed: bool,
}

/// A bundle read back and verified whole: its header, manifest and chunk lists in
/// memory, its chunks located in the file.
#[derive(Debug)]
pub struct Bundle {
    pub path: PathBuf,
    pub header: Header,
    pub manifest: Manifest,
    /// The digest of the end record: names this bundle.
    pub digest: Digest,
    /// Bytes of the file.
    pub size: u64,
    /// Chunks stored, and their bytes as stored.
    pub chunk_count: u64,
    pub chunk_bytes: u64,
    chunk_lists: HashMap<(Category, RelPath), ChunkList>,
    chunks: HashMap<Digest, Stored>,
    /// Size and digest of each file, by path, for the chunk lists of small files.
    files: HashMap<(Category, RelPath), (u64, Digest)>,
    /// Kept open: the file read is the one verified, even if its name is reused.
    file: std::fs::File,
}

impl Bundle {
    /// Reads `path` through, verifying every record, and refuses anything that is not a
    /// complete, intact bundle of this format.
    pub fn open(path: &Path) -> Result<Bundle> {
        let file = std::fs::File::open(path).map_err(EngineError::io("open bundle", path))?;
        let size = file.metadata().map_err(EngineError::io("read bundle", path))?.len();
        let mut reader = Reader { inner: BufReader::with_capacity(1 << 20, file), at: 0, path };
        let mut magic = [0u8; 12];
        reader.exact(&mut magic, "the bundle's first 12 bytes")?;
        if &magic[..8] != MAGIC {
            return Err(reader.bad(0, "it is not a confsync bundle (no CSBUNDLE at its start)"));
        }
        let format = u32::from_le_bytes([magic[8], magic[9], magic[10], magic[11]]);
        if !(OLDEST_FORMAT..=FORMAT).contains(&format) {
            // Whatever else a later format changes, its header is the first record, JSON.
            let made_by = reader
                .record(0)
                .ok()
                .and_then(|(_, _, payload)| {
                    serde_json::from_slice::<serde_json::Value>(&payload).ok()
                })
                .and_then(|v| v.get("made_by").and_then(|m| m.as_str()).map(str::to_string))
                .unwrap_or_else(|| "another confsync".to_string());
            return Err(reader.bad(
                8,
                &format!(
                    "it was made by {made_by} (bundle format {format}); this is confsync {}, \
                     which reads bundle formats {OLDEST_FORMAT} to {FORMAT}: import it with {made_by} or newer",
                    env!("CARGO_PKG_VERSION")
                ),
            ));
        }
        let mut parts = Parts::default();
        let mut all = blake3::Hasher::new();
        let mut index = 0u64;
        let end = loop {
            let (tag, offset, payload) = reader.record(index)?;
            let at = |what: &str| format!("record {index} (at byte {offset}): {what}");
            match tag {
                Tag::End => {
                    let end: EndRecord =
                        parse(&payload).map_err(|e| reader.bad(offset, &at(&e)))?;
                    break (end, offset);
                }
                _ if index == 0 && tag != Tag::Header => {
                    return Err(reader.bad(offset, &at("a bundle begins with its header")));
                }
                _ => {}
            }
            parts.add(tag, offset, &payload, index).map_err(|e| reader.bad(offset, &at(&e)))?;
            all.update(&record_digest(tag as u8, &payload).0);
            index += 1;
        };
        let (end, end_offset) = end;
        let digest: Digest = all.finalize().into();
        if end.records != index || end.digest != digest || end.chunks != parts.chunks.len() as u64 {
            return Err(reader.bad(
                end_offset,
                "its end record does not match the records before it (records missing or added)",
            ));
        }
        let mut rest = [0u8; 1];
        if reader.inner.read(&mut rest).map_err(EngineError::io("read bundle", path))? != 0 {
            return Err(reader.bad(reader.at, "bytes follow its end record"));
        }
        let file = reader.inner.into_inner();
        parts.finish(path.to_path_buf(), digest, size, file)
    }

    pub fn categories(&self) -> &[Category] {
        &self.header.categories
    }

    /// The chunks of a file: a large file's from its record, a small one is one chunk.
    pub fn chunk_list(&self, category: Category, path: &RelPath) -> Option<ChunkList> {
        if let Some(list) = self.chunk_lists.get(&(category, path.clone())) {
            return Some(list.clone());
        }
        let (size, digest) = *self.files.get(&(category, path.clone()))?;
        let chunks = if size == 0 {
            Vec::new()
        } else {
            vec![ChunkInfo { offset: 0, length: size as u32, digest }]
        };
        (size <= WHOLE_FILE_LIMIT).then_some(ChunkList { size, digest, chunks })
    }

    /// Whether the bundle holds the chunk with this digest.
    pub fn has_chunk(&self, digest: &Digest) -> bool {
        self.chunks.contains_key(digest)
    }

    /// The bytes of one chunk, read from the file and verified against its digest.
    pub fn read_chunk(&self, digest: &Digest) -> Result<Vec<u8>> {
        use std::os::unix::fs::FileExt;
        let stored = self.chunks.get(digest).ok_or_else(|| EngineError::Integrity {
            path: self.path.display().to_string(),
            detail: format!(
                "chunk {} is not in this bundle (a delta bundle holds only what its destination \
                 lacked when its manifest was taken)",
                digest.short()
            ),
        })?;
        let mut data = vec![0u8; stored.length as usize];
        self.file
            .read_exact_at(&mut data, stored.offset)
            .map_err(EngineError::io("read bundle", &self.path))?;
        let data =
            crate::compress::unpack(data, stored.compressed, crate::chunk::MAX_CHUNK as usize)
                .map_err(|detail| self.broken(digest, &detail))?;
        if Digest::of(&data) != *digest {
            return Err(self.broken(digest, "its bytes do not match its digest"));
        }
        Ok(data)
    }

    fn broken(&self, digest: &Digest, detail: &str) -> EngineError {
        EngineError::Integrity {
            path: self.path.display().to_string(),
            detail: format!("chunk {}: {detail}", digest.short()),
        }
    }

    /// "bundle 1a2b3c4d5e6f of primary (exported 2026-12-02T07:00:00Z)".
    pub fn describe(&self) -> String {
        format!(
            "bundle {} of {} (exported {})",
            self.digest.short(),
            self.header.origin.name,
            crate::clock::utc(self.header.created_at)
        )
    }
}

fn parse<T: serde::de::DeserializeOwned>(payload: &[u8]) -> std::result::Result<T, String> {
    serde_json::from_slice(payload).map_err(|e| {
        let text = e.to_string();
        if text.contains("licenses") {
            "it names licenses, which are bound to each machine and never carried".to_string()
        } else {
            format!("it does not read as this format: {text}")
        }
    })
}

/// What the records said so far.
#[derive(Default)]
struct Parts {
    header: Option<Header>,
    entries: BTreeMap<Category, (Vec<Entry>, Option<Digest>)>,
    chunk_lists: HashMap<(Category, RelPath), ChunkList>,
    chunks: HashMap<Digest, Stored>,
    chunk_bytes: u64,
}

impl Parts {
    fn add(
        &mut self,
        tag: Tag,
        offset: u64,
        payload: &[u8],
        index: u64,
    ) -> std::result::Result<(), String> {
        match tag {
            Tag::Header if index == 0 => {
                let header: Header = parse(payload)?;
                if !(OLDEST_FORMAT..=FORMAT).contains(&header.format) {
                    return Err(format!("its header says format {}", header.format));
                }
                self.header = Some(header);
            }
            Tag::Header => return Err("a second header".into()),
            Tag::Entries => {
                let text = zstd::bulk::decompress(payload, 4 * MAX_RECORD as usize)
                    .map_err(|e| format!("its manifest does not decompress: {e}"))?;
                let record: EntriesRecord = parse(&text)?;
                let (entries, digest) = self.entries.entry(record.category).or_default();
                if digest.is_some() {
                    return Err(format!("{} continues after its last record", record.category));
                }
                if entries.len() + record.entries.len() > MAX_MANIFEST_ENTRIES {
                    return Err(format!("{} holds too many entries", record.category));
                }
                if let Some(big) = record.entries.iter().find(|e| e.size > MAX_FILE_BYTES) {
                    return Err(format!("{} declares {} bytes, too many", big.path, big.size));
                }
                entries.extend(record.entries);
                *digest = record.digest;
            }
            Tag::ChunkList => {
                let record: FileChunks = parse(payload)?;
                let mut expected = 0u64;
                for (chunk_offset, length, _) in &record.chunks {
                    if *chunk_offset != expected
                        || *length == 0
                        || *length > crate::chunk::MAX_CHUNK
                    {
                        return Err(format!(
                            "the chunk list of {} has a gap or a bad chunk",
                            record.path
                        ));
                    }
                    expected += u64::from(*length);
                }
                if expected != record.size {
                    return Err(format!("the chunks of {} do not add up to its size", record.path));
                }
                let list = ChunkList {
                    size: record.size,
                    digest: record.digest,
                    chunks: record
                        .chunks
                        .iter()
                        .map(|(offset, length, digest)| ChunkInfo {
                            offset: *offset,
                            length: *length,
                            digest: *digest,
                        })
                        .collect(),
                };
                self.chunk_lists.insert((record.category, record.path), list);
            }
            Tag::Chunk => {
                if payload.len() < 33 || payload[32] > 1 {
                    return Err("a chunk record too short to hold its digest".into());
                }
                let digest = Digest::from_slice(&payload[..32]).unwrap_or(Digest::ZERO);
                let length = (payload.len() - 33) as u32;
                self.chunk_bytes += u64::from(length);
                // The data starts after the tag, the length, the digest and the flag.
                let stored =
                    Stored { offset: offset + 5 + 33, length, compressed: payload[32] == 1 };
                self.chunks.insert(digest, stored);
            }
            Tag::End => {}
        }
        Ok(())
    }

    fn finish(
        self,
        path: PathBuf,
        digest: Digest,
        size: u64,
        file: std::fs::File,
    ) -> Result<Bundle> {
        let bad =
            |detail: String| EngineError::Integrity { path: path.display().to_string(), detail };
        let header = self.header.ok_or_else(|| bad("it has no header".into()))?;
        let mut manifest = Manifest::default();
        for category in &header.categories {
            let Some((entries, digest)) = self.entries.get(category) else {
                return Err(bad(format!("its header names {category}, which it does not hold")));
            };
            check_tree(entries).map_err(|e| bad(format!("{category}: {e}")))?;
            for link in entries.iter().filter(|e| e.kind == crate::entry::EntryKind::Symlink) {
                let target = link.symlink_target.as_deref().unwrap_or_default();
                crate::path::check_symlink_syntax(&link.path, target)
                    .map_err(|e| bad(format!("{category}: {e}")))?;
            }
            // What a peer's manifest is held to: no setuid, only attributes confsync
            // carries (never a capability), one shared copy of each set.
            let mut entries = entries.clone();
            let mut shared = crate::attrs::Interner::default();
            for entry in &mut entries {
                if entry.mode & !crate::entry::SYNCED_MODE_BITS != 0 {
                    return Err(bad(format!(
                        "{category}/{}: mode {:o} is not one confsync carries",
                        entry.path, entry.mode
                    )));
                }
                if let Some(attrs) = &entry.attrs {
                    attrs.check().map_err(|e| bad(format!("{category}/{}: {e}", entry.path)))?;
                    entry.attrs = Some(shared.share(attrs));
                }
            }
            let built = CategoryManifest::new(*category, entries);
            let recorded = if header.format == 1 {
                crate::manifest::format_1_digest(&built.entries)
            } else {
                built.digest
            };
            if Some(recorded) != *digest {
                return Err(bad(format!("the manifest of {category} does not match its digest")));
            }
            manifest.insert(built);
        }
        if let Some(extra) = self.entries.keys().find(|c| !header.categories.contains(c)) {
            return Err(bad(format!("it holds {extra}, which its header does not name")));
        }
        let files: HashMap<(Category, RelPath), (u64, Digest)> = manifest
            .categories
            .values()
            .flat_map(|m| {
                m.entries
                    .iter()
                    .filter(|e| e.kind == crate::entry::EntryKind::File)
                    .map(move |e| ((m.category, e.path.clone()), (e.size, e.digest)))
            })
            .collect();
        for (key, list) in &self.chunk_lists {
            let (category, path) = key;
            let file = files.get(key);
            // Only a file larger than one chunk has a list of its own.
            if file.is_none_or(|(size, digest)| {
                *digest != list.digest || *size != list.size || *size <= WHOLE_FILE_LIMIT
            }) {
                return Err(bad(format!(
                    "a chunk list for {category}/{path}, which it does not hold"
                )));
            }
        }
        Ok(Bundle {
            path,
            header,
            manifest,
            digest,
            size,
            chunk_count: self.chunks.len() as u64,
            chunk_bytes: self.chunk_bytes,
            chunk_lists: self.chunk_lists,
            chunks: self.chunks,
            files,
            file,
        })
    }
}

/// Reads records, counting the offset, naming it in every error.
struct Reader<'a, R> {
    inner: R,
    at: u64,
    path: &'a Path,
}

impl<R: Read> Reader<'_, R> {
    fn bad(&self, offset: u64, detail: &str) -> EngineError {
        EngineError::Integrity {
            path: self.path.display().to_string(),
            detail: format!("at byte {offset}: {detail}"),
        }
    }

    fn exact(&mut self, buf: &mut [u8], what: &str) -> Result<()> {
        match self.inner.read_exact(buf) {
            Ok(()) => {
                self.at += buf.len() as u64;
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(self.bad(
                self.at,
                &format!("the file ends inside {what}: it is truncated (copy it again)"),
            )),
            Err(e) => Err(EngineError::io("read bundle", self.path)(e)),
        }
    }

    fn record(&mut self, index: u64) -> Result<(Tag, u64, Vec<u8>)> {
        let offset = self.at;
        let what = format!("record {index}");
        let mut head = [0u8; 5];
        self.exact(&mut head, &what)?;
        let tag = Tag::from_byte(head[0])
            .ok_or_else(|| self.bad(offset, &format!("{what} has an unknown tag {}", head[0])))?;
        let length = u32::from_le_bytes([head[1], head[2], head[3], head[4]]);
        if length > MAX_RECORD {
            return Err(self.bad(
                offset,
                &format!(
                    "{what} declares {length} bytes, more than the {MAX_RECORD} a record may hold"
                ),
            ));
        }
        let mut payload = vec![0u8; length as usize];
        self.exact(&mut payload, &what)?;
        let mut digest = [0u8; 32];
        self.exact(&mut digest, &what)?;
        if Digest(digest) != record_digest(head[0], &payload) {
            let chunk = match Digest::from_slice(payload.get(..32).unwrap_or_default()) {
                Some(named) if tag == Tag::Chunk => format!(" (chunk {})", named.short()),
                _ => String::new(),
            };
            return Err(self.bad(
                offset,
                &format!(
                    "{what}{chunk} does not match its digest: the bundle is damaged (copy it again)"
                ),
            ));
        }
        Ok((tag, offset, payload))
    }
}

pub const MANIFEST_MAGIC: &[u8; 8] = b"CSMANIFS";

/// A destination's manifest, taken to make a delta bundle for it elsewhere: its entries
/// and the chunks of its large files. Only the state it describes can take that bundle.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DestinationManifest {
    pub format: u32,
    pub made_by: String,
    pub state: DestinationState,
    pub entries: BTreeMap<Category, Vec<Entry>>,
    pub chunks: Vec<FileChunks>,
}

impl DestinationManifest {
    /// The file's bytes: the magic, zstd-compressed JSON, and the BLAKE3 of the rest.
    pub fn to_bytes(&self) -> std::io::Result<Vec<u8>> {
        let packed = zstd::bulk::compress(&json(self)?, 3)?;
        let mut out = MANIFEST_MAGIC.to_vec();
        out.extend_from_slice(&packed);
        out.extend_from_slice(&Digest::of(&packed).0);
        Ok(out)
    }

    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<DestinationManifest> {
        let bad = |detail: &str| EngineError::Integrity {
            path: path.display().to_string(),
            detail: detail.to_string(),
        };
        if bytes.len() < 40 || &bytes[..8] != MANIFEST_MAGIC {
            return Err(bad("it is not a destination manifest (`confsync manifest` writes them)"));
        }
        let (packed, digest) = bytes[8..].split_at(bytes.len() - 40);
        if Digest::of(packed).0 != digest {
            return Err(bad("it does not match its digest: damaged or truncated (take it again)"));
        }
        let text = zstd::bulk::decompress(packed, crate::confine::MAX_MANIFEST_BYTES)
            .map_err(|e| bad(&format!("it does not decompress: {e}")))?;
        let manifest: DestinationManifest = parse(&text).map_err(|e| bad(&e))?;
        if manifest.format != FORMAT {
            return Err(bad(&format!(
                "it is of format {}, and this confsync reads format {FORMAT}",
                manifest.format
            )));
        }
        for (category, entries) in &manifest.entries {
            check_tree(entries).map_err(|e| bad(&format!("{category}: {e}")))?;
        }
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests;
