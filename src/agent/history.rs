//! History and rollback (destination side).
//!
//! Every apply and rollback that reaches the commit machinery is recorded in the
//! engine's history log with who asked, from where, what and how it ended. A rollback is
//! previewed with `PlanRollback` and carried out with `Rollback` naming the previewed
//! plan's digest, like `Plan` and `Apply`: what the administrator confirmed is exactly
//! what is applied. It takes the same apply lock and honours the same hold.

use std::sync::Arc;
use std::time::Instant;

use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use crate::agent::hold;
use crate::agent::service::{ChannelProgress, check_reviewed, run_locked, to_status};
use crate::agent::state::AgentState;
use crate::engine::apply::{Applier, Origin};
use crate::engine::category::Category;
use crate::engine::clock;
use crate::engine::error::EngineError;
use crate::engine::history::{self, HistoryEntry, RESULT_OK};
use crate::engine::journal::{self, GenerationRecord};
use crate::engine::rollback::{self, Prepared};
use crate::proto::{self, v1};

type Events = ReceiverStream<Result<v1::ApplyEvent, Status>>;

pub async fn history(
    state: &Arc<AgentState>,
    _request: Request<v1::HistoryRequest>,
) -> Result<Response<v1::HistoryReply>, Status> {
    let layout = state.layout().clone();
    let listed = tokio::task::spawn_blocking(move || history::list(&layout))
        .await
        .map_err(|e| Status::internal(format!("reading the history failed: {e}")))?
        .map_err(to_status)?;
    let generations = listed
        .into_iter()
        .map(|l| {
            let kind = l.entry.kind();
            let r = l.entry.record;
            v1::Generation {
                id: r.id,
                started_at: r.started_at,
                source: r.source,
                requested_by: r.requested_by,
                categories: proto::categories_to_proto(&r.categories),
                files_changed: r.files_changed,
                bytes_received: r.bytes_received,
                bytes_written: r.bytes_written,
                kind,
                kept: l.kept,
                result: l.entry.result,
                duration_ms: l.entry.duration_ms,
            }
        })
        .collect();
    Ok(Response::new(v1::HistoryReply { generations }))
}

/// An apply or rollback as it began, to be recorded however it ends.
pub struct Attempt {
    started_at: u64,
    started: Instant,
    source: String,
    categories: Vec<Category>,
    requested_by: String,
    rollback_of: Option<u64>,
}

impl Attempt {
    pub fn new(source: &str, categories: &[Category], requested_by: &str) -> Attempt {
        Attempt {
            started_at: clock::now_secs(),
            started: Instant::now(),
            source: source.to_string(),
            categories: categories.to_vec(),
            requested_by: requested_by.to_string(),
            rollback_of: None,
        }
    }
}

/// Records how an attempt ended. A committed generation is recorded from its own record;
/// a run that found nothing to do is not recorded at all.
pub fn record(
    state: &AgentState,
    attempt: Attempt,
    outcome: &Result<v1::ApplyResult, EngineError>,
) {
    let duration_ms = u64::try_from(attempt.started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let entry = match outcome {
        Ok(result) if result.generation == 0 => return,
        Ok(result) => {
            let committed = journal::generations(state.layout())
                .ok()
                .and_then(|all| all.into_iter().find(|j| j.record.id == result.generation));
            let Some(journal) = committed else {
                tracing::warn!(
                    generation = result.generation,
                    "the committed generation's record is missing; history not updated"
                );
                return;
            };
            HistoryEntry { record: journal.record, result: RESULT_OK.to_string(), duration_ms }
        }
        Err(e) => HistoryEntry {
            record: GenerationRecord {
                id: 0,
                started_at: attempt.started_at,
                source: attempt.source,
                requested_by: attempt.requested_by,
                categories: attempt.categories,
                files_changed: 0,
                bytes_received: 0,
                bytes_written: 0,
                rollback_of: attempt.rollback_of,
            },
            result: e.to_string(),
            duration_ms,
        },
    };
    if let Err(e) = history::append(state.layout(), &entry) {
        tracing::warn!(error = %e, "could not record the apply in the history");
    }
}

pub async fn plan_rollback(
    state: &Arc<AgentState>,
    request: Request<v1::RollbackRequest>,
) -> Result<Response<v1::PlanReply>, Status> {
    let request = request.into_inner();
    let prepared = prepare(state, &request).await.map_err(to_status)?;
    Ok(Response::new(proto::plan_to_proto(
        &prepared.plan,
        &source_name(&prepared),
        &state.settings.name,
    )))
}

pub async fn rollback(
    state: &Arc<AgentState>,
    request: Request<v1::RollbackRequest>,
) -> Result<Response<Events>, Status> {
    let requested_by = hold::requester(&request);
    let request = request.into_inner();
    if let Some(refusal) = hold::refusal(state) {
        return Err(Status::failed_precondition(refusal));
    }
    let mut attempt = Attempt::new("kept generations", &[], &requested_by);
    attempt.rollback_of = Some(request.generation);
    let events = run_locked(state, attempt, "rollback", move |state, progress| async move {
        run_rollback(&state, &request, &progress, requested_by).await
    })?;
    Ok(Response::new(events))
}

async fn run_rollback(
    state: &Arc<AgentState>,
    request: &v1::RollbackRequest,
    progress: &ChannelProgress,
    requested_by: String,
) -> Result<v1::ApplyResult, EngineError> {
    let prepared = prepare(state, request).await?;
    check_reviewed(&request.plan_digest, prepared.plan.digest)?;
    if !prepared.plan.refusals.is_empty() {
        return Err(EngineError::Refused(prepared.plan.refusals));
    }
    if prepared.plan.is_empty() {
        return Ok(v1::ApplyResult::default());
    }
    let applier = Applier {
        layout: state.layout(),
        index: &state.index,
        source: &prepared.source,
        progress,
        keep_generations: state.settings.keep_generations,
    };
    let origin =
        Origin { source: source_name(&prepared), requested_by, rollback_of: Some(prepared.oldest) };
    let outcome = applier.apply(&prepared.plan, &prepared.current, origin).await?;
    tracing::info!(
        generation = outcome.generation,
        undone = ?prepared.undone,
        files = outcome.files_changed,
        duration_ms = outcome.duration_ms,
        "rolled back"
    );
    Ok(proto::apply_result_to_proto(&outcome))
}

/// Plans the rollback on a blocking thread and adds the protected and hold refusals.
async fn prepare(
    state: &Arc<AgentState>,
    request: &v1::RollbackRequest,
) -> Result<Prepared, EngineError> {
    let generation = (request.generation > 0).then_some(request.generation);
    let force = request.force;
    let worker = Arc::clone(state);
    let mut prepared = tokio::task::spawn_blocking(move || {
        let mut index = worker.index.lock().unwrap_or_else(|p| p.into_inner());
        rollback::prepare(worker.layout(), &mut index, generation, force)
    })
    .await
    .map_err(|e| EngineError::Rollback(format!("planning task failed: {e}")))??;
    let allow_protected = request.options.as_ref().is_some_and(|o| o.allow_protected);
    if state.settings.protected && !allow_protected && !prepared.plan.is_empty() {
        prepared
            .plan
            .refusals
            .push(EngineError::Protected { name: state.settings.name.clone() }.to_string());
    }
    prepared.plan.refusals.extend(hold::refusal(state));
    Ok(prepared)
}

/// How a rollback's source reads in plans and history.
fn source_name(prepared: &Prepared) -> String {
    match (prepared.undone.first(), prepared.undone.last()) {
        (Some(newest), Some(oldest)) if newest != oldest => {
            format!("the state before generation {oldest} (undoing {oldest} to {newest})")
        }
        _ => format!("the state before generation {}", prepared.oldest),
    }
}
