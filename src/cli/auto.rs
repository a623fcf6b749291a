//! `confsync auto`: keep destinations following a source on a schedule or on change.
//! (Issue 4 work in progress.)

use clap::Args;

use crate::cli::ExitCode;

#[derive(Debug, Args)]
pub struct AutoArgs {}

pub async fn run(_args: AutoArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("auto is not available in this build yet")
}
