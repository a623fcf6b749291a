//! One run for one destination: plan, and apply when there is something to do and no
//! guard refuses, through the same [`flow`] as `sync --yes`. Then one log line and the
//! status update.

use std::time::{Duration, Instant};

use crate::cli::auto::status::StatusBoard;
use crate::cli::{ExitCode, GuardArgs, exit, flow, render};
use crate::client::{ClientError, Target};
use crate::engine::category::Category;
use crate::engine::clock;
use crate::proto::v1;

/// What `auto` follows: one source, some categories, the guards.
pub struct Job {
    pub source: Target,
    pub categories: Vec<Category>,
    pub guards: GuardArgs,
}

/// A destination as given on the command line (name or address) and where it is.
#[derive(Debug, Clone)]
pub struct Destination {
    pub label: String,
    pub target: Target,
}

/// How a run ended.
#[derive(Debug)]
pub enum Outcome {
    Applied(v1::ApplyResult),
    InSync,
    /// A guard, a hold or protection refused; nothing was changed.
    Refused(String),
    /// Something failed (unreachable agent, transfer error); worth retrying soon.
    Failed(String),
}

impl Outcome {
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Applied(_) => "applied",
            Outcome::InSync => "in_sync",
            Outcome::Refused(_) => "refused",
            Outcome::Failed(_) => "failed",
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            Outcome::Applied(_) | Outcome::InSync => ExitCode::Success,
            Outcome::Refused(_) => ExitCode::Refused,
            Outcome::Failed(_) => ExitCode::Failed,
        }
    }

    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Applied(_) | Outcome::InSync)
    }
}

/// Plans and, when there is something to do and nothing refuses, applies.
pub async fn run(job: &Job, destination: &Destination) -> Outcome {
    let planned =
        flow::plan_one(&job.source, &destination.target, &job.categories, &job.guards).await;
    let (mut client, view) = match planned {
        Ok(planned) => planned,
        Err(e) => {
            return match exit::code_for(&e) {
                ExitCode::Refused => Outcome::Refused(format!("{e:#}")),
                _ => Outcome::Failed(format!("{e:#}")),
            };
        }
    };
    if !view.refusals.is_empty() {
        return Outcome::Refused(view.refusals.join("; "));
    }
    if view.is_empty() {
        return Outcome::InSync;
    }
    let reviewed = flow::digest_of(&view);
    let applied =
        flow::apply_one(&mut client, &job.source, &job.categories, &job.guards, reviewed, |_| {})
            .await;
    match applied {
        Ok(result) if result.generation == 0 => Outcome::InSync,
        Ok(result) => Outcome::Applied(result),
        // Busy, or the tree changed between plan and apply: a moment later it will go.
        Err(e) if is_transient(&e) => Outcome::Failed(e.to_string()),
        Err(e) if e.is_refusal() => Outcome::Refused(e.to_string()),
        Err(e) => Outcome::Failed(e.to_string()),
    }
}

/// Refusals that only mean "not now": another apply is running, or a tree changed
/// between the plan and the apply.
fn is_transient(error: &ClientError) -> bool {
    let text = error.to_string();
    error.is_refusal()
        && (text.contains("changed since the preview") || text.contains("already running"))
}

/// The status file, and the one log line of a run (two after a recovery).
pub fn report(
    status: &StatusBoard,
    destination: &Destination,
    outcome: &Outcome,
    took: Duration,
    failures_before: u32,
    retry_in: Option<Duration>,
) {
    let label = destination.label.as_str();
    let duration_ms = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
    let outcome_name = outcome.name();
    // The status first, so whoever reads it after seeing the log line finds it current.
    let now = clock::utc(clock::now_secs());
    status.update(label, |s| {
        s.address = destination.target.address.clone();
        s.last_outcome = outcome_name.to_string();
        s.last_attempt = Some(now.clone());
        match outcome {
            Outcome::Applied(_) | Outcome::InSync => {
                s.last_success = Some(now);
                s.consecutive_failures = 0;
                if let Outcome::Applied(r) = outcome {
                    s.last_generation = Some(r.generation);
                }
            }
            Outcome::Refused(e) | Outcome::Failed(e) => {
                s.consecutive_failures = s.consecutive_failures.saturating_add(1);
                s.last_error = Some(e.clone());
            }
        }
    });
    match outcome {
        Outcome::Applied(r) => tracing::info!(
            destination = label,
            outcome = outcome_name,
            generation = r.generation,
            files = r.files_changed,
            bytes = r.bytes_written,
            bytes_received = r.bytes_received,
            duration_ms,
            "{label}: synced, {} changed, {} received, generation {}",
            count(r.files_changed, "file", "files"),
            render::bytes(r.bytes_received),
            r.generation
        ),
        Outcome::InSync => tracing::info!(
            destination = label,
            outcome = outcome_name,
            files = 0u64,
            bytes = 0u64,
            duration_ms,
            "{label}: in sync, nothing to do"
        ),
        Outcome::Refused(reason) => tracing::warn!(
            destination = label,
            outcome = outcome_name,
            files = 0u64,
            bytes = 0u64,
            duration_ms,
            reason = reason.as_str(),
            "{label}: refused, run skipped, nothing changed"
        ),
        Outcome::Failed(error) => {
            let retry_s = retry_in.map_or(0, |d| d.as_secs());
            tracing::warn!(
                destination = label,
                outcome = outcome_name,
                files = 0u64,
                bytes = 0u64,
                duration_ms,
                failures = failures_before + 1,
                retry_in_s = retry_s,
                error = error.as_str(),
                "{label}: failed ({} in a row), retrying in {retry_s}s",
                failures_before + 1
            );
        }
    }
    if outcome.is_success() && failures_before > 0 {
        tracing::info!(
            destination = label,
            outcome = "recovered",
            after_failures = failures_before,
            "{label}: recovered after {}",
            count(u64::from(failures_before), "failed run", "failed runs")
        );
    }
}

/// Runs once and reports; returns the outcome.
pub async fn run_and_report(job: &Job, destination: &Destination, status: &StatusBoard) -> Outcome {
    let started = Instant::now();
    let outcome = run(job, destination).await;
    report(status, destination, &outcome, started.elapsed(), 0, None);
    outcome
}

fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}
