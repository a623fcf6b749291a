//! The gRPC service: every call's message converted and validated into the engine's
//! types, handed to the agent's [`Api`], and the answer (or the error) converted back.
//! Errors become statuses here, refusals with their kinds in the status details.

use std::sync::Arc;

use confsync_engine::apply::ApplyEvent;
use confsync_engine::entry::Entry;
use confsync_engine::error::EngineError;
use confsync_engine::manifest::fingerprint;
use confsync_engine::path::RelPath;
use confsync_engine::transfer::ByteRange;
use confsync_proto::v1;
use futures::StreamExt;
use futures::stream::BoxStream;
use tonic::{Request, Response, Status};

use super::{Api, ApplyEvents, Caller};
use crate::convert::{self, info, plan};
use crate::status;

/// Entries per manifest message: well under the message limit even with long paths.
const ENTRIES_PER_BATCH: usize = 1000;

pub(super) struct Service<A> {
    api: Arc<A>,
}

impl<A> Service<A> {
    pub(super) fn new(api: Arc<A>) -> Service<A> {
        Service { api }
    }
}

type Stream<T> = BoxStream<'static, Result<T, Status>>;
type Reply<T> = Result<Response<T>, Status>;

#[tonic::async_trait]
impl<A: Api> v1::agent_server::Agent for Service<A> {
    async fn hello(&self, _request: Request<v1::HelloRequest>) -> Reply<v1::HelloReply> {
        let info = self.api.hello().await.map_err(to_status)?;
        Ok(Response::new(info::hello_to_proto(&info)))
    }

    type GetManifestStream = Stream<v1::ManifestBatch>;

    async fn get_manifest(
        &self,
        request: Request<v1::ManifestRequest>,
    ) -> Reply<Self::GetManifestStream> {
        let categories =
            convert::categories_from_proto(&request.get_ref().categories).map_err(invalid)?;
        let mut known = std::collections::HashMap::new();
        for k in &request.get_ref().known {
            let category = convert::category_from_proto(k.category).map_err(invalid)?;
            known.insert(category, fingerprints(&k.fingerprints)?);
        }
        let manifest = self.api.manifest(categories).await.map_err(to_status)?;
        let batches = manifest.categories.into_values().flat_map(move |m| {
            let category = convert::category_to_proto(m.category) as i32;
            let digest = m.digest.0.to_vec();
            let unmanaged: Vec<v1::Unmanaged> = m
                .unmanaged
                .iter()
                .map(|(path, what)| v1::Unmanaged { path: path.to_string(), what: what.clone() })
                .collect();
            let (entries, held) = match known.get(&m.category) {
                Some(theirs) => not_held(m.entries, theirs),
                None => (m.entries, Vec::new()),
            };
            let entries: Arc<Vec<Entry>> = Arc::new(entries);
            let count = entries.len().div_ceil(ENTRIES_PER_BATCH).max(1);
            (0..count).map(move |i| {
                let end = entries.len().min((i + 1) * ENTRIES_PER_BATCH);
                let last = i + 1 == count;
                Ok(v1::ManifestBatch {
                    category,
                    entries: entries[(i * ENTRIES_PER_BATCH).min(end)..end]
                        .iter()
                        .map(convert::entry_to_proto)
                        .collect(),
                    category_digest: if last { digest.clone() } else { Vec::new() },
                    last,
                    held: if last { held.clone() } else { Vec::new() },
                    unmanaged: if last { unmanaged.clone() } else { Vec::new() },
                })
            })
        });
        Ok(Response::new(futures::stream::iter(batches).boxed()))
    }

    async fn get_chunk_list(&self, request: Request<v1::FileRef>) -> Reply<v1::ChunkList> {
        let (category, path) = file_ref(request.get_ref())?;
        let list = self.api.chunk_list(category, path).await.map_err(to_status)?;
        Ok(Response::new(convert::chunk_list_to_proto(&list)))
    }

    type GetChunksStream = Stream<v1::ChunkData>;

    async fn get_chunks(
        &self,
        request: Request<v1::ChunksRequest>,
    ) -> Reply<Self::GetChunksStream> {
        let request = request.into_inner();
        let file =
            request.file.ok_or_else(|| Status::invalid_argument("GetChunks needs a file"))?;
        let (category, path) = file_ref(&file)?;
        let ranges = request
            .ranges
            .iter()
            .map(|r| ByteRange { offset: r.offset, length: r.length })
            .collect();
        let pieces = self.api.chunks(category, path, ranges).await.map_err(to_status)?;
        Ok(Response::new(
            pieces
                .map(|piece| {
                    piece
                        .map(|(offset, data)| {
                            let (data, zstd) = confsync_engine::compress::pack(data);
                            v1::ChunkData { offset, data, zstd }
                        })
                        .map_err(to_status)
                })
                .boxed(),
        ))
    }

    type GetFilesStream = Stream<v1::FileData>;

    async fn get_files(&self, request: Request<v1::FilesRequest>) -> Reply<Self::GetFilesStream> {
        let request = request.into_inner();
        let category = convert::category_from_proto(request.category).map_err(invalid)?;
        let paths = request
            .paths
            .iter()
            .map(|p| RelPath::new(p))
            .collect::<Result<Vec<_>, _>>()
            .map_err(invalid)?;
        let pieces = self.api.files(category, paths).await.map_err(to_status)?;
        Ok(Response::new(
            pieces
                .map(|piece| {
                    piece
                        .map(|(index, offset, data)| {
                            let (data, zstd) = confsync_engine::compress::pack(data);
                            v1::FileData { index, offset, data, zstd }
                        })
                        .map_err(to_status)
                })
                .boxed(),
        ))
    }

    async fn plan(&self, request: Request<v1::PlanRequest>) -> Reply<v1::PlanReply> {
        let request = plan::plan_request_from_proto(request.into_inner()).map_err(invalid)?;
        let view = self.api.plan(request).await.map_err(to_status)?;
        Ok(Response::new(plan::plan_to_proto(&view)))
    }

    type ApplyStream = Stream<v1::ApplyEvent>;

    async fn apply(&self, request: Request<v1::ApplyRequest>) -> Reply<Self::ApplyStream> {
        let caller = caller(&request);
        let (request, _) = plan::apply_request_from_proto(request.into_inner()).map_err(invalid)?;
        let events = self.api.apply(request, caller).await.map_err(to_status)?;
        Ok(Response::new(apply_events(events)))
    }

    async fn history(&self, _request: Request<v1::HistoryRequest>) -> Reply<v1::HistoryReply> {
        let listed = self.api.history().await.map_err(to_status)?;
        Ok(Response::new(v1::HistoryReply {
            generations: listed.iter().map(info::listed_to_proto).collect(),
        }))
    }

    async fn plan_rollback(&self, request: Request<v1::RollbackRequest>) -> Reply<v1::PlanReply> {
        let mut request =
            plan::rollback_request_from_proto(request.into_inner()).map_err(invalid)?;
        request.reviewed = None;
        let view = self.api.plan_rollback(request).await.map_err(to_status)?;
        Ok(Response::new(plan::plan_to_proto(&view)))
    }

    type RollbackStream = Stream<v1::ApplyEvent>;

    async fn rollback(&self, request: Request<v1::RollbackRequest>) -> Reply<Self::RollbackStream> {
        let caller = caller(&request);
        let request = plan::rollback_request_from_proto(request.into_inner()).map_err(invalid)?;
        let events = self.api.rollback(request, caller).await.map_err(to_status)?;
        Ok(Response::new(apply_events(events)))
    }

    type WatchStream = Stream<v1::TreeChanged>;

    async fn watch(&self, request: Request<v1::WatchRequest>) -> Reply<Self::WatchStream> {
        let categories =
            convert::categories_from_proto(&request.get_ref().categories).map_err(invalid)?;
        let listed = convert::categories_to_proto(&categories);
        let changes = self.api.watch(categories).await.map_err(to_status)?;
        Ok(Response::new(
            changes
                .map(move |digest| {
                    digest
                        .map(|d| v1::TreeChanged {
                            categories: listed.clone(),
                            tree_digest: d.0.to_vec(),
                        })
                        .map_err(to_status)
                })
                .boxed(),
        ))
    }

    async fn hold(&self, request: Request<v1::HoldRequest>) -> Reply<v1::HoldState> {
        let caller = caller(&request);
        let reason = request.into_inner().reason;
        let hold = self.api.hold(reason, caller).await.map_err(to_status)?;
        Ok(Response::new(info::hold_to_proto(hold.as_ref())))
    }

    async fn verify(&self, request: Request<v1::VerifyRequest>) -> Reply<v1::VerifyReply> {
        let categories =
            convert::categories_from_proto(&request.get_ref().categories).map_err(invalid)?;
        let verification = self.api.verify(categories).await.map_err(to_status)?;
        Ok(Response::new(info::verification_to_proto(&verification)))
    }

    async fn release(&self, request: Request<v1::ReleaseRequest>) -> Reply<v1::HoldState> {
        let caller = caller(&request);
        let hold = self.api.release(caller).await.map_err(to_status)?;
        Ok(Response::new(info::hold_to_proto(hold.as_ref())))
    }

    async fn get_changes(&self, request: Request<v1::ChangesRequest>) -> Reply<v1::ChangesReply> {
        let request = request.into_inner();
        let categories = convert::categories_from_proto(&request.categories).map_err(invalid)?;
        let changes = self.api.changes(request.peer, categories).await.map_err(to_status)?;
        Ok(Response::new(convert::two_way::changes_to_proto(&changes)))
    }

    async fn adopt_base(
        &self,
        request: Request<v1::AdoptBaseRequest>,
    ) -> Reply<v1::AdoptBaseReply> {
        let request = request.into_inner();
        let adopted = self.api.adopt_base(request.peer, request.run).await.map_err(to_status)?;
        Ok(Response::new(v1::AdoptBaseReply { adopted }))
    }

    async fn drift(&self, request: Request<v1::DriftRequest>) -> Reply<v1::DriftReply> {
        let categories =
            convert::categories_from_proto(&request.get_ref().categories).map_err(invalid)?;
        let report = self.api.drift(categories).await.map_err(to_status)?;
        Ok(Response::new(info::drift_to_proto(&report)))
    }

    async fn put_bundle(
        &self,
        request: Request<tonic::Streaming<v1::BundlePiece>>,
    ) -> Reply<v1::BundleStored> {
        let pieces = request
            .into_inner()
            .map(|piece| {
                piece.map(|p| p.data).map_err(|s| {
                    EngineError::Source(format!("the bundle upload broke off: {}", s.message()))
                })
            })
            .boxed();
        let stored = self.api.put_bundle(pieces).await.map_err(to_status)?;
        Ok(Response::new(v1::BundleStored {
            path: stored.path.display().to_string(),
            digest: stored.digest.0.to_vec(),
            size: stored.size,
        }))
    }

    async fn confirm(&self, request: Request<v1::ConfirmRequest>) -> Reply<v1::ConfirmReply> {
        let caller = caller(&request);
        let generation = self.api.confirm(caller).await.map_err(to_status)?;
        Ok(Response::new(v1::ConfirmReply { generation }))
    }
}

/// A destination's fingerprints, 8 bytes each.
fn fingerprints(raw: &[u8]) -> std::result::Result<Vec<u64>, Status> {
    if !raw.len().is_multiple_of(8) {
        return Err(Status::invalid_argument("fingerprints come in 8-byte units"));
    }
    Ok(raw
        .chunks_exact(8)
        .map(|b| u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
        .collect())
}

/// Our entries the destination does not hold, and the bitmap of its entries we hold.
fn not_held(ours: Vec<Entry>, theirs: &[u64]) -> (Vec<Entry>, Vec<u8>) {
    let position: std::collections::HashMap<u64, usize> =
        theirs.iter().enumerate().map(|(i, f)| (*f, i)).collect();
    let mut held = vec![0u8; theirs.len().div_ceil(8)];
    let mut missing = Vec::new();
    for entry in ours {
        match position.get(&fingerprint(&entry)) {
            Some(&i) => held[i / 8] |= 1 << (i % 8),
            None => missing.push(entry),
        }
    }
    (missing, held)
}

fn apply_events(events: ApplyEvents) -> Stream<v1::ApplyEvent> {
    events
        .map(|event| match event {
            Ok(ApplyEvent::Progress(progress)) => Ok(plan::progress_to_proto(&progress)),
            Ok(ApplyEvent::Done(outcome)) => Ok(v1::ApplyEvent {
                phase: v1::apply_event::Phase::Done as i32,
                result: Some(plan::outcome_to_proto(&outcome)),
                ..Default::default()
            }),
            Err(e) => Err(to_status(e)),
        })
        .boxed()
}

/// Who made a call, as the auth layer recorded it (the address alone in plaintext).
fn caller<T>(request: &Request<T>) -> Caller {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .unwrap_or_else(|| Caller { address: request.remote_addr(), ..Caller::default() })
}

/// Validates a file reference from a peer.
fn file_ref(file: &v1::FileRef) -> Result<(confsync_engine::Category, RelPath), Status> {
    let category = convert::category_from_proto(file.category).map_err(invalid)?;
    let path = RelPath::new(&file.path).map_err(invalid)?;
    Ok((category, path))
}

fn invalid(e: impl ToString) -> Status {
    Status::invalid_argument(e.to_string())
}

/// Maps engine errors to gRPC codes the client turns back into exit codes.
pub(super) fn to_status(e: EngineError) -> Status {
    let message = e.to_string();
    match e {
        EngineError::Refused(refusals) => status::refused(&refusals),
        EngineError::Path(_) => Status::invalid_argument(message),
        EngineError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            Status::not_found(message)
        }
        EngineError::Integrity { .. } => Status::data_loss(message),
        EngineError::Cancelled(_) => Status::cancelled(message),
        EngineError::Source(_) => Status::aborted(message),
        EngineError::Unavailable(_) => Status::unavailable(message),
        _ => Status::internal(message),
    }
}
