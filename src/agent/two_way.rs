//! Two-way synchronization on this server: what it reports of its own changes since its
//! base with a peer, its part of a run (deciding, or taking what the peer decided, in
//! [`sync`](crate::agent::sync)), and the candidate base each part leaves until both sides
//! committed and the base is adopted.

use std::sync::Arc;

use confsync_engine::category::Category;
use confsync_engine::error::Result;
use confsync_engine::manifest::Manifest;
use confsync_engine::pair::{self, PairBase, SideChanges};
use confsync_engine::plan::{Guards, Plan};
use confsync_engine::two_way::{self, Inputs, TwoWay};
use confsync_engine::{EngineError, clock};
use confsync_wire::AgentClient;

use crate::agent::state::AgentState;

/// Clocks further apart than this are worth a warning, even when within the limit.
const WARN_SKEW_MS: u64 = 1_000;

/// What changed in this tree since its base with `peer`.
pub(super) async fn changes(
    state: &Arc<AgentState>,
    peer: &str,
    categories: Vec<Category>,
) -> Result<SideChanges> {
    let now = state.scan(categories.clone()).await?;
    pair::changes_since(state.layout(), peer, &now, &categories)
}

/// Makes the candidate of `run` this server's base with `peer`.
pub(super) fn adopt(state: &AgentState, peer: &str, run: &str) -> Result<bool> {
    let adopted = pair::adopt(state.layout(), peer, run)?;
    tracing::info!(peer, run, adopted, "two-way base");
    Ok(adopted)
}

/// The other side as this destination sees it when planning its part.
pub(super) struct Peer<'a> {
    pub client: &'a mut AgentClient,
    pub instance_id: &'a str,
    pub name: &'a str,
    /// Its clock minus ours, from its `Hello`, when it told its clock.
    pub clock_offset_ms: Option<i64>,
}

/// Makes `plan` (one way, from the peer to this destination) this side's part of the
/// two-way sync `two_way`, and guards it again as it now stands.
pub(super) async fn make_part(
    state: &Arc<AgentState>,
    plan: &mut Plan,
    two_way: &TwoWay,
    peer: Peer<'_>,
    destination: &Manifest,
    source: &Manifest,
    guards: &Guards,
) -> Result<()> {
    if let Some(outside) =
        two_way.categories().iter().find(|c| !plan.categories.iter().any(|p| p.category == **c))
    {
        return Err(EngineError::Config(format!(
            "the two-way request names {outside}, which it does not compare; name it among the \
             categories too"
        )));
    }
    let part = match two_way {
        TwoWay::Decide(decide) => {
            let theirs = peer
                .client
                .changes(&state.instance_id, &decide.categories)
                .await
                .map_err(|e| EngineError::Source(e.to_string()))?;
            let ours = pair::changes_since(
                state.layout(),
                peer.instance_id,
                destination,
                &decide.categories,
            )?;
            let inputs = Inputs {
                decide,
                source: &theirs,
                destination: &ours,
                clock_offset_ms: peer.clock_offset_ms,
                peer: peer.instance_id,
            };
            let part = two_way::decide(plan, &inputs);
            if peer.clock_offset_ms.is_none() && !part.conflicts.is_empty() {
                plan.warnings.push(format!(
                    "{} did not tell its clock (an older agent?): conflicts are decided by \
                     modification times as each server read them",
                    peer.name
                ));
            }
            if let Some(offset) = peer.clock_offset_ms
                && offset.unsigned_abs() > WARN_SKEW_MS
                && offset.unsigned_abs() <= decide.max_skew_ms
            {
                plan.warnings.push(format!(
                    "the clocks of {} and {} differ by {:.1} s; conflicts are decided by \
                     modification times corrected by it (set the clocks right with NTP)",
                    peer.name,
                    state.settings.name,
                    offset as f64 / 1000.0
                ));
            }
            part
        }
        TwoWay::Take(take) => two_way::take_only(plan, take, peer.instance_id),
    };
    plan.two_way = Some(part);
    plan.guard_again(source, guards);
    plan.reseal();
    Ok(())
}

/// Leaves the candidate base of this side's part: what `plan`, committed over
/// `before`, left here. A failure is reported, not returned: the commit stands, and the
/// next two-way sync sees the same changes again.
pub(super) fn leave_candidate(
    state: &AgentState,
    plan: &Plan,
    before: &Manifest,
    peer_name: &str,
) -> Option<String> {
    let part = plan.two_way.as_ref()?;
    let base = PairBase::after(plan, before, &part.categories, &part.run, peer_name);
    match pair::save_candidate(state.layout(), &part.peer, &base) {
        Ok(()) => None,
        Err(e) => Some(format!(
            "the two-way base could not be kept ({e}); the next two-way sync finds these \
             changes again and converges"
        )),
    }
}

/// The peer's clock minus ours, from the clock it told in a `Hello` that arrived now.
pub(super) fn clock_offset(told_ms: i64) -> Option<i64> {
    (told_ms != 0).then(|| told_ms.saturating_sub(clock::now_ms()))
}
