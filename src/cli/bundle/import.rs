//! `confsync import`: a bundle applied to a destination. The bundle is verified here
//! first (a damaged one is refused before anything is sent), streamed to the destination
//! agent (or read by it from its own disk with `--on-agent`), verified there again, and
//! planned and applied like a sync: the same review, digest, guards, device-specific
//! rules, crash-safe commit, history (the source is the bundle, with its digest and
//! origin) and rollback.

use confsync_engine::bundle::Bundle;
use confsync_engine::category::Category;
use confsync_engine::refusal::RefusalKind;
use confsync_engine::request::{ApplyRequest, PlanRequest};
use confsync_engine::view::Decision;
use confsync_wire::AgentClient;

use super::{ImportArgs, absolute};
use crate::cli::events::{self, Event};
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
    let (mut client, request, from) = staged(args, &to).await?;
    let view = client.plan(&request).await?;
    if args.json {
        Event::plan(&to.label, &view).print();
    } else {
        print!("{}", render::plan(&view, &from, &to.target.address, args.all));
        println!();
    }
    if let Some(text) = &args.plan
        && !view.digest.to_hex().starts_with(text.trim().to_ascii_lowercase().as_str())
    {
        let message = format!(
            "the plan is now {}, not the reviewed {text}; nothing was changed: review it again",
            view.digest.short()
        );
        return Err(Refused::one(RefusalKind::ChangedSincePreview, message).into());
    }
    apply_reviewed(args, &to, client, request, &view, &from).await
}

/// `diff --from FILE --to DST`: the plan against a bundle, nothing applied; exit 1 when
/// the destination differs from it.
pub async fn diff(args: &ImportArgs) -> anyhow::Result<ExitCode> {
    let to = targets::resolve(&args.to, "--to")?;
    let (mut client, request, from) = staged(args, &to).await?;
    let view = client.plan(&request).await?;
    if args.json {
        let doc = serde_json::json!({
            "source": from,
            "destination": to.label,
            "in_sync": view.is_empty(),
            "plan": view,
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
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
    let categories = match (args.only.trim(), held) {
        ("", Some(held)) => held,
        // The agent takes every category the bundle holds when none is named.
        ("", None) => Category::ALL.to_vec(),
        (only, _) => targets::categories(only)?,
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

async fn apply_reviewed(
    args: &ImportArgs,
    to: &crate::cli::targets::Server,
    mut client: AgentClient,
    request: PlanRequest,
    view: &confsync_engine::view::PlanView,
    from: &str,
) -> anyhow::Result<ExitCode> {
    match view.decision() {
        Decision::InSync => {
            if args.json {
                Event::Result { destination: &to.label, in_sync: true, outcome: None }.print();
            } else {
                println!("{}", flow::in_sync_message(view, &to.label, &view.source_name));
            }
            return Ok(ExitCode::Success);
        }
        Decision::Refused(refusals) => return Err(Refused(refusals.to_vec()).into()),
        Decision::Ready => {}
    }
    if args.dry_run {
        if !args.json {
            println!("Dry run: nothing was changed.");
        }
        return Ok(ExitCode::Success);
    }
    if !args.yes {
        let question = render::confirmation(view, from, std::slice::from_ref(&to.label));
        flow::confirm_or_refuse(question, "not imported", "add --yes to import without asking")?;
    }
    let display = ProgressDisplay::choose(args.json);
    let bar = display.destination(&to.label);
    let apply = ApplyRequest { plan: request, reviewed: view.digest, confirm_within: None };
    let result = client.apply(&apply, |e| bar.update(e)).await;
    bar.finish();
    match result {
        Ok(outcome) => {
            if args.json {
                events::result(&to.label, &outcome).print();
            } else {
                println!("{}", render::result_line(&to.label, &outcome));
                print!("{}", render::notices(&to.label, &outcome));
                print!("{}", render::but(&outcome));
                if outcome.generation > 0 {
                    println!(
                        "  (the replaced files are kept as generation {} on {}; to undo it: \
                         confsync rollback --server {} --generation {})",
                        outcome.generation, to.label, to.label, outcome.generation
                    );
                }
            }
            Ok(flow::applied_code(&outcome))
        }
        Err(e) => Err(anyhow::Error::new(e)),
    }
}
