//! The agent: one server's tree, served to other agents and to the command line. It
//! implements the wire crate's [`Api`](confsync_wire::server::Api) with the engine; the
//! wire crate puts it behind gRPC, TLS and the role checks.
//!
//! - [`state`]: settings, layout, hash index, apply lock, shutdown flag.
//! - [`api`]: the handlers, one line each, dispatching to the files below.
//! - [`serve_source`]: the source side (hello, manifests, chunks, files), read-only.
//! - [`plan_memo`]: the last plan made, kept for the apply of it.
//! - [`sync`]: the destination side: planning against a source, applying a reviewed plan.
//! - [`bundles`]: receiving a bundle file, and planning against one instead of a source.
//! - [`two_way`]: this server's part of a two-way sync, its changes since its base with
//!   a peer, and that base.
//! - [`job`]: the apply lock, the history record and the event stream every apply-like
//!   job shares.
//! - [`source`]: the source agent as the engine's chunk source.
//! - [`history`]: the record of applies, and rollback to a kept generation.
//! - [`watcher`]: the file watcher that keeps the live manifest trusted.
//! - [`watch`]: tree-changed events for `auto --on-change`.
//! - [`hold`]: refusing every apply during maintenance, across restarts.
//! - [`inventory`]: what the machine is (hostname, serial, MACs, CPU, memory, OS).
//!
//! Start-up order matters: check the TLS settings, lock the state folder (one agent per
//! tree), recover an unfinished journal, clear staging, start watching the tree (then
//! scan it once), and only then listen.

mod api;
mod bundles;
mod confirm;
pub mod history;
pub mod hold;
pub mod hooks;
pub mod inventory;
mod job;
pub mod plan_memo;
pub(crate) mod policies;
pub mod serve_source;
pub mod source;
pub mod state;
pub mod sync;
mod two_way;
pub mod watch;
pub mod watcher;

use std::future::Future;
use std::io::Read;
use std::sync::Arc;

use anyhow::Context;
use confsync_engine::journal::{self, Recovery};
use confsync_engine::layout::Layout;
use confsync_wire::server;
use tokio::net::TcpListener;

pub use api::Agent;
pub use state::{AgentSettings, AgentState};

/// Prepares the tree (lock, recovery), calls `ready` (the tree is now safe to look at and
/// requests will be served), and serves on `listener` until `shutdown` resolves.
pub async fn run(
    settings: AgentSettings,
    listener: TcpListener,
    ready: impl FnOnce(),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let security = server::listen::security(settings.server_tls.as_ref(), &listener)?;
    let layout = settings.layout.clone();
    layout.prepare()?;
    let _lock = lock_tree(&layout)?;
    match journal::recover(&layout) {
        Ok(Recovery::Clean) => {}
        Ok(Recovery::Undone(id)) => tracing::warn!(
            generation = id,
            "an unfinished apply was undone; the tree is as before it"
        ),
        Ok(Recovery::Finished(id)) => {
            tracing::info!(generation = id, "a completed apply was finalised")
        }
        // The agent still serves (reads, history); every apply first tries again, and is
        // refused, saying why, while it cannot be finished.
        Err(e) => tracing::error!(
            error = %e,
            "the recovery of an unfinished apply failed; its journal and the replaced files are \
             kept, and every apply is refused until the recovery succeeds"
        ),
    }
    let instance_id = instance_id(&layout)?;
    let state = Arc::new(AgentState::new(settings, instance_id));
    // The start-up scan: changes made while the agent was down are found here, and the
    // first Hello finds the manifest in memory.
    let warm = Arc::clone(&state);
    tokio::spawn(async move {
        if let Err(e) = warm.scan(confsync_engine::category::Category::ALL.to_vec()).await {
            tracing::warn!(error = %e, "the start-up scan failed; the next request scans again");
        }
    });
    // Deadlines of commit-confirmed generations, including one that passed while down.
    tokio::spawn(confirm::watch_deadlines(Arc::clone(&state)));
    if let Some(address) = &state.settings.metrics {
        let bound = crate::metrics::serve(address, metrics_scrape(&state)).await?;
        tracing::info!(address = %bound, "metrics at http://{bound}/metrics");
    }
    ready();

    let signal_state = Arc::clone(&state);
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: no new requests; an apply in flight completes or is undone");
        signal_state.begin_shutdown();
    };
    server::serve(Arc::new(Agent::new(Arc::clone(&state))), listener, security, signal).await?;
    // An apply in flight holds this lock until it has committed or undone itself.
    let _idle = state.apply_lock.lock().await;
    Ok(())
}

/// Takes an exclusive lock on the state folder for the agent's lifetime.
fn lock_tree(layout: &Layout) -> anyhow::Result<std::fs::File> {
    let path = layout.state_dir().join("agent.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening the lock file {}", path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
            "another agent already serves this tree (lock {} is held); stop it first or use another --root",
            path.display()
        ),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", path.display()))
        }
    }
}

/// A scrape: the present read now (generation, drift, hold), then every metric encoded.
fn metrics_scrape(state: &Arc<AgentState>) -> crate::metrics::Scrape {
    let state = Arc::clone(state);
    Arc::new(move || {
        let state = Arc::clone(&state);
        Box::pin(async move {
            let metrics = &state.metrics;
            let now = confsync_engine::clock::now_secs();
            match journal::generations(state.layout()).ok().and_then(|g| g.first().cloned()) {
                Some(last) => {
                    metrics.last_generation.set(i64::try_from(last.id).unwrap_or(i64::MAX));
                    metrics.last_generation_time.set(i64::try_from(last.started_at).unwrap_or(0));
                    let since = now.saturating_sub(last.started_at);
                    metrics.seconds_since_last_sync.set(i64::try_from(since).unwrap_or(i64::MAX));
                }
                None => {
                    metrics.seconds_since_last_sync.set(-1);
                }
            }
            let held = confsync_engine::hold::current(state.layout()).is_some();
            metrics.held.set(i64::from(held));
            let all = confsync_engine::category::Category::ALL.to_vec();
            if let Ok(drift) = serve_source::drift(&state, all).await {
                metrics.drift.set(i64::try_from(drift.total).unwrap_or(i64::MAX));
            }
            metrics.encode()
        })
    })
}

/// A random identifier kept in the state folder, so that two addresses of one agent are
/// recognised as the same server.
fn instance_id(layout: &Layout) -> anyhow::Result<String> {
    let path = layout.state_dir().join("instance-id");
    if let Ok(id) = std::fs::read_to_string(&path)
        && !id.trim().is_empty()
    {
        return Ok(id.trim().to_string());
    }
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom for the instance id")?;
    let id: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    confsync_engine::fsutil::write_atomically(&path, id.as_bytes())?;
    Ok(id)
}
