//! Calls that administer an agent rather than synchronize it: history, rollback, holds,
//! and the change stream `auto --on-change` follows.

use std::time::Duration;

use confsync_engine::apply::ApplyOutcome;
use confsync_engine::category::Category;
use confsync_engine::entry::Digest;
use confsync_engine::history::Listed;
use confsync_engine::hold::Hold;
use confsync_engine::live::Verification;
use confsync_engine::progress::ProgressEvent;
use confsync_engine::request::RollbackRequest;
use confsync_engine::view::PlanView;
use confsync_proto::v1;
use futures::StreamExt;

use super::{AgentClient, CALL_TIMEOUT, ClientError, within};
use crate::convert::{self, info, plan};

/// Deadline for the small calls (history, hold, release).
const SHORT_CALL: Duration = Duration::from_secs(30);
/// Deadline for a verification, which reads the whole tree.
const VERIFY_CALL: Duration = Duration::from_secs(24 * 3600);

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
    pub async fn history(&mut self) -> Result<Vec<Listed>, ClientError> {
        let mut request = tonic::Request::new(v1::HistoryRequest {});
        request.set_timeout(SHORT_CALL);
        let address = self.address.clone();
        let reply = within(&address, SHORT_CALL, self.inner.history(request)).await?;
        reply
            .generations
            .into_iter()
            .map(|g| info::listed_from_proto(g).map_err(|e| self.protocol(e)))
            .collect()
    }

    /// What a rollback would change; nothing is changed.
    pub async fn plan_rollback(
        &mut self,
        request: &RollbackRequest,
    ) -> Result<PlanView, ClientError> {
        let mut request = tonic::Request::new(plan::rollback_request_to_proto(request));
        request.set_timeout(CALL_TIMEOUT);
        let address = self.address.clone();
        let reply = within(&address, CALL_TIMEOUT, self.inner.plan_rollback(request)).await?;
        plan::plan_from_proto(reply).map_err(|e| self.protocol(e))
    }

    /// Carries out a reviewed rollback, calling `on_progress` for each event.
    pub async fn rollback(
        &mut self,
        request: &RollbackRequest,
        on_progress: impl FnMut(&ProgressEvent),
    ) -> Result<ApplyOutcome, ClientError> {
        let stream = self
            .inner
            .rollback(plan::rollback_request_to_proto(request))
            .await
            .map_err(|s| self.status(s))?
            .into_inner();
        self.follow(stream, on_progress, "rollback").await
    }

    /// Follows the agent's tree changes in `categories`.
    pub async fn watch(&mut self, categories: &[Category]) -> Result<TreeChanges, ClientError> {
        let request = v1::WatchRequest { categories: convert::categories_to_proto(categories) };
        let stream = self.inner.watch(request).await.map_err(|s| self.status(s))?.into_inner();
        Ok(TreeChanges { stream, address: self.address.clone() })
    }

    /// Makes the agent refuse every apply until released; returns the hold in force.
    pub async fn hold(&mut self, reason: &str) -> Result<Option<Hold>, ClientError> {
        let mut request = tonic::Request::new(v1::HoldRequest { reason: reason.to_string() });
        request.set_timeout(SHORT_CALL);
        let address = self.address.clone();
        let state = within(&address, SHORT_CALL, self.inner.hold(request)).await?;
        Ok(info::hold_from_proto(&state))
    }

    /// Has the agent read every file of `categories` again and report mismatches; as long
    /// as reading its whole tree takes.
    pub async fn verify(&mut self, categories: &[Category]) -> Result<Verification, ClientError> {
        let mut request = tonic::Request::new(v1::VerifyRequest {
            categories: convert::categories_to_proto(categories),
        });
        request.set_timeout(VERIFY_CALL);
        let address = self.address.clone();
        let reply = within(&address, VERIFY_CALL, self.inner.verify(request)).await?;
        info::verification_from_proto(&reply).map_err(|e| self.protocol(e))
    }

    /// Ends the hold; returns the hold in force afterwards (none).
    pub async fn release(&mut self) -> Result<Option<Hold>, ClientError> {
        let mut request = tonic::Request::new(v1::ReleaseRequest {});
        request.set_timeout(SHORT_CALL);
        let address = self.address.clone();
        let state = within(&address, SHORT_CALL, self.inner.release(request)).await?;
        Ok(info::hold_from_proto(&state))
    }

    /// Two-way: both sides committed their part of `run`; the agent makes its candidate
    /// base of that run its base with `peer`. `false`: it has no candidate of that run.
    pub async fn adopt_base(&mut self, peer: &str, run: &str) -> Result<bool, ClientError> {
        let mut request = tonic::Request::new(v1::AdoptBaseRequest {
            peer: peer.to_string(),
            run: run.to_string(),
        });
        request.set_timeout(SHORT_CALL);
        let address = self.address.clone();
        let reply = within(&address, SHORT_CALL, self.inner.adopt_base(request)).await?;
        Ok(reply.adopted)
    }

    /// Streams the bundle file at `file` to the agent, which verifies it whole and keeps
    /// it; `on_bytes` is told the bytes sent so far.
    pub async fn put_bundle(
        &mut self,
        file: &std::path::Path,
        on_bytes: impl FnMut(u64) + Send + 'static,
    ) -> Result<confsync_engine::bundle::StoredBundle, ClientError> {
        use tokio::io::AsyncReadExt;
        let opened = tokio::fs::File::open(file).await.map_err(|e| {
            self.protocol(format!("cannot read the bundle {}: {e}", file.display()))
        })?;
        let start = (opened, 0u64, on_bytes);
        let pieces = futures::stream::unfold(start, |(mut f, sent, mut on_bytes)| async move {
            let mut buf = vec![0u8; 1 << 20];
            match f.read(&mut buf).await {
                // A read error ends the stream short: the agent refuses the truncated bundle.
                Ok(0) | Err(_) => None,
                Ok(n) => {
                    buf.truncate(n);
                    let sent = sent + n as u64;
                    on_bytes(sent);
                    Some((v1::BundlePiece { data: buf }, (f, sent, on_bytes)))
                }
            }
        });
        let mut request = tonic::Request::new(pieces);
        request.set_timeout(VERIFY_CALL);
        let address = self.address.clone();
        let reply = within(&address, VERIFY_CALL, self.inner.put_bundle(request)).await?;
        let digest = confsync_engine::Digest::from_slice(&reply.digest)
            .ok_or_else(|| self.protocol("the agent named the bundle with no digest"))?;
        Ok(confsync_engine::bundle::StoredBundle {
            path: std::path::PathBuf::from(reply.path),
            digest,
            size: reply.size,
        })
    }

    /// Confirms the commit-confirmed generation pending; returns it (none: nothing was).
    pub async fn confirm(&mut self) -> Result<Option<u64>, ClientError> {
        let mut request = tonic::Request::new(v1::ConfirmRequest {});
        request.set_timeout(SHORT_CALL);
        let address = self.address.clone();
        let reply = within(&address, SHORT_CALL, self.inner.confirm(request)).await?;
        Ok(reply.generation)
    }
}
