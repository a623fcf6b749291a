//! Commit-confirmed on the destination: after an apply made with `--confirm-within`, the
//! deadline is kept in the state folder ([`confsync_engine::confirm`]); unless `Confirm`
//! arrives first, the agent rolls the generation back itself at the deadline, also when
//! it was restarted in between (a deadline that passed while it was down is acted on at
//! start), and records why.

use std::sync::Arc;
use std::time::Duration;

use confsync_engine::apply::ApplyOutcome;
use confsync_engine::clock;
use confsync_engine::confirm::{self, Pending};
use confsync_engine::error::Result;

use crate::agent::job::ChannelProgress;
use crate::agent::state::AgentState;

/// Starts waiting for the confirmation of the generation `outcome` committed.
pub(super) fn start(
    state: &AgentState,
    within: Duration,
    requested_by: &str,
    outcome: &mut ApplyOutcome,
) -> Result<()> {
    let deadline = clock::now_secs().saturating_add(within.as_secs().max(1));
    let pending = Pending {
        generation: outcome.generation,
        deadline,
        requested_by: requested_by.to_string(),
    };
    confirm::start(state.layout(), &pending)?;
    outcome.confirm_by = Some(deadline);
    state.confirmations.notify_one();
    tracing::info!(generation = pending.generation, deadline, "awaiting confirmation");
    Ok(())
}

/// Confirms what is pending: the generation stands. Returns it (none: nothing was).
pub(super) fn confirm_now(state: &AgentState, by: &str) -> Result<Option<u64>> {
    let Some(pending) = confirm::current(state.layout()) else { return Ok(None) };
    confirm::end(state.layout())?;
    state.confirmations.notify_one();
    tracing::info!(generation = pending.generation, by, "confirmed");
    Ok(Some(pending.generation))
}

/// The agent's task: sleeps until the pending deadline (woken when one is set or
/// confirmed), then rolls the generation back under the apply lock.
pub(super) async fn watch_deadlines(state: Arc<AgentState>) {
    loop {
        let Some(pending) = confirm::current(state.layout()) else {
            state.confirmations.notified().await;
            continue;
        };
        let left = pending.deadline.saturating_sub(clock::now_secs());
        if left > 0 {
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(left)) => {}
                _ = state.confirmations.notified() => continue,
            }
        }
        let _busy = state.apply_lock.lock().await;
        // Confirmed, or replaced, while waiting for the lock: nothing to undo.
        if confirm::current(state.layout()).as_ref() != Some(&pending) {
            continue;
        }
        if let Err(e) = confirm::end(state.layout()) {
            tracing::error!(error = %e, "cannot end the pending confirmation; retrying in a minute");
            tokio::time::sleep(Duration::from_secs(60)).await;
            continue;
        }
        let why = format!("not confirmed by {}", clock::utc(pending.deadline));
        let progress = ChannelProgress::detached(Arc::clone(&state));
        match crate::agent::history::roll_back_own(&state, pending.generation, &progress, &why)
            .await
        {
            Ok(rolled) => tracing::warn!(
                generation = pending.generation,
                rollback = rolled.generation,
                "{why}: rolled back"
            ),
            Err(e) => tracing::error!(
                generation = pending.generation,
                error = %e,
                "{why}, and rolling it back failed; roll it back by hand"
            ),
        }
    }
}
