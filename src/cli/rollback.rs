//! `confsync rollback`: restore a server to before a kept generation. (Issue 4 work in progress.)

use clap::Args;

use crate::cli::ExitCode;

#[derive(Debug, Args)]
pub struct RollbackArgs {}

pub async fn run(_args: RollbackArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("rollback is not available in this build yet")
}
