//! The agent's handlers as the wire crate's [`Api`]: one line each, dispatching to the
//! file that owns the area (source side, destination side, history, holds, watching).

use std::sync::Arc;

use confsync_engine::category::Category;
use confsync_engine::chunk::ChunkList;
use confsync_engine::error::Result;
use confsync_engine::history::Listed;
use confsync_engine::hold::Hold;
use confsync_engine::live::Verification;
use confsync_engine::manifest::Manifest;
use confsync_engine::pair::SideChanges;
use confsync_engine::path::RelPath;
use confsync_engine::request::{ApplyRequest, PlanRequest, RollbackRequest};
use confsync_engine::server::ServerInfo;
use confsync_engine::transfer::{ByteRange, FilesStream, PieceStream};
use confsync_engine::view::PlanView;
use confsync_wire::server::{Api, ApplyEvents, Caller, Changes};

use crate::agent::state::AgentState;
use crate::agent::{bundles, confirm, history, hold, serve_source, sync, two_way, watch};
use confsync_engine::bundle::StoredBundle;
use futures::stream::BoxStream;

/// One running agent, as the wire crate serves it.
pub struct Agent {
    state: Arc<AgentState>,
}

impl Agent {
    pub fn new(state: Arc<AgentState>) -> Agent {
        Agent { state }
    }
}

impl Api for Agent {
    async fn hello(&self) -> Result<ServerInfo> {
        serve_source::hello(&self.state).await
    }

    async fn manifest(&self, categories: Vec<Category>) -> Result<Manifest> {
        self.state.scan(categories).await
    }

    async fn chunk_list(&self, category: Category, path: RelPath) -> Result<ChunkList> {
        serve_source::chunk_list(&self.state, category, path).await
    }

    async fn chunks(
        &self,
        category: Category,
        path: RelPath,
        ranges: Vec<ByteRange>,
    ) -> Result<PieceStream> {
        serve_source::chunks(&self.state, category, path, ranges)
    }

    async fn files(&self, category: Category, paths: Vec<RelPath>) -> Result<FilesStream> {
        serve_source::files(&self.state, category, paths)
    }

    async fn plan(&self, request: PlanRequest) -> Result<PlanView> {
        sync::plan(&self.state, request).await
    }

    async fn apply(&self, request: ApplyRequest, caller: Caller) -> Result<ApplyEvents> {
        sync::apply(&self.state, request, caller)
    }

    async fn history(&self) -> Result<Vec<Listed>> {
        history::list(&self.state).await
    }

    async fn plan_rollback(&self, request: RollbackRequest) -> Result<PlanView> {
        history::plan_rollback(&self.state, request).await
    }

    async fn rollback(&self, request: RollbackRequest, caller: Caller) -> Result<ApplyEvents> {
        history::rollback(&self.state, request, caller)
    }

    async fn watch(&self, categories: Vec<Category>) -> Result<Changes> {
        watch::watch(&self.state, categories).await
    }

    async fn hold(&self, reason: String, caller: Caller) -> Result<Option<Hold>> {
        hold::hold(&self.state, reason, &caller)
    }

    async fn verify(&self, categories: Vec<Category>) -> Result<Verification> {
        serve_source::verify(&self.state, categories).await
    }

    async fn release(&self, caller: Caller) -> Result<Option<Hold>> {
        hold::release(&self.state, &caller)
    }

    async fn confirm(&self, caller: Caller) -> Result<Option<u64>> {
        confirm::confirm_now(&self.state, &caller.describe())
    }

    async fn changes(&self, peer: String, categories: Vec<Category>) -> Result<SideChanges> {
        two_way::changes(&self.state, &peer, categories).await
    }

    async fn adopt_base(&self, peer: String, run: String) -> Result<bool> {
        two_way::adopt(&self.state, &peer, &run)
    }

    async fn drift(
        &self,
        categories: Vec<Category>,
    ) -> Result<confsync_engine::server::DriftReport> {
        serve_source::drift(&self.state, categories).await
    }

    async fn put_bundle(
        &self,
        pieces: BoxStream<'static, Result<Vec<u8>>>,
    ) -> Result<StoredBundle> {
        bundles::receive(&self.state, pieces).await
    }
}
