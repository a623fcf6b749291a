//! The two-way flow that `sync --two-way`, the wizard and `auto --two-way` share: the
//! `--to` server decides both directions, the `--from` server plans the part it takes
//! from it, both parts are shown as one plan with one digest, then applied (the deciding
//! side first), and only when both committed does each side adopt the new base.
//!
//! An interruption anywhere leaves each side either as it was or with its own part
//! committed; the base stays the previous one, so the next run finds the remaining
//! changes again and converges.

mod run;
mod show;

use std::time::Duration;

use clap::Args;
use confsync_engine::apply::ApplyOutcome;
use confsync_engine::category::Category;
use confsync_engine::entry::Digest;
use confsync_engine::progress::ProgressEvent;
use confsync_engine::refusal::{Refusal, RefusalKind};
use confsync_engine::request::{ApplyRequest, PlanOptions, PlanRequest};
use confsync_engine::two_way::{Choice, ConflictPolicy, Decide, Role, Side, Take, TwoWay};
use confsync_engine::view::{Decision, PlanView};
use confsync_wire::{AgentClient, ClientError};

use crate::cli::UsageError;
use crate::cli::targets::Server;

pub use run::{TwoWaySync, diff};
pub use show::{conflict_lines, plan as show_plan, restore_lines};

/// `--two-way`, `--conflict` and `--max-clock-skew`, for `sync` and `auto`.
#[derive(Debug, Clone, Default, Args)]
pub struct TwoWayArgs {
    /// Synchronize both ways: what changed on either server since their last two-way sync
    /// goes to the other. Alone, every category compared goes both ways; with a list
    /// (`--two-way config`), only those do and the others go one way, from --from.
    #[arg(long, value_name = "CATS", num_args = 0..=1, default_missing_value = "all")]
    pub two_way: Option<String>,

    /// Who wins a file changed on both servers: newest (the more recent modification,
    /// clocks compared at the start), source (--from), destination (--to), or ask (the
    /// wizard asks per file). The losing version is kept in that server's generation.
    #[arg(long, value_name = "POLICY", default_value = "newest", value_parser = parse_policy)]
    pub conflict: ConflictPolicy,

    /// Clocks further apart than this do not decide conflicts by time: the plan refuses
    /// until they are set right or another --conflict policy decides.
    #[arg(long, value_name = "DURATION", default_value = "30s",
          value_parser = crate::cli::parse::duration)]
    pub max_clock_skew: Duration,
}

fn parse_policy(text: &str) -> Result<ConflictPolicy, String> {
    match text.trim() {
        "newest" => Ok(ConflictPolicy::Newest),
        "source" => Ok(ConflictPolicy::Source),
        "destination" => Ok(ConflictPolicy::Destination),
        "ask" => Ok(ConflictPolicy::Ask),
        other => {
            Err(format!("{other:?} is no conflict policy: newest, source, destination or ask"))
        }
    }
}

/// What a two-way run synchronizes, and how.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Every category compared.
    pub categories: Vec<Category>,
    /// Those that go both ways; the others go one way, from the source.
    pub both_ways: Vec<Category>,
    pub policy: ConflictPolicy,
    /// Answers to conflicts (policy `ask`).
    pub choices: Vec<Choice>,
    pub max_skew: Duration,
    pub options: PlanOptions,
}

impl TwoWayArgs {
    /// The settings for `categories`, or `None` when `--two-way` was not given.
    pub fn settings(
        &self,
        categories: &[Category],
        options: &PlanOptions,
    ) -> Result<Option<Settings>, UsageError> {
        let Some(list) = &self.two_way else { return Ok(None) };
        let both_ways = if list == "all" {
            categories.to_vec()
        } else {
            let named = crate::cli::parse::categories(list)
                .map_err(|e| UsageError(format!("--two-way: {e}")))?
                .0;
            if let Some(outside) = named.iter().find(|c| !categories.contains(c)) {
                return Err(UsageError(format!(
                    "--two-way names {outside}, which --only leaves out; add it to --only"
                )));
            }
            named
        };
        Ok(Some(Settings {
            categories: categories.to_vec(),
            both_ways,
            policy: self.conflict,
            choices: Vec::new(),
            max_skew: self.max_clock_skew,
            options: *options,
        }))
    }
}

/// Both parts of a two-way run, planned and not yet applied.
pub struct Planned {
    pub run: String,
    /// The `--to` server's part: what it takes (`→`), what it gives, the conflicts.
    pub decides: PlanView,
    /// The `--from` server's part: what it takes from the other (`←`).
    pub takes: PlanView,
    /// One digest for both parts: what `--plan` pins.
    pub digest: Digest,
    to: AgentClient,
    from: AgentClient,
    to_id: String,
    from_id: String,
    decide: PlanRequest,
    take: PlanRequest,
}

impl Planned {
    /// The conflicts of the run (none in the part that takes).
    pub fn conflicts(&self) -> &[confsync_engine::two_way::Conflict] {
        self.decides.two_way.as_ref().map_or(&[], |t| &t.conflicts)
    }

    pub fn first(&self) -> bool {
        self.decides.two_way.as_ref().is_some_and(|t| t.first)
    }

    pub fn is_empty(&self) -> bool {
        self.decides.is_empty() && self.takes.is_empty()
    }

    pub fn files_changed(&self) -> u64 {
        self.decides.files_changed() + self.takes.files_changed()
    }

    /// The one decision on both parts ([`confsync_engine::view::both_ways`]).
    pub fn decision(&self) -> Decision {
        confsync_engine::view::both_ways(&self.decides, &self.takes)
    }

    /// The refusals that stand as notes when nothing is to be done (a hold, protection).
    pub fn notes(&self) -> Vec<&Refusal> {
        self.decides.refusals.iter().chain(&self.takes.refusals).collect()
    }
}

/// Plans a two-way run between `from` and `to`; `to` decides.
pub async fn plan(from: &Server, to: &Server, settings: &Settings) -> anyhow::Result<Planned> {
    let run = run_id(from, to);
    let mut to_client = AgentClient::connect(&to.target).await?;
    let mut from_client = AgentClient::connect(&from.target).await?;
    let to_id = to_client.hello().await?.instance_id;
    let from_id = from_client.hello().await?.instance_id;
    let decide = PlanRequest {
        source: from.target.address.clone(),
        categories: settings.categories.clone(),
        options: settings.options,
        two_way: Some(TwoWay::Decide(Decide {
            categories: settings.both_ways.clone(),
            policy: settings.policy,
            choices: settings.choices.clone(),
            max_skew_ms: u64::try_from(settings.max_skew.as_millis()).unwrap_or(u64::MAX),
            run: run.clone(),
        })),
        bundle: None,
    };
    let decides = to_client.plan(&decide).await?;
    let give = decides.two_way.as_ref().map(|t| t.give.clone()).unwrap_or_default();
    let take = PlanRequest {
        source: to.target.address.clone(),
        categories: settings.both_ways.clone(),
        options: settings.options,
        two_way: Some(TwoWay::Take(Take {
            categories: settings.both_ways.clone(),
            paths: give,
            run: run.clone(),
        })),
        bundle: None,
    };
    let takes = from_client.plan(&take).await?;
    // An agent that does not know two-way sync ignores the part and plans one way: that
    // must never pass for a two-way plan.
    for (view, role, server) in [(&decides, Role::Decides, to), (&takes, Role::Takes, from)] {
        if view.two_way.as_ref().map(|t| t.role) != Some(role) {
            anyhow::bail!(
                "{} does not do two-way sync (an older confsync agent?): upgrade it; nothing \
                 was changed",
                server.label
            );
        }
    }
    let digest = combined_digest(&decides, &takes);
    Ok(Planned {
        run,
        decides,
        takes,
        digest,
        to: to_client,
        from: from_client,
        to_id,
        from_id,
        decide,
        take,
    })
}

/// How a two-way run ended on each side.
pub struct Applied {
    /// The `--to` server's part.
    pub to: Result<ApplyOutcome, ClientError>,
    /// The `--from` server's part; `None` when it was not tried (the first part failed).
    pub from: Option<Result<ApplyOutcome, ClientError>>,
    /// Both sides adopted the run's base.
    pub base_advanced: bool,
    /// Why the base could not be advanced, when both parts committed.
    pub base_problem: Option<String>,
}

impl Applied {
    /// The generation each side committed (0: none), for the restore commands.
    pub fn generation(&self, side: Side) -> u64 {
        let outcome = match side {
            Side::Destination => self.to.as_ref().ok(),
            Side::Source => self.from.as_ref().and_then(|r| r.as_ref().ok()),
        };
        outcome.map_or(0, |o| o.generation)
    }
}

/// Applies both parts, the deciding side first, then advances the base on both.
pub async fn apply(
    mut planned: Planned,
    mut to_progress: impl FnMut(&ProgressEvent),
    mut from_progress: impl FnMut(&ProgressEvent),
) -> Applied {
    let decide = ApplyRequest {
        plan: planned.decide.clone(),
        reviewed: planned.decides.digest,
        confirm_within: None,
    };
    let to = planned.to.apply(&decide, &mut to_progress).await;
    if to.is_err() {
        return Applied { to, from: None, base_advanced: false, base_problem: None };
    }
    // A hook failure made the deciding side roll its part back: the run stops there, and
    // the next one finds the same changes again.
    if to.as_ref().is_ok_and(|o| o.rolled_back_by.is_some()) {
        let problem = "the first part was rolled back after a hook failed".to_string();
        return Applied { to, from: None, base_advanced: false, base_problem: Some(problem) };
    }
    let take = ApplyRequest {
        plan: planned.take.clone(),
        reviewed: planned.takes.digest,
        confirm_within: None,
    };
    let from = planned.from.apply(&take, &mut from_progress).await;
    if from.is_err() {
        return Applied { to, from: Some(from), base_advanced: false, base_problem: None };
    }
    if from.as_ref().is_ok_and(|o| o.rolled_back_by.is_some()) {
        let problem = "the second part was rolled back after a hook failed".to_string();
        return Applied { to, from: Some(from), base_advanced: false, base_problem: Some(problem) };
    }
    let run = planned.run.clone();
    let adopted = async {
        let on_to = planned.to.adopt_base(&planned.from_id, &run).await?;
        let on_from = planned.from.adopt_base(&planned.to_id, &run).await?;
        Ok::<_, ClientError>(on_to && on_from)
    }
    .await;
    let (base_advanced, base_problem) = match adopted {
        Ok(true) => (true, None),
        Ok(false) => (false, Some("a side had no record of this run's base".to_string())),
        Err(e) => (false, Some(e.to_string())),
    };
    Applied { to, from: Some(from), base_advanced, base_problem }
}

/// One digest over both parts, so that one `--plan` pins both directions.
fn combined_digest(decides: &PlanView, takes: &PlanView) -> Digest {
    let mut bytes = b"confsync-two-way-v1\0".to_vec();
    bytes.extend_from_slice(&decides.digest.0);
    bytes.extend_from_slice(&takes.digest.0);
    Digest::of(&bytes)
}

/// A name for one run, different for every run (time, process, the two servers).
fn run_id(from: &Server, to: &Server) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut bytes = now.to_le_bytes().to_vec();
    bytes.extend_from_slice(&std::process::id().to_le_bytes());
    bytes.extend_from_slice(from.target.address.as_bytes());
    bytes.extend_from_slice(to.target.address.as_bytes());
    Digest::of(&bytes).to_hex()[..16].to_string()
}

/// Refuses options a two-way run cannot honour, naming them.
pub fn check_usage(destinations: usize, confirm_within: bool) -> Result<(), UsageError> {
    if destinations != 1 {
        return Err(UsageError(
            "--two-way synchronizes a pair: give exactly one --to (run it once per backup)".into(),
        ));
    }
    if confirm_within {
        return Err(UsageError(
            "--confirm-within is for one-way syncs: a two-way run commits on both servers, and \
             one deadline cannot roll back both; roll back by hand if needed"
                .into(),
        ));
    }
    Ok(())
}

/// The refusal kinds that mean "decide the conflicts first".
pub fn is_undecided(refusal: &Refusal) -> bool {
    matches!(refusal.kind, RefusalKind::Conflict | RefusalKind::ClockSkew)
}
