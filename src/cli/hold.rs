//! `confsync hold` and `confsync release`: stop and resume every apply to one server
//! (manual, scheduled, rollback), from the server side, for maintenance or an upgrade.
//! The hold is kept by the agent and survives its restarts.

use clap::Args;
use confsync_engine::clock;
use confsync_engine::hold::Hold;
use confsync_wire::AgentClient;

use crate::cli::{ExitCode, targets};

#[derive(Debug, Args)]
pub struct HoldArgs {
    /// The server to hold: a name from the server list, or host:port.
    #[arg(long, value_name = "NAME")]
    pub server: String,

    /// Why; shown in every refusal until the release. Without it, a server already on
    /// hold keeps its reason (the hold is shown, not replaced).
    #[arg(long, value_name = "TEXT", default_value = "", hide_default_value = true)]
    pub reason: String,

    /// Print the hold state as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// The server to release: a name from the server list, or host:port.
    #[arg(long, value_name = "NAME")]
    pub server: String,

    /// Print the hold state as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn hold(args: HoldArgs) -> anyhow::Result<ExitCode> {
    let target = targets::resolve(&args.server, "--server")?.target;
    let mut client = AgentClient::connect(&target).await?;
    let state = client.hold(&args.reason).await?;
    if args.json {
        crate::cli::events::print(&json(&args.server, state.as_ref()), true);
    } else if let Some(hold) = &state {
        let reason =
            if hold.reason.is_empty() { String::new() } else { format!(" ({})", hold.reason) };
        println!(
            "{} is on hold{reason} since {}: it refuses every apply, scheduled or manual, and every \
             rollback until `confsync release --server {}`.",
            args.server,
            clock::utc(hold.since),
            args.server
        );
    }
    Ok(ExitCode::Success)
}

pub async fn release(args: ReleaseArgs) -> anyhow::Result<ExitCode> {
    let target = targets::resolve(&args.server, "--server")?.target;
    let mut client = AgentClient::connect(&target).await?;
    // Asked first, so that the sentence can say whether there was a hold to lift.
    let was = client.hello().await.ok().and_then(|hello| hello.hold);
    let state = client.release().await?;
    if args.json {
        crate::cli::events::print(&json(&args.server, state.as_ref()), true);
    } else if let Some(hold) = was {
        let by =
            if hold.held_by.is_empty() { String::new() } else { format!(" by {}", hold.held_by) };
        println!(
            "Released {}: the hold placed{by} at {} ({}) is lifted, and it accepts applies again. \
             `confsync auto` picks it up at its next run: the next scheduled one with --every, \
             within a minute with --on-change alone.",
            args.server,
            clock::utc(hold.since),
            if hold.reason.is_empty() { "no reason given" } else { hold.reason.as_str() },
        );
    } else {
        println!("{} was not on hold: nothing to release; it accepts applies.", args.server);
    }
    Ok(ExitCode::Success)
}

fn json<'a>(server: &'a str, hold: Option<&'a Hold>) -> crate::cli::events::Hold<'a> {
    crate::cli::events::Hold {
        server,
        held: hold.is_some(),
        reason: hold.map_or("", |h| h.reason.as_str()),
        since: hold.map(|h| h.since),
        held_by: hold.map_or("", |h| h.held_by.as_str()),
    }
}
