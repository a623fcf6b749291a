//! `confsync sync`: plan every destination, show the differences, confirm (or `--yes`),
//! then apply the reviewed plans concurrently and print a result line per destination.

use clap::Args;
use confsync_engine::EngineError;
use confsync_engine::refusal::RefusalKind;
use confsync_engine::request::PlanOptions;
use confsync_engine::view::{Decision, PlanView};
use confsync_wire::AgentClient;

use crate::cli::events::{self, Event};
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
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::auto::schedule::parse_duration)]
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
    let categories = targets::categories(&args.selection.only)?;
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
        Some(text) => Some(pinned_prefix(text)?),
        None => None,
    };
    let json = args.selection.json;
    let options = PlanOptions { semantic: args.keys, ..args.guards.options() };
    if let Some(settings) = args.two_way.settings(&categories, &options)? {
        two_way::check_usage(destinations.len(), args.confirm_within.is_some())?;
        let asked = two_way::Asked {
            json,
            all: args.selection.all,
            yes: args.yes,
            dry_run: args.dry_run,
            pinned,
        };
        return two_way::sync(&source, &destinations[0], &settings, &asked).await;
    }
    let confirm_within = args.confirm_within;
    let from = source.target.address.clone();

    let planned = futures::future::join_all(
        destinations
            .iter()
            .map(|to| flow::plan_one(&source.target, &to.target, &categories, &options)),
    )
    .await;

    let mut worst = ExitCode::Success;
    let mut ready: Vec<(&Server, AgentClient, PlanView)> = Vec::new();
    for (to, outcome) in destinations.iter().zip(planned) {
        let (client, view) = match outcome {
            Ok(planned) => planned,
            Err(e) => {
                worst = worst.max(exit::code_for(&e));
                report_error(json, &to.label, &e);
                continue;
            }
        };
        if json {
            Event::plan(&to.label, &view).print();
        } else {
            print!("{}", render::plan(&view, &from, &to.target.address, args.selection.all));
            println!();
        }
        if let Some(prefix) = &pinned
            && !view.digest.to_hex().starts_with(prefix.as_str())
        {
            worst = worst.max(ExitCode::Refused);
            let refusal = EngineError::changed_since_preview(None, view.digest);
            let message = format!("{refusal} (the reviewed plan was {prefix})");
            report_error(
                json,
                &to.label,
                &Refused::one(RefusalKind::ChangedSincePreview, message).into(),
            );
            continue;
        }
        match view.decision() {
            // A pinned plan is always sent: the destination itself checks it is this one.
            _ if pinned.is_some() && !matches!(view.decision(), Decision::Refused(_)) => {
                ready.push((to, client, view));
            }
            Decision::InSync => {
                if json {
                    Event::Result { destination: &to.label, in_sync: true, outcome: None }.print();
                } else {
                    println!("{}", flow::in_sync_message(&view, &to.label, &source.label));
                }
            }
            Decision::Refused(refusals) => {
                worst = worst.max(ExitCode::Refused);
                report_error(json, &to.label, &Refused(refusals.to_vec()).into());
            }
            Decision::Ready => ready.push((to, client, view)),
        }
    }
    if ready.is_empty() {
        return Ok(worst);
    }
    if args.dry_run {
        if !json {
            println!("Dry run: nothing was changed.");
        }
        return Ok(worst);
    }
    if !args.yes {
        confirm(&ready, &source.label)?;
    }

    let display = ProgressDisplay::choose(json);
    let labels: Vec<String> = ready.iter().map(|(to, _, _)| to.label.clone()).collect();
    let applies = ready.into_iter().map(|(to, mut client, view)| {
        let bar = display.destination(&to.label);
        let (source, categories, options) = (&source.target, &categories, &options);
        async move {
            let result = flow::apply_one(
                &mut client,
                source,
                categories,
                options,
                view.digest,
                confirm_within,
                |event| {
                    bar.update(event);
                },
            )
            .await;
            bar.finish();
            let name = render::display_name(&view.destination_name, &to.label);
            (to, result, flow::scope(&view), name)
        }
    });
    let results = tokio::select! {
        results = futures::future::join_all(applies) => results,
        _ = tokio::signal::ctrl_c() => {
            // Dropping the calls tells each destination its client went away: it stops
            // staging and discards what it staged; a commit already under way completes.
            for label in &labels {
                let message = flow::cancelled_message(label);
                if json {
                    report_error(json, label, &Refused::one(RefusalKind::Cancelled, message).into());
                } else {
                    println!("{message}");
                }
            }
            return Err(Refused::one(RefusalKind::Cancelled, "cancelled; nothing was changed").into());
        }
    };
    for (to, result, scope, name) in results {
        match result {
            Ok(outcome) if json => {
                worst = worst.max(flow::applied_code(&outcome));
                events::result(&to.label, &outcome).print();
            }
            Ok(outcome) => {
                worst = worst.max(flow::applied_code(&outcome));
                println!("{}{scope}", render::result_line(&to.label, &outcome));
                print!("{}", render::notices(&name, &outcome));
                if let Some(deadline) = outcome.confirm_by {
                    println!(
                        "  awaiting confirmation: {} rolls generation {} back at {} unless \
                         confirmed: confsync confirm --server {}",
                        to.label,
                        outcome.generation,
                        confsync_engine::clock::utc(deadline),
                        to.label
                    );
                }
                print!("{}", render::but(&outcome));
                if outcome.generation > 0 {
                    println!(
                        "  (the replaced files are kept as generation {} on {}; to undo it: \
                         confsync rollback --server {} --generation {})",
                        outcome.generation, to.label, to.label, outcome.generation
                    );
                }
            }
            Err(e) => {
                let e = anyhow::Error::new(e);
                worst = worst.max(exit::code_for(&e));
                report_error(json, &to.label, &e);
            }
        }
    }
    Ok(worst)
}

/// `--plan`: the whole digest, or a prefix of at least 12 hex digits as `diff` shows it.
fn pinned_prefix(text: &str) -> Result<String, UsageError> {
    let hex = text.trim().to_ascii_lowercase();
    if (12..=64).contains(&hex.len()) && hex.chars().all(|c| c.is_ascii_hexdigit()) {
        Ok(hex)
    } else {
        Err(UsageError(format!(
            "--plan {text:?} is not a plan digest: give the 12 or more hex digits `diff` shows \
             (\"Plan ...\") or the whole digest `diff --json` prints"
        )))
    }
}

/// Asks on the terminal, or refuses when there is none to ask on.
fn confirm(ready: &[(&Server, AgentClient, PlanView)], from: &str) -> anyhow::Result<()> {
    let names: Vec<String> = ready.iter().map(|(to, _, _)| to.label.clone()).collect();
    let question = render::confirmation(&ready[0].2, from, &names);
    flow::confirm_or_refuse(question, "not applied", "add --yes to apply without asking")
}

/// One line per destination: a refusal says what refused it (once), a failure what failed.
fn report_error(json: bool, destination: &str, error: &anyhow::Error) {
    if json {
        events::error(destination, error).print();
        return;
    }
    let refusals = exit::refusals(error);
    if refusals.is_empty() {
        eprintln!("{destination}: error: {error:#}");
    } else {
        eprintln!("{destination}: refused: {}", confsync_engine::refusal::joined(&refusals));
    }
}
