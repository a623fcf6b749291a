//! `confsync hold` and `confsync release`: stop and resume applies to one server.
//! (Issue 4 work in progress.)

use clap::Args;

use crate::cli::ExitCode;

#[derive(Debug, Args)]
pub struct HoldArgs {}

#[derive(Debug, Args)]
pub struct ReleaseArgs {}

pub async fn hold(_args: HoldArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("hold is not available in this build yet")
}

pub async fn release(_args: ReleaseArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("release is not available in this build yet")
}
