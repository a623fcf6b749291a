//! Holding a server: while held, the agent refuses every apply (manual, scheduled or
//! rollback) with the reason, until released. The hold is a small file in the state
//! folder (`hold.json`), so it survives restarts; it is read at each check, so there is
//! no copy in memory to go stale. An apply already running when the hold is placed
//! completes (or is undone) as usual.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use crate::agent::state::AgentState;
use crate::engine::clock;
use crate::engine::error::EngineError;
use crate::engine::index::write_atomically;
use crate::engine::layout::Layout;
use crate::proto::v1;

/// What `hold.json` holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hold {
    pub reason: String,
    /// Seconds since the Unix epoch.
    pub since: u64,
    pub held_by: String,
}

fn path(layout: &Layout) -> std::path::PathBuf {
    layout.state_dir().join("hold.json")
}

/// The hold in force, if any. A hold file that cannot be read counts as a hold: refusing
/// is the safe reading of "someone meant to stop applies here".
pub fn current(layout: &Layout) -> Option<Hold> {
    let path = path(layout);
    let unreadable = |e: &dyn std::fmt::Display| {
        tracing::warn!(path = %path.display(), error = %e, "unreadable hold file; treating the server as held");
        Hold {
            reason: format!(
                "the hold file {} is unreadable ({e}); fix or remove it, or run `confsync release`",
                path.display()
            ),
            since: 0,
            held_by: String::new(),
        }
    };
    match std::fs::read(&path) {
        Ok(bytes) => Some(serde_json::from_slice(&bytes).unwrap_or_else(|e| unreadable(&e))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => Some(unreadable(&e)),
    }
}

/// Why an apply is refused on a held server, naming the way out; `None` when not held.
pub fn refusal(state: &AgentState) -> Option<String> {
    let hold = current(state.layout())?;
    let name = &state.settings.name;
    let reason = if hold.reason.is_empty() { "no reason given".to_string() } else { hold.reason };
    let by = if hold.held_by.is_empty() { String::new() } else { format!(" by {}", hold.held_by) };
    let since =
        if hold.since == 0 { String::new() } else { format!(" since {}", clock::utc(hold.since)) };
    Some(format!(
        "server {name:?} is on hold{since}{by} ({reason}); it refuses every apply and rollback \
         until `confsync release --server {name}`"
    ))
}

pub fn to_proto(hold: Option<Hold>) -> v1::HoldState {
    match hold {
        Some(h) => {
            v1::HoldState { held: true, reason: h.reason, since: h.since, held_by: h.held_by }
        }
        None => v1::HoldState::default(),
    }
}

pub async fn hold(
    state: &Arc<AgentState>,
    request: Request<v1::HoldRequest>,
) -> Result<Response<v1::HoldState>, Status> {
    let held_by = requester(&request);
    let reason = request.into_inner().reason.trim().to_string();
    let hold = Hold { reason, since: clock::now_secs(), held_by };
    let bytes = serde_json::to_vec_pretty(&hold).map_err(|e| Status::internal(e.to_string()))?;
    write_atomically(&path(state.layout()), &bytes).map_err(crate::agent::service::to_status)?;
    tracing::warn!(reason = %hold.reason, by = %hold.held_by, "server placed on hold: every apply is refused until released");
    Ok(Response::new(to_proto(Some(hold))))
}

pub async fn release(
    state: &Arc<AgentState>,
    request: Request<v1::ReleaseRequest>,
) -> Result<Response<v1::HoldState>, Status> {
    let by = requester(&request);
    let path = path(state.layout());
    match std::fs::remove_file(&path) {
        Ok(()) => tracing::info!(by = %by, "hold released: applies are accepted again"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(crate::agent::service::to_status(EngineError::io("remove", path)(e)));
        }
    }
    Ok(Response::new(to_proto(None)))
}

/// Who asked: the certificate's name and role with the address, or the address alone.
pub fn requester<T>(request: &Request<T>) -> String {
    crate::agent::auth::caller(request)
}
