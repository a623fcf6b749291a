//! The gRPC service: one handler per RPC, each a thin adapter from protobuf to the engine.
//! Source-side reads are in [`super::serve_source`]; planning and applying are here.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::agent::source::RemoteSource;
use crate::agent::state::AgentState;
use crate::agent::{history, hold, serve_source, watch};
use crate::client::{AgentClient, Target};
use crate::engine::Digest;
use crate::engine::apply::{Applier, Origin};
use crate::engine::category::Category;
use crate::engine::error::EngineError;
use crate::engine::manifest::Manifest;
use crate::engine::plan::{self, Guards, Plan};
use crate::engine::progress::{Phase, Progress, ProgressEvent};
use crate::proto::{self, v1};

pub struct AgentService {
    pub state: Arc<AgentState>,
}

type Stream<T> = ReceiverStream<Result<T, Status>>;

#[tonic::async_trait]
impl v1::agent_server::Agent for AgentService {
    async fn hello(
        &self,
        _request: Request<v1::HelloRequest>,
    ) -> Result<Response<v1::HelloReply>, Status> {
        serve_source::hello(&self.state).await.map(Response::new).map_err(to_status)
    }

    type GetManifestStream = Stream<v1::ManifestBatch>;

    async fn get_manifest(
        &self,
        request: Request<v1::ManifestRequest>,
    ) -> Result<Response<Self::GetManifestStream>, Status> {
        let categories =
            proto::categories_from_proto(&request.get_ref().categories).map_err(invalid)?;
        serve_source::manifest(&self.state, categories).await.map(Response::new).map_err(to_status)
    }

    async fn get_chunk_list(
        &self,
        request: Request<v1::FileRef>,
    ) -> Result<Response<v1::ChunkList>, Status> {
        let (category, path) = serve_source::file_ref(request.get_ref()).map_err(invalid)?;
        serve_source::chunk_list(&self.state, category, path)
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    type GetChunksStream = Stream<v1::ChunkData>;

    async fn get_chunks(
        &self,
        request: Request<v1::ChunksRequest>,
    ) -> Result<Response<Self::GetChunksStream>, Status> {
        let request = request.into_inner();
        let file =
            request.file.ok_or_else(|| Status::invalid_argument("GetChunks needs a file"))?;
        let (category, path) = serve_source::file_ref(&file).map_err(invalid)?;
        serve_source::chunks(&self.state, category, path, request.ranges)
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    type GetFilesStream = Stream<v1::FileData>;

    async fn get_files(
        &self,
        request: Request<v1::FilesRequest>,
    ) -> Result<Response<Self::GetFilesStream>, Status> {
        let request = request.into_inner();
        let category = proto::category_from_proto(request.category).map_err(invalid)?;
        serve_source::files(&self.state, category, request.paths)
            .await
            .map(Response::new)
            .map_err(to_status)
    }

    async fn plan(
        &self,
        request: Request<v1::PlanRequest>,
    ) -> Result<Response<v1::PlanReply>, Status> {
        let request = request.into_inner();
        let categories = proto::categories_from_proto(&request.categories).map_err(invalid)?;
        let planned = plan_against(
            &self.state,
            &request.source,
            categories,
            request.options.unwrap_or_default(),
        )
        .await
        .map_err(to_status)?;
        Ok(Response::new(proto::plan_to_proto(
            &planned.plan,
            &planned.source_name,
            &self.state.settings.name,
        )))
    }

    type ApplyStream = Stream<v1::ApplyEvent>;

    async fn apply(
        &self,
        request: Request<v1::ApplyRequest>,
    ) -> Result<Response<Self::ApplyStream>, Status> {
        let requested_by = crate::agent::auth::caller(&request);
        let request = request.into_inner();
        let categories = proto::categories_from_proto(&request.categories).map_err(invalid)?;
        let attempt = history::Attempt::new(&request.source, &categories, &requested_by);
        let events =
            run_locked(&self.state, attempt, "apply", move |state, progress| async move {
                run_apply(&state, request, categories, &progress, requested_by).await
            })?;
        Ok(Response::new(events))
    }

    async fn history(
        &self,
        request: Request<v1::HistoryRequest>,
    ) -> Result<Response<v1::HistoryReply>, Status> {
        history::history(&self.state, request).await
    }

    async fn plan_rollback(
        &self,
        request: Request<v1::RollbackRequest>,
    ) -> Result<Response<v1::PlanReply>, Status> {
        history::plan_rollback(&self.state, request).await
    }

    type RollbackStream = Stream<v1::ApplyEvent>;

    async fn rollback(
        &self,
        request: Request<v1::RollbackRequest>,
    ) -> Result<Response<Self::RollbackStream>, Status> {
        history::rollback(&self.state, request).await
    }

    type WatchStream = Stream<v1::TreeChanged>;

    async fn watch(
        &self,
        request: Request<v1::WatchRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        watch::watch(&self.state, request).await
    }

    async fn hold(
        &self,
        request: Request<v1::HoldRequest>,
    ) -> Result<Response<v1::HoldState>, Status> {
        hold::hold(&self.state, request).await
    }

    async fn release(
        &self,
        request: Request<v1::ReleaseRequest>,
    ) -> Result<Response<v1::HoldState>, Status> {
        hold::release(&self.state, request).await
    }
}

/// Runs an apply-like job (apply, rollback) in a task of its own while holding the apply
/// lock (a second one is refused as busy), records it in the history, and streams its
/// progress and then its result or error.
pub(crate) fn run_locked<F, Fut>(
    state: &Arc<AgentState>,
    attempt: history::Attempt,
    what: &'static str,
    job: F,
) -> Result<Stream<v1::ApplyEvent>, Status>
where
    F: FnOnce(Arc<AgentState>, ChannelProgress) -> Fut + Send + 'static,
    Fut: Future<Output = Result<v1::ApplyResult, EngineError>> + Send,
{
    let guard =
        Arc::clone(&state.apply_lock).try_lock_owned().map_err(|_| to_status(EngineError::Busy))?;
    let (tx, rx) = mpsc::channel(64);
    let state = Arc::clone(state);
    tokio::spawn(async move {
        let progress = ChannelProgress { tx: tx.clone(), state: Arc::clone(&state) };
        progress.report(ProgressEvent::phase(Phase::Planning));
        let outcome = job(Arc::clone(&state), progress).await;
        history::record(&state, attempt, &outcome);
        let message = match outcome {
            Ok(result) => Ok(v1::ApplyEvent {
                phase: v1::apply_event::Phase::Done as i32,
                result: Some(result),
                ..Default::default()
            }),
            Err(e) => {
                tracing::warn!(error = %e, "{what} did not complete");
                Err(to_status(e))
            }
        };
        let _ = tx.send(message).await;
        drop(guard);
    });
    Ok(ReceiverStream::new(rx))
}

/// Refuses, changing nothing, when the plan computed now is not the one the client
/// reviewed (its digest pins both trees).
pub(crate) fn check_reviewed(reviewed: &[u8], now: Digest) -> Result<(), EngineError> {
    if now.0.as_slice() == reviewed {
        return Ok(());
    }
    Err(EngineError::ChangedSincePreview {
        expected: Digest::from_slice(reviewed).map_or_else(|| "(none)".into(), Digest::short),
        actual: now.short(),
    })
}

/// A plan computed against a source, with what is needed to apply it.
struct Planned {
    plan: Plan,
    source_name: String,
    source: AgentClient,
    destination: Manifest,
}

/// Fetches the source's manifest (only for categories whose digest differs from ours),
/// scans this tree and plans.
async fn plan_against(
    state: &Arc<AgentState>,
    source_address: &str,
    categories: Vec<Category>,
    options: v1::PlanOptions,
) -> Result<Planned, EngineError> {
    let target =
        Target { address: source_address.to_string(), tls: state.settings.client_tls.clone() };
    let mut source =
        AgentClient::connect(&target).await.map_err(|e| EngineError::Source(e.to_string()))?;
    let hello = source.hello().await.map_err(|e| EngineError::Source(e.to_string()))?;
    if hello.instance_id == state.instance_id {
        return Err(EngineError::Refused(vec![format!(
            "the source {source_address} is this very server; choose another source or destination"
        )]));
    }
    let destination = state.scan(categories.clone()).await?;
    let differing: Vec<Category> = categories
        .iter()
        .copied()
        .filter(|c| {
            let theirs = hello
                .categories
                .iter()
                .find(|s| proto::category_from_proto(s.category).ok() == Some(*c));
            let ours = destination.get(*c).map(|m| m.digest.0.to_vec());
            theirs.map(|s| s.digest.clone()) != ours
        })
        .collect();
    let mut source_manifest = if differing.is_empty() {
        Manifest::default()
    } else {
        source.manifest(&differing).await.map_err(|e| EngineError::Source(e.to_string()))?
    };
    for category in &categories {
        if !differing.contains(category)
            && let Some(same) = destination.get(*category)
        {
            // Equal Merkle digests: the source holds exactly what we hold.
            source_manifest.insert(same.clone());
        }
    }
    let guards = Guards {
        max_delete_percent: (options.max_delete_percent > 0).then_some(options.max_delete_percent),
        allow_empty_source: options.allow_empty_source,
    };
    let mut plan = plan::plan(&source_manifest, &destination, &guards);
    if state.settings.protected && !options.allow_protected && !plan.is_empty() {
        plan.refusals
            .push(EngineError::Protected { name: state.settings.name.clone() }.to_string());
    }
    plan.refusals.extend(hold::refusal(state));
    Ok(Planned { plan, source_name: hello.name, source, destination })
}

async fn run_apply(
    state: &Arc<AgentState>,
    request: v1::ApplyRequest,
    categories: Vec<Category>,
    progress: &ChannelProgress,
    requested_by: String,
) -> Result<v1::ApplyResult, EngineError> {
    let options = request.options.unwrap_or_default();
    let planned = plan_against(state, &request.source, categories, options).await?;
    check_reviewed(&request.plan_digest, planned.plan.digest)?;
    if !planned.plan.refusals.is_empty() {
        return Err(EngineError::Refused(planned.plan.refusals));
    }
    if planned.plan.is_empty() {
        return Ok(v1::ApplyResult::default());
    }
    let source = RemoteSource::new(planned.source);
    let applier = Applier {
        layout: state.layout(),
        index: &state.index,
        source: &source,
        progress,
        keep_generations: state.settings.keep_generations,
    };
    let origin = Origin {
        source: format!("{} ({})", planned.source_name, request.source),
        requested_by,
        rollback_of: None,
    };
    let outcome = applier.apply(&planned.plan, &planned.destination, origin).await?;
    tracing::info!(
        generation = outcome.generation,
        files = outcome.files_changed,
        bytes_received = outcome.bytes_received,
        duration_ms = outcome.duration_ms,
        "applied"
    );
    Ok(proto::apply_result_to_proto(&outcome))
}

/// Sends progress to the client; stops the transfer when the client went away or the
/// agent is shutting down.
pub(crate) struct ChannelProgress {
    pub(crate) tx: mpsc::Sender<Result<v1::ApplyEvent, Status>>,
    pub(crate) state: Arc<AgentState>,
}

impl Progress for ChannelProgress {
    fn report(&self, event: ProgressEvent) {
        let phase = match event.phase {
            Phase::Planning => v1::apply_event::Phase::Planning,
            Phase::Transferring => v1::apply_event::Phase::Transferring,
            Phase::Committing => v1::apply_event::Phase::Committing,
            Phase::Done => v1::apply_event::Phase::Done,
        };
        // A slow client misses intermediate events rather than slowing the transfer.
        let _ = self.tx.try_send(Ok(v1::ApplyEvent {
            phase: phase as i32,
            current_file: event.current_file,
            bytes_done: event.bytes_done,
            bytes_total: event.bytes_total,
            files_done: event.files_done,
            files_total: event.files_total,
            result: None,
        }));
    }

    fn is_cancelled(&self) -> bool {
        self.tx.is_closed() || self.state.is_shutting_down()
    }
}

fn invalid(e: impl ToString) -> Status {
    Status::invalid_argument(e.to_string())
}

/// Maps engine errors to gRPC codes the client turns back into exit codes.
pub fn to_status(e: EngineError) -> Status {
    let message = e.to_string();
    match e {
        EngineError::Busy => Status::resource_exhausted(message),
        e if e.is_refusal() => Status::failed_precondition(message),
        EngineError::Path(_) => Status::invalid_argument(message),
        EngineError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            Status::not_found(message)
        }
        EngineError::Integrity { .. } => Status::data_loss(message),
        EngineError::Cancelled(_) => Status::cancelled(message),
        EngineError::Source(_) => Status::aborted(message),
        _ => Status::internal(message),
    }
}
