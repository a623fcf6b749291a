//! A hostile source agent: it speaks the protocol correctly but its manifest holds
//! whatever entries the test crafts (paths with `..`, absolute paths, escaping symlinks).
//! It serves no file data, so a destination that failed to refuse would fail later
//! rather than write attacker-chosen bytes anywhere.

use confsync_proto::v1::agent_server::{Agent, AgentServer};
use confsync_proto::{PROTOCOL_VERSION, v1};
use futures::StreamExt;
use futures::stream::BoxStream;
use tonic::codec::CompressionEncoding;
use tonic::{Request, Response, Status};

type Stream<T> = BoxStream<'static, Result<T, Status>>;
type Reply<T> = Result<Response<T>, Status>;

/// Serves `entries` as its firmware; every other category is empty.
pub(crate) struct FakeSource {
    pub firmware: Vec<v1::Entry>,
}

/// A running fake source; the server stops when this is dropped.
pub(crate) struct FakeServer {
    pub address: String,
    _runtime: tokio::runtime::Runtime,
}

impl FakeSource {
    /// Serves on a fresh port of 127.0.0.1, on a runtime of its own.
    pub(crate) fn serve(self) -> FakeServer {
        let runtime = tokio::runtime::Runtime::new().expect("start a tokio runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("bind 127.0.0.1:0");
        let address = listener.local_addr().expect("bound address").to_string();
        // The real client compresses with zstd; a server that does not accept it answers
        // every call with `unimplemented`.
        let service = AgentServer::new(self)
            .accept_compressed(CompressionEncoding::Zstd)
            .send_compressed(CompressionEncoding::Zstd);
        runtime.spawn(
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
        );
        FakeServer { address, _runtime: runtime }
    }
}

/// A plausible file entry (the digest is of `content`).
pub(crate) fn file_entry(path: &str, content: &[u8]) -> v1::Entry {
    v1::Entry {
        path: path.to_string(),
        kind: v1::EntryKind::File as i32,
        size: content.len() as u64,
        mode: 0o644,
        mtime_ns: 1_700_000_000_000_000_000,
        digest: blake3::hash(content).as_bytes().to_vec(),
        symlink_target: String::new(),
        attrs: None,
        hardlink: String::new(),
    }
}

pub(crate) fn symlink_entry(path: &str, target: &str) -> v1::Entry {
    v1::Entry {
        path: path.to_string(),
        kind: v1::EntryKind::Symlink as i32,
        size: target.len() as u64,
        mode: 0o777,
        mtime_ns: 1_700_000_000_000_000_000,
        digest: blake3::hash(target.as_bytes()).as_bytes().to_vec(),
        symlink_target: target.to_string(),
        attrs: None,
        hardlink: String::new(),
    }
}

#[tonic::async_trait]
impl Agent for FakeSource {
    async fn hello(&self, _: Request<v1::HelloRequest>) -> Reply<v1::HelloReply> {
        Ok(Response::new(v1::HelloReply {
            name: "fake-source".into(),
            agent_version: "0.0.0".into(),
            protocol_version: PROTOCOL_VERSION,
            hostname: "fake".into(),
            // No category digests: the destination must fetch the manifest.
            categories: Vec::new(),
            instance_id: "fake-source-instance".into(),
            ..Default::default()
        }))
    }

    type GetManifestStream = Stream<v1::ManifestBatch>;

    async fn get_manifest(
        &self,
        request: Request<v1::ManifestRequest>,
    ) -> Reply<Self::GetManifestStream> {
        let batches: Vec<Result<v1::ManifestBatch, Status>> = request
            .into_inner()
            .categories
            .into_iter()
            .map(|category| {
                let entries = if category == v1::Category::Firmware as i32 {
                    self.firmware.clone()
                } else {
                    Vec::new()
                };
                Ok(v1::ManifestBatch {
                    category,
                    entries,
                    category_digest: vec![0; 32],
                    last: true,
                    held: Vec::new(),
                    unmanaged: Vec::new(),
                })
            })
            .collect();
        Ok(Response::new(futures::stream::iter(batches).boxed()))
    }

    async fn get_chunk_list(&self, _: Request<v1::FileRef>) -> Reply<v1::ChunkList> {
        unimplemented()
    }

    type GetChunksStream = Stream<v1::ChunkData>;

    async fn get_chunks(&self, _: Request<v1::ChunksRequest>) -> Reply<Self::GetChunksStream> {
        unimplemented()
    }

    type GetFilesStream = Stream<v1::FileData>;

    async fn get_files(&self, _: Request<v1::FilesRequest>) -> Reply<Self::GetFilesStream> {
        unimplemented()
    }

    async fn plan(&self, _: Request<v1::PlanRequest>) -> Reply<v1::PlanReply> {
        unimplemented()
    }

    type ApplyStream = Stream<v1::ApplyEvent>;

    async fn apply(&self, _: Request<v1::ApplyRequest>) -> Reply<Self::ApplyStream> {
        unimplemented()
    }

    async fn history(&self, _: Request<v1::HistoryRequest>) -> Reply<v1::HistoryReply> {
        unimplemented()
    }

    async fn plan_rollback(&self, _: Request<v1::RollbackRequest>) -> Reply<v1::PlanReply> {
        unimplemented()
    }

    type RollbackStream = Stream<v1::ApplyEvent>;

    async fn rollback(&self, _: Request<v1::RollbackRequest>) -> Reply<Self::RollbackStream> {
        unimplemented()
    }

    type WatchStream = Stream<v1::TreeChanged>;

    async fn watch(&self, _: Request<v1::WatchRequest>) -> Reply<Self::WatchStream> {
        unimplemented()
    }

    async fn hold(&self, _: Request<v1::HoldRequest>) -> Reply<v1::HoldState> {
        unimplemented()
    }

    async fn release(&self, _: Request<v1::ReleaseRequest>) -> Reply<v1::HoldState> {
        unimplemented()
    }

    async fn confirm(&self, _: Request<v1::ConfirmRequest>) -> Reply<v1::ConfirmReply> {
        unimplemented()
    }

    async fn get_changes(&self, _: Request<v1::ChangesRequest>) -> Reply<v1::ChangesReply> {
        unimplemented()
    }

    async fn adopt_base(&self, _: Request<v1::AdoptBaseRequest>) -> Reply<v1::AdoptBaseReply> {
        unimplemented()
    }

    async fn drift(&self, _: Request<v1::DriftRequest>) -> Reply<v1::DriftReply> {
        unimplemented()
    }

    async fn put_bundle(
        &self,
        _: Request<tonic::Streaming<v1::BundlePiece>>,
    ) -> Reply<v1::BundleStored> {
        unimplemented()
    }

    async fn verify(&self, _: Request<v1::VerifyRequest>) -> Reply<v1::VerifyReply> {
        unimplemented()
    }
}

/// Everything but Hello and GetManifest: the fake serves no data and is no destination.
fn unimplemented<T>() -> Reply<T> {
    Err(Status::unimplemented("the fake source only answers Hello and GetManifest"))
}
