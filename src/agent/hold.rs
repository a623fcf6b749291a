//! Holding a server (the record itself is [`confsync_engine::hold`]): placing and ending a
//! hold on request, logged with who asked. An apply already running when the hold is
//! placed completes (or is undone) as usual.

use confsync_engine::clock;
use confsync_engine::error::Result;
use confsync_engine::hold::{self, Hold};
use confsync_wire::server::Caller;

use crate::agent::state::AgentState;

pub fn hold(state: &AgentState, reason: String, caller: &Caller) -> Result<Option<Hold>> {
    // Holding a held server without a new reason changes nothing: its reason, who placed
    // it and since when stay (a reason is only ever replaced by a new one).
    if reason.trim().is_empty()
        && let Some(current) = hold::current(state.layout())
    {
        return Ok(Some(current));
    }
    let hold = Hold {
        reason: reason.trim().to_string(),
        since: clock::now_secs(),
        held_by: caller.describe(),
    };
    hold::place(state.layout(), &hold)?;
    tracing::warn!(reason = %hold.reason, by = %hold.held_by, "server placed on hold: every apply is refused until released");
    Ok(Some(hold))
}

pub fn release(state: &AgentState, caller: &Caller) -> Result<Option<Hold>> {
    let was_held = hold::current(state.layout()).is_some();
    hold::release(state.layout())?;
    if was_held {
        tracing::info!(by = %caller.describe(), "hold released: applies are accepted again");
    }
    Ok(None)
}
