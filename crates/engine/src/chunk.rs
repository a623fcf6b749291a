//! Content-defined chunking (FastCDC): a file is a list of chunks whose boundaries depend
//! on the content, so a change in the middle of a large image moves only the chunks it
//! touches. Chunking streams: memory stays at one maximal chunk whatever the file size.

use std::io::Read;

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

/// Chunks everything `reader` yields, hashing each chunk and the whole.
pub fn chunk_reader<R: Read>(reader: R) -> std::io::Result<ChunkList> {
    let mut whole = blake3::Hasher::new();
    let mut chunks = Vec::new();
    let mut size = 0u64;
    let cdc = fastcdc::v2020::StreamCDC::new(
        reader,
        MIN_CHUNK as usize,
        AVG_CHUNK as usize,
        MAX_CHUNK as usize,
    );
    for chunk in cdc {
        let chunk = chunk.map_err(|e| match e {
            fastcdc::v2020::Error::IoError(io) => io,
            other => std::io::Error::other(other.to_string()),
        })?;
        whole.update(&chunk.data);
        size += chunk.length as u64;
        chunks.push(ChunkInfo {
            offset: chunk.offset,
            // A chunk is at most MAX_CHUNK long, which fits in u32.
            length: u32::try_from(chunk.length).unwrap_or(MAX_CHUNK),
            digest: Digest::of(&chunk.data),
        });
    }
    Ok(ChunkList { size, digest: whole.finalize().into(), chunks })
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
}
