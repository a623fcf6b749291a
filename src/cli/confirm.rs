//! `confsync confirm`: confirm a commit-confirmed generation, so that it stands.

use clap::Args;
use confsync_wire::AgentClient;

use crate::cli::exit::ExitCode;
use crate::cli::targets;

#[derive(Debug, Args)]
pub struct ConfirmArgs {
    /// The server whose generation to confirm: a name from the server list, or host:port.
    #[arg(long, value_name = "NAME")]
    pub server: String,

    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(args: ConfirmArgs) -> anyhow::Result<ExitCode> {
    let target = targets::resolve(&args.server, "--server")?.target;
    let mut client = AgentClient::connect(&target).await?;
    let confirmed = client.confirm().await?;
    if args.json {
        let doc = crate::cli::events::Confirmed { server: &args.server, confirmed };
        crate::cli::events::print(&doc, true);
    } else {
        match confirmed {
            Some(generation) => println!(
                "{}: generation {generation} is confirmed and stands; it no longer rolls back by itself.",
                args.server
            ),
            None => println!("{}: nothing awaited confirmation.", args.server),
        }
    }
    // Nothing to confirm is worth telling a script: the deadline may have passed already.
    Ok(if confirmed.is_some() { ExitCode::Success } else { ExitCode::Differences })
}
