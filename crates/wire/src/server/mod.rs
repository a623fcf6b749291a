//! The server side of the wire: the agent's domain handlers ([`Api`]) served over gRPC.
//!
//! The agent implements [`Api`] with the engine's types only; [`serve`] puts it behind
//! the protocol: [`service`] converts and validates every message, [`auth`] checks roles,
//! [`listen`] accepts connections (TLS handshakes, plaintext on loopback only), and the
//! standard health and reflection services are served beside it.

pub mod auth;
mod conn;
pub mod listen;
mod service;
mod shares;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use confsync_engine::apply::ApplyEvent;
use confsync_engine::apply::ApplyOutcome;
use confsync_engine::category::Category;
use confsync_engine::chunk::ChunkList;
use confsync_engine::entry::Digest;
use confsync_engine::error::Result;
use confsync_engine::history::Listed;
use confsync_engine::hold::Hold;
use confsync_engine::live::Verification;
use confsync_engine::manifest::Manifest;
use confsync_engine::path::RelPath;
use confsync_engine::request::{ApplyRequest, PlanRequest, RollbackRequest};
use confsync_engine::server::ServerInfo;
use confsync_engine::transfer::{ByteRange, FilesStream, PieceStream};
use confsync_engine::view::PlanView;
use confsync_proto::v1;
use futures::FutureExt;
use futures::stream::BoxStream;
use tokio::net::TcpListener;
use tonic::codec::CompressionEncoding;
use tonic::transport::Server;

pub use auth::Caller;
pub use listen::Security;

use crate::client::MAX_MESSAGE_BYTES;

/// What an apply or a rollback streams: progress, then its outcome (or an error).
pub type ApplyEvents = BoxStream<'static, Result<ApplyEvent>>;
/// Tree digests after changes (the first: the digest when the stream started).
pub type Changes = BoxStream<'static, Result<Digest>>;

/// An agent's handlers, in the engine's types. Every argument has been validated (paths
/// are canonical, categories are never `licenses`, digests are 32 bytes) and every
/// caller's role checked before a handler runs.
pub trait Api: Send + Sync + 'static {
    fn hello(&self) -> impl Future<Output = Result<ServerInfo>> + Send;
    fn manifest(&self, categories: Vec<Category>) -> impl Future<Output = Result<Manifest>> + Send;
    fn chunk_list(
        &self,
        category: Category,
        path: RelPath,
    ) -> impl Future<Output = Result<ChunkList>> + Send;
    fn chunks(
        &self,
        category: Category,
        path: RelPath,
        ranges: Vec<ByteRange>,
    ) -> impl Future<Output = Result<PieceStream>> + Send;
    fn files(
        &self,
        category: Category,
        paths: Vec<RelPath>,
    ) -> impl Future<Output = Result<FilesStream>> + Send;
    fn plan(&self, request: PlanRequest) -> impl Future<Output = Result<PlanView>> + Send;
    fn apply(
        &self,
        request: ApplyRequest,
        caller: Caller,
    ) -> impl Future<Output = Result<ApplyEvents>> + Send;
    fn history(&self) -> impl Future<Output = Result<Vec<Listed>>> + Send;
    fn plan_rollback(
        &self,
        request: RollbackRequest,
    ) -> impl Future<Output = Result<PlanView>> + Send;
    fn rollback(
        &self,
        request: RollbackRequest,
        caller: Caller,
    ) -> impl Future<Output = Result<ApplyEvents>> + Send;
    fn watch(&self, categories: Vec<Category>) -> impl Future<Output = Result<Changes>> + Send;
    fn hold(
        &self,
        reason: String,
        caller: Caller,
    ) -> impl Future<Output = Result<Option<Hold>>> + Send;
    fn release(&self, caller: Caller) -> impl Future<Output = Result<Option<Hold>>> + Send;
    /// Confirms the commit-confirmed generation pending; returns it (none: nothing was).
    fn confirm(&self, caller: Caller) -> impl Future<Output = Result<Option<u64>>> + Send;
    fn verify(
        &self,
        categories: Vec<Category>,
    ) -> impl Future<Output = Result<Verification>> + Send;
    /// Two-way: what changed here since this server's base with `peer` (an instance id).
    fn changes(
        &self,
        peer: String,
        categories: Vec<Category>,
    ) -> impl Future<Output = Result<confsync_engine::pair::SideChanges>> + Send;
    /// Two-way: makes the candidate of `run` this server's base with `peer`.
    fn adopt_base(&self, peer: String, run: String) -> impl Future<Output = Result<bool>> + Send;
    /// What differs here from what the last sync left.
    fn drift(
        &self,
        categories: Vec<Category>,
    ) -> impl Future<Output = Result<confsync_engine::server::DriftReport>> + Send;
    /// Receives a bundle file piece by piece, verifies it whole and keeps it.
    fn put_bundle(
        &self,
        pieces: BoxStream<'static, Result<Vec<u8>>>,
    ) -> impl Future<Output = Result<confsync_engine::bundle::StoredBundle>> + Send;
}

/// How long open connections may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// Serves `api` on `listener` with `security` until `shutdown` resolves, then lets open
/// connections finish for a grace period.
pub async fn serve<A: Api>(
    api: Arc<A>,
    listener: TcpListener,
    security: Security,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let agent = v1::agent_server::AgentServer::new(service::Service::new(api))
        .accept_compressed(CompressionEncoding::Zstd)
        .send_compressed(CompressionEncoding::Zstd)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES);
    let (health, health_service) = tonic_health::server::health_reporter();
    health.set_serving::<v1::agent_server::AgentServer<service::Service<A>>>().await;
    // Both reflection versions: grpcurl speaks v1, Python's grpcio-reflection and many
    // other tools still v1alpha. Each lists everything served: the agent, health, and
    // both reflection services.
    let descriptors = || {
        tonic_reflection::server::Builder::configure()
            .include_reflection_service(false)
            .register_encoded_file_descriptor_set(v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(
                tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
            )
    };
    let reflection = descriptors().build_v1().context("building the gRPC reflection service")?;
    let reflection_v1alpha =
        descriptors().build_v1alpha().context("building the gRPC reflection service")?;

    let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
    let signal = async move {
        shutdown.await;
        let _ = stopping_tx.send(());
    };
    let policy = if security.is_tls() { auth::Policy::Roles } else { auth::Policy::Open };
    let router = Server::builder()
        .concurrency_limit_per_connection(64)
        .max_concurrent_streams(listen::MAX_STREAMS_PER_CONNECTION)
        .timeout(listen::SERVER_CALL_TIMEOUT)
        .http2_keepalive_interval(Some(Duration::from_secs(30)))
        .layer(auth::AuthLayer::new(policy))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_v1alpha)
        .add_service(agent);
    let server = match listen::accept(listener, security) {
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
    Ok(())
}

/// An apply's outcome as the last event of its stream.
pub fn done(outcome: ApplyOutcome) -> ApplyEvent {
    ApplyEvent::Done(outcome)
}
