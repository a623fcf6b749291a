//! Staging many small files from one stream: one request for up to a batch of files
//! instead of one per file, which is what a first sync of a configuration tree (thousands
//! of small files) spends its time on. Each file is verified exactly as a single one.

use std::time::Duration;

use futures::StreamExt;

use super::{ChunkSource, StageContext, Staged, Writer, create_staged, integrity};
use crate::category::Category;
use crate::entry::Entry;
use crate::error::{EngineError, Result};
use crate::failpoint;

/// Stages `items` (staged name, the source's entry), all regular files of `category`.
pub async fn stage_files<S: ChunkSource>(
    ctx: &StageContext<'_, S>,
    category: Category,
    items: &[(String, &Entry)],
) -> Result<Vec<Staged>> {
    let request = items.iter().map(|(_, e)| (e.path.clone(), e.size)).collect();
    let mut stream = ctx.source.fetch_files(category, request).await?;
    let delay = failpoint::value(failpoint::TRANSFER_DELAY_MS);
    let mut staged = Vec::with_capacity(items.len());
    for (index, (name, entry)) in (0u32..).zip(items) {
        let (file, path) = create_staged(ctx, name)?;
        let mut out = Writer::new(file, &path, entry, ctx.mask);
        loop {
            let (at, offset, data) = stream
                .next()
                .await
                .ok_or_else(|| integrity(&entry.path, "the source's data ended early"))??;
            if at != index || offset != out.written {
                return Err(integrity(
                    &entry.path,
                    &format!(
                        "expected bytes at offset {} of file {index} of the batch, got offset {offset} of file {at}",
                        out.written
                    ),
                ));
            }
            let n = data.len() as u64;
            out.received += n;
            out.write(&data)?;
            if !(ctx.on_bytes)(n) {
                return Err(EngineError::Cancelled("the transfer was stopped".into()));
            }
            if let Some(ms) = delay {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            // An empty file is exactly one empty piece; others end at their size.
            if out.written == entry.size {
                break;
            }
        }
        staged.push(out.finish()?);
    }
    if stream.next().await.is_some() {
        let last = items.last().map(|(_, e)| &e.path);
        return Err(EngineError::Source(format!(
            "the source sent more data than asked for (after {})",
            last.map_or_else(String::new, ToString::to_string)
        )));
    }
    Ok(staged)
}
