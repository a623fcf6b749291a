//! History and rollback (destination side).
//!
//! Every apply and rollback that reaches the commit machinery is recorded in the
//! engine's history log with who asked, from where, what and how it ended. A rollback is
//! previewed with `PlanRollback` and carried out with `Rollback` naming the previewed
//! plan's digest, like `Plan` and `Apply`: what the administrator confirmed is exactly
//! what is applied. It takes the same apply lock and honours the same hold.
//!
//! A rollback is an apply: the checks of its scope run on the restored tree first (a
//! failing one refuses it; `--force` skips them), and the hooks of its scope run after its
//! commit, so that a reloaded service reloads for the old files too. The agent's own
//! rollbacks (a commit-confirmed deadline, a failed hook) are its safety net: a hold does
//! not stop them and a check does not refuse them (what they restore is what this server
//! ran before), and a hook failing after one is reported, never rolled back again.

use std::sync::Arc;

use confsync_engine::apply::{Applier, ApplyOutcome, Origin};
use confsync_engine::error::{EngineError, Result};
use confsync_engine::history::{self, Listed};
use confsync_engine::request::{PlanOptions, RollbackRequest};
use confsync_engine::rollback::{self, Prepared};
use confsync_engine::view::PlanView;
use confsync_wire::server::{ApplyEvents, Caller};

use crate::agent::job::{self, Attempt, ChannelProgress};
use crate::agent::state::AgentState;

/// Every recorded attempt, newest first.
pub async fn list(state: &Arc<AgentState>) -> Result<Vec<Listed>> {
    let layout = state.layout().clone();
    tokio::task::spawn_blocking(move || history::list(&layout)).await.map_err(|e| {
        EngineError::State {
            path: state.layout().state_dir().to_path_buf(),
            detail: format!("reading the history failed: {e}"),
        }
    })?
}

pub async fn plan_rollback(state: &Arc<AgentState>, request: RollbackRequest) -> Result<PlanView> {
    let effects = state.effects()?;
    let prepared = prepare(state, &request, Whose::Administrators).await?;
    let mut view =
        PlanView::from_plan(&prepared.plan, &source_name(&prepared), &state.settings.name);
    view.notices = effects.notices(&prepared.plan);
    Ok(view)
}

pub fn rollback(
    state: &Arc<AgentState>,
    request: RollbackRequest,
    caller: Caller,
) -> Result<ApplyEvents> {
    let requested_by = caller.describe();
    if let Some(refusal) = confsync_engine::hold::refusal(state.layout(), &state.settings.name) {
        return Err(EngineError::Refused(vec![refusal]));
    }
    let attempt = Attempt::rollback(&requested_by, request.generation.unwrap_or(0));
    job::run_locked(state, attempt, "rollback", move |state, progress| async move {
        run_rollback(&state, &request, &progress, requested_by).await
    })
}

async fn run_rollback(
    state: &Arc<AgentState>,
    request: &RollbackRequest,
    progress: &ChannelProgress,
    requested_by: String,
) -> Result<ApplyOutcome> {
    let prepared = prepare(state, request, Whose::Administrators).await?;
    job::check_reviewed(request.reviewed, prepared.plan.digest)?;
    let whose = if request.force { Whose::Forced } else { Whose::Administrators };
    apply_rollback(state, prepared, progress, requested_by, whose).await
}

/// Who asked for a rollback, which decides what may stop it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Whose {
    /// An administrator: a hold refuses it, and so does a failing check.
    Administrators,
    /// An administrator with `--force`: the checks are skipped, as their refusal says.
    Forced,
    /// The agent itself: neither a hold nor a check stops its safety net.
    Own,
}

/// Rolls back `generation` on this server's own decision (a hook that failed under
/// `on_hook_failure = "rollback"`), inside the apply that made it: the same journaled
/// rollback as `confsync rollback`, recorded in the history as one.
pub(crate) async fn roll_back_own(
    state: &Arc<AgentState>,
    generation: u64,
    progress: &ChannelProgress,
    why: &str,
) -> Result<ApplyOutcome> {
    let request = RollbackRequest {
        generation: Some(generation),
        paths: Vec::new(),
        // The apply it undoes was allowed to write here.
        allow_protected: true,
        force: false,
        reviewed: None,
    };
    let requested_by = format!("the agent itself ({why})");
    let attempt = Attempt::rollback(&requested_by, generation);
    let prepared = prepare(state, &request, Whose::Own).await;
    let outcome = match prepared {
        Ok(prepared) => apply_rollback(state, prepared, progress, requested_by, Whose::Own).await,
        Err(e) => Err(e),
    };
    if let Err(e) = job::record(state, attempt, &outcome) {
        tracing::warn!(error = %e, "could not record the rollback in the history");
    }
    outcome
}

async fn apply_rollback(
    state: &Arc<AgentState>,
    prepared: Prepared,
    progress: &ChannelProgress,
    requested_by: String,
    whose: Whose,
) -> Result<ApplyOutcome> {
    if prepared.plan.is_empty() {
        return Ok(ApplyOutcome::default());
    }
    if !prepared.plan.refusals.is_empty() {
        return Err(EngineError::Refused(prepared.plan.refusals));
    }
    let checks = match whose {
        Whose::Administrators => state.checks()?,
        Whose::Forced | Whose::Own => Vec::new(),
    };
    let applier = Applier {
        layout: state.layout(),
        tree: &state.tree,
        source: &prepared.source,
        progress,
        keep_generations: state.settings.keep_generations,
        flush: state.flush,
        checks: &checks,
    };
    let origin = Origin {
        source: source_name(&prepared),
        requested_by,
        rollback_of: Some(prepared.oldest),
        notices: state.effects()?.notices(&prepared.plan),
    };
    let mut outcome =
        applier.apply(&prepared.plan, &prepared.current, origin).await.map_err(refused_by_check)?;
    // A rollback that committed undoes whatever awaited confirmation: no deadline is left
    // to act on.
    if confsync_engine::confirm::current(state.layout()).is_some() {
        if let Err(e) = confsync_engine::confirm::end(state.layout()) {
            tracing::warn!(error = %e, "cannot end the pending confirmation after a rollback");
        }
        state.confirmations.notify_one();
    }
    confsync_engine::last_sync::record_committed(
        state.layout(),
        &prepared.plan,
        &prepared.current,
        None,
    );
    tracing::info!(
        generation = outcome.generation,
        undone = ?prepared.undone,
        files = outcome.files_changed,
        duration_ms = outcome.duration_ms,
        "rolled back"
    );
    // A hook failing after a rollback is reported only: rolling the rollback back would
    // bring back what it undid.
    let _ = crate::agent::hooks::after_commit(state, &prepared.plan, &mut outcome).await;
    Ok(outcome)
}

/// A check that fails on the tree a rollback would restore refuses it in the rollback's
/// own words.
fn refused_by_check(error: EngineError) -> EngineError {
    use confsync_engine::refusal::{Refusal, RefusalKind};
    match error {
        EngineError::Refused(refusals)
            if refusals.iter().any(|r| r.kind == RefusalKind::CheckFailed) =>
        {
            let refusals = refusals
                .into_iter()
                .map(|r| match r.kind {
                    RefusalKind::CheckFailed => {
                        let failed = r.message.split("; nothing was changed").next().unwrap_or("");
                        Refusal::new(
                            RefusalKind::CheckFailed,
                            format!(
                                "{failed}; the rollback was refused and nothing was changed. Roll \
                                 back anyway with --force (which skips the checks), or fix \
                                 what the check reports first"
                            ),
                        )
                    }
                    _ => r,
                })
                .collect();
            EngineError::Refused(refusals)
        }
        other => other,
    }
}

/// Plans the rollback on a blocking thread and adds the protected and hold refusals.
async fn prepare(
    state: &Arc<AgentState>,
    request: &RollbackRequest,
    whose: Whose,
) -> Result<Prepared> {
    let (generation, force, paths) = (request.generation, request.force, request.paths.clone());
    let worker = Arc::clone(state);
    let mut prepared = tokio::task::spawn_blocking(move || {
        rollback::prepare(&worker.tree, generation, force, &paths)
    })
    .await
    .map_err(|e| EngineError::State {
        path: state.layout().state_dir().to_path_buf(),
        detail: format!("planning task failed: {e}"),
    })??;
    let options =
        PlanOptions { allow_protected: request.allow_protected, ..PlanOptions::default() };
    let mut standing = state.standing_refusals(&options, &prepared.plan);
    if whose == Whose::Own {
        // The hold keeps others' applies out; the agent's safety net is not one of them.
        standing.retain(|r| r.kind != confsync_engine::refusal::RefusalKind::Hold);
    }
    prepared.plan.refusals.extend(standing);
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
