//! What every apply-like job (apply, rollback) shares: it takes the apply lock (a second
//! job is refused as busy), first finishes the recovery of an earlier commit that could
//! not be undone (or refuses, saying so), runs in a task of its own so that a client
//! going away cannot leave it half done, is recorded in the history however it ends, and
//! streams its progress and then its outcome or error. The lock is released before the
//! last event is sent: a client that stops reading never holds the destination.

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use confsync_engine::apply::ApplyEvent;
use confsync_engine::apply::ApplyOutcome;
use confsync_engine::category::Category;
use confsync_engine::clock;
use confsync_engine::error::{EngineError, Result};
use confsync_engine::history::{self, HistoryEntry, RESULT_OK};
use confsync_engine::journal::{self, GenerationRecord};
use confsync_engine::progress::{Phase, Progress, ProgressEvent};
use confsync_engine::refusal::RefusalKind;
use confsync_wire::server::ApplyEvents;
use futures::StreamExt;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::agent::state::AgentState;

/// Progress events a slow client may fall behind by before intermediate ones are dropped.
const EVENTS_BUFFERED: usize = 64;
/// Longest the result of a job waits for a client that stopped reading its events.
const FINAL_EVENT_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// Finishes the recovery of a commit whose undo failed, before anything else is applied;
/// refuses, changing nothing, while it still cannot be finished.
async fn finish_recovery(state: &Arc<AgentState>) -> Result<()> {
    let layout = state.layout().clone();
    if !layout.journal_path().exists() {
        return Ok(());
    }
    let recovered = tokio::task::spawn_blocking(move || journal::recover(&layout)).await;
    match recovered {
        Ok(Ok(recovery)) => {
            tracing::warn!(
                ?recovery,
                "finished the recovery of an earlier commit before this apply"
            );
            Ok(())
        }
        Ok(Err(e)) => Err(EngineError::refused(
            RefusalKind::RecoveryPending,
            format!(
                "an earlier commit on this server could not be undone completely, and finishing \
                 its recovery failed again ({e}); its journal and the replaced files are kept and \
                 nothing was changed: fix the cause (the disk, its space, permissions), then run \
                 again or restart the agent"
            ),
        )),
        Err(e) => Err(EngineError::State {
            path: state.layout().journal_path(),
            detail: format!("recovery task failed: {e}"),
        }),
    }
}

/// Runs `job` under the apply lock and streams its events.
pub(super) fn run_locked<F, Fut>(
    state: &Arc<AgentState>,
    attempt: Attempt,
    what: &'static str,
    job: F,
) -> Result<ApplyEvents>
where
    F: FnOnce(Arc<AgentState>, ChannelProgress) -> Fut + Send + 'static,
    Fut: Future<Output = Result<ApplyOutcome>> + Send,
{
    let guard = Arc::clone(&state.apply_lock).try_lock_owned().map_err(|_| EngineError::busy())?;
    let (tx, rx) = mpsc::channel(EVENTS_BUFFERED);
    let state = Arc::clone(state);
    *state.applying.lock().unwrap_or_else(|p| p.into_inner()) =
        Some(confsync_engine::server::Applying {
            source: attempt.source.clone(),
            requested_by: attempt.requested_by.clone(),
            started_at: clock::now_secs(),
            ..Default::default()
        });
    tokio::spawn(async move {
        let progress = ChannelProgress { tx: tx.clone(), state: Arc::clone(&state), _unread: None };
        progress.report(ProgressEvent::phase(Phase::Planning));
        let mut outcome = match finish_recovery(&state).await {
            Ok(()) => job(Arc::clone(&state), progress).await,
            Err(e) => Err(e),
        };
        count(&state, &outcome, attempt.started.elapsed());
        if let Err(e) = record(&state, attempt, &outcome)
            && let Ok(applied) = &mut outcome
        {
            applied.warnings.push(format!("it could not be recorded in the history ({e})"));
        }
        confsync_engine::fault::disarm();
        *state.applying.lock().unwrap_or_else(|p| p.into_inner()) = None;
        let message = match outcome {
            Ok(outcome) => Ok(ApplyEvent::Done(outcome)),
            Err(e) => {
                tracing::warn!(error = %e, "{what} did not complete");
                Err(e)
            }
        };
        drop(guard);
        if tokio::time::timeout(FINAL_EVENT_WAIT, tx.send(message)).await.is_err() {
            tracing::warn!(
                "the client did not read the result of the {what} within {FINAL_EVENT_WAIT:?}; dropped it"
            );
        }
    });
    Ok(ReceiverStream::new(rx).boxed())
}

/// Sends progress to the client; stops the transfer when the client went away or the
/// agent is shutting down.
/// What `--metrics` counts of an apply that ended.
fn count(state: &AgentState, outcome: &Result<ApplyOutcome>, took: std::time::Duration) {
    let metrics = &state.metrics;
    let result = |r: &str| crate::metrics::ResultLabel { result: r.to_string() };
    match outcome {
        Ok(outcome) => {
            metrics.applies.get_or_create(&result("ok")).inc();
            metrics.bytes_received.inc_by(outcome.bytes_received);
            if outcome.generation > 0 {
                metrics.apply_seconds.observe(took.as_secs_f64());
            }
        }
        Err(EngineError::Refused(refusals)) => {
            metrics.applies.get_or_create(&result("refused")).inc();
            for refusal in refusals {
                let kind = crate::metrics::KindLabel { kind: refusal.kind.name().to_string() };
                metrics.refusals.get_or_create(&kind).inc();
            }
        }
        Err(_) => {
            metrics.applies.get_or_create(&result("failed")).inc();
        }
    }
}

pub(crate) struct ChannelProgress {
    tx: mpsc::Sender<Result<ApplyEvent>>,
    state: Arc<AgentState>,
    /// The receiving end of a job no client follows (the agent's own rollback at a
    /// deadline), kept so that the job does not take itself for cancelled.
    _unread: Option<mpsc::Receiver<Result<ApplyEvent>>>,
}

impl ChannelProgress {
    /// Progress of a job no client follows: reported nowhere, stopped only by shutdown.
    pub(crate) fn detached(state: Arc<AgentState>) -> ChannelProgress {
        let (tx, rx) = mpsc::channel(1);
        ChannelProgress { tx, state, _unread: Some(rx) }
    }
}

impl Progress for ChannelProgress {
    fn report(&self, event: ProgressEvent) {
        if let Some(applying) =
            self.state.applying.lock().unwrap_or_else(|p| p.into_inner()).as_mut()
        {
            applying.bytes_done = event.bytes_done;
            applying.bytes_total = event.bytes_total;
            applying.files_done = event.files_done;
            applying.files_total = event.files_total;
        }
        // A slow client misses intermediate events rather than slowing the transfer.
        let _ = self.tx.try_send(Ok(ApplyEvent::Progress(event)));
    }

    fn is_cancelled(&self) -> bool {
        self.tx.is_closed() || self.state.is_shutting_down()
    }
}

/// Refuses, changing nothing, when the plan computed now is not the one the client
/// reviewed (its digest pins both trees).
pub(super) fn check_reviewed(
    reviewed: Option<confsync_engine::Digest>,
    now: confsync_engine::Digest,
) -> Result<()> {
    if reviewed == Some(now) {
        return Ok(());
    }
    Err(EngineError::changed_since_preview(
        reviewed.filter(|d| *d != confsync_engine::Digest::ZERO),
        now,
    ))
}

/// An apply or rollback as it began, to be recorded however it ends.
pub(super) struct Attempt {
    started_at: u64,
    started: Instant,
    source: String,
    categories: Vec<Category>,
    requested_by: String,
    rollback_of: Option<u64>,
}

impl Attempt {
    pub(super) fn new(source: &str, categories: &[Category], requested_by: &str) -> Attempt {
        Attempt {
            started_at: clock::now_secs(),
            started: Instant::now(),
            source: source.to_string(),
            categories: categories.to_vec(),
            requested_by: requested_by.to_string(),
            rollback_of: None,
        }
    }

    /// The attempt of a rollback to before `generation` (0: the newest).
    pub(super) fn rollback(requested_by: &str, generation: u64) -> Attempt {
        Attempt {
            rollback_of: Some(generation),
            ..Attempt::new("kept generations", &[], requested_by)
        }
    }
}

/// Records how an attempt ended. A committed generation is recorded from its own record;
/// a run that found nothing to do is not recorded at all. A failure to write it is
/// returned, so that a committed apply reports it.
pub(super) fn record(
    state: &AgentState,
    attempt: Attempt,
    outcome: &Result<ApplyOutcome>,
) -> Result<()> {
    let duration_ms = u64::try_from(attempt.started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let entry = match outcome {
        Ok(result) if result.generation == 0 => return Ok(()),
        Ok(result) => {
            let committed = journal::generations(state.layout())
                .ok()
                .and_then(|all| all.into_iter().find(|r| r.id == result.generation));
            let Some(journal) = committed else {
                tracing::warn!(
                    generation = result.generation,
                    "the committed generation's record is missing; history not updated"
                );
                return Ok(());
            };
            HistoryEntry {
                record: journal,
                result: RESULT_OK.to_string(),
                duration_ms,
                hooks: result.hooks.clone(),
            }
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
                notices: Vec::new(),
            },
            result: e.to_string(),
            duration_ms,
            hooks: Vec::new(),
        },
    };
    history::append(state.layout(), &entry).inspect_err(|e| {
        tracing::warn!(error = %e, "could not record the apply in the history");
    })
}
