//! Staging files from a source: the destination reuses what it already holds and pulls
//! only the missing chunks, verifying each chunk and the whole file before anything is
//! committed.
//!
//! For each file to bring, in order of preference:
//! 1. a destination file with the same digest (moved or copied content): copied locally;
//! 2. a piece a cut transfer left ([`crate::resume`]): copied when whole and verified,
//!    else (a large file) a basis for the delta, with the old version;
//! 3. a large file whose old version is here: the source's chunk list is compared with
//!    the old version's chunks, and only chunks not found locally cross the wire;
//! 4. otherwise the file is streamed whole in bounded pieces.
//!
//! Chunk lists come from the hash index when the file's stamp is the one they were learned
//! under, so neither side reads a large file only to learn its chunks. Ranges a
//! destination already holds are copied by the kernel (`copy_file_range`, a reflink where
//! the file system offers it), not through user space; a file staged that way is read back
//! once and hashed before it counts as verified.
//!
//! Memory stays bounded by a few pieces per file in flight, whatever the file size.

use std::collections::HashMap;
use std::future::Future;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use cap_std::fs::Dir;
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::category::Category;
use crate::chunk::{self, ChunkList, WHOLE_FILE_LIMIT};
use crate::entry::{Digest, Entry, EntryKind};
use crate::error::{EngineError, Result};
use crate::failpoint;
use crate::index::FileStamp;
use crate::layout::Layout;
use crate::live::LiveTree;
use crate::path::{RelPath, check_symlink_syntax};

/// Largest piece asked for in one range when streaming a file whole.
pub const MAX_RANGE: u64 = 1 << 20;
/// Ranges asked for in one request when streaming a file whole (1 GiB).
const RANGES_PER_FETCH: u64 = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ByteRange {
    pub offset: u64,
    pub length: u64,
}

/// Pieces of file content, in the order asked: (offset, bytes).
pub type PieceStream = BoxStream<'static, Result<(u64, Vec<u8>)>>;

/// Where file content comes from: the source agent (over gRPC, in the agent), or anything
/// else that can answer these two questions.
pub trait ChunkSource: Send + Sync {
    fn chunk_list(
        &self,
        category: Category,
        path: &RelPath,
    ) -> impl Future<Output = Result<ChunkList>> + Send;
    fn fetch(
        &self,
        category: Category,
        path: &RelPath,
        ranges: Vec<ByteRange>,
    ) -> impl Future<Output = Result<PieceStream>> + Send;

    /// Several small files whole, in one stream, in the order given: (index, offset,
    /// bytes), an empty file as one empty piece. The default asks for each file on its
    /// own; the source agent answers all of them in one call.
    fn fetch_files(
        &self,
        category: Category,
        files: Vec<(RelPath, u64)>,
    ) -> impl Future<Output = Result<FilesStream>> + Send {
        fetch_one_by_one(self, category, files)
    }
}

/// [`ChunkSource::fetch_files`] done with one [`ChunkSource::fetch`] per file.
pub async fn fetch_one_by_one<S: ChunkSource + ?Sized>(
    source: &S,
    category: Category,
    files: Vec<(RelPath, u64)>,
) -> Result<FilesStream> {
    let mut streams = Vec::with_capacity(files.len());
    for (index, (path, size)) in (0u32..).zip(files) {
        if size == 0 {
            streams.push(futures::stream::iter([Ok((index, 0, Vec::new()))]).boxed());
            continue;
        }
        let ranges = split(0, size);
        let pieces = source.fetch(category, &path, ranges.clone()).await?;
        // Each piece must be exactly the range asked for, as on the single-file path, and
        // nothing may follow the last (the `None` after the ranges catches a piece more).
        let expected = futures::stream::iter(ranges.into_iter().map(Some).chain([None]));
        let checked = pieces.zip(expected).map(move |(piece, range)| {
            let (offset, data) = piece?;
            let Some(range) = range else {
                return Err(integrity(&path, "the source sent more data than asked for"));
            };
            if offset != range.offset || data.len() as u64 != range.length {
                return Err(integrity(
                    &path,
                    &format!(
                        "asked for {} bytes at offset {}, got {} bytes at offset {offset}",
                        range.length,
                        range.offset,
                        data.len()
                    ),
                ));
            }
            Ok((index, offset, data))
        });
        streams.push(checked.boxed());
    }
    Ok(futures::stream::iter(streams).flatten().boxed())
}

/// Pieces of several whole files: (index in the request, offset, bytes).
pub type FilesStream = BoxStream<'static, Result<(u32, u64, Vec<u8>)>>;

/// What staging one entry cost, and what it taught.
#[derive(Debug, Clone, Default)]
pub struct Staged {
    pub bytes_received: u64,
    pub bytes_written: u64,
    /// The staged file's chunk list, when staging verified it (a delta): the index learns
    /// it once the file is committed.
    pub chunks: Option<Arc<ChunkList>>,
}

/// Everything staging needs besides the entry itself.
pub struct StageContext<'a, S> {
    pub layout: &'a Layout,
    pub staging: &'a Dir,
    pub source: &'a S,
    /// Destination files by digest, for local reuse: (category, path).
    pub local_by_digest: &'a HashMap<Digest, (Category, RelPath)>,
    /// Content already in hand (merged files), by (category, path): written as it is.
    pub inline: &'a std::collections::BTreeMap<(Category, RelPath), std::sync::Arc<Vec<u8>>>,
    /// Digests with a piece a cut transfer left ([`crate::resume`]).
    pub resumable: &'a std::collections::HashSet<Digest>,
    /// The destination's live tree, whose index knows the chunks of files it read before.
    pub tree: Option<&'a LiveTree>,
    /// Called with the bytes of each piece written, local or received; returns false to
    /// stop (cancelled).
    pub on_bytes: &'a (dyn Fn(u64) -> bool + Send + Sync),
    /// What of an entry's attributes this destination leaves as it is (cannot set, or
    /// keeps as its own).
    pub mask: crate::attrs::Mask,
}

/// Stages `entry` (the source's) as `staged_name` in the staging folder.
/// `current` is what the destination holds at that path now.
pub async fn stage_entry<S: ChunkSource>(
    ctx: &StageContext<'_, S>,
    category: Category,
    entry: &Entry,
    current: Option<&Entry>,
    staged_name: &str,
) -> Result<Staged> {
    match entry.kind {
        EntryKind::Symlink => {
            let target = entry.symlink_target.as_deref().unwrap_or_default();
            check_symlink_syntax(&entry.path, target)?;
            let at = ctx.layout.staging_dir().join(staged_name);
            // A symlink is a name and a string: written as it is, absolute or not, and
            // never followed (`symlink_contents`; every later access is confined).
            ctx.staging
                .symlink_contents(target, staged_name)
                .map_err(EngineError::io("stage symlink", &at))?;
            let name = std::path::Path::new(staged_name);
            if let Some(attrs) = &entry.attrs {
                crate::attrs::set_on_path(ctx.staging, name, attrs, ctx.mask)
                    .map_err(EngineError::io("set owner and attributes of", &at))?;
            }
            crate::attrs::set_mtime(ctx.staging, name, entry.mtime_ns)
                .map_err(EngineError::io("set mtime of", &at))?;
            Ok(Staged::default())
        }
        EntryKind::Dir => Ok(Staged::default()),
        EntryKind::File => stage_file(ctx, category, entry, current, staged_name).await,
    }
}

/// Creates a staged file; never opens an existing entry: a planted file or hard link at
/// the staging name is an error, not a target.
fn create_staged<S>(ctx: &StageContext<'_, S>, name: &str) -> Result<(std::fs::File, PathBuf)> {
    let path = ctx.layout.staging_dir().join(name);
    let file = ctx
        .staging
        .open_with(name, cap_std::fs::OpenOptions::new().read(true).write(true).create_new(true))
        .map_err(EngineError::io("create staged file", &path))?;
    Ok((file.into_std(), path))
}

async fn stage_file<S: ChunkSource>(
    ctx: &StageContext<'_, S>,
    category: Category,
    entry: &Entry,
    current: Option<&Entry>,
    staged_name: &str,
) -> Result<Staged> {
    let (file, staged_path) = create_staged(ctx, staged_name)?;
    let mut out = Writer::new(file, &staged_path, entry, ctx.mask);

    if let Some(bytes) = ctx.inline.get(&(category, entry.path.clone())) {
        out.write(bytes)?;
        if !(ctx.on_bytes)(bytes.len() as u64) {
            return Err(EngineError::Cancelled("the transfer was stopped".into()));
        }
    } else if let Some((cat, path)) = ctx.local_by_digest.get(&entry.digest) {
        copy_local(ctx.layout, *cat, path, &mut out, ctx.on_bytes)?;
    } else if let Some(piece) = resumed_piece(ctx, entry).await? {
        match piece {
            Resumed::Whole(file, path) => copy_from(file, &path, &mut out, ctx.on_bytes)?,
            Resumed::Part(part) => {
                let mut bases = vec![part];
                bases.extend(old_version(ctx, category, current)?);
                return finish_delta(ctx, category, entry, bases, out).await;
            }
        }
    } else if entry.size > WHOLE_FILE_LIMIT
        && let Some(old) = old_version(ctx, category, current)?
    {
        return finish_delta(ctx, category, entry, vec![old], out).await;
    } else {
        stream_whole(ctx, category, entry, &mut out).await?;
    }
    out.finish()
}

/// Stages a delta and verifies it; a chunk list the index supplied that turns out wrong
/// (the file changed within one timestamp tick) is forgotten, so the next run learns it
/// again instead of failing the same way.
async fn finish_delta<S: ChunkSource>(
    ctx: &StageContext<'_, S>,
    category: Category,
    entry: &Entry,
    bases: Vec<Basis>,
    mut out: Writer,
) -> Result<Staged> {
    let mut remembered = Vec::new();
    let list = stage_delta(ctx, category, entry, bases, &mut out, &mut remembered).await;
    let finished = list.and_then(|list| {
        let mut staged = out.finish()?;
        staged.chunks = Some(Arc::new(list));
        Ok(staged)
    });
    if finished.is_err()
        && let Some(tree) = ctx.tree
    {
        for path in &remembered {
            tree.forget(category, path);
        }
    }
    finished
}

/// A file whose chunks may hold what is needed: the old version at the same path (which
/// the index may know the chunks of), or a piece a cut transfer left.
struct Basis {
    file: cap_std::fs::File,
    path: PathBuf,
    /// The old version's path in its category.
    at: Option<RelPath>,
}

enum Resumed {
    /// A whole piece whose content is the entry's: copied, nothing fetched.
    Whole(cap_std::fs::File, PathBuf),
    /// Part of a large file: a basis for the delta.
    Part(Basis),
}

/// The piece a cut transfer left for `entry`, checked: a piece of the right size is
/// hashed, and used whole only when it is the entry's content; a partial piece helps
/// only a large file (a small one is fetched whole, as cheaply).
async fn resumed_piece<S>(ctx: &StageContext<'_, S>, entry: &Entry) -> Result<Option<Resumed>> {
    if !ctx.resumable.contains(&entry.digest) {
        return Ok(None);
    }
    let Some((file, path, len)) = crate::resume::open_piece(ctx.layout, &entry.digest) else {
        return Ok(None);
    };
    if len == entry.size {
        let reader = file.try_clone().map_err(EngineError::io("open", &path))?;
        let hashed = tokio::task::spawn_blocking(move || {
            let mut hasher = blake3::Hasher::new();
            hasher.update_reader(reader).map(|h| Digest::from(h.finalize()))
        })
        .await
        .map_err(|e| EngineError::Source(format!("hashing task failed: {e}")))?;
        if hashed.ok() == Some(entry.digest) {
            // Hashing moved the shared offset to the end.
            let mut file = file;
            file.seek(SeekFrom::Start(0)).map_err(EngineError::io("rewind", &path))?;
            return Ok(Some(Resumed::Whole(file, path)));
        }
    }
    Ok((entry.size > WHOLE_FILE_LIMIT && len < entry.size).then_some(Resumed::Part(Basis {
        file,
        path,
        at: None,
    })))
}

/// The destination's current file at the path, opened as a basis.
fn old_version<S>(
    ctx: &StageContext<'_, S>,
    category: Category,
    current: Option<&Entry>,
) -> Result<Option<Basis>> {
    let Some(current) = current.filter(|c| c.kind == EntryKind::File) else { return Ok(None) };
    let path = ctx.layout.root(category).join(&current.path);
    let dir = ctx.layout.open_category(category)?.ok_or_else(|| EngineError::Io {
        op: "open",
        path: path.clone(),
        source: std::io::ErrorKind::NotFound.into(),
    })?;
    let file = dir.open(&current.path).map_err(EngineError::io("open old version", &path))?;
    Ok(Some(Basis { file, path, at: Some(current.path.clone()) }))
}

/// Streams a file whole, a window of at most [`RANGES_PER_FETCH`] ranges at a time, so
/// that no request and no list is sized from the size the source declared.
async fn stream_whole<S: ChunkSource>(
    ctx: &StageContext<'_, S>,
    category: Category,
    entry: &Entry,
    out: &mut Writer,
) -> Result<()> {
    let mut offset = 0;
    while offset < entry.size {
        let end = entry.size.min(offset.saturating_add(MAX_RANGE * RANGES_PER_FETCH));
        let ranges = split(offset, end);
        let stream = ctx.source.fetch(category, &entry.path, ranges.clone()).await?;
        receive(stream, &ranges, None, out, ctx.on_bytes, &entry.path).await?;
        offset = end;
    }
    Ok(())
}

/// Pulls only the chunks that no basis holds (the old version at the same path, a piece
/// a cut transfer left); returns the source's chunk list, which the staged file has once
/// verified. `remembered` receives the bases whose chunk list came from the index.
async fn stage_delta<S: ChunkSource>(
    ctx: &StageContext<'_, S>,
    category: Category,
    entry: &Entry,
    bases: Vec<Basis>,
    out: &mut Writer,
    remembered: &mut Vec<RelPath>,
) -> Result<ChunkList> {
    let list = ctx.source.chunk_list(category, &entry.path).await?;
    if list.digest != entry.digest || list.size != entry.size {
        return Err(EngineError::Source(format!(
            "{category}/{} changed on the source during the transfer; nothing was changed, run again",
            entry.path
        )));
    }
    // Each chunk found in a basis: which basis, where, how long. The first basis wins.
    let mut local: HashMap<Digest, (usize, u64, u32)> = HashMap::new();
    for (i, basis) in bases.iter().enumerate() {
        for c in basis_chunks(ctx, category, basis, remembered).await?.chunks.iter() {
            local.entry(c.digest).or_insert((i, c.offset, c.length));
        }
    }

    let missing: Vec<ByteRange> = list
        .chunks
        .iter()
        .filter(|c| !local.contains_key(&c.digest))
        .map(|c| ByteRange { offset: c.offset, length: u64::from(c.length) })
        .collect();
    let digests: HashMap<u64, Digest> = list.chunks.iter().map(|c| (c.offset, c.digest)).collect();
    let mut remote = Windows::new(missing);
    // Neighbouring chunks found next to each other in one basis are copied as one range.
    let mut run: Option<(usize, u64, u64)> = None;
    for c in &list.chunks {
        if let Some(&(i, offset, length)) = local.get(&c.digest) {
            let length = u64::from(length);
            match &mut run {
                Some((j, start, len)) if *j == i && *start + *len == offset => *len += length,
                _ => {
                    copy_run(ctx, &bases, run.take(), out)?;
                    run = Some((i, offset, length));
                }
            }
        } else {
            copy_run(ctx, &bases, run.take(), out)?;
            let stream = remote.next_stream(ctx, category, &entry.path).await?;
            let range = [ByteRange { offset: c.offset, length: u64::from(c.length) }];
            receive_some(stream, &range, Some(&digests), out, ctx.on_bytes, &entry.path).await?;
        }
    }
    copy_run(ctx, &bases, run, out)?;
    remote.finish(&entry.path).await?;
    Ok(list)
}

/// A basis's chunks: from the index when it learned them under the file's current stamp,
/// else read (and, for the old version, remembered).
async fn basis_chunks<S>(
    ctx: &StageContext<'_, S>,
    category: Category,
    basis: &Basis,
    remembered: &mut Vec<RelPath>,
) -> Result<Arc<ChunkList>> {
    let reader = basis.file.try_clone().map_err(EngineError::io("open", &basis.path))?.into_std();
    let meta = reader.metadata().map_err(EngineError::io("inspect", &basis.path))?;
    let stamp = FileStamp::of(&meta);
    let tree = ctx.tree.zip(basis.at.as_ref());
    if let Some((tree, at)) = tree
        && let Some(known) = tree.chunks_of(category, at, &stamp)
    {
        remembered.push(at.clone());
        return Ok(known);
    }
    // Read with positioned reads: the clone shares the file offset with the basis.
    let chunks =
        tokio::task::spawn_blocking(move || chunk::chunk_reader(PositionedReader::new(reader)))
            .await
            .map_err(|e| EngineError::Source(format!("chunking task failed: {e}")))?
            .map_err(EngineError::io("chunk", &basis.path))?;
    let chunks = Arc::new(chunks);
    if let Some((tree, at)) = tree {
        tree.learn_chunks(category, at, stamp, Arc::clone(&chunks));
    }
    Ok(chunks)
}

/// Reads a file from its start with `pread`, leaving the shared file offset alone.
struct PositionedReader {
    file: std::fs::File,
    offset: u64,
}

impl PositionedReader {
    fn new(file: std::fs::File) -> PositionedReader {
        PositionedReader { file, offset: 0 }
    }
}

impl Read for PositionedReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read_at(buf, self.offset)?;
        self.offset += n as u64;
        Ok(n)
    }
}

/// Copies one run of a basis (basis, offset, length) into the staged file.
fn copy_run<S>(
    ctx: &StageContext<'_, S>,
    bases: &[Basis],
    run: Option<(usize, u64, u64)>,
    out: &mut Writer,
) -> Result<()> {
    let Some((i, offset, length)) = run else { return Ok(()) };
    let basis = &bases[i];
    out.copy_range(&basis.file, &basis.path, offset, length)?;
    if !(ctx.on_bytes)(length) {
        return Err(EngineError::Cancelled("the transfer was stopped".into()));
    }
    Ok(())
}

/// Ranges a delta asks for in one request: a source refuses more than 65,536, and one
/// window is plenty to keep the wire busy. Tests use small windows to cross many.
const RANGES_PER_REQUEST: usize = if cfg!(test) { 4 } else { 4096 };

/// The missing chunks of a delta, asked for in windows, each stream read to its end.
struct Windows {
    pending: std::collections::VecDeque<Vec<ByteRange>>,
    current: Option<(PieceStream, usize)>,
}

impl Windows {
    fn new(missing: Vec<ByteRange>) -> Windows {
        let pending = missing.chunks(RANGES_PER_REQUEST).map(<[ByteRange]>::to_vec).collect();
        Windows { pending, current: None }
    }

    /// The stream that delivers the next missing chunk, opening the next window when the
    /// current one is used up.
    async fn next_stream<S: ChunkSource>(
        &mut self,
        ctx: &StageContext<'_, S>,
        category: Category,
        path: &RelPath,
    ) -> Result<&mut PieceStream> {
        if self.current.as_ref().is_none_or(|(_, left)| *left == 0) {
            self.finish_current(path).await?;
            let ranges = self
                .pending
                .pop_front()
                .ok_or_else(|| integrity(path, "more chunks are missing than were asked for"))?;
            let count = ranges.len();
            self.current = Some((ctx.source.fetch(category, path, ranges).await?, count));
        }
        let (stream, left) =
            self.current.as_mut().ok_or_else(|| integrity(path, "no open window"))?;
        *left -= 1;
        Ok(stream)
    }

    async fn finish_current(&mut self, path: &RelPath) -> Result<()> {
        if let Some((mut stream, _)) = self.current.take()
            && stream.next().await.is_some()
        {
            return Err(integrity(path, "the source sent more data than asked for"));
        }
        Ok(())
    }

    async fn finish(mut self, path: &RelPath) -> Result<()> {
        self.finish_current(path).await?;
        if self.pending.is_empty() {
            Ok(())
        } else {
            Err(integrity(path, "some missing chunks were never asked for"))
        }
    }
}

/// Receives exactly `ranges` from `stream`, then checks that it ends.
async fn receive(
    mut stream: PieceStream,
    ranges: &[ByteRange],
    digests: Option<&HashMap<u64, Digest>>,
    out: &mut Writer,
    on_bytes: &(dyn Fn(u64) -> bool + Send + Sync),
    path: &RelPath,
) -> Result<()> {
    receive_some(&mut stream, ranges, digests, out, on_bytes, path).await?;
    if stream.next().await.is_some() {
        return Err(integrity(path, "the source sent more data than asked for"));
    }
    Ok(())
}

async fn receive_some(
    stream: &mut PieceStream,
    ranges: &[ByteRange],
    digests: Option<&HashMap<u64, Digest>>,
    out: &mut Writer,
    on_bytes: &(dyn Fn(u64) -> bool + Send + Sync),
    path: &RelPath,
) -> Result<()> {
    let delay = failpoint::value(failpoint::TRANSFER_DELAY_MS);
    for range in ranges {
        let (offset, data) = stream
            .next()
            .await
            .ok_or_else(|| integrity(path, "the source's data ended early"))??;
        if offset != range.offset || data.len() as u64 != range.length {
            return Err(integrity(
                path,
                &format!(
                    "asked for {} bytes at offset {}, got {} bytes at offset {offset}",
                    range.length,
                    range.offset,
                    data.len()
                ),
            ));
        }
        if let Some(expected) = digests.and_then(|d| d.get(&offset))
            && Digest::of(&data) != *expected
        {
            return Err(integrity(
                path,
                &format!("the chunk at offset {offset} does not match its digest"),
            ));
        }
        out.received += data.len() as u64;
        out.write(&data)?;
        if !on_bytes(data.len() as u64) {
            return Err(EngineError::Cancelled("the transfer was stopped".into()));
        }
        if let Some(ms) = delay {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
    }
    Ok(())
}

fn copy_local(
    layout: &Layout,
    category: Category,
    path: &RelPath,
    out: &mut Writer,
    on_bytes: &(dyn Fn(u64) -> bool + Send + Sync),
) -> Result<()> {
    let full = layout.root(category).join(path);
    let dir = layout.open_category(category)?.ok_or_else(|| EngineError::Io {
        op: "open",
        path: full.clone(),
        source: std::io::ErrorKind::NotFound.into(),
    })?;
    let file = dir.open(path).map_err(EngineError::io("open local copy", &full))?;
    if out.expected_size > WHOLE_FILE_LIMIT {
        out.copy_range(&file, &full, 0, out.expected_size)?;
        return if on_bytes(out.expected_size) {
            Ok(())
        } else {
            Err(EngineError::Cancelled("the transfer was stopped".into()))
        };
    }
    copy_from(file, &full, out, on_bytes)
}

/// Copies an opened local file into a staged one (the writer verifies it).
fn copy_from(
    mut file: cap_std::fs::File,
    full: &std::path::Path,
    out: &mut Writer,
    on_bytes: &(dyn Fn(u64) -> bool + Send + Sync),
) -> Result<()> {
    let mut buffer = vec![0u8; MAX_RANGE as usize];
    loop {
        let n = file.read(&mut buffer).map_err(EngineError::io("read local copy", full))?;
        if n == 0 {
            return Ok(());
        }
        out.write(&buffer[..n])?;
        if !on_bytes(n as u64) {
            return Err(EngineError::Cancelled("the transfer was stopped".into()));
        }
    }
}

/// The whole content of a small file from `source`, checked against its digest.
pub async fn read_whole<S: ChunkSource>(
    source: &S,
    category: Category,
    entry: &Entry,
) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(usize::try_from(entry.size.min(MAX_RANGE)).unwrap_or(0));
    if entry.size > 0 {
        let ranges = split(0, entry.size);
        let stream = source.fetch(category, &entry.path, ranges.clone()).await?;
        let mut pieces = stream;
        for range in &ranges {
            let (offset, data) = pieces
                .next()
                .await
                .ok_or_else(|| integrity(&entry.path, "the source's data ended early"))??;
            if offset != range.offset || data.len() as u64 != range.length {
                return Err(integrity(&entry.path, "the source sent other bytes than asked for"));
            }
            out.extend_from_slice(&data);
        }
    }
    if Digest::of(&out) != entry.digest {
        return Err(integrity(
            &entry.path,
            "its content does not match the planned digest (did the source change? run again)",
        ));
    }
    Ok(out)
}

fn split(start: u64, size: u64) -> Vec<ByteRange> {
    (start..size)
        .step_by(MAX_RANGE as usize)
        .map(|offset| ByteRange { offset, length: MAX_RANGE.min(size - offset) })
        .collect()
}

fn integrity(path: &RelPath, detail: &str) -> EngineError {
    EngineError::Integrity { path: path.to_string(), detail: detail.to_string() }
}

/// Writes a staged file, hashing as it goes, refusing to exceed the declared size.
struct Writer {
    file: std::fs::File,
    path: std::path::PathBuf,
    hasher: blake3::Hasher,
    written: u64,
    received: u64,
    expected_size: u64,
    expected_digest: Digest,
    mode: u32,
    mtime_ns: i64,
    attrs: Option<std::sync::Arc<crate::attrs::Attrs>>,
    mask: crate::attrs::Mask,
    /// The last bytes written were left a hole: the length is set at the end.
    ends_in_hole: bool,
    entry_path: RelPath,
    /// Some bytes were put in place by the kernel and never passed the hasher: the staged
    /// file is read back to verify it.
    copied_in_kernel: bool,
}

/// Bytes read at a time when a staged file is read back to verify it.
const READ_BACK: usize = 1 << 20;

impl Writer {
    fn new(
        file: std::fs::File,
        path: &std::path::Path,
        entry: &Entry,
        mask: crate::attrs::Mask,
    ) -> Writer {
        Writer {
            file,
            path: path.to_path_buf(),
            hasher: blake3::Hasher::new(),
            written: 0,
            received: 0,
            expected_size: entry.size,
            expected_digest: entry.digest,
            mode: entry.mode,
            mtime_ns: entry.mtime_ns,
            attrs: entry.attrs.clone(),
            mask,
            ends_in_hole: false,
            entry_path: entry.path.clone(),
            copied_in_kernel: false,
        }
    }

    /// Appends `length` bytes of `from` at `offset`, copied by the kernel where it can
    /// (`copy_file_range`: no trip through user space, a reflink on file systems that
    /// share extents), else read and written.
    fn copy_range(
        &mut self,
        from: &cap_std::fs::File,
        from_path: &std::path::Path,
        offset: u64,
        length: u64,
    ) -> Result<()> {
        if self.written.saturating_add(length) > self.expected_size {
            return Err(integrity(
                &self.entry_path,
                "more data arrived than the file's declared size",
            ));
        }
        let mut at = offset;
        let end = offset.saturating_add(length);
        while at < end {
            let want = usize::try_from(end - at).unwrap_or(usize::MAX).min(1 << 30);
            match rustix::fs::copy_file_range(from, Some(&mut at), &self.file, None, want) {
                Ok(0) => {
                    return Err(integrity(
                        &self.entry_path,
                        &format!("{} ended before offset {end}", from_path.display()),
                    ));
                }
                Ok(n) => {
                    self.written += n as u64;
                    self.copied_in_kernel = true;
                    self.ends_in_hole = false;
                }
                Err(rustix::io::Errno::INTR) => {}
                // Not offered here (another file system, an old kernel): user space it is.
                Err(_) => return self.copy_range_by_reading(from, from_path, at, end),
            }
        }
        Ok(())
    }

    fn copy_range_by_reading(
        &mut self,
        from: &cap_std::fs::File,
        from_path: &std::path::Path,
        mut at: u64,
        end: u64,
    ) -> Result<()> {
        let mut buffer = vec![0u8; READ_BACK];
        while at < end {
            let n = usize::try_from(end - at).unwrap_or(READ_BACK).min(READ_BACK);
            cap_std::fs::FileExt::read_exact_at(from, &mut buffer[..n], at)
                .map_err(EngineError::io("read", from_path))?;
            self.write(&buffer[..n])?;
            at += n as u64;
        }
        Ok(())
    }

    /// The digest of what the staged file holds, read back from its start.
    fn read_back(&self) -> Result<Digest> {
        let mut hasher = blake3::Hasher::new();
        let mut buffer = vec![0u8; READ_BACK];
        let mut at = 0u64;
        loop {
            let n = self
                .file
                .read_at(&mut buffer, at)
                .map_err(EngineError::io("read back staged file", &self.path))?;
            if n == 0 {
                return Ok(hasher.finalize().into());
            }
            hasher.update_rayon(&buffer[..n]);
            at += n as u64;
        }
    }

    fn write(&mut self, data: &[u8]) -> Result<()> {
        self.written += data.len() as u64;
        if self.written > self.expected_size {
            return Err(integrity(
                &self.entry_path,
                "more data arrived than the file's declared size",
            ));
        }
        self.hasher.update(data);
        let at = self.written - data.len() as u64;
        self.ends_in_hole = write_sparse(&mut self.file, at, data)
            .map_err(EngineError::io("write staged file", &self.path))?;
        Ok(())
    }

    /// Verifies size and digest, then sets mode and mtime. Durability comes from one
    /// flush of the whole staging filesystem before the journal is written
    /// ([`crate::apply`]), far cheaper than one fsync per small file.
    fn finish(self) -> Result<Staged> {
        if self.written != self.expected_size {
            return Err(integrity(
                &self.entry_path,
                &format!("got {} bytes, expected {}", self.written, self.expected_size),
            ));
        }
        let digest: Digest =
            if self.copied_in_kernel { self.read_back()? } else { self.hasher.finalize().into() };
        if digest != self.expected_digest {
            return Err(integrity(
                &self.entry_path,
                "its content does not match the planned digest (did the source change? run again)",
            ));
        }
        // A file ending in a hole has its length only once it is set.
        if self.ends_in_hole {
            self.file
                .set_len(self.written)
                .map_err(EngineError::io("write staged file", &self.path))?;
        }
        // Owner first: changing it clears setuid bits, and the mode comes after.
        if let Some(attrs) = &self.attrs {
            crate::attrs::set_on_new_file(&self.file, attrs, self.mask)
                .map_err(EngineError::io("set owner and attributes of", &self.path))?;
        }
        use std::os::unix::fs::PermissionsExt;
        self.file
            .set_permissions(std::fs::Permissions::from_mode(self.mode))
            .map_err(EngineError::io("set mode of", &self.path))?;
        crate::attrs::set_file_mtime(&self.file, self.mtime_ns)
            .map_err(EngineError::io("set mtime of", &self.path))?;
        Ok(Staged { bytes_received: self.received, bytes_written: self.written, chunks: None })
    }
}

/// The block a run of zeros must fill to be left a hole (a file system's block).
const HOLE_BLOCK: u64 = 4096;

/// Writes `data` at offset `at` of `file` (its current position), leaving every whole
/// block of zeros a hole: a sparse image stays sparse, as `rsync --sparse` leaves it, and
/// its digest is that of its logical content. Says whether `data` ended in a hole.
fn write_sparse(file: &mut std::fs::File, at: u64, data: &[u8]) -> std::io::Result<bool> {
    use std::io::{Seek, SeekFrom};
    let mut pending = 0usize;
    let mut i = 0usize;
    while i < data.len() {
        let to_boundary = HOLE_BLOCK - (at + i as u64) % HOLE_BLOCK;
        let len = usize::try_from(to_boundary).unwrap_or(usize::MAX).min(data.len() - i);
        if len as u64 == HOLE_BLOCK && is_zero(&data[i..i + len]) {
            file.write_all(&data[pending..i])?;
            file.seek(SeekFrom::Current(HOLE_BLOCK as i64))?;
            pending = i + len;
        }
        i += len;
    }
    file.write_all(&data[pending..])?;
    Ok(pending == data.len() && !data.is_empty())
}

fn is_zero(block: &[u8]) -> bool {
    let mut words = block.chunks_exact(16);
    words.all(|w| w.iter().fold(0u8, |acc, b| acc | b) == 0)
        && words.remainder().iter().all(|b| *b == 0)
}

mod batch;
pub use batch::stage_files;

#[cfg(test)]
mod tests;
