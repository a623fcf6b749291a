//! The `confsync` binary: parse, run, print the error chain once, exit with its code.

use clap::Parser;
use confsync::cli::{self, Cli, Command, ExitCode};

fn main() -> std::process::ExitCode {
    tune_allocator();
    quiet_on_closed_pipe();
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
        // Whoever read the output stopped (`| head`): what they wanted, they have.
        Err(error) if closed_pipe(&error) => ExitCode::Success.into(),
        Err(error) => {
            eprintln!("confsync: {error:#}");
            cli::exit::code_for(&error).into()
        }
    }
}

/// Allocations of 2 MiB and more (a plan, a manifest, a journal's changes: tens of MiB
/// for 100,000 files) are mapped on their own and given back when freed; the 1 MiB pieces
/// a transfer moves stay below, reused rather than mapped and faulted in each time. glibc
/// otherwise raises that threshold after the first large free, and the agent's many
/// threads each keep a fragmented arena of what they freed: a destination that had
/// planned and applied 100,000 files held a third more memory than it used, a source half
/// as much again (measured with the benchmark's tree).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn tune_allocator() {
    // SAFETY: mallopt only sets an allocator parameter; it is called before any thread
    // starts, and a refusal (return value 0) leaves glibc's default in place.
    let _ = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 2 << 20) };
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn tune_allocator() {}

/// Whether `error` comes down to writing into a pipe nobody reads any more.
fn closed_pipe(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// `println!` panics when its reader has gone (`confsync servers list | head -1`): that
/// ends the command quietly, as a closed pipe ends any Unix tool, instead of a panic
/// message. Any other panic is reported as usual.
fn quiet_on_closed_pipe() {
    let report = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or_default();
        if message.contains("failed printing to stdout") && message.contains("Broken pipe") {
            std::process::exit(0);
        }
        report(info);
    }));
}
