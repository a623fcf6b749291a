//! The JSON lines of `sync --json`, `rollback --json` and the progress display: one
//! typed event per line, `{"event": "plan" | "two_way_plan" | "progress" | "result" |
//! "error", ...}`.
//! Every command prints its events through here, so their shape is defined once; the
//! commands that print one whole document have it typed here too ([`documents`]).
//! `docs/JSON.md` lists them all.

use confsync_engine::apply::ApplyOutcome;
use confsync_engine::progress::ProgressEvent;
use confsync_engine::refusal::RefusalKind;
use confsync_engine::view::PlanView;

use crate::cli::exit;

mod documents;
pub(crate) use documents::*;

#[derive(Debug, serde::Serialize)]
#[serde(tag = "event", rename_all = "lowercase")]
pub enum Event<'a> {
    /// The plan the destination computed, with the count its result will report
    /// ("N files change", as the confirmation says).
    Plan { destination: &'a str, files_changed: u64, plan: &'a PlanView },
    /// Both parts of a two-way run: what the `--to` server takes (`decides`, with what
    /// it gives and the conflicts) and what the `--from` server takes (`takes`), under
    /// one digest.
    #[serde(rename = "two_way_plan")]
    TwoWayPlan {
        from: &'a str,
        to: &'a str,
        digest: String,
        files_changed: u64,
        decides: &'a PlanView,
        takes: &'a PlanView,
    },
    /// An apply in progress.
    Progress { destination: &'a str, progress: &'a ProgressEvent },
    /// How it ended for one destination: in sync now, with the generation it committed
    /// when it committed one.
    Result {
        destination: &'a str,
        in_sync: bool,
        #[serde(flatten)]
        outcome: Option<&'a ApplyOutcome>,
    },
    /// It did not end in sync: refused (with the kinds) or failed.
    Error { destination: &'a str, refused: bool, kinds: Vec<RefusalKind>, message: String },
}

impl<'a> Event<'a> {
    pub fn plan(destination: &'a str, plan: &'a PlanView) -> Event<'a> {
        Event::Plan { destination, files_changed: plan.files_changed(), plan }
    }

    /// Prints the event as one line on stdout.
    pub fn print(&self) {
        match serde_json::to_string(self) {
            Ok(line) => println!("{line}"),
            Err(e) => eprintln!("confsync: cannot encode a JSON event: {e}"),
        }
    }
}

/// The `result` event of an outcome: generation 0 means there was nothing to commit.
pub fn result<'a>(destination: &'a str, outcome: &'a ApplyOutcome) -> Event<'a> {
    let committed = (outcome.generation > 0).then_some(outcome);
    Event::Result { destination, in_sync: true, outcome: committed }
}

/// The `error` event of an error, refused or failed by its type.
pub fn error<'a>(destination: &'a str, error: &anyhow::Error) -> Event<'a> {
    let refusals = exit::refusals(error);
    Event::Error {
        destination,
        refused: !refusals.is_empty(),
        kinds: refusals.iter().map(|r| r.kind).collect(),
        message: format!("{error:#}"),
    }
}
