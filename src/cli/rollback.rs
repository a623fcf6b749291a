//! `confsync rollback`: restore a server to its state before a kept generation (default:
//! the newest), undoing it and every newer one, as a new generation of its own. Like
//! `sync`: the agent plans, this shows the plan, asks (or `--yes`), and the agent applies
//! exactly the reviewed plan with the same crash-safe commit. Licenses are untouched.

use anyhow::Context;
use clap::Args;
use confsync_engine::request::RollbackRequest;
use confsync_engine::view::{Decision, PlanView};
use confsync_wire::AgentClient;

use crate::cli::events::{self, Event};
use crate::cli::progress::ProgressDisplay;
use crate::cli::{ExitCode, Refused, flow, render, targets};

#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The server to roll back: a name from the server list, or host:port.
    #[arg(long, value_name = "NAME")]
    pub server: String,

    /// Restore the state before this generation, undoing it and every newer one
    /// [default: the newest generation]. `confsync history` lists them.
    #[arg(long, value_name = "ID")]
    pub generation: Option<u64>,

    /// Roll back without asking (for scripts).
    #[arg(short, long)]
    pub yes: bool,

    /// Show what would change and stop.
    #[arg(long)]
    pub dry_run: bool,

    /// Roll back even paths that changed after the generation that wrote them (what is
    /// overwritten is kept as the rollback's own generation), and skip the checks.
    #[arg(long)]
    pub force: bool,

    /// Roll back a server marked protected.
    #[arg(long)]
    pub allow_protected: bool,

    /// Restore only this entry (and what lies inside it), as CATEGORY/PATH, e.g.
    /// `config/app.conf` (the losing version of a two-way conflict); repeatable.
    #[arg(long = "path", value_name = "CATEGORY/PATH", value_parser = parse_entry)]
    pub paths: Vec<(confsync_engine::Category, confsync_engine::RelPath)>,

    /// Print JSON lines (plan, progress, result) instead of text.
    #[arg(long)]
    pub json: bool,

    /// List every path, not only the first ones of each category.
    #[arg(long)]
    pub all: bool,
}

pub async fn run(args: RollbackArgs) -> anyhow::Result<ExitCode> {
    let target = targets::resolve(&args.server, "--server")?.target;
    let mut client = AgentClient::connect(&target).await?;
    let mut request = RollbackRequest {
        generation: args.generation,
        allow_protected: args.allow_protected,
        force: args.force,
        reviewed: None,
        paths: args.paths.clone(),
    };
    let view = client
        .plan_rollback(&request)
        .await
        .with_context(|| format!("planning the rollback of {}", args.server))?;
    if args.json {
        Event::plan(&args.server, &view).print();
    } else {
        print!("{}", render::plan(&view, "kept backups", &args.server, args.all));
    }
    match view.decision() {
        Decision::InSync => {
            if !args.json {
                println!(
                    "Nothing to roll back: {} already is as {}.",
                    args.server, view.source_name
                );
            }
            return Ok(ExitCode::Success);
        }
        Decision::Refused(refusals) => {
            return Err(anyhow::Error::new(Refused(refusals.to_vec())).context("not rolled back"));
        }
        Decision::Ready => {}
    }
    if args.dry_run {
        if !args.json {
            println!("Dry run: nothing was changed.");
        }
        return Ok(ExitCode::Success);
    }
    if !args.yes {
        confirm(&view, &args.server)?;
    }
    request.reviewed = Some(view.digest);
    let display = ProgressDisplay::choose(args.json);
    let bar = display.destination(&args.server);
    let result = client.rollback(&request, |event| bar.update(event)).await;
    bar.finish();
    let result = result.with_context(|| format!("rolling back {}", args.server))?;
    if args.json {
        events::result(&args.server, &result).print();
    } else {
        println!(
            "{}: rolled back to {}; {} changed in {:.1}s, recorded as generation {} (roll that \
             back to undo this)",
            args.server,
            view.source_name,
            plural(result.files_changed, "file", "files"),
            result.duration_ms as f64 / 1000.0,
            result.generation
        );
        print!(
            "{}",
            render::notices(&render::display_name(&view.destination_name, &args.server), &result)
        );
        print!("{}", render::but(&result));
    }
    Ok(flow::applied_code(&result))
}

/// Asks on the terminal, or refuses when there is none to ask on.
fn confirm(view: &PlanView, server: &str) -> anyhow::Result<()> {
    let question = render::confirmation(view, "kept backups", &[server.to_string()]);
    flow::confirm_or_refuse(question, "not rolled back", "add --yes to roll back without asking")
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `config/app.conf`: a category, then a path inside it.
fn parse_entry(
    text: &str,
) -> Result<(confsync_engine::Category, confsync_engine::RelPath), String> {
    let (category, path) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?} is not CATEGORY/PATH (for example config/app.conf)"))?;
    let category = targets::categories(category).map_err(|e| e.0)?;
    let [category] = category[..] else {
        return Err(format!("{text:?}: name one category before the first /"));
    };
    let path = confsync_engine::RelPath::new(path).map_err(|e| format!("{text:?}: {e}"))?;
    Ok((category, path))
}
