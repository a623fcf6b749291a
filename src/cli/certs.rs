//! `confsync certs`: a CA and certificates for agents and admins. (Issue 5 work in progress.)

use clap::Subcommand;

use crate::cli::ExitCode;

#[derive(Debug, Subcommand)]
pub enum CertsCommand {}

pub async fn run(_command: CertsCommand) -> anyhow::Result<ExitCode> {
    anyhow::bail!("certs is not available in this build yet")
}
