//! `confsync sync`: plan every destination, show the differences, confirm (or `--yes`),
//! then apply the reviewed plans concurrently and print a result line per destination.

use clap::Args;
use confsync_engine::Digest;
use confsync_engine::view::{Decision, PlanView};
use confsync_wire::AgentClient;

use crate::cli::events::{self, Event};
use crate::cli::progress::ProgressDisplay;
use crate::cli::{
    ExitCode, GuardArgs, Refused, Selection, UsageError, exit, flow, render, targets,
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

    /// Apply only if the plan is still exactly this one (the digest `diff --json` printed).
    #[arg(long, value_name = "DIGEST")]
    pub plan: Option<String>,

    #[command(flatten)]
    pub guards: GuardArgs,
}

pub async fn run(args: SyncArgs) -> anyhow::Result<ExitCode> {
    let categories = targets::categories(&args.selection.only)?;
    let source = targets::resolve(&args.selection.from, "--from")?;
    let from = source.address.clone();
    let destinations = targets::resolve_list(&args.to, "--to")?;
    let pinned = match &args.plan {
        Some(_) if destinations.len() > 1 => {
            return Err(UsageError(
                "--plan pins one reviewed plan, so it takes exactly one --to".into(),
            )
            .into());
        }
        Some(hex) => Some(Digest::from_hex(hex.trim()).ok_or_else(|| {
            UsageError(format!("--plan {hex:?} is not a 64-digit plan digest from `diff --json`"))
        })?),
        None => None,
    };
    let json = args.selection.json;
    let options = args.guards.options();

    let planned = futures::future::join_all(
        destinations.iter().map(|to| flow::plan_one(&source, to, &categories, &options)),
    )
    .await;

    let mut worst = ExitCode::Success;
    let mut ready: Vec<(String, AgentClient, PlanView)> = Vec::new();
    for (to, outcome) in destinations.iter().map(|t| &t.address).zip(planned) {
        let (client, view) = match outcome {
            Ok(planned) => planned,
            Err(e) => {
                worst = worst.max(exit::code_for(&e));
                report_error(json, to, &e);
                continue;
            }
        };
        if json {
            Event::Plan { destination: to, plan: &view }.print();
        } else {
            print!("{}", render::plan(&view, &from, to, args.selection.all));
            println!();
        }
        match view.decision() {
            // A pinned plan is always sent: the destination itself checks it is this one.
            _ if pinned.is_some() && !matches!(view.decision(), Decision::Refused(_)) => {
                ready.push((to.clone(), client, view));
            }
            Decision::InSync => {
                if json {
                    Event::Result { destination: to, in_sync: true, outcome: None }.print();
                } else {
                    println!("{}", flow::in_sync_message(&view, to, &from));
                }
            }
            Decision::Refused(refusals) => {
                worst = worst.max(ExitCode::Refused);
                report_error(json, to, &Refused(refusals.to_vec()).into());
            }
            Decision::Ready => ready.push((to.clone(), client, view)),
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
        confirm(&ready, &from)?;
    }

    let display = ProgressDisplay::choose(json);
    let applies = ready.into_iter().map(|(to, mut client, view)| {
        let bar = display.destination(&to);
        let reviewed = pinned.unwrap_or(view.digest);
        let (source, categories, options) = (&source, &categories, &options);
        async move {
            let result =
                flow::apply_one(&mut client, source, categories, options, reviewed, |event| {
                    bar.update(event);
                })
                .await;
            bar.finish();
            (to, result)
        }
    });
    for (to, result) in futures::future::join_all(applies).await {
        match result {
            Ok(outcome) if json => {
                worst = worst.max(flow::applied_code(&outcome));
                events::result(&to, &outcome).print();
            }
            Ok(outcome) => {
                worst = worst.max(flow::applied_code(&outcome));
                println!("{}", render::result_line(&to, &outcome));
                print!("{}", render::but(&outcome));
                if outcome.generation > 0 {
                    println!(
                        "  (the replaced files are kept as generation {} on {to})",
                        outcome.generation
                    );
                }
            }
            Err(e) => {
                let e = anyhow::Error::new(e);
                worst = worst.max(exit::code_for(&e));
                report_error(json, &to, &e);
            }
        }
    }
    Ok(worst)
}

/// Asks on the terminal, or refuses when there is none to ask on.
fn confirm(ready: &[(String, AgentClient, PlanView)], from: &str) -> anyhow::Result<()> {
    let names: Vec<String> =
        ready.iter().map(|(to, _, v)| render::display_name(&v.destination_name, to)).collect();
    let question = render::confirmation(&ready[0].2, from, &names);
    flow::confirm_or_refuse(question, "not applied", "add --yes to apply without asking")
}

fn report_error(json: bool, destination: &str, error: &anyhow::Error) {
    if json {
        events::error(destination, error).print();
    } else {
        let refused = exit::code_for(error) == ExitCode::Refused;
        eprintln!("{destination}: {}: {error:#}", if refused { "refused" } else { "error" });
    }
}
