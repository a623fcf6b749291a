//! Where a destination's plan takes its content from: the source agent over gRPC, or a
//! bundle file on this machine, each as the engine's [`ChunkSource`].

use confsync_engine::bundle::source::BundleSource;
use confsync_engine::category::Category;
use confsync_engine::chunk::ChunkList;
use confsync_engine::error::{EngineError, Result};
use confsync_engine::path::RelPath;
use confsync_engine::transfer::{self, ByteRange, ChunkSource, FilesStream, PieceStream};
use confsync_wire::AgentClient;

pub struct RemoteSource {
    client: AgentClient,
}

impl RemoteSource {
    pub fn new(client: AgentClient) -> RemoteSource {
        RemoteSource { client }
    }
}

/// The source of a plan: an agent, or a verified bundle.
#[derive(Clone)]
pub enum Source {
    Agent(Box<AgentClient>),
    Bundle(BundleSource),
}

impl ChunkSource for Source {
    async fn chunk_list(&self, category: Category, path: &RelPath) -> Result<ChunkList> {
        match self {
            Source::Agent(client) => {
                RemoteSource::new(AgentClient::clone(client)).chunk_list(category, path).await
            }
            Source::Bundle(bundle) => bundle.chunk_list(category, path).await,
        }
    }

    async fn fetch(
        &self,
        category: Category,
        path: &RelPath,
        ranges: Vec<ByteRange>,
    ) -> Result<PieceStream> {
        match self {
            Source::Agent(client) => {
                RemoteSource::new(AgentClient::clone(client)).fetch(category, path, ranges).await
            }
            Source::Bundle(bundle) => bundle.fetch(category, path, ranges).await,
        }
    }

    async fn fetch_files(
        &self,
        category: Category,
        files: Vec<(RelPath, u64)>,
    ) -> Result<FilesStream> {
        match self {
            Source::Agent(client) => {
                RemoteSource::new(AgentClient::clone(client)).fetch_files(category, files).await
            }
            Source::Bundle(bundle) => transfer::fetch_one_by_one(bundle, category, files).await,
        }
    }
}

impl ChunkSource for RemoteSource {
    async fn chunk_list(&self, category: Category, path: &RelPath) -> Result<ChunkList> {
        // The channel is shared and multiplexed; a clone per call keeps files in flight.
        let mut client = self.client.clone();
        client
            .chunk_list(category, path.as_str())
            .await
            .map_err(|e| EngineError::Source(e.to_string()))
    }

    async fn fetch(
        &self,
        category: Category,
        path: &RelPath,
        ranges: Vec<ByteRange>,
    ) -> Result<PieceStream> {
        let mut client = self.client.clone();
        client
            .fetch(category, path.as_str(), ranges)
            .await
            .map_err(|e| EngineError::Source(e.to_string()))
    }

    async fn fetch_files(
        &self,
        category: Category,
        files: Vec<(RelPath, u64)>,
    ) -> Result<FilesStream> {
        let mut client = self.client.clone();
        let paths = files.iter().map(|(path, _)| path.to_string()).collect();
        match client.fetch_files(category, paths).await {
            Ok(Some(stream)) => Ok(stream),
            Ok(None) => transfer::fetch_one_by_one(self, category, files).await,
            Err(e) => Err(EngineError::Source(e.to_string())),
        }
    }
}
