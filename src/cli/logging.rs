//! Logs through `tracing` on stderr: warnings by default, `-v` info, `-vv` debug, and
//! `RUST_LOG` when set. Colour only on a terminal and never with `NO_COLOR`. The file
//! watcher crate's own notes (one "unable to remove watch descriptor" per folder a commit
//! removes) show from `-vv` on, not at the agent's info level.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

pub fn init(verbose: u8, default_level: &str) {
    let level = match verbose {
        0 => default_level,
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let notify = if verbose >= 2 { level } else { "warn" };
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new(format!("{level},notify={notify}")));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(color_enabled())
        .with_target(false)
        .try_init();
}

/// Whether stderr may carry colour.
pub fn color_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stderr().is_terminal()
}
