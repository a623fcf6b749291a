//! `confsync agent`: resolve settings from flags and `agent.toml`, bind, serve until
//! SIGTERM or Ctrl-C.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::agent::inventory::{self, Identity};
use crate::agent::{self, AgentSettings};
use crate::cli::{ExitCode, UsageError, logging, tls_args};
use crate::config::{AgentFile, DEFAULT_KEEP_GENERATIONS, DEFAULT_LISTEN};

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Serve DIR/{firmware,capdb,modules,config}; DIR/licenses stays untouched and
    /// DIR/.confsync holds the agent's state.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,

    /// Read name, paths, protection and more from this agent.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Address to listen on [default: 127.0.0.1:7420].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<String>,

    /// The server's name in plans and history [default: the hostname].
    #[arg(long)]
    pub name: Option<String>,

    /// Refuse every apply unless the client passes --allow-protected (for a primary).
    #[arg(long)]
    pub protected: bool,

    /// How many applied generations to keep for rollback [default: 5].
    #[arg(long, value_name = "N")]
    pub keep_generations: Option<usize>,

    /// How long a source may stay silent in the middle of a transfer before it is given up
    /// on, with a message naming it (`15s`, `1m`) [default: 15s].
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::parse::duration)]
    pub stall_timeout: Option<std::time::Duration>,

    /// How often the tree is scanned in full although the file watcher reported no change
    /// (`30m`, `1h`): the safety net for changes a watcher can miss [default: 1h].
    #[arg(long, value_name = "DURATION", value_parser = crate::cli::parse::duration)]
    pub rescan_every: Option<std::time::Duration>,

    /// Create the root (or configured paths) and empty category folders when missing.
    /// Without it, a folder that does not exist stops the agent: it is most often a typo.
    #[arg(long)]
    pub init: bool,

    /// Serve Prometheus metrics at http://ADDR/metrics (generations, drift, applies and
    /// refusals by kind, bytes, durations, hold) [default ADDR: 127.0.0.1:9469].
    #[arg(long, value_name = "ADDR", num_args = 0..=1,
          default_missing_value = crate::metrics::DEFAULT_ADDRESS)]
    pub metrics: Option<String>,

    #[command(flatten)]
    pub tls: tls_args::AgentTlsArgs,
}

pub async fn run(args: AgentArgs) -> anyhow::Result<ExitCode> {
    let file = match &args.config {
        Some(path) => AgentFile::load(path)?,
        None => AgentFile::default(),
    };
    if args.root.is_none() && args.config.is_none() {
        return Err(UsageError("give --root DIR or --config agent.toml".into()).into());
    }
    let base = args
        .config
        .as_deref()
        .and_then(|p| p.parent())
        .map_or_else(|| PathBuf::from("."), PathBuf::from);
    let layout = file.layout(args.root.as_deref(), &base)?;
    let missing =
        file.check_folders(args.root.as_deref(), &base, &layout, args.init || file.create)?;
    for (category, folder) in &missing {
        tracing::warn!(
            %category,
            folder = %folder.display(),
            "category folder does not exist: served as empty until a sync brings files"
        );
    }
    let tls = args.tls.resolve(file.tls.as_ref(), &base)?;
    if file.insecure {
        confsync_wire::tls::allow_insecure(true);
    }
    // A policy that does not hold (a rule reaching outside a category, a hook without a
    // command...) is a start-up error naming it; the agent reads them the same way later.
    let origin =
        args.config.as_deref().map_or_else(|| "agent.toml".into(), |p| p.display().to_string());
    crate::agent::policies::Policies::of_file(&file, &origin).map_err(anyhow::Error::msg)?;
    let on_hook_failure = file.on_hook_failure.unwrap_or_default();
    let carry = file.carry();
    let settings = AgentSettings {
        name: args.name.or(file.name).unwrap_or_else(inventory::hostname),
        layout,
        protected: args.protected || file.protected,
        keep_generations: args
            .keep_generations
            .or(file.keep_generations)
            .unwrap_or(DEFAULT_KEEP_GENERATIONS),
        stall_timeout: args
            .stall_timeout
            .or(file.stall_timeout)
            .unwrap_or(confsync_wire::client::STALL_TIMEOUT),
        rescan_every: args
            .rescan_every
            .or(file.rescan_every)
            .unwrap_or(confsync_engine::live::DEFAULT_RESCAN_EVERY),
        device_specific: file.device_specific.clone(),
        effects: file.effect.clone(),
        hooks: (file.hook.clone(), on_hook_failure),
        checks: file.check.clone(),
        config_file: args
            .config
            .as_ref()
            .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone())),
        identity: Identity { role: file.role.clone(), serial: file.serial.clone() },
        client_tls: tls.clone(),
        server_tls: tls,
        metrics: args.metrics.clone(),
        carry,
        staged_flush: file.staged_flush,
    };
    let listen = args.listen.or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    // An address without a port is a mistake to name, not a busy port to guess at.
    if listen.parse::<std::net::SocketAddr>().is_err() && !listen.contains(':') {
        return Err(UsageError(format!(
            "listen address {listen:?} has no port; write it as ADDRESS:PORT (the default port \
             is 7420: \"{listen}:7420\")"
        ))
        .into());
    }
    let listener = tokio::net::TcpListener::bind(&listen).await.with_context(|| {
        format!(
            "cannot listen on {listen}; is another agent running there? choose another --listen"
        )
    })?;
    let bound = listener.local_addr().context("reading the bound address")?;
    tracing::info!(name = %settings.name, address = %bound, state = %settings.layout.state_dir().display(), protected = settings.protected, "agent starting");
    let name = settings.name.clone();
    // Printed once the tree is locked and recovered: scripts and tests read this line to
    // learn the port (with port 0) and may look at the tree from then on.
    let ready = move || {
        println!("confsync agent {name:?} listening on {bound}");
        let _ = std::io::stdout().flush();
    };
    agent::run(settings, listener, ready, crate::cli::signals::shutdown_signal()).await?;
    tracing::info!("agent stopped");
    Ok(ExitCode::Success)
}

/// Logging defaults to info for the long-running agent.
pub fn init_logging(verbose: u8) {
    logging::init(verbose, "info");
}
