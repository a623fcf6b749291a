//! The one plan-then-apply path that `sync`, the wizard, `auto` and `demo` share, so that
//! what any of them shows is exactly what it applies.

use anyhow::Context;

use crate::cli::{GuardArgs, Refusal};
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

/// Asks `question` on the terminal with No as the default; refuses (exit 4, nothing
/// changed) on No, and when there is no terminal to ask on, telling how to skip the
/// question (`without_asking`, e.g. "add --yes to apply without asking").
pub fn confirm_or_refuse(
    question: String,
    not_done: &str,
    without_asking: &str,
) -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if !interactive {
        return Err(Refusal(format!(
            "{not_done}: there is no terminal to confirm on; {without_asking}"
        ))
        .into());
    }
    let yes = dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact()
        .context("reading the confirmation")?;
    if yes { Ok(()) } else { Err(Refusal("not confirmed; nothing was changed".into()).into()) }
}
