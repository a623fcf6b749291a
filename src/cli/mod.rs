//! The command line: clap definitions, one file per command, and the shared pieces
//! (the plan-then-apply flow, exit codes, JSON events, plan rendering, progress display,
//! logging). Nothing here names a protobuf type: the wire crate's client speaks the
//! engine's.

pub mod agent;
pub mod auto;
pub mod bundle;
pub mod certs;
pub mod confirm;
pub mod demo;
pub mod diff;
pub mod drive;
pub mod events;
pub mod exit;
pub mod flow;
pub mod history;
pub mod hold;
pub mod logging;
pub mod parse;
pub mod progress;
pub mod render;
pub mod rollback;
pub mod servers;
pub mod signals;
pub mod status;
pub mod sync;
pub mod targets;
pub mod tls_args;
pub mod two_way;
pub mod verify;
pub mod wizard;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use confsync_engine::plan::Guards;
use confsync_engine::request::PlanOptions;

pub use exit::{ExitCode, Refused, UsageError};

/// The heading that keeps global flags apart from each command's own in `--help`.
pub const GLOBAL: &str = "Global options";

const AFTER_HELP: &str = "\
Exit codes: 0 success or in sync, 1 differences found (diff), 2 usage error,
            3 failed, 4 refused (safety guard, protected server, busy, not confirmed).

Start with `confsync demo` to see two sample servers synchronized.";

/// Keep redundant servers' firmware, capability database, modules and configuration
/// identical. Licenses stay bound to each machine and are never copied.
#[derive(Debug, Parser)]
#[command(name = "confsync", version, about, after_help = AFTER_HELP, propagate_version = true)]
pub struct Cli {
    /// More log output: -v for info, -vv for debug (RUST_LOG overrides).
    #[arg(short, long, action = clap::ArgAction::Count, global = true, help_heading = GLOBAL)]
    pub verbose: u8,

    /// The server list [default: $CONFSYNC_SERVERS, else ~/.config/confsync/servers.toml].
    #[arg(long, value_name = "FILE", global = true, help_heading = GLOBAL)]
    pub servers: Option<PathBuf>,

    #[command(flatten)]
    pub tls: tls_args::ClientTlsArgs,

    /// Without a command on a terminal, the wizard starts.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve this server's tree to other agents and the CLI.
    #[command(
        after_help = "Example:\n  confsync agent --root /srv/thinmanager --listen 0.0.0.0:7420 --name backup-1"
    )]
    Agent(agent::AgentArgs),
    /// Step by step: pick source, destination and categories, review, confirm, apply.
    #[command(after_help = "Example:\n  confsync wizard    (or just `confsync` on a terminal)")]
    Wizard(wizard::WizardArgs),
    /// Show what would change on DST to make it equal SRC (exit 1 when they differ).
    #[command(
        after_help = "Example:\n  confsync diff --from primary --to backup-1 --only firmware,config"
    )]
    Diff(diff::DiffArgs),
    /// Make one or more destinations equal the source, after showing the differences.
    #[command(after_help = "Examples:\n  confsync sync --from primary --to backup-1\n  \
                            confsync sync --from primary --to backup-1,backup-2 --yes --json\n\n\
                            Servers are named as in `confsync servers list`, or given as host:port.")]
    Sync(sync::SyncArgs),
    /// Write a source's tree to one bundle file, for a destination that cannot reach it.
    #[command(after_help = "Examples:\n  confsync export --from primary -o site.bundle\n  \
                      confsync export --from primary --for backup-7.manifest -o delta.bundle")]
    Export(bundle::ExportArgs),
    /// Apply a bundle file to a destination, as a sync from the bundle's origin.
    #[command(after_help = "Examples:\n  confsync import site.bundle --to backup-7 --yes\n  \
                      confsync import --on-agent /media/usb/site.bundle --to backup-7")]
    Import(bundle::ImportArgs),
    /// Take a destination's manifest, to export a delta bundle that carries only what it lacks.
    #[command(after_help = "Example:\n  confsync manifest --server backup-7 -o backup-7.manifest")]
    Manifest(bundle::ManifestArgs),
    /// Keep the list of servers, and see them all live (inventory, last sync, in step?).
    #[command(
        subcommand,
        after_help = "Examples:\n  confsync servers add primary 10.0.0.1:7420 --role primary\n  confsync servers list"
    )]
    Servers(servers::ServersCommand),
    /// One row per server against the primary: in sync, pending, edited locally, held,
    /// unreachable..., each with the command that fixes it (exit 0 in sync, 1 not, 3 unreachable).
    #[command(
        after_help = "Examples:\n  confsync status\n  confsync status --watch\n  confsync status --json"
    )]
    Status(status::StatusArgs),
    /// Keep destinations following a source: on a schedule, on change, or both.
    #[command(
        after_help = "Example:\n  confsync auto --from primary --to backup-1,backup-2 --every 5m --on-change"
    )]
    Auto(auto::AutoArgs),
    /// List the applies recorded on a server, newest first.
    #[command(after_help = "Example:\n  confsync history --server backup-1")]
    History(history::HistoryArgs),
    /// Restore a server to its state before a kept generation.
    #[command(after_help = "Example:\n  confsync rollback --server backup-1 --generation 12")]
    Rollback(rollback::RollbackArgs),
    /// Read every file of a server again, ignoring its index, and report what does not
    /// match (exit 1); with --against, compare it with a source read back too.
    #[command(
        after_help = "Examples:\n  confsync verify --server backup-1\n  confsync verify --server backup-1 --against primary --json"
    )]
    Verify(verify::VerifyArgs),
    /// Make a server refuse every apply until released (maintenance, upgrades).
    #[command(after_help = "Example:\n  confsync hold --server backup-1 --reason \"OS upgrade\"")]
    Hold(hold::HoldArgs),
    /// Let a held server accept applies again.
    #[command(after_help = "Example:\n  confsync release --server backup-1")]
    Release(hold::ReleaseArgs),
    /// Confirm a generation applied with `sync --confirm-within`, so that it stands.
    #[command(
        after_help = "Example:\n  confsync sync --from primary --to backup-1 --yes --confirm-within 10m\n  confsync confirm --server backup-1\n\nExit codes: 0 confirmed, 1 nothing awaited confirmation (it may have rolled back already)."
    )]
    Confirm(confirm::ConfirmArgs),
    /// Create a certificate authority and issue agent and admin certificates.
    #[command(subcommand, after_help = "Example:\n  confsync certs init --dir /etc/confsync/pki")]
    Certs(certs::CertsCommand),
    /// Start two sample servers on this machine and synchronize them.
    #[command(after_help = "Example:\n  cargo run --release -- demo")]
    Demo(demo::DemoArgs),
    /// Print a manual page (roff), generated from the same definitions as --help: the
    /// top page, one command's, or every page into a folder.
    #[command(after_help = "Examples:\n  confsync man > confsync.1\n  confsync man sync\n  \
                            confsync man --dir /usr/local/share/man/man1")]
    Man(ManArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  confsync completions bash > /etc/bash_completion.d/confsync"
    )]
    Completions {
        /// bash, zsh, fish, powershell or elvish.
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// One command's page (`sync`, `servers add`, ...) instead of the top one.
    #[arg(value_name = "COMMAND", num_args = 0..)]
    pub command: Vec<String>,
    /// Write every page (confsync.1, confsync-sync.1, ...) into this folder instead.
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub dir: Option<PathBuf>,
}

/// How SRC and DST are given, and which categories.
#[derive(Debug, Clone, Args)]
pub struct Selection {
    /// The source server: a name from the server list, or host:port (for `diff`, also a
    /// bundle file that `confsync export` wrote).
    #[arg(long, value_name = "SRC")]
    pub from: String,

    /// Only these categories, comma separated (firmware, capdb, modules, config).
    /// Licenses are never synchronized.
    #[arg(long, value_name = "CATS", value_parser = crate::cli::parse::categories)]
    pub only: Option<crate::cli::parse::Categories>,

    /// Print machine-readable JSON instead of text.
    #[arg(long)]
    pub json: bool,

    /// List every path, not only the first ones of each category.
    #[arg(long)]
    pub all: bool,
}

/// The share of a category's entries a plan may delete unless told otherwise: the same
/// guard for `sync`, the wizard and `auto`.
pub const DEFAULT_MAX_DELETE: u32 = 25;

/// Safety overrides, each named in the refusal it lifts.
#[derive(Debug, Clone, Default, Args)]
pub struct GuardArgs {
    /// Refuse plans deleting more than this percentage of a category's entries (100 or 0:
    /// no limit) [default: $CONFSYNC_MAX_DELETE, else 25].
    #[arg(long, value_name = "PERCENT")]
    pub max_delete: Option<u32>,

    /// Allow an empty source category to empty the destination's.
    #[arg(long)]
    pub allow_empty_source: bool,

    /// Write to a server marked protected.
    #[arg(long)]
    pub allow_protected: bool,

    /// Leave shared files that hold device-specific keys but cannot be merged (they do
    /// not parse) as they are, and apply the rest.
    #[arg(long)]
    pub allow_unmergeable: bool,

    /// Refuse to overwrite a file with an older copy (the source's is older than the one
    /// the destination's last sync brought, or than the destination's own).
    #[arg(long)]
    pub refuse_downgrade: bool,

    /// Refuse to overwrite or delete what was changed on the destination since its last
    /// sync (a hand edit), rather than only warn.
    #[arg(long)]
    pub refuse_local_edits: bool,
}

/// The variable that sets the delete guard where `--max-delete` is not given.
pub const MAX_DELETE_ENV: &str = "CONFSYNC_MAX_DELETE";

impl GuardArgs {
    /// The delete guard: the flag, else `CONFSYNC_MAX_DELETE`, else 25 %.
    pub fn max_delete(&self) -> u32 {
        self.max_delete
            .or_else(|| std::env::var(MAX_DELETE_ENV).ok().and_then(|v| v.trim().parse().ok()))
            .unwrap_or(DEFAULT_MAX_DELETE)
    }

    /// The plan options these flags ask for.
    pub fn options(&self) -> PlanOptions {
        PlanOptions {
            guards: Guards {
                max_delete_percent: Some(self.max_delete()).filter(|p| *p > 0 && *p < 100),
                allow_empty_source: self.allow_empty_source,
                refuse_downgrade: self.refuse_downgrade,
                refuse_local_edits: self.refuse_local_edits,
            },
            allow_protected: self.allow_protected,
            allow_unmergeable: self.allow_unmergeable,
            semantic: false,
        }
    }
}

/// `confsync man`: the top page, one command's page, or all of them into a folder.
fn man(args: &ManArgs) -> anyhow::Result<ExitCode> {
    use clap::CommandFactory;
    let mut top = Cli::command().disable_help_subcommand(true);
    top.build();
    if let Some(dir) = &args.dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        clap_mangen::generate_to(top, dir)
            .with_context(|| format!("writing the manual pages into {}", dir.display()))?;
        println!("Wrote the manual pages into {}.", dir.display());
        return Ok(ExitCode::Success);
    }
    let mut page = top;
    for name in &args.command {
        let Some(sub) = page.find_subcommand(name).cloned() else {
            let known: Vec<String> =
                page.get_subcommands().map(|c| c.get_name().to_string()).collect();
            return Err(UsageError(format!(
                "no command {name:?} to show the manual page of; there are: {}",
                known.join(", ")
            ))
            .into());
        };
        page = sub;
    }
    let mut roff = Vec::new();
    clap_mangen::Man::new(page).render(&mut roff).context("rendering the manual page")?;
    // On a terminal, read it as a page (what `man` shows), not as roff source.
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) && page_with_man(&roff) {
        return Ok(ExitCode::Success);
    }
    std::io::Write::write_all(&mut std::io::stdout().lock(), &roff)
        .context("writing the manual page")?;
    Ok(ExitCode::Success)
}

/// Shows a roff page through `man -l -` (which formats it and runs the pager); `false`
/// when there is no `man` to run, so that the roff is printed instead.
fn page_with_man(roff: &[u8]) -> bool {
    use std::io::Write;
    let child = std::process::Command::new("man")
        .args(["-l", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        tracing::debug!("no `man` to format the page with; printing its roff");
        return false;
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A pager quit early closes its input: not an error.
        let _ = stdin.write_all(roff);
    }
    let _ = child.wait();
    true
}

/// Runs a parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    targets::set_servers_path(cli.servers.clone());
    tls_args::install(&cli.tls)?;
    let Some(command) = cli.command else {
        if wizard::require_terminal().is_err() {
            use clap::CommandFactory;
            let _ = Cli::command().print_help();
            return Err(UsageError("no command given and no terminal for the wizard".into()).into());
        }
        return wizard::run(wizard::WizardArgs::default()).await;
    };
    match command {
        Command::Wizard(args) => wizard::run(args).await,
        Command::Agent(args) => agent::run(args).await,
        Command::Diff(args) => diff::run(args).await,
        Command::Sync(args) => sync::run(args).await,
        Command::Export(args) => bundle::export(args).await,
        Command::Import(args) => bundle::import(args).await,
        Command::Manifest(args) => bundle::manifest(args).await,
        Command::Demo(args) => demo::run(args).await,
        Command::Servers(command) => servers::run(command).await,
        Command::Status(args) => status::run(args).await,
        Command::Auto(args) => auto::run(args).await,
        Command::History(args) => history::run(args).await,
        Command::Rollback(args) => rollback::run(args).await,
        Command::Verify(args) => verify::run(args).await,
        Command::Hold(args) => hold::hold(args).await,
        Command::Release(args) => hold::release(args).await,
        Command::Confirm(args) => confirm::run(args).await,
        Command::Certs(command) => certs::run(command).await,
        Command::Man(args) => man(&args),
        Command::Completions { shell } => {
            // Made whole first: the generator panics on a write error (a closed pipe).
            let mut script = Vec::new();
            print_completions(shell, &mut script);
            std::io::Write::write_all(&mut std::io::stdout().lock(), &script)
                .context("writing the completion script")?;
            Ok(ExitCode::Success)
        }
    }
}

pub fn print_completions(shell: clap_complete::Shell, out: &mut dyn std::io::Write) {
    use clap::CommandFactory;
    clap_complete::generate(shell, &mut Cli::command(), "confsync", out);
}

/// A path flag that must name an existing file.
pub fn existing_file(path: &PathBuf) -> anyhow::Result<&PathBuf> {
    anyhow::ensure!(path.is_file(), "{} does not exist or is not a file", path.display());
    Ok(path)
}
