//! Calls that administer an agent rather than synchronize it: history, rollback, holds,
//! and the change stream `auto --on-change` follows.

use std::time::Duration;

use futures::StreamExt;

use super::{AgentClient, CALL_TIMEOUT, ClientError, PlanView, progress_from_proto, within};
use crate::engine::Digest;
use crate::engine::category::Category;
use crate::engine::progress::ProgressEvent;
use crate::proto::{self, v1};

/// Deadline for the small calls (history, hold, release).
const SHORT_CALL: Duration = Duration::from_secs(30);

/// The source's change events; each item is the tree digest after a change (the first
/// is the digest when the stream started; an idle stream repeats the last one).
pub struct TreeChanges {
    stream: tonic::Streaming<v1::TreeChanged>,
    address: String,
}

impl TreeChanges {
    /// The next digest; `None` when the agent ended the stream.
    pub async fn next(&mut self) -> Option<Result<Digest, ClientError>> {
        let item = self.stream.next().await?;
        Some(match item {
            Ok(changed) => {
                Digest::from_slice(&changed.tree_digest).ok_or_else(|| ClientError::Protocol {
                    address: self.address.clone(),
                    detail: "a tree digest is not 32 bytes".into(),
                })
            }
            Err(status) => Err(ClientError::from_status(&self.address, status)),
        })
    }
}

impl AgentClient {
    /// The applies and rollbacks recorded on the agent, newest first.
    pub async fn history(&mut self) -> Result<Vec<v1::Generation>, ClientError> {
        let mut request = tonic::Request::new(v1::HistoryRequest {});
        request.set_timeout(SHORT_CALL);
        let address = self.address.clone();
        Ok(within(&address, SHORT_CALL, self.inner.history(request)).await?.generations)
    }

    /// What a rollback would change; nothing is changed.
    pub async fn plan_rollback(
        &mut self,
        request: v1::RollbackRequest,
    ) -> Result<PlanView, ClientError> {
        let mut request = tonic::Request::new(request);
        request.set_timeout(CALL_TIMEOUT);
        let address = self.address.clone();
        let reply = within(&address, CALL_TIMEOUT, self.inner.plan_rollback(request)).await?;
        PlanView::from_proto(reply).map_err(|e| self.protocol(e))
    }

    /// Carries out a reviewed rollback, calling `on_progress` for each event.
    pub async fn rollback(
        &mut self,
        request: v1::RollbackRequest,
        mut on_progress: impl FnMut(&ProgressEvent),
    ) -> Result<v1::ApplyResult, ClientError> {
        let mut stream =
            self.inner.rollback(request).await.map_err(|s| self.status(s))?.into_inner();
        while let Some(event) = stream.next().await {
            let event = event.map_err(|s| self.status(s))?;
            if let Some(result) = event.result {
                return Ok(result);
            }
            on_progress(&progress_from_proto(&event));
        }
        Err(self.protocol("the rollback stream ended without a result; check the agent's log"))
    }

    /// Follows the agent's tree changes in `categories`.
    pub async fn watch(&mut self, categories: &[Category]) -> Result<TreeChanges, ClientError> {
        let request = v1::WatchRequest { categories: proto::categories_to_proto(categories) };
        let stream = self.inner.watch(request).await.map_err(|s| self.status(s))?.into_inner();
        Ok(TreeChanges { stream, address: self.address.clone() })
    }

    /// Makes the agent refuse every apply until released.
    pub async fn hold(&mut self, reason: &str) -> Result<v1::HoldState, ClientError> {
        let mut request = tonic::Request::new(v1::HoldRequest { reason: reason.to_string() });
        request.set_timeout(SHORT_CALL);
        let address = self.address.clone();
        within(&address, SHORT_CALL, self.inner.hold(request)).await
    }

    pub async fn release(&mut self) -> Result<v1::HoldState, ClientError> {
        let mut request = tonic::Request::new(v1::ReleaseRequest {});
        request.set_timeout(SHORT_CALL);
        let address = self.address.clone();
        within(&address, SHORT_CALL, self.inner.release(request)).await
    }
}
