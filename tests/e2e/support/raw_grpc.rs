//! gRPC below tonic, over plain HTTP/2 (h2): for what a well-behaved peer never sends.
//!
//! - [`call`]: a client that sends hand-made frames (an oversized message, a message that
//!   claims a huge length, a zstd bomb) and reads the status.
//! - [`RawServer`]: a hostile source agent whose answers are bytes chosen by the test
//!   (non-UTF-8 paths, short or long data, bytes that do not match their digest, an
//!   oversized or compression-bomb response, silence). Unlike a tonic service it does not
//!   need to follow every change of the protocol.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use prost::Message;

/// One gRPC message frame: compressed flag, big-endian length, payload.
pub(crate) fn frame(compressed: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 5);
    out.push(u8::from(compressed));
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A zstd frame that decompresses to `size` zero bytes while taking 4 bytes per 128 KiB
/// (RLE blocks): a 4 GiB bomb is 128 KiB on the wire.
pub(crate) fn zstd_bomb(size: u64) -> Vec<u8> {
    const BLOCK: u64 = 128 * 1024;
    let mut out = vec![0x28, 0xB5, 0x2F, 0xFD];
    // Frame header: no checksum, no dictionary, no content size, not single-segment;
    // window descriptor 2^(10+7) = 128 KiB.
    out.push(0x00);
    out.push(7 << 3);
    let blocks = size.div_ceil(BLOCK);
    for i in 0..blocks {
        let last = u32::from(i + 1 == blocks);
        let header = last | (1 << 1) | ((BLOCK as u32) << 3);
        out.extend_from_slice(&header.to_le_bytes()[..3]);
        out.push(0);
    }
    out
}

/// What came back from a raw call.
#[derive(Debug, Default)]
pub(crate) struct RawReply {
    pub grpc_status: Option<i32>,
    pub grpc_message: String,
    pub http_status: u16,
    pub error: Option<String>,
}

/// Sends `body` (already framed) to `path` on a plaintext agent, with extra headers.
pub(crate) async fn call(
    address: &str,
    path: &str,
    body: Vec<u8>,
    headers: &[(&str, &str)],
) -> RawReply {
    let tcp = tokio::net::TcpStream::connect(address).await.expect("connect to the agent");
    let (client, connection) = h2::client::handshake(tcp).await.expect("HTTP/2 handshake");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut client = client.ready().await.expect("HTTP/2 ready");
    let mut request = http::Request::builder()
        .method("POST")
        .uri(format!("http://{address}{path}"))
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let request = request.body(()).expect("a valid request");
    let (response, mut send) = client.send_request(request, false).expect("send the request");
    // h2 buffers the body and sends it as the peer's window allows; the server may answer
    // (and reset the stream) before it has read everything.
    let _ = send.send_data(Bytes::from(body), true);
    let mut reply = RawReply::default();
    let response = match tokio::time::timeout(Duration::from_secs(60), response).await {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => {
            reply.error = Some(e.to_string());
            return reply;
        }
        Err(_) => {
            reply.error = Some("no answer within 60 s".into());
            return reply;
        }
    };
    reply.http_status = response.status().as_u16();
    read_status(response.headers(), &mut reply);
    if reply.grpc_status.is_none() {
        let mut body = response.into_body();
        while let Some(Ok(data)) = body.data().await {
            let _ = body.flow_control().release_capacity(data.len());
        }
        if let Ok(Some(trailers)) = body.trailers().await {
            read_status(&trailers, &mut reply);
        }
    }
    reply
}

fn read_status(headers: &http::HeaderMap, reply: &mut RawReply) {
    if let Some(status) = headers.get("grpc-status").and_then(|v| v.to_str().ok()) {
        reply.grpc_status = status.parse().ok();
    }
    if let Some(message) = headers.get("grpc-message").and_then(|v| v.to_str().ok()) {
        reply.grpc_message = percent_decode(message);
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        if bytes[i] == b'%'
            && let Some(Ok(b)) = hex.map(|h| u8::from_str_radix(h, 16))
        {
            out.push(b);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

// ---------------------------------------------------------------------------------------
// A hostile source

/// How the raw server answers one call.
pub(crate) enum Answer {
    /// These encoded messages, then status OK.
    Messages(Vec<Vec<u8>>),
    /// These framed bytes as the body, with an optional `grpc-encoding`, then status OK.
    Frames { body: Vec<u8>, encoding: Option<&'static str> },
    /// These messages, then silence (the stream stays open).
    MessagesThenSilence(Vec<Vec<u8>>),
    /// An error status.
    Status(i32, String),
    /// Messages made one at a time as the client reads them (flow control respected),
    /// then status OK: for answers too large to hold.
    Stream(Box<dyn Iterator<Item = Vec<u8>> + Send>),
}

impl Answer {
    pub(crate) fn one(message: &impl Message) -> Answer {
        Answer::Messages(vec![message.encode_to_vec()])
    }
}

/// Answers `(path, request message)`; the request is decompressed when it was sent
/// compressed.
pub(crate) type Handler = Arc<dyn Fn(&str, &[u8]) -> Answer + Send + Sync>;

/// A raw gRPC server on a fresh loopback port; stops when dropped.
pub(crate) struct RawServer {
    pub address: String,
    _runtime: tokio::runtime::Runtime,
}

impl RawServer {
    pub(crate) fn start(handler: Handler) -> RawServer {
        let runtime = tokio::runtime::Runtime::new().expect("start a tokio runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let address = listener.local_addr().expect("bound address").to_string();
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let handler = Arc::clone(&handler);
                tokio::spawn(async move {
                    let Ok(mut connection) = h2::server::handshake(tcp).await else { return };
                    while let Some(Ok((request, respond))) = connection.accept().await {
                        let handler = Arc::clone(&handler);
                        tokio::spawn(serve_one(request, respond, handler));
                    }
                });
            }
        });
        RawServer { address, _runtime: runtime }
    }
}

async fn serve_one(
    request: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
    handler: Handler,
) {
    let path = request.uri().path().to_string();
    let compressed = request.headers().get("grpc-encoding").is_some_and(|v| v == "zstd");
    let mut body = request.into_body();
    let mut bytes = Vec::new();
    while let Some(Ok(data)) = body.data().await {
        let _ = body.flow_control().release_capacity(data.len());
        bytes.extend_from_slice(&data);
    }
    let message = if bytes.len() >= 5 {
        let payload = &bytes[5..];
        if bytes[0] == 1 && compressed {
            zstd::decode_all(payload).unwrap_or_default()
        } else {
            payload.to_vec()
        }
    } else {
        Vec::new()
    };
    let answer = handler(&path, &message);
    let mut head = http::Response::builder().status(200).header("content-type", "application/grpc");
    if let Answer::Stream(messages) = answer {
        let Ok(mut send) = respond.send_response(head.body(()).expect("a valid response"), false)
        else {
            return;
        };
        for message in messages {
            if !send_flow(&mut send, Bytes::from(frame(false, &message))).await {
                return;
            }
        }
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", "0".parse().expect("a header value"));
        let _ = send.send_trailers(trailers);
        return;
    }
    let (body, status, silence) = match answer {
        Answer::Stream(_) => return,
        Answer::Messages(messages) => (
            messages.iter().flat_map(|m| frame(false, m)).collect(),
            Some((0, String::new())),
            false,
        ),
        Answer::Frames { body, encoding } => {
            if let Some(encoding) = encoding {
                head = head.header("grpc-encoding", encoding);
            }
            (body, Some((0, String::new())), false)
        }
        Answer::MessagesThenSilence(messages) => {
            (messages.iter().flat_map(|m| frame(false, m)).collect(), None, true)
        }
        Answer::Status(code, message) => (Vec::new(), Some((code, message)), false),
    };
    let Ok(mut send) = respond.send_response(head.body(()).expect("a valid response"), false)
    else {
        return;
    };
    if !body.is_empty() {
        send.reserve_capacity(body.len());
        if send.send_data(Bytes::from(body), false).is_err() {
            return;
        }
    }
    if silence {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        return;
    }
    if let Some((code, message)) = status {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("grpc-status", code.to_string().parse().expect("a header value"));
        if !message.is_empty() {
            trailers.insert("grpc-message", message.parse().expect("an ASCII message"));
        }
        let _ = send.send_trailers(trailers);
    }
}

/// Sends `data` as the peer's flow control allows; false when the stream went away.
async fn send_flow(send: &mut h2::SendStream<Bytes>, mut data: Bytes) -> bool {
    while !data.is_empty() {
        send.reserve_capacity(data.len());
        let capacity = match futures::future::poll_fn(|cx| send.poll_capacity(cx)).await {
            Some(Ok(capacity)) if capacity > 0 => capacity,
            Some(Ok(_)) => continue,
            _ => return false,
        };
        let chunk = data.split_to(capacity.min(data.len()));
        if send.send_data(chunk, false).is_err() {
            return false;
        }
    }
    true
}

// ---------------------------------------------------------------------------------------
// A programmable hostile source agent

use confsync_proto::v1;

/// The parts of a source agent a destination talks to, each answered as the test says.
pub(crate) struct Evil {
    /// Encoded `ManifestBatch` messages (or any bytes) answering `GetManifest`.
    pub manifest: Vec<Vec<u8>>,
    /// Answers `GetManifest` instead of `manifest` when set (raw frames, silence...).
    pub manifest_answer: Option<Arc<dyn Fn() -> Answer + Send + Sync>>,
    /// The answer to `GetChunkList`, whatever file is asked.
    pub chunk_list: Option<v1::ChunkList>,
    /// Answers `GetChunks`.
    pub chunks: Arc<dyn Fn(&v1::ChunksRequest) -> Answer + Send + Sync>,
    /// Answers `Hello` with silence instead of a reply.
    pub silent_hello: bool,
    /// The protocol version `Hello` claims (this build's when `None`).
    pub protocol_version: Option<u32>,
}

impl Default for Evil {
    fn default() -> Self {
        Evil {
            manifest: Vec::new(),
            manifest_answer: None,
            chunk_list: None,
            chunks: Arc::new(|_| Answer::Status(12, "no data here".into())),
            silent_hello: false,
            protocol_version: None,
        }
    }
}

impl Evil {
    /// A source whose firmware is `entries` (every other category empty).
    pub(crate) fn firmware(entries: Vec<v1::Entry>) -> Evil {
        Evil { manifest: vec![batch(v1::Category::Firmware, entries)], ..Evil::default() }
    }

    pub(crate) fn serve(self) -> RawServer {
        let evil = Arc::new(self);
        RawServer::start(Arc::new(move |path: &str, request: &[u8]| {
            let method = path.rsplit('/').next().unwrap_or_default();
            match method {
                "Hello" if evil.silent_hello => Answer::MessagesThenSilence(Vec::new()),
                "Hello" => Answer::one(&v1::HelloReply {
                    protocol_version: evil
                        .protocol_version
                        .unwrap_or(confsync_proto::PROTOCOL_VERSION),
                    ..hello()
                }),
                "GetManifest" => match &evil.manifest_answer {
                    Some(answer) => answer(),
                    None => Answer::Messages(evil.manifest.clone()),
                },
                "GetChunkList" => match &evil.chunk_list {
                    Some(list) => Answer::one(list),
                    None => Answer::Status(12, "no chunk list".into()),
                },
                "GetChunks" => match v1::ChunksRequest::decode(request) {
                    Ok(request) => (evil.chunks)(&request),
                    Err(e) => Answer::Status(3, format!("bad request: {e}")),
                },
                _ => Answer::Status(12, format!("{method} is not served here")),
            }
        }))
    }
}

/// A plausible `Hello` from a source that is not the destination.
pub(crate) fn hello() -> v1::HelloReply {
    v1::HelloReply {
        name: "evil-source".into(),
        agent_version: "0.0.0".into(),
        protocol_version: confsync_proto::PROTOCOL_VERSION,
        hostname: "evil".into(),
        instance_id: "evil-source-instance".into(),
        ..Default::default()
    }
}

/// One encoded manifest batch, the last of its category.
pub(crate) fn batch(category: v1::Category, entries: Vec<v1::Entry>) -> Vec<u8> {
    v1::ManifestBatch {
        category: category as i32,
        entries,
        category_digest: vec![0; 32],
        last: true,
        held: Vec::new(),
        unmanaged: Vec::new(),
    }
    .encode_to_vec()
}

pub(crate) fn dir_entry(path: &str) -> v1::Entry {
    v1::Entry {
        path: path.to_string(),
        kind: v1::EntryKind::Dir as i32,
        mode: 0o755,
        mtime_ns: 1_700_000_000_000_000_000,
        ..Default::default()
    }
}

/// Answers each asked range with `data(range)` at the range's offset.
pub(crate) fn pieces(
    data: impl Fn(&v1::ByteRange) -> Vec<u8> + Send + Sync + 'static,
) -> Arc<dyn Fn(&v1::ChunksRequest) -> Answer + Send + Sync> {
    Arc::new(move |request: &v1::ChunksRequest| {
        Answer::Messages(
            request
                .ranges
                .iter()
                .map(|r| {
                    v1::ChunkData { offset: r.offset, data: data(r), zstd: false }.encode_to_vec()
                })
                .collect(),
        )
    })
}

/// A chunk list as a hostile source would send it.
pub(crate) fn chunk_list(list: &confsync_engine::chunk::ChunkList) -> v1::ChunkList {
    v1::ChunkList {
        size: list.size,
        digest: list.digest.0.to_vec(),
        chunks: list
            .chunks
            .iter()
            .map(|c| v1::ChunkRef {
                offset: c.offset,
                length: c.length,
                digest: c.digest.0.to_vec(),
            })
            .collect(),
    }
}

/// A plaintext gRPC client that sends whatever the test builds (no validation on the way).
pub(crate) async fn plain_client(
    address: &str,
) -> v1::agent_client::AgentClient<tonic::transport::Channel> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
        .expect("an address")
        .connect()
        .await
        .expect("connect to the agent");
    v1::agent_client::AgentClient::new(channel)
}
