//! Watching the tree for changes (source side), for `auto --on-change`.
//!
//! Each `Watch` stream follows the agent's file watcher (see [`watcher`](super::watcher)).
//! Events are debounced (quiet for [`QUIET`], at most [`MAX_DELAY`] after the first),
//! then the asked categories are read from the live manifest (scanned again only where
//! something changed) and a `TreeChanged` with the new digest is sent when it differs
//! from the last one sent. The first message is the current digest, so a client knows the
//! stream is live; an idle stream repeats it every [`HEARTBEAT`].
//!
//! If the agent has no watcher it keeps serving everything else and this RPC answers
//! UNAVAILABLE, saying why.

use std::sync::Arc;
use std::time::Duration;

use confsync_engine::category::Category;
use confsync_engine::entry::Digest;
use confsync_engine::error::{EngineError, Result};
use confsync_wire::server::Changes;
use futures::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;

use crate::agent::state::AgentState;

/// A change is reported once the tree has been quiet this long...
const QUIET: Duration = Duration::from_millis(500);
/// ... or this long after the first event of a burst, whichever comes first.
const MAX_DELAY: Duration = Duration::from_secs(5);
/// How often an idle stream checks whether the agent is shutting down.
const SHUTDOWN_POLL: Duration = Duration::from_millis(250);
/// An idle stream repeats the last digest this often, so that a client can tell a quiet
/// tree from a connection that silently died.
pub const HEARTBEAT: Duration = Duration::from_secs(30);

pub async fn watch(state: &Arc<AgentState>, categories: Vec<Category>) -> Result<Changes> {
    let mut changed = state.watcher.as_ref().map(|w| w.subscribe()).ok_or_else(|| {
        EngineError::Unavailable(
            "this agent cannot watch its tree for changes (its log says why); use `confsync auto \
             --every` instead, or raise fs.inotify.max_user_watches / max_user_instances on the \
             source and restart its agent"
                .into(),
        )
    })?;
    let mut last = digest(state, &categories).await?;
    let (tx, rx) = mpsc::channel(4);
    let state = Arc::clone(state);
    tokio::spawn(async move {
        if tx.send(Ok(last)).await.is_err() {
            return;
        }
        loop {
            match wait_for_change(&mut changed, &tx, &state).await {
                Wake::Stop => return,
                Wake::Heartbeat => {
                    if tx.send(Ok(last)).await.is_err() {
                        return;
                    }
                    continue;
                }
                Wake::Changed => {}
            }
            match digest(&state, &categories).await {
                Ok(now) if now != last => {
                    last = now;
                    if tx.send(Ok(last)).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "scanning after a change failed"),
            }
        }
    });
    Ok(ReceiverStream::new(rx).boxed())
}

enum Wake {
    Changed,
    Heartbeat,
    Stop,
}

/// Waits for a burst of changes to settle, or for the time of a heartbeat; `Stop` when
/// the client left or the agent is stopping.
async fn wait_for_change(
    changed: &mut watch::Receiver<u64>,
    tx: &mpsc::Sender<Result<Digest>>,
    state: &AgentState,
) -> Wake {
    let heartbeat = Instant::now() + HEARTBEAT;
    loop {
        tokio::select! {
            event = changed.changed() => {
                if event.is_err() {
                    return Wake::Stop;
                }
                break;
            }
            () = tx.closed() => return Wake::Stop,
            () = tokio::time::sleep(SHUTDOWN_POLL) => {
                if state.is_shutting_down() {
                    return Wake::Stop;
                }
                if Instant::now() >= heartbeat {
                    return Wake::Heartbeat;
                }
            }
        }
    }
    let deadline = Instant::now() + MAX_DELAY;
    loop {
        let quiet_until = (Instant::now() + QUIET).min(deadline);
        tokio::select! {
            event = changed.changed() => {
                if event.is_err() {
                    return Wake::Stop;
                }
                if Instant::now() >= deadline {
                    return Wake::Changed;
                }
            }
            () = tokio::time::sleep_until(quiet_until) => return Wake::Changed,
            () = tx.closed() => return Wake::Stop,
        }
    }
}

async fn digest(state: &Arc<AgentState>, categories: &[Category]) -> Result<Digest> {
    let shared = state.scan_shared(categories.to_vec()).await?;
    Ok(confsync_engine::manifest::tree_digest(shared.iter().map(|m| (m.category, m.digest))))
}
