//! The destination side: planning this tree against a source, and applying the plan the
//! administrator reviewed. The source's manifest is fetched only for categories whose
//! Merkle digest differs from ours. The apply reuses the last plan when it is the reviewed
//! one and both trees still hold what it was made from (their category digests, read
//! from the live manifests), else it plans again; either way it refuses unless the plan
//! is exactly the reviewed one.

use std::sync::Arc;

use confsync_engine::apply::{Applier, ApplyOutcome, Origin, Phases, elapsed_ms};
use confsync_engine::category::Category;
use confsync_engine::entry::Digest;
use confsync_engine::error::{EngineError, Result};
use confsync_engine::last_sync::{self, LastSync};
use confsync_engine::manifest::Manifest;
use confsync_engine::merging;
use confsync_engine::plan;
use confsync_engine::refusal::RefusalKind;
use confsync_engine::request::{ApplyRequest, PlanRequest};
use confsync_engine::view::PlanView;
use confsync_wire::server::{ApplyEvents, Caller};
use confsync_wire::{AgentClient, Target};

use crate::agent::job::Attempt;
use crate::agent::job::{self, ChannelProgress};
use crate::agent::plan_memo::{MEMO_LIFETIME, PlanMemo, Planned};
use crate::agent::source::{RemoteSource, Source};
use crate::agent::state::AgentState;
use crate::agent::two_way;

pub async fn plan(state: &Arc<AgentState>, request: PlanRequest) -> Result<PlanView> {
    // The plan made now replaces the one kept; letting go of that one first keeps two
    // large plans from being in memory together.
    drop(state.last_plan.lock().unwrap_or_else(|p| p.into_inner()).take());
    let effects = state.effects()?;
    let content = plan_content(state, &request).await?;
    let planned = finish(state, &request, content);
    let mut view = PlanView::from_plan(&planned.plan, &planned.source_name, &state.settings.name);
    view.notices = effects.notices(&planned.plan);
    // Kept as finished: an apply classifies it again (its finish undoes this one first),
    // which spares a copy of a plan that can hold 100,000 steps. A two-way part is
    // always made again: the other side's changes are no tree digest to compare.
    if request.two_way.is_none() && request.bundle.is_none() {
        remember(state, request, planned);
    }
    Ok(view)
}

pub fn apply(
    state: &Arc<AgentState>,
    request: ApplyRequest,
    caller: Caller,
) -> Result<ApplyEvents> {
    let requested_by = caller.describe();
    let attempt = Attempt::new(&request.plan.source, &request.plan.categories, &requested_by);
    job::run_locked(state, attempt, "apply", move |state, progress| async move {
        run_apply(&state, request, &progress, requested_by).await
    })
}

fn remember(state: &AgentState, request: PlanRequest, content: Planned) {
    let memo = PlanMemo { request, content, made: std::time::Instant::now() };
    *state.last_plan.lock().unwrap_or_else(|p| p.into_inner()) = Some(memo);
}

/// The plan to apply: the remembered one when it is the reviewed one and neither tree
/// changed since, else a new one.
async fn plan_for_apply(state: &Arc<AgentState>, request: &ApplyRequest) -> Result<Planned> {
    let clock = std::time::Instant::now();
    let memo = state.last_plan.lock().unwrap_or_else(|p| p.into_inner()).take();
    if let Some(mut memo) = memo.filter(|m| {
        m.request == request.plan
            && m.request.two_way.is_none()
            && m.request.bundle.is_none()
            && m.content.plan.digest == request.reviewed
            && m.made.elapsed() < MEMO_LIFETIME
    }) && still_holds(state, &memo.content).await
    {
        tracing::debug!("applying the reviewed plan as made: both trees are as it saw them");
        memo.content.timings.revalidate_ms = elapsed_ms(clock);
        return Ok(finish(state, &request.plan, memo.content));
    }
    let checked = elapsed_ms(clock);
    let mut content = plan_content(state, &request.plan).await?;
    content.timings.revalidate_ms = checked;
    Ok(finish(state, &request.plan, content))
}

/// Whether both trees and both sides' rules are still what `content` was planned from.
async fn still_holds(state: &Arc<AgentState>, content: &Planned) -> bool {
    let categories: Vec<Category> = content.plan.categories.iter().map(|c| c.category).collect();
    let Source::Agent(source) = content.source.clone() else { return false };
    let mut source = *source;
    let Ok(hello) = source.hello().await else { return false };
    let theirs: Vec<Option<Digest>> =
        categories.iter().map(|c| hello.category(*c).map(|s| s.digest)).collect();
    let Ok(ours) = state.scan(categories.clone()).await else { return false };
    let ours_same = categories
        .iter()
        .all(|c| ours.get(*c).map(|m| m.digest) == content.destination.get(*c).map(|m| m.digest));
    let rules_same = state.device_specific().ok().as_ref() == Some(&content.rules.1)
        && hello.device_specific == content.rules.0;
    theirs == content.source_digests && ours_same && rules_same
}

/// What this server adds to a plan's content now: local edits and downgrades (from the
/// last-sync record), protection and a hold.
fn finish(state: &AgentState, request: &PlanRequest, mut planned: Planned) -> Planned {
    if let Some(earlier) = planned.classified.take() {
        earlier.undo(&mut planned.plan);
    }
    let record = LastSync::load(state.layout());
    let layout = state.layout();
    let read = |category: Category, path: &confsync_engine::path::RelPath| {
        last_sync::read_small(layout, category, path)
    };
    let classified =
        last_sync::classify(&mut planned.plan, &record, &request.options.guards, &read);
    let standing = state.standing_refusals(&request.options, &planned.plan);
    planned.plan.refusals.extend(standing);
    if !planned.plan.is_empty() {
        planned
            .plan
            .refusals
            .extend(confsync_engine::confirm::refusal(state.layout(), &state.settings.name));
    }
    planned.classified = Some(classified);
    planned
}

/// Fetches the source's manifest (only for categories whose digest differs from ours),
/// reads this tree and plans.
async fn plan_content(state: &Arc<AgentState>, request: &PlanRequest) -> Result<Planned> {
    if let Some(bundle) = &request.bundle {
        return crate::agent::bundles::plan(state, request, bundle).await;
    }
    let mut timings = Phases::default();
    let mut clock = std::time::Instant::now();
    let source_address = request.source.as_str();
    let target =
        Target { address: source_address.to_string(), tls: state.settings.client_tls.clone() };
    let mut source = AgentClient::connect(&target)
        .await
        .map_err(|e| EngineError::Source(e.to_string()))?
        .with_stall_timeout(state.settings.stall_timeout);
    let hello = source.hello().await.map_err(|e| EngineError::Source(e.to_string()))?;
    let clock_offset_ms = two_way::clock_offset(hello.clock_ms);
    if hello.instance_id == state.instance_id {
        return Err(EngineError::refused(
            RefusalKind::SameServer,
            format!(
                "the source {source_address} is this very server; choose another source or destination"
            ),
        ));
    }
    let categories = &request.categories;
    timings.exchange_ms = elapsed_ms(clock);
    clock = std::time::Instant::now();
    let destination = state.scan(categories.clone()).await?;
    timings.scan_ms = elapsed_ms(clock);
    clock = std::time::Instant::now();
    let differing: Vec<Category> = categories
        .iter()
        .copied()
        .filter(|c| {
            let theirs = hello.category(*c).map(|s| s.digest);
            theirs != destination.get(*c).map(|m| m.digest)
        })
        .collect();
    let mut source_manifest = if differing.is_empty() {
        Manifest::default()
    } else {
        source
            .manifest(&differing, Some(&destination))
            .await
            .map_err(|e| EngineError::Source(e.to_string()))?
    };
    timings.exchange_ms += elapsed_ms(clock);
    clock = std::time::Instant::now();
    for category in categories {
        if !differing.contains(category)
            && let Some(same) = destination.get(*category)
        {
            // Equal Merkle digests: the source holds exactly what we hold.
            source_manifest.insert(same.clone());
        }
    }
    let ours = state.device_specific()?;
    let rules =
        state.tree.for_agent(crate::agent::state::combined_rules(&ours, &hello.device_specific)?);
    let mut plan = plan::plan_with(&source_manifest, &destination, &request.options.guards, &rules);
    let merging = merging::Options {
        allow_unmergeable: request.options.allow_unmergeable,
        semantic: request.options.semantic,
        key_column: None,
    };
    merging::resolve(
        &mut plan,
        &rules,
        state.layout(),
        &RemoteSource::new(source.clone()),
        &merging,
    )
    .await?;
    if let Some(part) = &request.two_way {
        let peer = two_way::Peer {
            client: &mut source,
            instance_id: &hello.instance_id,
            name: &hello.name,
            clock_offset_ms,
        };
        let guards = &request.options.guards;
        two_way::make_part(state, &mut plan, part, peer, &destination, &source_manifest, guards)
            .await?;
    }
    let source_digests = categories.iter().map(|c| hello.category(*c).map(|s| s.digest)).collect();
    Ok(Planned {
        plan,
        source_name: hello.name,
        source: Source::Agent(Box::new(source)),
        destination,
        source_digests,
        rules: (hello.device_specific, ours),
        timings: Phases { diff_ms: elapsed_ms(clock), ..timings },
        classified: None,
    })
}

async fn run_apply(
    state: &Arc<AgentState>,
    request: ApplyRequest,
    progress: &ChannelProgress,
    requested_by: String,
) -> Result<ApplyOutcome> {
    let planned = plan_for_apply(state, &request).await?;
    job::check_reviewed(Some(request.reviewed), planned.plan.digest)?;
    if planned.plan.is_empty() {
        // Nothing differs: nothing to refuse either (a hold, protection). What is here is
        // what a sync would leave: record it.
        record(state, &planned);
        let mut outcome = ApplyOutcome::default();
        outcome.warnings.extend(two_way::leave_candidate(
            state,
            &planned.plan,
            &planned.destination,
            &planned.source_name,
        ));
        return Ok(outcome);
    }
    if !planned.plan.refusals.is_empty() {
        return Err(EngineError::Refused(planned.plan.refusals));
    }
    let source = &planned.source;
    let checks = state.checks()?;
    let applier = Applier {
        layout: state.layout(),
        tree: &state.tree,
        source,
        progress,
        keep_generations: state.settings.keep_generations,
        flush: state.flush,
        checks: &checks,
    };
    let origin = Origin {
        source: match &request.plan.bundle {
            Some(_) => planned.source_name.clone(),
            None => format!("{} ({})", planned.source_name, request.plan.source),
        },
        requested_by: requested_by.clone(),
        rollback_of: None,
        notices: state.effects()?.notices(&planned.plan),
    };
    let mut outcome = applier.apply(&planned.plan, &planned.destination, origin).await?;
    let planning = planned.timings;
    outcome.phases = Phases {
        scan_ms: planning.scan_ms,
        exchange_ms: planning.exchange_ms,
        diff_ms: planning.diff_ms,
        revalidate_ms: planning.revalidate_ms,
        ..outcome.phases
    };
    record(state, &planned);
    if crate::agent::hooks::after_commit(state, &planned.plan, &mut outcome).await
        == crate::agent::hooks::Then::RollBack
    {
        // Boxed: the rollback is an apply that runs the hooks too.
        Box::pin(roll_back_after_hook(state, &mut outcome, progress)).await;
    }
    // A generation its hook failure rolled back leaves no candidate: the base stays, and
    // the next two-way sync finds the same changes again.
    if outcome.rolled_back_by.is_none() {
        let (plan, before, peer) = (&planned.plan, &planned.destination, &planned.source_name);
        outcome.warnings.extend(two_way::leave_candidate(state, plan, before, peer));
    }
    if let Some(within) = request.confirm_within
        && outcome.rolled_back_by.is_none()
        && let Err(e) = crate::agent::confirm::start(state, within, &requested_by, &mut outcome)
    {
        outcome.warnings.push(format!(
            "the confirmation deadline could not be kept ({e}); the generation stands, roll it \
             back by hand if it is not wanted"
        ));
    }
    tracing::info!(
        generation = outcome.generation,
        files = outcome.files_changed,
        bytes_received = outcome.bytes_received,
        duration_ms = outcome.duration_ms,
        "applied"
    );
    Ok(outcome)
}

/// Records what a committed (or already equal) plan left, with the rules it was made
/// with: what they keep is this server's own from now on.
fn record(state: &AgentState, planned: &Planned) {
    let rules = crate::agent::state::combined_rules(&planned.rules.1, &planned.rules.0);
    if let Err(e) = &rules {
        tracing::warn!(error = %e, "the plan's rules no longer read; the record keeps what it kept");
    }
    last_sync::record_committed(
        state.layout(),
        &planned.plan,
        &planned.destination,
        rules.as_ref().ok(),
    );
}

/// Rolls a generation whose hook failed back, as `on_hook_failure = "rollback"` asks, and
/// says so in its outcome.
async fn roll_back_after_hook(
    state: &Arc<AgentState>,
    outcome: &mut ApplyOutcome,
    progress: &ChannelProgress,
) {
    let generation = outcome.generation;
    match crate::agent::history::roll_back_own(state, generation, progress, "a hook failed").await {
        Ok(rolled) => {
            outcome.rolled_back_by = Some(rolled.generation);
            outcome.warnings.push(format!(
                "as on_hook_failure = \"rollback\" asks, the agent rolled generation {generation} back (generation {}): this server is as it was before",
                rolled.generation
            ));
        }
        Err(e) => outcome.warnings.push(format!(
            "on_hook_failure = \"rollback\", but rolling generation {generation} back failed ({e}); roll it back by hand: confsync rollback --server {} --generation {generation}",
            state.settings.name
        )),
    }
}
