//! The read-only side of an agent: what a destination (or the CLI) may read.
//! `licenses` cannot be named (it is no [`Category`]), the state folder is outside every
//! category, and files are opened through the category's directory handle, so nothing
//! outside a category can be read even through symlinks.

use std::io::{Read, Seek, SeekFrom};
use std::sync::Arc;

use cap_std::fs::Dir;
use confsync_engine::category::Category;
use confsync_engine::chunk::{self, ChunkList};
use confsync_engine::error::{EngineError, Result};
use confsync_engine::index::FileStamp;
use confsync_engine::journal;
use confsync_engine::path::RelPath;
use confsync_engine::refusal::RefusalKind;
use confsync_engine::server::{CategorySummary, LastGeneration, ServerInfo};
use confsync_engine::transfer::{ByteRange, FilesStream, MAX_RANGE, PieceStream};
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::agent::inventory;
use crate::agent::state::AgentState;

/// Ranges one GetChunks may ask for (a 1 TiB file in 64 KiB chunks needs 16 Mi; ask in parts).
const MAX_RANGES_PER_REQUEST: usize = 1 << 16;
/// Files one GetFiles may ask for; the destination asks for small files only, in batches.
pub const MAX_FILES_PER_REQUEST: usize = 1024;

pub async fn hello(state: &Arc<AgentState>) -> Result<ServerInfo> {
    let manifest = state.scan_shared(Category::ALL.to_vec()).await?;
    let generations = journal::generations(state.layout())?;
    let last = generations.first();
    Ok(ServerInfo {
        name: state.settings.name.clone(),
        agent_version: env!("CARGO_PKG_VERSION").to_string(),
        protocol_version: confsync_wire::PROTOCOL_VERSION,
        hostname: inventory::hostname(),
        protected: state.settings.protected,
        categories: manifest
            .iter()
            .map(|m| CategorySummary {
                category: m.category,
                files: m.file_count(),
                bytes: m.byte_count(),
                digest: m.digest,
                missing_folder: {
                    let folder = state.layout().root(m.category);
                    (!folder.is_dir()).then(|| folder.display().to_string())
                },
            })
            .collect(),
        tree_digest: confsync_engine::manifest::tree_digest(
            manifest.iter().map(|m| (m.category, m.digest)),
        ),
        last_generation: last.map(|r| LastGeneration {
            id: r.id,
            time: r.started_at,
            source: r.source.clone(),
        }),
        instance_id: state.instance_id.clone(),
        inventory: inventory::collect(&state.settings.identity),
        hold: confsync_engine::hold::current(state.layout()),
        device_specific: state.device_specific()?,
        pending_confirmation: confsync_engine::confirm::current(state.layout()),
        applying: state.applying.lock().unwrap_or_else(|p| p.into_inner()).clone(),
        // Read last, just before the reply leaves: a peer compares it with its own clock
        // when the reply arrives.
        clock_ms: confsync_engine::clock::now_ms().saturating_add(
            confsync_engine::failpoint::value(confsync_engine::failpoint::CLOCK_AHEAD_MS)
                .and_then(|ms| i64::try_from(ms).ok())
                .unwrap_or(0),
        ),
    })
}

/// Reads every file of `categories` again, ignoring the index, on a blocking thread.
pub async fn verify(
    state: &Arc<AgentState>,
    categories: Vec<Category>,
) -> Result<confsync_engine::live::Verification> {
    let worker = Arc::clone(state);
    let verification = tokio::task::spawn_blocking(move || worker.tree.verify(&categories))
        .await
        .map_err(|e| EngineError::State {
            path: state.layout().state_dir().to_path_buf(),
            detail: format!("verification task failed: {e}"),
        })??;
    for m in &verification.mismatches {
        tracing::warn!(
            category = %m.category,
            path = %m.path,
            "a file does not match the digest recorded for it; the record is dropped"
        );
    }
    Ok(verification)
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
    } else if confsync_engine::confine::is_linked_to_licenses(state.layout().licenses(), &opened) {
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
) -> Result<ChunkList> {
    let state = Arc::clone(state);
    tokio::task::spawn_blocking(move || {
        let (file, _) = open_file(&state, category, &path)?;
        let full = state.layout().root(category).join(&path);
        let file = file.into_std();
        let stamp = FileStamp::of(&file.metadata().map_err(EngineError::io("inspect", &full))?);
        // The scan that found the file changed learned its chunks in the same read.
        if let Some(known) = state.tree.chunks_of(category, &path, &stamp) {
            return Ok(ChunkList::clone(&known));
        }
        let list = chunk::chunk_reader(file).map_err(EngineError::io("chunk", &full))?;
        state.tree.learn_chunks(category, &path, stamp, Arc::new(list.clone()));
        Ok(list)
    })
    .await
    .map_err(|e| EngineError::Source(format!("chunking task failed: {e}")))?
}

pub fn chunks(
    state: &Arc<AgentState>,
    category: Category,
    path: RelPath,
    ranges: Vec<ByteRange>,
) -> Result<PieceStream> {
    if ranges.len() > MAX_RANGES_PER_REQUEST {
        return Err(EngineError::refused(
            RefusalKind::OverLimit,
            format!(
                "{} ranges asked in one request, at most {MAX_RANGES_PER_REQUEST} are served",
                ranges.len()
            ),
        ));
    }
    let (mut file, size) = open_file(state, category, &path)?;
    for r in &ranges {
        if r.length == 0
            || r.length > MAX_RANGE
            || r.offset.checked_add(r.length).is_none_or(|end| end > size)
        {
            return Err(EngineError::refused(
                RefusalKind::OverLimit,
                format!(
                    "range of {} bytes at {} is outside {category}/{path} ({size} bytes) or over {MAX_RANGE} bytes",
                    r.length, r.offset
                ),
            ));
        }
    }
    let full = state.layout().root(category).join(&path);
    let (tx, rx) = mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        for r in ranges {
            // Lengths were checked against MAX_RANGE above, so this buffer is bounded.
            let mut data = vec![0u8; usize::try_from(r.length).unwrap_or(0)];
            let read = file
                .seek(SeekFrom::Start(r.offset))
                .and_then(|_| file.read_exact(&mut data))
                .map_err(EngineError::io("read", &full));
            let message = read.map(|()| (r.offset, data));
            let failed = message.is_err();
            if tx.blocking_send(message).is_err() || failed {
                return;
            }
        }
    });
    Ok(ReceiverStream::new(rx).boxed())
}

/// Streams several whole files in the order asked: each in pieces of at most
/// [`MAX_RANGE`] bytes, an empty file as one empty piece. Every path is opened through
/// the category's handle, as for [`chunks`].
pub fn files(
    state: &Arc<AgentState>,
    category: Category,
    paths: Vec<RelPath>,
) -> Result<FilesStream> {
    if paths.len() > MAX_FILES_PER_REQUEST {
        return Err(EngineError::refused(
            RefusalKind::OverLimit,
            format!(
                "{} files asked in one request, at most {MAX_FILES_PER_REQUEST} are served",
                paths.len()
            ),
        ));
    }
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
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
            }
        }
    });
    Ok(ReceiverStream::new(rx).boxed())
}

type FilePieces = mpsc::Sender<Result<(u32, u64, Vec<u8>)>>;

/// Sends one file in pieces; false when the receiver went away.
fn send_whole(
    file: cap_std::fs::File,
    index: u32,
    full: &std::path::Path,
    tx: &FilePieces,
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
        if tx.blocking_send(Ok((index, offset, data))).is_err() {
            return Ok(false);
        }
        offset += n;
        if n < MAX_RANGE {
            return Ok(true);
        }
    }
}

/// What differs here from what the last sync left: the drift a status shows, its first
/// 1,000 paths and the count.
pub async fn drift(
    state: &Arc<AgentState>,
    categories: Vec<Category>,
) -> Result<confsync_engine::server::DriftReport> {
    const LISTED: usize = 1000;
    let now = state.scan(categories).await?;
    let ours = confsync_engine::rules::Rules::parse(
        &state.device_specific()?,
        confsync_engine::rules::Origin::Destination,
    )
    .map_err(|e| confsync_engine::EngineError::Config(e.to_string()))?;
    let layout = state.layout();
    let read = |category: Category, path: &confsync_engine::path::RelPath| {
        confsync_engine::last_sync::read_small(layout, category, path)
    };
    let drift = confsync_engine::last_sync::LastSync::load(layout).drift(&now, &ours, &read);
    let total = drift.paths.len() as u64;
    let mut paths = drift.paths;
    paths.truncate(LISTED);
    Ok(confsync_engine::server::DriftReport { recorded: drift.recorded, paths, total })
}
