//! File data as it travels or as a bundle keeps it: compressed per piece, where it pays.
//!
//! Firmware images and modules rarely compress, configuration and text databases do.
//! The data streams (`GetChunks`, `GetFiles`) therefore run without the transport's
//! compression; each piece is tried on a sample first and sent compressed only when the
//! whole piece shrinks by at least an eighth. The level is zstd's fastest: on a LAN the
//! CPU time of a stronger level costs more than the bytes it saves.
//!
//! Each thread keeps one compressor and one decompressor and reuses them: making a zstd
//! context per piece cost a sixth of an agent's CPU during a full sync (the profile's
//! `ZSTD_createCCtx` and `ZSTD_createDCtx`).

use std::cell::RefCell;

thread_local! {
    static COMPRESSOR: RefCell<Option<zstd::bulk::Compressor<'static>>> = const { RefCell::new(None) };
    static DECOMPRESSOR: RefCell<Option<zstd::bulk::Decompressor<'static>>> = const { RefCell::new(None) };
}

/// `data` compressed with this thread's compressor (made at its first use).
fn compress(data: &[u8]) -> std::io::Result<Vec<u8>> {
    COMPRESSOR.with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot.is_none() {
            *slot = Some(zstd::bulk::Compressor::new(LEVEL)?);
        }
        match slot.as_mut() {
            Some(compressor) => compressor.compress(data),
            None => zstd::bulk::compress(data, LEVEL),
        }
    })
}

/// `data` decompressed with this thread's decompressor, to at most `limit` bytes.
fn decompress(data: &[u8], limit: usize) -> std::io::Result<Vec<u8>> {
    DECOMPRESSOR.with(|slot| {
        let mut slot = slot.borrow_mut();
        if slot.is_none() {
            *slot = Some(zstd::bulk::Decompressor::new()?);
        }
        match slot.as_mut() {
            Some(decompressor) => decompressor.decompress(data, limit),
            None => zstd::bulk::decompress(data, limit),
        }
    })
}

/// Pieces smaller than this travel as they are: nothing worth saving.
const MIN_BYTES: usize = 512;
/// The part of a piece tried first; incompressible data is recognised from it.
const SAMPLE_BYTES: usize = 64 * 1024;
const LEVEL: i32 = 1;

/// `data` as it travels, and whether it is compressed.
pub fn pack(data: Vec<u8>) -> (Vec<u8>, bool) {
    if data.len() < MIN_BYTES {
        return (data, false);
    }
    let pays = |original: usize, packed: usize| packed <= original - original / 8;
    if data.len() > SAMPLE_BYTES {
        let sample = &data[..SAMPLE_BYTES];
        match compress(sample) {
            Ok(packed) if pays(sample.len(), packed.len()) => {}
            _ => return (data, false),
        }
    }
    match compress(&data) {
        Ok(packed) if pays(data.len(), packed.len()) => (packed, true),
        _ => (data, false),
    }
}

/// The bytes of a piece as sent; a compressed one must not expand past `limit`.
pub fn unpack(data: Vec<u8>, compressed: bool, limit: usize) -> Result<Vec<u8>, String> {
    if !compressed {
        return Ok(data);
    }
    decompress(&data, limit)
        .map_err(|e| format!("a compressed piece does not decompress within {limit} bytes: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_compressed_and_noise_is_not() {
        let text = "record 0000001 model=tm-a fw=1.2.3\n".repeat(4000).into_bytes();
        let (packed, compressed) = pack(text.clone());
        assert!(compressed && packed.len() < text.len() / 4);
        assert_eq!(unpack(packed, true, text.len()).expect("unpack"), text);

        let noise = crate::noise::noise(256 * 1024, 7);
        let (sent, compressed) = pack(noise.clone());
        assert!(!compressed);
        assert_eq!(sent, noise);
    }

    #[test]
    fn a_piece_that_expands_past_its_limit_is_refused() {
        let (packed, compressed) = pack(vec![0u8; 1 << 20]);
        assert!(compressed);
        assert!(unpack(packed, true, 1 << 10).is_err());
    }
}
