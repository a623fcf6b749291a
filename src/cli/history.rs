//! `confsync history`: the applies recorded on a server. (Issue 4 work in progress.)

use clap::Args;

use crate::cli::ExitCode;

#[derive(Debug, Args)]
pub struct HistoryArgs {}

pub async fn run(_args: HistoryArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("history is not available in this build yet")
}
