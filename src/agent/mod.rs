//! The agent: serves one server's tree over gRPC.
//!
//! - [`state`]: identity, layout, hash index, apply lock, shutdown flag.
//! - [`listen`]: accepting connections: TLS handshakes, plaintext only on loopback.
//! - [`auth`]: which role may make which call (the one place roles are checked).
//! - [`service`]: the gRPC handlers; planning and applying (destination side).
//! - [`serve_source`]: manifests and chunks (source side, read-only).
//! - [`source`]: the source agent as the engine's chunk source.
//! - [`history`]: the record of applies, and rollback to a kept generation.
//! - [`watch`]: tree-changed events for `auto --on-change`.
//! - [`hold`]: refusing every apply during maintenance, across restarts.
//! - [`inventory`]: what the machine is (serial, MACs, CPU, memory, OS) for `Hello`.
//!
//! Start-up order matters: lock the state folder (one agent per tree), recover an
//! unfinished journal, clear staging, and only then listen.

pub mod auth;
pub mod history;
pub mod hold;
pub mod inventory;
pub mod listen;
pub mod serve_source;
pub mod service;
pub mod source;
pub mod state;
pub mod watch;

use std::future::Future;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::FutureExt;
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;
use tonic::transport::Server;

use crate::client::MAX_MESSAGE_BYTES;
use crate::engine::journal::{self, Recovery};
use crate::engine::layout::Layout;
use crate::proto::v1;
use service::AgentService;
pub use state::{AgentSettings, AgentState};

/// How long open connections may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// Prepares the tree (lock, recovery), calls `ready` (the tree is now safe to look at and
/// requests will be served), and serves on `listener` until `shutdown` resolves.
pub async fn run(
    settings: AgentSettings,
    listener: TcpListener,
    ready: impl FnOnce(),
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let tls = listen::security(settings.server_tls.as_ref(), &listener)?;
    let layout = settings.layout.clone();
    layout.prepare()?;
    let _lock = lock_tree(&layout)?;
    match journal::recover(&layout)? {
        Recovery::Clean => {}
        Recovery::Undone(id) => tracing::warn!(
            generation = id,
            "an unfinished apply was undone; the tree is as before it"
        ),
        Recovery::Finished(id) => {
            tracing::info!(generation = id, "a completed apply was finalised")
        }
    }
    let instance_id = instance_id(&layout)?;
    let state = Arc::new(AgentState::new(settings, instance_id));
    ready();

    let agent = v1::agent_server::AgentServer::new(AgentService { state: Arc::clone(&state) })
        .accept_compressed(CompressionEncoding::Zstd)
        .send_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<v1::agent_server::AgentServer<AgentService>>().await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(v1::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("building the gRPC reflection service")?;

    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let signal_state = Arc::clone(&state);
    let signal = async move {
        shutdown.await;
        tracing::info!("shutting down: no new requests; an apply in flight completes or is undone");
        signal_state.begin_shutdown();
        let _ = stopping_tx.send(());
    };
    let policy = if tls.is_some() { auth::Policy::Roles } else { auth::Policy::Open };
    let router = Server::builder()
        .concurrency_limit_per_connection(64)
        .max_concurrent_streams(listen::MAX_STREAMS_PER_CONNECTION)
        .timeout(listen::SERVER_CALL_TIMEOUT)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .layer(auth::AuthLayer::new(policy))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(agent);
    let server = match listen::accept(listener, tls) {
        listen::Incoming::Plain(incoming) => {
            router.serve_with_incoming_shutdown(incoming, signal).boxed()
        }
        listen::Incoming::Tls { secure, plaintext } => {
            listen::answer_tls_required(plaintext);
            router.serve_with_incoming_shutdown(secure, signal).boxed()
        }
    };
    tokio::pin!(server);
    tokio::select! {
        served = &mut server => served.context("serving gRPC")?,
        () = async { let _ = stopping_rx.await; tokio::time::sleep(SHUTDOWN_GRACE).await; } => {
            tracing::warn!("connections did not close within {SHUTDOWN_GRACE:?}; stopping anyway");
        }
    }
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
    std::fs::write(&path, &id).with_context(|| format!("writing {}", path.display()))?;
    Ok(id)
}
