//! The client: a connection to one agent, one method per call, taking and returning the
//! engine's types. Used by the command line and by a destination agent pulling from its
//! source. Protobuf stops here: nothing a caller passes or gets back is generated code.
//!
//! - [`channel`]: where an agent is ([`Target`]) and the TLS or loopback channel to it.
//! - [`error`]: [`ClientError`], refusals typed from the status details.
//! - [`source`]: the source side (manifests, chunk lists, chunks, whole files).
//! - [`admin`]: history, rollback, holds, the change stream.
//!
//! Every call is bounded in time: unary calls as a whole, streams per message.

mod admin;
pub mod channel;
pub mod error;
mod source;

use std::time::Duration;

use confsync_engine::apply::ApplyOutcome;
use confsync_engine::progress::ProgressEvent;
use confsync_engine::refusal::RefusalKind;
use confsync_engine::request::{ApplyRequest, PlanRequest};
use confsync_engine::server::ServerInfo;
use confsync_engine::view::PlanView;
use confsync_proto::{PROTOCOL_VERSION, v1};
use futures::StreamExt;
use tonic::codec::CompressionEncoding;
use tonic::transport::Channel;

use crate::convert::{info, plan};
pub use admin::TreeChanges;
pub use channel::Target;
pub use error::ClientError;

/// Largest gRPC message accepted or sent, on purpose rather than by default.
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Deadline for calls that only read (hello, plan): scanning a large tree takes a while.
const CALL_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest a source may stay silent in the middle of a stream (manifest batches, chunk
/// data) before the transfer stops, unless told otherwise ([`AgentClient::with_stall_timeout`]).
pub const STALL_TIMEOUT: Duration = Duration::from_secs(15);
const HELLO_TIMEOUT: Duration = Duration::from_secs(30);

/// Awaits a unary call whole (answer, message and trailers) within `limit`: the deadline
/// sent with a request bounds only the start of the answer, and a peer could stall after.
async fn within<T>(
    address: &str,
    limit: Duration,
    call: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
) -> Result<T, ClientError> {
    match tokio::time::timeout(limit, call).await {
        Ok(Ok(response)) => Ok(response.into_inner()),
        Ok(Err(status)) => Err(ClientError::from_status(address, status)),
        Err(_) => Err(ClientError::Unreachable {
            address: address.to_string(),
            detail: format!("no complete answer within {limit:?} (deadline exceeded)"),
        }),
    }
}

/// A call's deadline; the `client-timeout-ms` failpoint shortens them all in tests.
fn deadline(default: Duration) -> Duration {
    confsync_engine::failpoint::value(confsync_engine::failpoint::CLIENT_TIMEOUT_MS)
        .map_or(default, Duration::from_millis)
}

/// A connection to one agent.
#[derive(Clone)]
pub struct AgentClient {
    inner: v1::agent_client::AgentClient<Channel>,
    /// The same connection for the file data streams, without the transport's
    /// compression: their pieces are compressed one by one where it pays.
    data: v1::agent_client::AgentClient<Channel>,
    address: String,
    stall: Duration,
}

impl AgentClient {
    /// Connects to the agent at `target`.
    pub async fn connect(target: &Target) -> Result<AgentClient, ClientError> {
        let address = target.address.as_str();
        if let Some(files) = &target.tls {
            channel::probe(address, files).await?;
        }
        let endpoint = channel::endpoint(target)?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            // A peer that vanished without closing (power loss, cable) is noticed within
            // a minute instead of hanging a long apply or an `auto` run until TCP gives up.
            .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
            .keep_alive_timeout(KEEPALIVE_TIMEOUT)
            .keep_alive_while_idle(true);
        let channel = endpoint.connect().await.map_err(|e| channel::connect_error(address, &e))?;
        let data = v1::agent_client::AgentClient::new(channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let inner = v1::agent_client::AgentClient::new(channel)
            .send_compressed(CompressionEncoding::Zstd)
            .accept_compressed(CompressionEncoding::Zstd)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        Ok(AgentClient { inner, data, address: address.to_string(), stall: STALL_TIMEOUT })
    }

    /// How long the agent may stay silent in the middle of a stream.
    pub fn with_stall_timeout(mut self, stall: Duration) -> AgentClient {
        self.stall = stall;
        self
    }

    fn stall(&self) -> Duration {
        deadline(self.stall)
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    fn status(&self, status: tonic::Status) -> ClientError {
        ClientError::from_status(&self.address, status)
    }

    fn protocol(&self, detail: impl ToString) -> ClientError {
        ClientError::Protocol { address: self.address.clone(), detail: detail.to_string() }
    }

    /// Who the agent is and what its tree holds; refused when it speaks another protocol
    /// version.
    pub async fn hello(&mut self) -> Result<ServerInfo, ClientError> {
        let mut request = tonic::Request::new(v1::HelloRequest {});
        let limit = deadline(HELLO_TIMEOUT);
        request.set_timeout(limit);
        let address = self.address.clone();
        let reply = within(&address, limit, self.inner.hello(request)).await?;
        if reply.protocol_version != PROTOCOL_VERSION {
            return Err(ClientError::refused(
                &self.address,
                RefusalKind::VersionMismatch,
                format!(
                    "the agent speaks protocol version {} and this confsync speaks {}; run the same confsync version on both",
                    reply.protocol_version, PROTOCOL_VERSION
                ),
            ));
        }
        info::hello_from_proto(reply).map_err(|e| self.protocol(e))
    }

    /// The destination's plan against the source the request names.
    pub async fn plan(&mut self, request: &PlanRequest) -> Result<PlanView, ClientError> {
        let mut request = tonic::Request::new(plan::plan_request_to_proto(request));
        request.set_timeout(deadline(CALL_TIMEOUT));
        let address = self.address.clone();
        let reply = within(&address, deadline(CALL_TIMEOUT), self.inner.plan(request)).await?;
        plan::plan_from_proto(reply).map_err(|e| self.protocol(e))
    }

    /// Applies a reviewed plan, calling `on_progress` for each event; returns the outcome.
    pub async fn apply(
        &mut self,
        request: &ApplyRequest,
        on_progress: impl FnMut(&ProgressEvent),
    ) -> Result<ApplyOutcome, ClientError> {
        let stream = self
            .inner
            .apply(plan::apply_request_to_proto(request))
            .await
            .map_err(|s| self.status(s))?
            .into_inner();
        self.follow(stream, on_progress, "apply").await
    }

    /// Reads an apply-like stream to its result.
    async fn follow(
        &self,
        mut stream: tonic::Streaming<v1::ApplyEvent>,
        mut on_progress: impl FnMut(&ProgressEvent),
        what: &'static str,
    ) -> Result<ApplyOutcome, ClientError> {
        while let Some(event) = stream.next().await {
            let event =
                event.map_err(|s| ClientError::from_stream_status(&self.address, what, s))?;
            if let Some(result) = &event.result {
                return Ok(plan::outcome_from_proto(result));
            }
            on_progress(&plan::progress_from_proto(&event));
        }
        Err(self
            .protocol(format!("the {what} stream ended without a result; check the agent's log")))
    }
}
