//! A verified bundle as the source of an apply: chunk lists and byte ranges come from the
//! bundle file, each chunk checked against its digest as it is read. What a delta bundle
//! left out (the destination holds it) is never asked for; asked for anyway, it is an
//! integrity error, and the apply changes nothing.

use std::sync::Arc;

use futures::StreamExt;

use super::Bundle;
use crate::category::Category;
use crate::chunk::ChunkList;
use crate::error::{EngineError, Result};
use crate::path::RelPath;
use crate::transfer::{ByteRange, ChunkSource, PieceStream};

#[derive(Debug, Clone)]
pub struct BundleSource {
    bundle: Arc<Bundle>,
}

impl BundleSource {
    pub fn new(bundle: Arc<Bundle>) -> BundleSource {
        BundleSource { bundle }
    }

    pub fn bundle(&self) -> &Bundle {
        &self.bundle
    }

    fn list(&self, category: Category, path: &RelPath) -> Result<ChunkList> {
        self.bundle.chunk_list(category, path).ok_or_else(|| EngineError::Integrity {
            path: format!("{category}/{path}"),
            detail: format!("{} holds no content for it", self.bundle.describe()),
        })
    }
}

impl ChunkSource for BundleSource {
    async fn chunk_list(&self, category: Category, path: &RelPath) -> Result<ChunkList> {
        self.list(category, path)
    }

    async fn fetch(
        &self,
        category: Category,
        path: &RelPath,
        ranges: Vec<ByteRange>,
    ) -> Result<PieceStream> {
        let list = self.list(category, path)?;
        let bundle = Arc::clone(&self.bundle);
        let pieces = futures::stream::iter(ranges).map(move |range| {
            let end = range.offset.saturating_add(range.length);
            if end > list.size {
                return Err(EngineError::Integrity {
                    path: bundle.describe(),
                    detail: format!("a range up to byte {end} of a {}-byte file", list.size),
                });
            }
            let mut out = Vec::with_capacity(range.length as usize);
            for chunk in &list.chunks {
                let (start, stop) = (chunk.offset, chunk.offset + u64::from(chunk.length));
                if stop <= range.offset || start >= end {
                    continue;
                }
                let data = bundle.read_chunk(&chunk.digest)?;
                // A list may not promise more (or fewer) bytes than the chunk holds.
                if data.len() != chunk.length as usize {
                    return Err(EngineError::Integrity {
                        path: bundle.describe(),
                        detail: format!(
                            "chunk {} holds {} bytes, its file's list says {}",
                            chunk.digest.short(),
                            data.len(),
                            chunk.length
                        ),
                    });
                }
                let from = range.offset.saturating_sub(start) as usize;
                let to = (end.min(stop) - start) as usize;
                out.extend_from_slice(&data[from..to]);
            }
            Ok((range.offset, out))
        });
        Ok(pieces.boxed())
    }
}
