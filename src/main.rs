//! The `confsync` binary: parse, run, print the error chain once, exit with its code.

use clap::Parser;
use confsync::cli::{self, Cli, Command, ExitCode};

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        Some(Command::Agent(_)) => cli::agent::init_logging(cli.verbose),
        Some(Command::Auto(args)) => cli::auto::init_logging(cli.verbose, args.json),
        _ => cli::logging::init(cli.verbose, "warn"),
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("confsync: cannot start the async runtime: {e}");
            return ExitCode::Failed.into();
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(code) => code.into(),
        Err(error) => {
            eprintln!("confsync: {error:#}");
            cli::exit::code_for(&error).into()
        }
    }
}
