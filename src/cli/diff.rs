//! `confsync diff`: ask the destination for a plan against the source and show it.

use clap::Args;
use confsync_engine::request::PlanOptions;

use crate::cli::{ExitCode, GuardArgs, Selection, exit, flow, render, targets, two_way};

#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    pub selection: Selection,

    /// The destination server: a name from the server list, or host:port.
    #[arg(long, value_name = "DST")]
    pub to: String,

    /// Also show what changes inside files of known formats: key by key (TOML, JSON,
    /// INI), record by record (a capability database of JSON lines or CSV), and version
    /// order for a file holding a version.
    #[arg(long)]
    pub keys: bool,

    #[command(flatten)]
    pub guards: GuardArgs,

    #[command(flatten)]
    pub two_way: two_way::TwoWayArgs,
}

pub async fn run(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let json = args.selection.json;
    let outcome = diff(&args).await;
    match outcome {
        Ok(code) => Ok(code),
        // A script reading --json gets a document either way.
        Err(e) if json => {
            let doc = crate::cli::events::Diff {
                error: Some(crate::cli::events::Failure::of(&e)),
                ..crate::cli::events::Diff::of(&args.selection.from, &args.to)
            };
            crate::cli::events::print(&doc, false);
            Ok(exit::code_for(&e))
        }
        Err(e) => Err(e),
    }
}

async fn diff(args: &DiffArgs) -> anyhow::Result<ExitCode> {
    // A bundle file as the source: planned against by the destination, as an import.
    let named = std::path::Path::new(&args.selection.from);
    if named.is_file()
        && targets::server_list().ok().is_none_or(|l| l.find(&args.selection.from).is_none())
    {
        let import = crate::cli::bundle::ImportArgs {
            file: Some(named.to_path_buf()),
            to: args.to.clone(),
            on_agent: None,
            only: args.selection.only.clone(),
            yes: false,
            dry_run: true,
            plan: None,
            json: args.selection.json,
            all: args.selection.all,
            keys: args.keys,
            guards: args.guards.clone(),
        };
        return crate::cli::bundle::diff(&import).await;
    }
    let categories = args.selection.only.clone().unwrap_or_default().0;
    let from = targets::resolve(&args.selection.from, "--from")?;
    let to = targets::resolve(&args.to, "--to")?;
    targets::distinct(&from, std::slice::from_ref(&to))?;
    let options = PlanOptions { semantic: args.keys, ..args.guards.options() };
    if let Some(settings) = args.two_way.settings(&categories, &options)? {
        return two_way::diff(&from, &to, &settings, args.selection.json, args.selection.all).await;
    }
    let (_, view) = flow::plan_one(&from.target, &to.target, &categories, &options).await?;
    if args.selection.json {
        let doc = crate::cli::events::Diff {
            source_address: Some(&from.target.address),
            destination_address: Some(&to.target.address),
            in_sync: Some(view.is_empty()),
            plan: Some(&view),
            ..crate::cli::events::Diff::of(&from.label, &to.label)
        };
        crate::cli::events::print(&doc, false);
    } else {
        print!(
            "{}",
            render::plan(&view, &from.target.address, &to.target.address, args.selection.all)
        );
    }
    Ok(if view.is_empty() { ExitCode::Success } else { ExitCode::Differences })
}
