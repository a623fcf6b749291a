//! The read-only side of an agent: what a destination (or the CLI) may read.
//! `licenses` cannot be named (it is no [`Category`]), the state folder is outside every
//! category, and files are opened through the category's directory handle, so nothing
//! outside a category can be read even through symlinks.

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use cap_std::fs::Dir;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;

use crate::agent::service::to_status;
use crate::agent::state::AgentState;
use crate::engine::category::Category;
use crate::engine::chunk;
use crate::engine::error::{EngineError, Result};
use crate::engine::journal;
use crate::engine::path::RelPath;
use crate::engine::transfer::MAX_RANGE;
use crate::proto::{self, ConvertError, v1};

/// Entries per manifest message: well under the message limit even with long paths.
const ENTRIES_PER_BATCH: usize = 1000;
/// Ranges one GetChunks may ask for (a 1 TiB file in 64 KiB chunks needs 16 Mi; ask in parts).
const MAX_RANGES_PER_REQUEST: usize = 1 << 16;

pub async fn hello(state: &Arc<AgentState>) -> Result<v1::HelloReply> {
    let manifest = state.scan(Category::ALL.to_vec()).await?;
    let generations = journal::generations(state.layout())?;
    let last = generations.first().map(|g| &g.record);
    Ok(v1::HelloReply {
        name: state.settings.name.clone(),
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
        protocol_version: proto::PROTOCOL_VERSION,
        hostname: hostname(),
        protected: state.settings.protected,
        categories: manifest
            .categories
            .values()
            .map(|m| v1::CategorySummary {
                category: proto::category_to_proto(m.category) as i32,
                files: m.file_count(),
                bytes: m.byte_count(),
                digest: m.digest.0.to_vec(),
            })
            .collect(),
        tree_digest: manifest.digest().0.to_vec(),
        last_generation: last.map_or(0, |r| r.id),
        last_generation_time: last.map_or(0, |r| r.started_at),
        last_generation_source: last.map(|r| r.source.clone()).unwrap_or_default(),
        instance_id: state.instance_id.clone(),
        inventory: Some(crate::agent::inventory::collect(&state.settings.identity)),
        hold: Some(crate::agent::hold::to_proto(crate::agent::hold::current(state.layout()))),
    })
}

pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

pub async fn manifest(
    state: &Arc<AgentState>,
    categories: Vec<Category>,
) -> Result<ReceiverStream<Result<v1::ManifestBatch, Status>>> {
    let manifest = state.scan(categories).await?;
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        for m in manifest.categories.values() {
            let category = proto::category_to_proto(m.category) as i32;
            let batches: Vec<&[crate::engine::Entry]> = if m.entries.is_empty() {
                vec![&[]]
            } else {
                m.entries.chunks(ENTRIES_PER_BATCH).collect()
            };
            let count = batches.len();
            for (i, batch) in batches.into_iter().enumerate() {
                let last = i + 1 == count;
                let message = v1::ManifestBatch {
                    category,
                    entries: batch.iter().map(proto::entry_to_proto).collect(),
                    category_digest: if last { m.digest.0.to_vec() } else { Vec::new() },
                    last,
                };
                if tx.send(Ok(message)).await.is_err() {
                    return;
                }
            }
        }
    });
    Ok(ReceiverStream::new(rx))
}

/// Validates a file reference from a peer.
pub fn file_ref(file: &v1::FileRef) -> std::result::Result<(Category, RelPath), ConvertError> {
    let category = proto::category_from_proto(file.category)?;
    let path = RelPath::new(&file.path)?;
    Ok((category, path))
}

/// Opens a regular file of a category through its directory handle.
fn open_file(
    state: &AgentState,
    category: Category,
    path: &RelPath,
) -> Result<(cap_std::fs::File, u64)> {
    let full = state.layout().root(category).join(path);
    let dir: Dir = state.layout().open_category(category)?.ok_or_else(|| EngineError::Io {
        op: "open",
        path: full.clone(),
        source: std::io::ErrorKind::NotFound.into(),
    })?;
    let meta = dir.symlink_metadata(path).map_err(EngineError::io("inspect", &full))?;
    if !meta.is_file() {
        return Err(EngineError::Io {
            op: "serve",
            path: full,
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file"),
        });
    }
    let file = dir.open(path).map_err(EngineError::io("open", &full))?.into_std();
    // Judge what was opened, not what the path named a moment before.
    let opened = file.metadata().map_err(EngineError::io("inspect", &full))?;
    let refusal = if !opened.is_file() {
        Some("not a regular file")
    } else if crate::engine::confine::is_linked_to_licenses(state.layout().licenses(), &opened) {
        Some("it is a hard link to a license file, and licenses never leave their machine")
    } else {
        None
    };
    if let Some(reason) = refusal {
        return Err(EngineError::Io {
            op: "serve",
            path: full,
            source: std::io::Error::new(std::io::ErrorKind::PermissionDenied, reason),
        });
    }
    Ok((cap_std::fs::File::from_std(file), opened.len()))
}

pub async fn chunk_list(
    state: &Arc<AgentState>,
    category: Category,
    path: RelPath,
) -> Result<v1::ChunkList> {
    let state = Arc::clone(state);
    tokio::task::spawn_blocking(move || {
        let (file, _) = open_file(&state, category, &path)?;
        let list = chunk::chunk_reader(file)
            .map_err(EngineError::io("chunk", state.layout().root(category).join(&path)))?;
        Ok(proto::chunk_list_to_proto(&list))
    })
    .await
    .map_err(|e| EngineError::Source(format!("chunking task failed: {e}")))?
}

pub async fn chunks(
    state: &Arc<AgentState>,
    category: Category,
    path: RelPath,
    ranges: Vec<v1::ByteRange>,
) -> Result<ReceiverStream<Result<v1::ChunkData, Status>>> {
    if ranges.len() > MAX_RANGES_PER_REQUEST {
        return Err(EngineError::Refused(vec![format!(
            "{} ranges asked in one request, at most {MAX_RANGES_PER_REQUEST} are served",
            ranges.len()
        )]));
    }
    let (mut file, size) = open_file(state, category, &path)?;
    for r in &ranges {
        if r.length == 0
            || r.length > MAX_RANGE
            || r.offset.checked_add(r.length).is_none_or(|end| end > size)
        {
            return Err(EngineError::Refused(vec![format!(
                "range of {} bytes at {} is outside {category}/{path} ({size} bytes) or over {MAX_RANGE} bytes",
                r.length, r.offset
            )]));
        }
    }
    let full = state.layout().root(category).join(&path);
    let (tx, rx) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        for r in ranges {
            // Lengths were checked against MAX_RANGE above, so this buffer is bounded.
            let mut data = vec![0u8; r.length as usize];
            let read = file
                .seek(SeekFrom::Start(r.offset))
                .and_then(|_| file.read_exact(&mut data))
                .map_err(EngineError::io("read", &full));
            let message =
                read.map(|()| v1::ChunkData { offset: r.offset, data }).map_err(to_status);
            let failed = message.is_err();
            if tx.blocking_send(message).is_err() || failed {
                return;
            }
        }
    });
    Ok(ReceiverStream::new(rx))
}

/// Files one GetFiles may ask for; the destination asks for small files only, in batches.
pub const MAX_FILES_PER_REQUEST: usize = 1024;

/// Streams several whole files in the order asked: each in pieces of at most
/// [`MAX_RANGE`] bytes, an empty file as one empty piece. Every path is validated and
/// opened through the category's handle, as for [`chunks`].
pub async fn files(
    state: &Arc<AgentState>,
    category: Category,
    paths: Vec<String>,
) -> Result<ReceiverStream<Result<v1::FileData, Status>>> {
    if paths.len() > MAX_FILES_PER_REQUEST {
        return Err(EngineError::Refused(vec![format!(
            "{} files asked in one request, at most {MAX_FILES_PER_REQUEST} are served",
            paths.len()
        )]));
    }
    let paths = paths.iter().map(|p| RelPath::new(p)).collect::<Result<Vec<_>, _>>()?;
    let state = Arc::clone(state);
    let (tx, rx) = mpsc::channel(8);
    tokio::task::spawn_blocking(move || {
        for (index, path) in (0u32..).zip(&paths) {
            let sent = open_file(&state, category, path).and_then(|(file, _)| {
                let full = state.layout().root(category).join(path);
                send_whole(file, index, &full, &tx)
            });
            match sent {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    let _ = tx.blocking_send(Err(to_status(e)));
                    return;
                }
            }
        }
    });
    Ok(ReceiverStream::new(rx))
}

/// Sends one file in pieces; false when the receiver went away.
fn send_whole(
    file: cap_std::fs::File,
    index: u32,
    full: &std::path::Path,
    tx: &mpsc::Sender<Result<v1::FileData, Status>>,
) -> Result<bool> {
    let mut file = file.into_std();
    let mut offset = 0u64;
    loop {
        let mut data = Vec::new();
        let n = (&mut file)
            .take(MAX_RANGE)
            .read_to_end(&mut data)
            .map_err(EngineError::io("read", full))? as u64;
        if n == 0 && offset > 0 {
            return Ok(true);
        }
        if tx.blocking_send(Ok(v1::FileData { index, offset, data })).is_err() {
            return Ok(false);
        }
        offset += n;
        if n < MAX_RANGE {
            return Ok(true);
        }
    }
}
