//! The calls the driver ([`crate::cli::drive`]), the wizard and `auto` make to agents, so
//! that what any of them shows is exactly what it applies (plan, apply a reviewed plan,
//! compare a server with the primary), and the one wording of a plan's scope and of a
//! destination already in sync. What to do with a plan is decided once, by
//! [`PlanView::decision`](confsync_engine::view::PlanView::decision).

use confsync_engine::Digest;
use confsync_engine::apply::ApplyOutcome;
use confsync_engine::category::Category;
use confsync_engine::progress::ProgressEvent;
use confsync_engine::request::{ApplyRequest, PlanOptions, PlanRequest};
use confsync_engine::view::PlanView;
use confsync_wire::{AgentClient, ClientError, Target};

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
