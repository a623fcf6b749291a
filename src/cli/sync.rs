//! `confsync sync`: plan every destination, show the differences, confirm (or `--yes`),
//! then apply the reviewed plans concurrently and print a result line per destination;
//! driven by [`drive`] like every operation that changes servers.

use clap::Args;
use confsync_engine::request::PlanOptions;
use confsync_engine::view::{Decision, PlanView};
use confsync_wire::AgentClient;

use crate::cli::drive::{self, Interaction, Operation, Pin, Reporter, Verdict, Words};
use crate::cli::progress::ProgressDisplay;
use crate::cli::targets::Server;
use crate::cli::{
    ExitCode, GuardArgs, Refused, Selection, UsageError, exit, flow, render, targets, two_way,
};

#[derive(Debug, Args)]
pub struct SyncArgs {
    #[command(flatten)]
    pub selection: Selection,

    /// Destination servers, comma separated: names from the server list or host:port.
    #[arg(long, value_name = "DST[,DST...]")]
    pub to: String,

    /// Apply without asking (for scripts and cron).
    #[arg(short, long)]
    pub yes: bool,

    /// Show the differences and stop.
    #[arg(long)]
    pub dry_run: bool,

    /// Apply only if the plan is still exactly this one: the digest `diff` shows ("Plan
    /// 1a2b3c4d5e6f", 12 or more hex digits) or the whole one `diff --json` prints.
    #[arg(long, value_name = "DIGEST")]
    pub plan: Option<String>,

    /// Commit-confirmed: each destination rolls the generation back itself unless
    /// `confsync confirm --server DST` arrives within this long (`10m`); the deadline
    /// survives a restart of the destination, and every other apply there is refused
    /// until it is confirmed or rolled back.
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::parse::duration)]
    pub confirm_within: Option<std::time::Duration>,

    /// Show what changes inside each file, key by key (TOML, JSON, INI), record by record
    /// (JSON lines, CSV) and version by version, in the plan shown before the apply.
    #[arg(long)]
    pub keys: bool,

    #[command(flatten)]
    pub guards: GuardArgs,

    #[command(flatten)]
    pub two_way: two_way::TwoWayArgs,
}

pub async fn run(args: SyncArgs) -> anyhow::Result<ExitCode> {
    let categories = args.selection.only.clone().unwrap_or_default().0;
    let source = targets::resolve(&args.selection.from, "--from")?;
    let destinations = targets::resolve_list(&args.to, "--to")?;
    targets::distinct(&source, &destinations)?;
    let pinned = match &args.plan {
        Some(_) if destinations.len() > 1 => {
            return Err(UsageError(
                "--plan pins one reviewed plan, so it takes exactly one --to".into(),
            )
            .into());
        }
        Some(text) => Some(Pin::parse(text)?),
        None => None,
    };
    let how = Interaction {
        yes: args.yes,
        dry_run: args.dry_run,
        pinned,
        json: args.selection.json,
        quiet: false,
    };
    let options = PlanOptions { semantic: args.keys, ..args.guards.options() };
    if let Some(settings) = args.two_way.settings(&categories, &options)? {
        two_way::check_usage(destinations.len(), args.confirm_within.is_some())?;
        let mut op =
            two_way::TwoWaySync::new(&source, &destinations[0], &settings, args.selection.all);
        return drive::drive(&mut op, &how).await;
    }
    let mut op = OneWay {
        source,
        destinations,
        categories,
        options,
        confirm_within: args.confirm_within,
        all: args.selection.all,
        ready: Vec::new(),
        ended: Vec::new(),
    };
    drive::drive(&mut op, &how).await
}

/// One source to one or more destinations, each planned, then applied concurrently.
pub(crate) struct OneWay {
    pub source: Server,
    pub destinations: Vec<Server>,
    pub categories: Vec<confsync_engine::Category>,
    pub options: PlanOptions,
    pub confirm_within: Option<std::time::Duration>,
    /// List every path of the plans.
    pub all: bool,
    /// The destinations planned and ready to apply.
    pub ready: Vec<(Server, AgentClient, PlanView)>,
    /// How each destination ended, by label, for a caller that reports on its own.
    pub ended: Vec<(String, Ended)>,
}

/// How one destination of a one-way operation ended.
pub(crate) enum Ended {
    /// It equals the source (nothing to do, or nothing committed): the sentence.
    InSync(String),
    Refused(Vec<confsync_engine::refusal::Refusal>),
    Failed(anyhow::Error),
    Applied(confsync_engine::apply::ApplyOutcome),
}

impl Operation for OneWay {
    fn words(&self) -> Words {
        Words { not_done: "not applied", without_asking: "add --yes to apply without asking" }
    }

    async fn plan(&mut self, out: &Reporter, how: &Interaction) -> anyhow::Result<Verdict> {
        let pinned = how.pinned.as_ref();
        let (source, categories, options) = (&self.source, &self.categories, &self.options);
        let planned = futures::future::join_all(
            self.destinations
                .iter()
                .map(|to| flow::plan_one(&source.target, &to.target, categories, options)),
        )
        .await;
        let mut worst = ExitCode::Success;
        for (to, outcome) in self.destinations.iter().zip(planned) {
            let (client, view) = match outcome {
                Ok(planned) => planned,
                Err(e) => {
                    worst = worst.max(exit::code_for(&e));
                    out.error(&to.label, &e);
                    self.ended.push((to.label.clone(), Ended::Failed(e)));
                    continue;
                }
            };
            let text = render::plan(&view, &source.target.address, &to.target.address, self.all);
            out.plan(&to.label, &view, &format!("{text}\n"));
            if let Some(pin) = pinned {
                // A pinned plan is always sent unless refused: the destination itself
                // checks it is this one.
                match (pin.check(&view.digest), view.decision()) {
                    (Err(refused), _) => {
                        worst = worst.max(ExitCode::Refused);
                        out.error(&to.label, &Refused(refused.0.clone()).into());
                        self.ended.push((to.label.clone(), Ended::Refused(refused.0)));
                    }
                    (Ok(()), Decision::Refused(refusals)) => {
                        worst = worst.max(ExitCode::Refused);
                        out.error(&to.label, &Refused(refusals.clone()).into());
                        self.ended.push((to.label.clone(), Ended::Refused(refusals)));
                    }
                    (Ok(()), _) => self.ready.push((to.clone(), client, view)),
                }
                continue;
            }
            match view.decision() {
                Decision::InSync => {
                    let sentence = flow::in_sync_message(&view, &to.label, &source.label);
                    out.in_sync(&to.label, &sentence);
                    self.ended.push((to.label.clone(), Ended::InSync(sentence)));
                }
                Decision::Refused(refusals) => {
                    worst = worst.max(ExitCode::Refused);
                    out.error(&to.label, &Refused(refusals.clone()).into());
                    self.ended.push((to.label.clone(), Ended::Refused(refusals)));
                }
                Decision::Ready => self.ready.push((to.clone(), client, view)),
            }
        }
        let Some((_, _, first)) = self.ready.first() else { return Ok(Verdict::Nothing(worst)) };
        let names: Vec<String> = self.ready.iter().map(|(to, _, _)| to.label.clone()).collect();
        let question = render::confirmation(first, &source.label, &names);
        Ok(Verdict::Ready { question, so_far: worst })
    }

    fn applying(&self) -> Vec<String> {
        self.ready.iter().map(|(to, _, _)| to.label.clone()).collect()
    }

    async fn apply(&mut self, out: &Reporter) -> anyhow::Result<ExitCode> {
        let display = ProgressDisplay::choose(out.json);
        let (source, categories, options) = (&self.source.target, &self.categories, &self.options);
        let confirm_within = self.confirm_within;
        let applies = self.ready.iter_mut().map(|(to, client, view)| {
            let bar = display.destination(&to.label);
            async move {
                let result = flow::apply_one(
                    client,
                    source,
                    categories,
                    options,
                    view.digest,
                    confirm_within,
                    |event| bar.update(event),
                )
                .await;
                bar.finish();
                (to, view, result)
            }
        });
        let mut worst = ExitCode::Success;
        let mut ended = Vec::new();
        for (to, view, result) in futures::future::join_all(applies).await {
            match result {
                Ok(outcome) => {
                    let name = render::display_name(&view.destination_name, &to.label);
                    let scope = flow::scope(view);
                    worst = worst.max(out.applied(&to.label, &name, &outcome, &scope));
                    let end = if outcome.generation == 0 {
                        Ended::InSync(flow::in_sync_message(view, &to.label, &self.source.label))
                    } else {
                        Ended::Applied(outcome)
                    };
                    ended.push((to.label.clone(), end));
                }
                Err(e) => {
                    let e = anyhow::Error::new(e);
                    worst = worst.max(exit::code_for(&e));
                    out.error(&to.label, &e);
                    ended.push((to.label.clone(), Ended::Failed(e)));
                }
            }
        }
        self.ended.extend(ended);
        Ok(worst)
    }
}
