//! `confsync import`: a bundle applied to a destination. The bundle is verified here
//! first (a damaged one is refused before anything is sent), streamed to the destination
//! agent (or read by it from its own disk with `--on-agent`), verified there again, and
//! planned and applied like a sync: the same review, digest, guards, device-specific
//! rules, crash-safe commit, history (the source is the bundle, with its digest and
//! origin) and rollback.

use confsync_engine::bundle::Bundle;
use confsync_engine::category::Category;
use confsync_engine::request::{ApplyRequest, PlanRequest};
use confsync_engine::view::Decision;
use confsync_wire::AgentClient;

use super::{ImportArgs, absolute};
use crate::cli::drive::{self, Interaction, Operation, Pin, Reporter, Verdict, Words};
use crate::cli::events;
use crate::cli::progress::ProgressDisplay;
use crate::cli::{ExitCode, Refused, exit, flow, render, targets};

pub async fn import(args: ImportArgs) -> anyhow::Result<ExitCode> {
    match import_reviewed(&args).await {
        // A script reading --json gets an error event either way.
        Err(e) if args.json => {
            events::error(&args.to, &e).print();
            Ok(exit::code_for(&e))
        }
        other => other,
    }
}

async fn import_reviewed(args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let to = targets::resolve(&args.to, "--to")?;
    let (client, request, from) = staged(args, &to).await?;
    let pinned = args.plan.as_deref().map(Pin::parse).transpose()?;
    let how =
        Interaction { yes: args.yes, dry_run: args.dry_run, pinned, json: args.json, quiet: false };
    let mut op = Import { to, client, request, from, all: args.all, reviewed: None };
    drive::drive(&mut op, &how).await
}

/// A bundle applied to a destination, as a sync from the bundle's origin.
struct Import {
    to: crate::cli::targets::Server,
    client: AgentClient,
    request: PlanRequest,
    /// The bundle as the plan names it.
    from: String,
    all: bool,
    reviewed: Option<confsync_engine::Digest>,
}

impl Operation for Import {
    fn words(&self) -> Words {
        Words { not_done: "not imported", without_asking: "add --yes to import without asking" }
    }

    async fn plan(&mut self, out: &Reporter, how: &Interaction) -> anyhow::Result<Verdict> {
        let to = &self.to;
        let view = self.client.plan(&self.request).await?;
        let text = render::plan(&view, &self.from, &to.target.address, self.all);
        out.plan(&to.label, &view, &format!("{text}\n"));
        if let Some(pin) = &how.pinned {
            pin.check(&view.digest)?;
        }
        match view.decision() {
            Decision::InSync => {
                let sentence = flow::in_sync_message(&view, &to.label, &view.source_name);
                out.in_sync(&to.label, &sentence);
                return Ok(Verdict::Nothing(ExitCode::Success));
            }
            Decision::Refused(refusals) => return Err(Refused(refusals.to_vec()).into()),
            Decision::Ready => {}
        }
        let question = render::confirmation(&view, &self.from, std::slice::from_ref(&to.label));
        self.reviewed = Some(view.digest);
        Ok(Verdict::Ready { question, so_far: ExitCode::Success })
    }

    fn applying(&self) -> Vec<String> {
        vec![self.to.label.clone()]
    }

    async fn apply(&mut self, out: &Reporter) -> anyhow::Result<ExitCode> {
        let label = &self.to.label;
        let Some(reviewed) = self.reviewed else { return Ok(ExitCode::Success) };
        let display = ProgressDisplay::choose(out.json);
        let bar = display.destination(label);
        let apply = ApplyRequest { plan: self.request.clone(), reviewed, confirm_within: None };
        let result = self.client.apply(&apply, |e| bar.update(e)).await;
        bar.finish();
        let outcome = result?;
        Ok(out.applied(label, label, &outcome, ""))
    }
}

/// `diff --from FILE --to DST`: the plan against a bundle, nothing applied; exit 1 when
/// the destination differs from it.
pub async fn diff(args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let to = targets::resolve(&args.to, "--to")?;
    let (mut client, request, from) = staged(args, &to).await?;
    let view = client.plan(&request).await?;
    if args.json {
        let doc = events::Diff {
            in_sync: Some(view.is_empty()),
            plan: Some(&view),
            ..events::Diff::of(&from, &to.label)
        };
        events::print(&doc, false);
    } else {
        print!("{}", render::plan(&view, &from, &to.target.address, args.all));
    }
    Ok(if view.is_empty() { ExitCode::Success } else { ExitCode::Differences })
}

/// The bundle where the destination agent can read it (verified here first, then sent;
/// or named on its machine), and the plan request that names it.
async fn staged(
    args: &ImportArgs,
    to: &crate::cli::targets::Server,
) -> anyhow::Result<(AgentClient, PlanRequest, String)> {
    let mut client = AgentClient::connect(&to.target).await?;
    let (bundle, from, held) = match (&args.on_agent, &args.file) {
        (Some(path), _) => {
            let path = absolute(path, "--on-agent")?;
            let from = format!("{} on {}", path.display(), to.label);
            (path, from, None)
        }
        (None, Some(file)) => {
            let checking = file.clone();
            let local = tokio::task::spawn_blocking(move || Bundle::open(&checking)).await??;
            let bar = crate::cli::progress::bytes_bar("upload", local.size, args.json);
            let progress = bar.clone();
            let stored = client.put_bundle(file, move |sent| progress.set_position(sent)).await?;
            bar.finish_and_clear();
            let from = file.display().to_string();
            (stored.path, from, Some(local.categories().to_vec()))
        }
        (None, None) => {
            return Err(
                crate::cli::UsageError("give the bundle FILE, or --on-agent PATH".into()).into()
            );
        }
    };
    let categories = match (&args.only, held) {
        (None, Some(held)) => held,
        // The agent takes every category the bundle holds when none is named.
        (None, None) => Category::ALL.to_vec(),
        (Some(only), _) => only.to_vec(),
    };
    let request = PlanRequest {
        source: format!("bundle {}", bundle.display()),
        categories,
        options: confsync_engine::request::PlanOptions {
            semantic: args.keys,
            ..args.guards.options()
        },
        two_way: None,
        bundle: Some(bundle),
    };
    Ok((client, request, from))
}
