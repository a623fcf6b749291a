//! Connecting to an agent: channel setup (timeouts, compression, message limits), one
//! method per RPC, and the translation of gRPC statuses into [`ClientError`]s that say
//! what failed, where, and what to do. Used by the CLI and by a destination agent pulling
//! from its source.

use std::time::Duration;

use futures::StreamExt;
use tonic::codec::CompressionEncoding;
use tonic::transport::Channel;

use crate::engine::category::Category;
use crate::engine::chunk::ChunkList;
use crate::engine::confine::MAX_MANIFEST_ENTRIES;
use crate::engine::manifest::{CategoryManifest, Manifest};
use crate::engine::plan::{Action, Counts};
use crate::engine::progress::{Phase, ProgressEvent};
use crate::engine::transfer::{ByteRange, FilesStream, PieceStream};
use crate::engine::{Digest, EngineError, EntryKind};
use crate::proto::{self, v1};

mod admin;
pub use admin::TreeChanges;

/// Largest gRPC message accepted or sent, on purpose rather than by default.
pub const MAX_MESSAGE_BYTES: usize = 16 << 20;
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Deadline for calls that only read (hello, plan): scanning a large tree takes a while.
const CALL_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest wait for the next message of a stream (manifest batches, chunk data).
const STREAM_IDLE_TIMEOUT: Duration = Duration::from_secs(120);
const HELLO_TIMEOUT: Duration = Duration::from_secs(30);

/// Awaits a unary call whole (answer, message and trailers) within `limit`: the deadline
/// sent with a request bounds only the start of the answer, and a peer could stall after.
pub(crate) async fn within<T>(
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
    crate::engine::failpoint::value(crate::engine::failpoint::CLIENT_TIMEOUT_MS)
        .map_or(default, Duration::from_millis)
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot reach the agent at {address}: {detail}; check that `confsync agent` runs there and the address is right"
    )]
    Unreachable { address: String, detail: String },
    #[error("{address} refused: {message}")]
    Refused { address: String, message: String },
    #[error("{address} failed: {message}")]
    Failed { address: String, message: String },
    #[error("{address} sent a message this client does not understand: {detail}")]
    Protocol { address: String, detail: String },
    #[error("cannot connect to {address} securely: {detail}")]
    Tls { address: String, detail: String },
}

impl ClientError {
    fn from_status(address: &str, status: tonic::Status) -> ClientError {
        let address = address.to_string();
        let message = match std::error::Error::source(&status) {
            // A transport failure (a refused handshake) hides its reason in the source.
            Some(source) => {
                format!("{}: {}", status.message(), crate::tls::client::describe(source))
            }
            None => status.message().to_string(),
        };
        match status.code() {
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => ClientError::Unreachable {
                address,
                detail: if message.is_empty() {
                    status.code().description().to_string()
                } else {
                    message
                },
            },
            tonic::Code::FailedPrecondition
            | tonic::Code::ResourceExhausted
            | tonic::Code::PermissionDenied
            | tonic::Code::Unauthenticated => ClientError::Refused { address, message },
            _ => ClientError::Failed { address, message },
        }
    }

    pub fn is_refusal(&self) -> bool {
        matches!(self, ClientError::Refused { .. })
    }
}

/// Client certificate, key and the CA that signed the agents' certificates (PEM files).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientTls {
    pub ca: std::path::PathBuf,
    pub cert: std::path::PathBuf,
    pub key: std::path::PathBuf,
}

/// Where an agent is and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `host:port`.
    pub address: String,
    /// `None`: plaintext (allowed on loopback only).
    pub tls: Option<ClientTls>,
}

impl Target {
    pub fn plain(address: &str) -> Target {
        Target { address: address.to_string(), tls: None }
    }
}

/// A connection to one agent.
#[derive(Clone)]
pub struct AgentClient {
    inner: v1::agent_client::AgentClient<Channel>,
    address: String,
}

impl AgentClient {
    /// Connects to the agent at `target`.
    pub async fn connect(target: &Target) -> Result<AgentClient, ClientError> {
        let address = target.address.as_str();
        if let Some(files) = &target.tls {
            crate::tls::client::probe(address, files).await?;
        }
        let endpoint = crate::tls::client::endpoint(target)?
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_nodelay(true)
            // A peer that vanished without closing (power loss, cable) is noticed within
            // a minute instead of hanging a long apply or an `auto` run until TCP gives up.
            .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
            .keep_alive_timeout(KEEPALIVE_TIMEOUT)
            .keep_alive_while_idle(true);
        let channel =
            endpoint.connect().await.map_err(|e| crate::tls::client::connect_error(address, &e))?;
        let inner = v1::agent_client::AgentClient::new(channel)
            .send_compressed(CompressionEncoding::Zstd)
            .accept_compressed(CompressionEncoding::Zstd)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        Ok(AgentClient { inner, address: address.to_string() })
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

    pub async fn hello(&mut self) -> Result<v1::HelloReply, ClientError> {
        let mut request = tonic::Request::new(v1::HelloRequest {});
        let limit = deadline(HELLO_TIMEOUT);
        request.set_timeout(limit);
        let address = self.address.clone();
        let reply = within(&address, limit, self.inner.hello(request)).await?;
        if reply.protocol_version != proto::PROTOCOL_VERSION {
            return Err(ClientError::Refused {
                address: self.address.clone(),
                message: format!(
                    "the agent speaks protocol version {} and this confsync speaks {}; run the same confsync version on both",
                    reply.protocol_version,
                    proto::PROTOCOL_VERSION
                ),
            });
        }
        Ok(reply)
    }

    /// The whole manifest of `categories`, validated entry by entry.
    pub async fn manifest(&mut self, categories: &[Category]) -> Result<Manifest, ClientError> {
        let mut request = tonic::Request::new(v1::ManifestRequest {
            categories: proto::categories_to_proto(categories),
        });
        request.set_timeout(deadline(CALL_TIMEOUT));
        let mut stream =
            self.inner.get_manifest(request).await.map_err(|s| self.status(s))?.into_inner();
        let mut entries: std::collections::BTreeMap<Category, Vec<crate::engine::Entry>> =
            categories.iter().map(|c| (*c, Vec::new())).collect();
        let mut count = 0usize;
        while let Some(batch) = self.next_within(&mut stream).await? {
            let batch = batch.map_err(|s| self.status(s))?;
            count = count.saturating_add(batch.entries.len());
            if count > MAX_MANIFEST_ENTRIES {
                return Err(self.protocol(format!(
                    "the manifest has more than {MAX_MANIFEST_ENTRIES} entries; refusing it"
                )));
            }
            let category =
                proto::category_from_proto(batch.category).map_err(|e| self.protocol(e))?;
            let list = entries
                .get_mut(&category)
                .ok_or_else(|| self.protocol(format!("category {category} was not asked for")))?;
            for raw in batch.entries {
                list.push(
                    proto::entry_from_proto(raw)
                        .map_err(|e| self.protocol(format!("in {category}: {e}")))?,
                );
            }
        }
        let mut manifest = Manifest::default();
        for (category, list) in entries {
            crate::engine::confine::check_tree(&list)
                .map_err(|e| self.protocol(format!("in {category}: {e}")))?;
            manifest.insert(CategoryManifest::new(category, list));
        }
        Ok(manifest)
    }

    /// The next item of a stream from the agent, or an error when none comes for
    /// [`STREAM_IDLE_TIMEOUT`] (a stalled peer must not hold an apply forever).
    async fn next_within<T>(
        &self,
        stream: &mut tonic::Streaming<T>,
    ) -> Result<Option<Result<T, tonic::Status>>, ClientError> {
        tokio::time::timeout(deadline(STREAM_IDLE_TIMEOUT), stream.next()).await.map_err(|_| {
            ClientError::Unreachable {
                address: self.address.clone(),
                detail: format!(
                    "nothing arrived for {:?} in the middle of a stream",
                    deadline(STREAM_IDLE_TIMEOUT)
                ),
            }
        })
    }

    pub async fn chunk_list(
        &mut self,
        category: Category,
        path: &str,
    ) -> Result<ChunkList, ClientError> {
        let mut request = tonic::Request::new(v1::FileRef {
            category: proto::category_to_proto(category) as i32,
            path: path.to_string(),
        });
        let limit = deadline(CALL_TIMEOUT);
        request.set_timeout(limit);
        let address = self.address.clone();
        let raw = within(&address, limit, self.inner.get_chunk_list(request)).await?;
        proto::chunk_list_from_proto(raw, path).map_err(|e| self.protocol(e))
    }

    /// Streams the asked ranges of one file; each piece is checked against its range by
    /// the engine.
    /// Streams several small files whole, in the order asked: (index, offset, bytes).
    /// `None` when the agent does not serve `GetFiles` (an older agent): ask file by file.
    pub async fn fetch_files(
        &mut self,
        category: Category,
        paths: Vec<String>,
    ) -> Result<Option<FilesStream>, ClientError> {
        let request =
            v1::FilesRequest { category: proto::category_to_proto(category) as i32, paths };
        let mut request = tonic::Request::new(request);
        request.set_timeout(deadline(CALL_TIMEOUT));
        let mut stream = match self.inner.get_files(request).await {
            Ok(response) => response.into_inner(),
            Err(status) if status.code() == tonic::Code::Unimplemented => return Ok(None),
            Err(status) => return Err(self.status(status)),
        };
        // An agent may also say "unimplemented" in place of the first message.
        let first = tokio::time::timeout(deadline(STREAM_IDLE_TIMEOUT), stream.message())
            .await
            .map_err(|_| self.protocol("no answer to GetFiles; stopped waiting"))?;
        let first = match first {
            Err(status) if status.code() == tonic::Code::Unimplemented => return Ok(None),
            Err(status) => return Err(self.status(status)),
            Ok(first) => first,
        };
        let stream = futures::stream::iter(first.map(Ok)).chain(stream);
        let address = self.address.clone();
        Ok(Some(
            tokio_stream::StreamExt::timeout(stream, deadline(STREAM_IDLE_TIMEOUT))
                .map(move |item| match item {
                    Ok(item) => item.map(|f| (f.index, f.offset, f.data)).map_err(|s| {
                        EngineError::Source(ClientError::from_status(&address, s).to_string())
                    }),
                    Err(_) => Err(EngineError::Source(format!(
                        "{address} sent no data for {:?}; stopped waiting",
                        deadline(STREAM_IDLE_TIMEOUT)
                    ))),
                })
                .boxed(),
        ))
    }

    pub async fn fetch(
        &mut self,
        category: Category,
        path: &str,
        ranges: Vec<ByteRange>,
    ) -> Result<PieceStream, ClientError> {
        let request = v1::ChunksRequest {
            file: Some(v1::FileRef {
                category: proto::category_to_proto(category) as i32,
                path: path.to_string(),
            }),
            ranges: ranges
                .iter()
                .map(|r| v1::ByteRange { offset: r.offset, length: r.length })
                .collect(),
        };
        let mut request = tonic::Request::new(request);
        request.set_timeout(deadline(CALL_TIMEOUT));
        let stream = self.inner.get_chunks(request).await.map_err(|s| self.status(s))?.into_inner();
        let address = self.address.clone();
        Ok(tokio_stream::StreamExt::timeout(stream, deadline(STREAM_IDLE_TIMEOUT))
            .map(move |item| match item {
                Ok(item) => item.map(|c| (c.offset, c.data)).map_err(|s| {
                    EngineError::Source(ClientError::from_status(&address, s).to_string())
                }),
                Err(_) => Err(EngineError::Source(format!(
                    "{address} sent no data for {:?}; stopped waiting",
                    deadline(STREAM_IDLE_TIMEOUT)
                ))),
            })
            .boxed())
    }

    pub async fn plan(&mut self, request: v1::PlanRequest) -> Result<PlanView, ClientError> {
        let mut request = tonic::Request::new(request);
        request.set_timeout(deadline(CALL_TIMEOUT));
        let address = self.address.clone();
        let reply = within(&address, deadline(CALL_TIMEOUT), self.inner.plan(request)).await?;
        PlanView::from_proto(reply).map_err(|e| self.protocol(e))
    }

    /// Applies a reviewed plan, calling `on_progress` for each event; returns the result.
    pub async fn apply(
        &mut self,
        request: v1::ApplyRequest,
        mut on_progress: impl FnMut(&ProgressEvent),
    ) -> Result<v1::ApplyResult, ClientError> {
        let mut stream = self.inner.apply(request).await.map_err(|s| self.status(s))?.into_inner();
        while let Some(event) = stream.next().await {
            let event = event.map_err(|s| self.status(s))?;
            if let Some(result) = event.result {
                return Ok(result);
            }
            on_progress(&progress_from_proto(&event));
        }
        Err(self.protocol("the apply stream ended without a result; check the agent's log"))
    }
}

fn progress_from_proto(event: &v1::ApplyEvent) -> ProgressEvent {
    let phase = match v1::apply_event::Phase::try_from(event.phase) {
        Ok(v1::apply_event::Phase::Transferring) => Phase::Transferring,
        Ok(v1::apply_event::Phase::Committing) => Phase::Committing,
        Ok(v1::apply_event::Phase::Done) => Phase::Done,
        _ => Phase::Planning,
    };
    ProgressEvent {
        phase,
        current_file: event.current_file.clone(),
        bytes_done: event.bytes_done,
        bytes_total: event.bytes_total,
        files_done: event.files_done,
        files_total: event.files_total,
    }
}

/// The whole error chain of a transport error, which tonic hides behind "transport error".
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let more = e.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = e.source();
    }
    text
}

/// A plan as the CLI shows it (and prints with `--json`).
#[derive(Debug, Clone, serde::Serialize)]
pub struct PlanView {
    pub digest: String,
    pub source_name: String,
    pub destination_name: String,
    pub categories: Vec<CategoryView>,
    pub warnings: Vec<String>,
    pub refusals: Vec<String>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CategoryView {
    pub category: Category,
    pub counts: Counts,
    pub in_sync: bool,
    pub steps: Vec<StepView>,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct StepView {
    pub action: Action,
    pub path: String,
    pub kind: EntryKind,
    pub size: u64,
    pub mode: u32,
    pub downgrade: bool,
}

impl PlanView {
    fn from_proto(reply: v1::PlanReply) -> Result<PlanView, String> {
        let digest = Digest::from_slice(&reply.digest).ok_or("the plan digest is not 32 bytes")?;
        let mut categories = Vec::new();
        for c in reply.categories {
            let category = proto::category_from_proto(c.category).map_err(|e| e.to_string())?;
            let mut counts = Counts::default();
            let mut steps = Vec::new();
            for s in c.steps {
                let action = proto::action_from_proto(s.action).ok_or("unknown step action")?;
                let kind = match v1::EntryKind::try_from(s.kind) {
                    Ok(v1::EntryKind::Dir) => EntryKind::Dir,
                    Ok(v1::EntryKind::Symlink) => EntryKind::Symlink,
                    _ => EntryKind::File,
                };
                match action {
                    Action::Create => counts.created += 1,
                    Action::Overwrite => counts.overwritten += 1,
                    Action::Delete => counts.deleted += 1,
                    Action::Chmod => counts.chmod += 1,
                }
                if matches!(action, Action::Create | Action::Overwrite) && kind == EntryKind::File {
                    counts.bytes += s.size;
                }
                steps.push(StepView {
                    action,
                    path: s.path,
                    kind,
                    size: s.size,
                    mode: s.mode,
                    downgrade: s.downgrade,
                });
            }
            categories.push(CategoryView { category, counts, in_sync: steps.is_empty(), steps });
        }
        Ok(PlanView {
            digest: digest.to_hex(),
            source_name: reply.source_name,
            destination_name: reply.destination_name,
            categories,
            warnings: reply.warnings,
            refusals: reply.refusals,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.categories.iter().all(|c| c.steps.is_empty())
    }

    pub fn counts(&self) -> Counts {
        let mut total = Counts::default();
        for c in &self.categories {
            total.created += c.counts.created;
            total.overwritten += c.counts.overwritten;
            total.deleted += c.counts.deleted;
            total.chmod += c.counts.chmod;
            total.bytes += c.counts.bytes;
        }
        total
    }
}
