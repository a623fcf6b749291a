//! Content-defined chunking (FastCDC): a file is a list of chunks whose boundaries depend
//! on the content, so a change in the middle of a large image moves only the chunks it
//! touches.
//!
//! [`Chunker`] is fed the bytes as they pass (a scan's read, a staged file's writes) and
//! hashes the whole and every chunk in that one pass: no large file is read a second time
//! to learn its chunks. Memory stays at about two maximal chunks whatever the file size.

use std::io::Read;
use std::sync::OnceLock;

use rayon::prelude::*;

use crate::entry::Digest;

pub const MIN_CHUNK: u32 = 16 * 1024;
pub const AVG_CHUNK: u32 = 64 * 1024;
pub const MAX_CHUNK: u32 = 256 * 1024;

/// Files up to this size are fetched whole: chunking them would cost a round trip more
/// than it could save.
pub const WHOLE_FILE_LIMIT: u64 = MAX_CHUNK as u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkInfo {
    pub offset: u64,
    pub length: u32,
    pub digest: Digest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkList {
    pub size: u64,
    pub digest: Digest,
    pub chunks: Vec<ChunkInfo>,
}

/// Below this many bytes in one piece the threads cost more than they save.
const PARALLEL_BYTES: usize = 1 << 20;

/// The chunker's masks (FastCDC 2020, normalisation level 1, as `StreamCDC` uses).
fn masks() -> (u64, u64) {
    static MASKS: OnceLock<(u64, u64)> = OnceLock::new();
    *MASKS.get_or_init(|| {
        fastcdc::v2020::select_masks(AVG_CHUNK as usize, fastcdc::v2020::Normalization::Level1)
    })
}

/// Where the chunk that starts at `data[0]` ends: `Some(length)` when that cut is final,
/// `None` when it could still move with more data (`data` is shorter than a maximal
/// chunk and holds no cut point) unless this is the end of the file.
fn next_cut(data: &[u8], at_end: bool) -> Option<usize> {
    let (mask_s, mask_l) = masks();
    let (_, length) = fastcdc::v2020::cut(
        data,
        MIN_CHUNK as usize,
        AVG_CHUNK as usize,
        MAX_CHUNK as usize,
        mask_s,
        mask_l,
        mask_s << 1,
        mask_l << 1,
    );
    // A cut before the end of `data` depends only on the bytes before it; a cut at the
    // end is final once a whole maximal chunk was in view, or at the end of the file.
    (length > 0 && (length < data.len() || data.len() >= MAX_CHUNK as usize || at_end))
        .then_some(length)
}

/// Hashes a file's content and its chunks in one pass, as the bytes go by.
pub struct Chunker {
    whole: blake3::Hasher,
    /// Bytes of the current, not yet cut, chunk (and what follows it).
    pending: Vec<u8>,
    /// Offset in the file of `pending[0]`.
    pending_offset: u64,
    chunks: Vec<ChunkInfo>,
}

impl Default for Chunker {
    fn default() -> Self {
        Chunker::new()
    }
}

impl Chunker {
    pub fn new() -> Chunker {
        Chunker {
            whole: blake3::Hasher::new(),
            pending: Vec::new(),
            pending_offset: 0,
            chunks: Vec::new(),
        }
    }

    /// Takes the next bytes of the file.
    pub fn update(&mut self, data: &[u8]) {
        if data.len() >= PARALLEL_BYTES {
            self.whole.update_rayon(data);
        } else {
            self.whole.update(data);
        }
        if self.pending.is_empty() {
            // The common case with large reads: cut in place, keep only the tail.
            let used = self.cut_from(data, false);
            self.pending.extend_from_slice(&data[used..]);
        } else {
            let mut pending = std::mem::take(&mut self.pending);
            pending.extend_from_slice(data);
            if pending.len() < MAX_CHUNK as usize {
                // No cut can be final yet; looking again on every small write would make
                // small writes quadratic.
                self.pending = pending;
                return;
            }
            let used = self.cut_from(&pending, false);
            pending.drain(..used);
            self.pending = pending;
        }
    }

    /// The whole file's size, digest and chunks.
    pub fn finish(mut self) -> ChunkList {
        let pending = std::mem::take(&mut self.pending);
        let used = self.cut_from(&pending, true);
        debug_assert_eq!(used, pending.len());
        ChunkList {
            size: self.pending_offset,
            digest: self.whole.finalize().into(),
            chunks: self.chunks,
        }
    }

    /// Cuts every final chunk at the start of `data` (which begins at `pending_offset`),
    /// hashes them, and says how many bytes they used.
    fn cut_from(&mut self, data: &[u8], at_end: bool) -> usize {
        let mut cuts = Vec::new();
        let mut used = 0;
        while used < data.len() {
            let Some(length) = next_cut(&data[used..], at_end) else { break };
            cuts.push((used, length));
            used += length;
        }
        let hash = |&(start, length): &(usize, usize)| Digest::of(&data[start..start + length]);
        let digests: Vec<Digest> = if used >= PARALLEL_BYTES {
            cuts.par_iter().map(hash).collect()
        } else {
            cuts.iter().map(hash).collect()
        };
        for ((start, length), digest) in cuts.into_iter().zip(digests) {
            self.chunks.push(ChunkInfo {
                offset: self.pending_offset + start as u64,
                // A chunk is at most MAX_CHUNK long, which fits in u32.
                length: u32::try_from(length).unwrap_or(MAX_CHUNK),
                digest,
            });
        }
        self.pending_offset += used as u64;
        used
    }
}

/// Bytes read at a time: a large read lets BLAKE3 and the chunk hashes use every core.
const CHUNK_READ: usize = 8 << 20;

/// Chunks everything `reader` yields, hashing each chunk and the whole.
pub fn chunk_reader<R: Read>(mut reader: R) -> std::io::Result<ChunkList> {
    let mut chunker = Chunker::new();
    let mut buffer = vec![0u8; CHUNK_READ];
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => return Ok(chunker.finish()),
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        chunker.update(&buffer[..n]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::noise::noise;

    #[test]
    fn a_change_in_the_middle_changes_few_chunks() {
        let mut data = noise(4 << 20, 42);
        let before = chunk_reader(&data[..]).expect("chunk");
        assert_eq!(before.size, data.len() as u64);
        assert_eq!(before.digest, Digest::of(&data));
        for b in &mut data[2 << 20..(2 << 20) + 1000] {
            *b = !*b;
        }
        let after = chunk_reader(&data[..]).expect("chunk");
        let known: std::collections::HashSet<Digest> =
            before.chunks.iter().map(|c| c.digest).collect();
        let new_bytes: u64 = after
            .chunks
            .iter()
            .filter(|c| !known.contains(&c.digest))
            .map(|c| u64::from(c.length))
            .sum();
        assert!(new_bytes <= 3 * u64::from(MAX_CHUNK), "{new_bytes} new bytes");
        assert!(after.chunks.iter().all(|c| c.length <= MAX_CHUNK));
    }

    #[test]
    fn cuts_do_not_depend_on_how_the_bytes_arrive() {
        let data = noise(3 << 20, 7);
        let reference: Vec<(u64, u32, Digest)> =
            fastcdc::v2020::StreamCDC::new(&data[..], 16 << 10, 64 << 10, 256 << 10)
                .map(|c| c.expect("chunk"))
                .map(|c| (c.offset, c.length as u32, Digest::of(&c.data)))
                .collect();
        for piece in [7usize, 1000, 65_536, 300_000, 1 << 20, 8 << 20] {
            let mut chunker = Chunker::new();
            for part in data.chunks(piece) {
                chunker.update(part);
            }
            let list = chunker.finish();
            let got: Vec<(u64, u32, Digest)> =
                list.chunks.iter().map(|c| (c.offset, c.length, c.digest)).collect();
            assert_eq!(got, reference, "pieces of {piece} bytes");
            assert_eq!((list.size, list.digest), (data.len() as u64, Digest::of(&data)));
        }
        let empty = chunk_reader(&[][..]).expect("chunk");
        assert_eq!((empty.size, empty.chunks.len()), (0, 0));
    }
}
