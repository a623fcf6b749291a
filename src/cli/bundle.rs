//! Offline bundles: `export` writes a source's tree to one file, `manifest` takes a
//! destination's manifest (for a delta bundle that carries only what it lacks), and
//! `import` applies a bundle to a destination with the same plan, guards, crash-safe
//! apply, history and rollback as a sync. The format is in `docs/BUNDLE.md`.

mod export;
mod import;

use std::path::PathBuf;

use clap::Args;

use crate::cli::{GuardArgs, UsageError};

pub use export::{export, manifest};
pub use import::{diff, import};

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The source server: a name from the server list, or host:port.
    #[arg(long, value_name = "SRC")]
    pub from: String,

    /// Only these categories, comma separated (firmware, capdb, modules, config).
    #[arg(long, value_name = "CATS", value_parser = crate::cli::parse::categories)]
    pub only: Option<crate::cli::parse::Categories>,

    /// A delta bundle for the destination this manifest describes (`confsync manifest`):
    /// only the content it lacks. Only that destination, in that state, can import it.
    #[arg(long = "for", value_name = "MANIFEST")]
    pub for_manifest: Option<PathBuf>,

    /// The bundle file to write (replaced only once it is complete).
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,

    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ManifestArgs {
    /// The destination server whose manifest to take.
    #[arg(long, value_name = "DST")]
    pub server: String,

    /// Only these categories, comma separated.
    #[arg(long, value_name = "CATS", value_parser = crate::cli::parse::categories)]
    pub only: Option<crate::cli::parse::Categories>,

    /// The manifest file to write.
    #[arg(short, long, value_name = "FILE")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The bundle file (`confsync export` wrote it). With --on-agent, a path on the
    /// destination's own machine instead (a USB stick plugged into the backup).
    #[arg(value_name = "FILE", required_unless_present = "on_agent")]
    pub file: Option<PathBuf>,

    /// The destination server: a name from the server list, or host:port.
    #[arg(long, value_name = "DST")]
    pub to: String,

    /// The bundle is at this absolute path on the destination's machine: the agent
    /// reads it there, nothing is copied through this machine.
    #[arg(long, value_name = "PATH", conflicts_with = "file")]
    pub on_agent: Option<PathBuf>,

    /// Only these categories of the bundle, comma separated [default: all it holds].
    #[arg(long, value_name = "CATS", value_parser = crate::cli::parse::categories)]
    pub only: Option<crate::cli::parse::Categories>,

    /// Apply without asking.
    #[arg(short, long)]
    pub yes: bool,

    /// Show the differences and stop.
    #[arg(long)]
    pub dry_run: bool,

    /// Apply only if the plan is still exactly this one (12 or more hex digits).
    #[arg(long, value_name = "DIGEST")]
    pub plan: Option<String>,

    /// Print JSON lines (plan, progress, result).
    #[arg(long)]
    pub json: bool,

    /// List every path.
    #[arg(long)]
    pub all: bool,

    /// Say what changes inside files, key by key (set by `diff --from FILE --keys`).
    #[arg(skip)]
    pub keys: bool,

    #[command(flatten)]
    pub guards: GuardArgs,
}

/// An absolute path, as the agent needs it.
fn absolute(path: &std::path::Path, flag: &str) -> Result<PathBuf, UsageError> {
    if path.is_absolute() {
        Ok(path.to_path_buf())
    } else {
        Err(UsageError(format!(
            "{flag} {}: give the absolute path on the destination's machine",
            path.display()
        )))
    }
}
