//! The one plan-then-apply path that `sync`, the wizard, `auto` and `demo` share, so that
//! what any of them shows is exactly what it applies, and the one wording of its
//! outcomes. What to do with a plan is decided once, by
//! [`PlanView::decision`](confsync_engine::view::PlanView::decision).

use anyhow::Context;
use confsync_engine::Digest;
use confsync_engine::apply::ApplyOutcome;
use confsync_engine::category::Category;
use confsync_engine::progress::ProgressEvent;
use confsync_engine::request::{ApplyRequest, PlanOptions, PlanRequest};
use confsync_engine::view::PlanView;
use confsync_wire::{AgentClient, ClientError, Target};

use crate::cli::ExitCode;
use crate::cli::exit::Refused;

/// The request for a plan of `categories` of `to`'s tree against `from`.
pub fn request(from: &Target, categories: &[Category], options: &PlanOptions) -> PlanRequest {
    PlanRequest {
        source: from.address.clone(),
        categories: categories.to_vec(),
        options: *options,
        two_way: None,
        bundle: None,
    }
}

/// Asks the destination `to` for its plan against the source `from`.
pub async fn plan_one(
    from: &Target,
    to: &Target,
    categories: &[Category],
    options: &PlanOptions,
) -> anyhow::Result<(AgentClient, PlanView)> {
    let mut client = AgentClient::connect(to).await?;
    let view = client.plan(&request(from, categories, options)).await?;
    Ok((client, view))
}

/// Applies the plan with digest `reviewed` on the destination `client` is connected to.
/// The destination refuses when its plan is no longer exactly that one.
pub async fn apply_one(
    client: &mut AgentClient,
    from: &Target,
    categories: &[Category],
    options: &PlanOptions,
    reviewed: Digest,
    confirm_within: Option<std::time::Duration>,
    on_progress: impl FnMut(&ProgressEvent),
) -> Result<ApplyOutcome, ClientError> {
    let request =
        ApplyRequest { plan: request(from, categories, options), reviewed, confirm_within };
    client.apply(&request, on_progress).await
}

/// What a cancelled apply did: the one sentence for the wizard, `sync` and `rollback`.
pub fn cancelled_message(destination: &str) -> String {
    format!(
        "Cancelled. {destination} stops the transfer and discards what it staged: it is as it was."
    )
}

/// The exit code of a committed apply: success, unless something failed after its commit
/// point ("applied, but ..."), which is never a plain success.
pub fn applied_code(outcome: &ApplyOutcome) -> ExitCode {
    if outcome.warnings.is_empty() { ExitCode::Success } else { ExitCode::Failed }
}

/// The one sentence for a destination that already equals its source, with what still
/// stands there (a hold, protection) as a note: it had nothing to refuse. The servers are
/// named as they name themselves (the addresses when they give no name), so that the
/// wizard, `sync` and `auto` say the same words.
pub fn in_sync_message(view: &PlanView, destination: &str, source: &str) -> String {
    let destination = crate::cli::render::display_name(&view.destination_name, destination);
    let source = crate::cli::render::display_name(&view.source_name, source);
    let names: Vec<&str> = view.categories.iter().map(|c| c.category.name()).collect();
    let skipped = view.skipped();
    let mut text = if skipped == 0 {
        format!("{destination} already equals {source} ({}): nothing to do", names.join(", "))
    } else {
        format!(
            "{destination} matches {source} ({}) except {skipped} {} skipped (listed above): \
             nothing to do",
            names.join(", "),
            if skipped == 1 { "entry" } else { "entries" }
        )
    };
    if let Some(others) = not_compared(view) {
        text.push_str(&format!("; {others} not compared"));
    }
    for refusal in &view.refusals {
        text.push_str(&format!("; note: {}", refusal.message));
    }
    text.push('.');
    text
}

/// " in config (firmware, capdb, modules not compared)" when a plan covered only some
/// categories, else nothing: "now equals" must not claim more than was compared.
pub fn scope(view: &PlanView) -> String {
    let mut scope = match not_compared(view) {
        Some(others) => format!(
            " in {} ({others} not compared)",
            view.categories().iter().map(|c| c.name()).collect::<Vec<_>>().join(", ")
        ),
        None => String::new(),
    };
    let skipped = view.skipped();
    if skipped > 0 {
        scope.push_str(&format!(
            ", except {skipped} {} skipped (listed in the plan)",
            if skipped == 1 { "entry" } else { "entries" }
        ));
    }
    scope
}

/// The categories a plan did not cover ("capdb, modules"), when it covered only some.
pub fn not_compared(view: &PlanView) -> Option<String> {
    let covered = view.categories();
    let others: Vec<&str> =
        Category::ALL.iter().filter(|c| !covered.contains(c)).map(|c| c.name()).collect();
    (!others.is_empty()).then(|| others.join(", "))
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
        return Err(Refused::not_confirmed(format!(
            "{not_done}: there is no terminal to confirm on; {without_asking}"
        ))
        .into());
    }
    discard_type_ahead();
    let yes = dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact()
        .context("reading the confirmation")?;
    if yes {
        Ok(())
    } else {
        Err(Refused::not_confirmed("not confirmed; nothing was changed").into())
    }
}

/// The plan from the primary to a server of the list, and that server's drift: what
/// `status` and `servers list/show` judge it by ([`confsync_engine::standing`]).
pub async fn compare(
    entry: &crate::config::servers::ServerEntry,
    primary: &crate::config::servers::ServerEntry,
) -> anyhow::Result<(PlanView, confsync_engine::server::DriftReport)> {
    let to = crate::cli::tls_args::with_default(entry.target());
    let from = crate::cli::tls_args::with_default(primary.target());
    let options = crate::cli::GuardArgs::default().options();
    let (mut client, view) = plan_one(&from, &to, &Category::ALL, &options).await?;
    let drift = client.drift(&Category::ALL).await?;
    Ok((view, drift))
}

/// Drops what is waiting unread on the terminal (keys typed before a question must not
/// answer it).
pub fn discard_type_ahead() {
    use std::io::IsTerminal;
    if std::io::stdin().is_terminal() {
        let _ = rustix::termios::tcflush(std::io::stdin(), rustix::termios::QueueSelector::IFlush);
    }
}
