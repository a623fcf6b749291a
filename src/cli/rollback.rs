//! `confsync rollback`: restore a server to its state before a kept generation (default:
//! the newest), undoing it and every newer one, as a new generation of its own. Like
//! `sync`: the agent plans, this shows the plan, asks (or `--yes`), and the agent applies
//! exactly the reviewed plan with the same crash-safe commit. Licenses are untouched.

use anyhow::Context;
use clap::Args;
use confsync_engine::request::RollbackRequest;
use confsync_engine::view::{Decision, PlanView};
use confsync_wire::AgentClient;

use crate::cli::drive::{self, Interaction, Operation, Reporter, Verdict, Words};
use crate::cli::events;
use crate::cli::progress::ProgressDisplay;
use crate::cli::{ExitCode, Refused, render, targets};

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
    let client = AgentClient::connect(&target).await?;
    let request = RollbackRequest {
        generation: args.generation,
        allow_protected: args.allow_protected,
        force: args.force,
        reviewed: None,
        paths: args.paths.clone(),
    };
    let how = Interaction {
        yes: args.yes,
        dry_run: args.dry_run,
        pinned: None,
        json: args.json,
        quiet: false,
    };
    let mut op =
        Rollback { server: args.server.clone(), client, request, all: args.all, view: None };
    drive::drive(&mut op, &how).await
}

/// A server going back to its state before a kept generation.
struct Rollback {
    server: String,
    client: AgentClient,
    request: RollbackRequest,
    all: bool,
    /// The reviewed plan.
    view: Option<PlanView>,
}

impl Operation for Rollback {
    fn words(&self) -> Words {
        Words {
            not_done: "not rolled back",
            without_asking: "add --yes to roll back without asking",
        }
    }

    async fn plan(&mut self, out: &Reporter, _: &Interaction) -> anyhow::Result<Verdict> {
        let server = &self.server;
        let view = self
            .client
            .plan_rollback(&self.request)
            .await
            .with_context(|| format!("planning the rollback of {server}"))?;
        out.plan(server, &view, &render::plan(&view, "kept backups", server, self.all));
        match view.decision() {
            Decision::InSync => {
                out.say(&format!(
                    "Nothing to roll back: {server} already is as {}.",
                    view.source_name
                ));
                return Ok(Verdict::Nothing(ExitCode::Success));
            }
            Decision::Refused(refusals) => {
                return Err(
                    anyhow::Error::new(Refused(refusals.to_vec())).context("not rolled back")
                );
            }
            Decision::Ready => {}
        }
        let question = render::confirmation(&view, "kept backups", std::slice::from_ref(server));
        self.request.reviewed = Some(view.digest);
        self.view = Some(view);
        Ok(Verdict::Ready { question, so_far: ExitCode::Success })
    }

    fn applying(&self) -> Vec<String> {
        vec![self.server.clone()]
    }

    async fn apply(&mut self, out: &Reporter) -> anyhow::Result<ExitCode> {
        let server = &self.server;
        let display = ProgressDisplay::choose(out.json);
        let bar = display.destination(server);
        let result = self.client.rollback(&self.request, |event| bar.update(event)).await;
        bar.finish();
        let result = result.with_context(|| format!("rolling back {server}"))?;
        if out.json {
            events::result(server, &result).print();
            return Ok(drive::applied_code(&result));
        }
        let (source, name) = match &self.view {
            Some(view) => {
                (view.source_name.clone(), render::display_name(&view.destination_name, server))
            }
            None => (String::new(), server.clone()),
        };
        println!(
            "{server}: rolled back to {source}; {} changed in {:.1}s, recorded as generation {} \
             (roll that back to undo this)",
            render::count(result.files_changed, "file", "files"),
            result.duration_ms as f64 / 1000.0,
            result.generation
        );
        print!("{}", render::notices(&name, &result));
        print!("{}", render::but(&result));
        Ok(drive::applied_code(&result))
    }
}

/// `config/app.conf`: a category, then a path inside it.
fn parse_entry(
    text: &str,
) -> Result<(confsync_engine::Category, confsync_engine::RelPath), String> {
    let (category, path) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?} is not CATEGORY/PATH (for example config/app.conf)"))?;
    let category = crate::cli::parse::categories(category)?;
    let [category] = category[..] else {
        return Err(format!("{text:?}: name one category before the first /"));
    };
    let path = confsync_engine::RelPath::new(path).map_err(|e| format!("{text:?}: {e}"))?;
    Ok((category, path))
}
