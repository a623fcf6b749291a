//! The one plan-then-apply path that `sync`, the wizard, `auto` and `demo` share, so that
//! what any of them shows is exactly what it applies.

use anyhow::Context;

use crate::cli::GuardArgs;
use crate::client::{AgentClient, ClientError, PlanView, Target};
use crate::engine::Digest;
use crate::engine::category::Category;
use crate::engine::progress::ProgressEvent;
use crate::proto::{self, v1};

/// Asks the destination `to` for its plan against the source `from`.
pub async fn plan_one(
    from: &Target,
    to: &Target,
    categories: &[Category],
    guards: &GuardArgs,
) -> anyhow::Result<(AgentClient, PlanView)> {
    let mut client = AgentClient::connect(to).await?;
    let view = client
        .plan(v1::PlanRequest {
            source: from.address.clone(),
            categories: proto::categories_to_proto(categories),
            options: Some(guards.to_proto()),
        })
        .await
        .with_context(|| format!("planning {} from {}", to.address, from.address))?;
    Ok((client, view))
}

/// Applies the plan with digest `reviewed` on the destination `client` is connected to.
/// The destination refuses when its plan is no longer exactly that one.
pub async fn apply_one(
    client: &mut AgentClient,
    from: &Target,
    categories: &[Category],
    guards: &GuardArgs,
    reviewed: Digest,
    on_progress: impl FnMut(&ProgressEvent),
) -> Result<v1::ApplyResult, ClientError> {
    let request = v1::ApplyRequest {
        source: from.address.clone(),
        categories: proto::categories_to_proto(categories),
        options: Some(guards.to_proto()),
        plan_digest: reviewed.0.to_vec(),
    };
    client.apply(request, on_progress).await
}

/// The digest a plan view carries (hex, as shown).
pub fn digest_of(view: &PlanView) -> Digest {
    Digest::from_hex(&view.digest).unwrap_or_default()
}
