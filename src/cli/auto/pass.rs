//! One run for one destination: plan, and apply when there is something to do and no
//! guard refuses, driven as `sync --yes` drives it (the one-way operation, through
//! [`crate::cli::drive`], reporting nothing itself). Then one log line and the status
//! update. Refusals are told apart by their kind, never by their message.

use std::time::{Duration, Instant};

use confsync_engine::apply::ApplyOutcome;
use confsync_engine::category::Category;
use confsync_engine::clock;
use confsync_engine::refusal::{self, Refusal};
use confsync_engine::request::PlanOptions;

use confsync_wire::Target;

use crate::cli::auto::status::StatusBoard;
use crate::cli::drive::{self, Interaction};
use crate::cli::sync::Ended;
use crate::cli::targets::Server;
use crate::cli::{ExitCode, exit, render};

/// What `auto` follows: one source, some categories, the guards.
pub struct Job {
    pub source: Target,
    /// The source as given on the command line.
    pub source_label: String,
    pub categories: Vec<Category>,
    pub options: PlanOptions,
    /// Counted after every run, served by `--metrics`.
    pub metrics: std::sync::Arc<crate::metrics::AutoMetrics>,
}

/// A destination as given on the command line (name or address) and where it is.
#[derive(Debug, Clone)]
pub struct Destination {
    pub label: String,
    pub target: Target,
    /// Synchronized both ways in these categories, when set.
    pub two_way: Option<crate::cli::two_way::Settings>,
}

/// How a run ended.
#[derive(Debug)]
pub enum Outcome {
    Applied(ApplyOutcome),
    /// Nothing differs; the sentence says so (and notes a hold that had nothing to refuse).
    InSync(String),
    /// A guard, a hold, protection or the like refused; nothing was changed, and trying
    /// again soon changes nothing either.
    Refused(Vec<Refusal>),
    /// Something failed (unreachable agent, transfer error), or was refused only for now
    /// (busy, a tree changed between plan and apply: `refusals` says which); worth
    /// retrying soon.
    Failed {
        message: String,
        refusals: Vec<Refusal>,
    },
}

impl Outcome {
    pub fn name(&self) -> &'static str {
        match self {
            Outcome::Applied(_) => "applied",
            Outcome::InSync(_) => "in_sync",
            Outcome::Refused(_) => "refused",
            Outcome::Failed { .. } => "failed",
        }
    }

    pub fn exit_code(&self) -> ExitCode {
        match self {
            Outcome::Applied(outcome) => crate::cli::drive::applied_code(outcome),
            Outcome::InSync(_) => ExitCode::Success,
            Outcome::Refused(_) => ExitCode::Refused,
            Outcome::Failed { .. } => ExitCode::Failed,
        }
    }

    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Applied(_) | Outcome::InSync(_))
    }

    /// The kinds of the refusals behind this outcome, comma separated (empty if none).
    pub fn refusal_kinds(&self) -> String {
        let refusals = match self {
            Outcome::Refused(refusals) | Outcome::Failed { refusals, .. } => refusals.as_slice(),
            _ => &[],
        };
        refusals.iter().map(|r| r.kind.name()).collect::<Vec<_>>().join(",")
    }

    /// Classifies an error by its type: a refusal that only means "not now" is a failure
    /// worth retrying soon, any other refusal is a refusal, the rest is a failure.
    pub fn from_error(error: &anyhow::Error) -> Outcome {
        let refusals = exit::refusals(error);
        let message = format!("{error:#}");
        if refusals.is_empty() || refusals.iter().all(|r| r.kind.is_transient()) {
            Outcome::Failed { message, refusals }
        } else {
            Outcome::Refused(refusals)
        }
    }
}

/// Plans and, when there is something to do and nothing refuses, applies: the same
/// one-way operation `sync --yes` drives, through the same driver, saying nothing itself
/// (the run's one log line comes from [`report`]).
pub async fn run(job: &Job, destination: &Destination) -> Outcome {
    if let Some(settings) = &destination.two_way {
        return run_two_way(job, destination, settings).await;
    }
    let mut op = crate::cli::sync::OneWay {
        source: Server { label: job.source_label.clone(), target: job.source.clone() },
        destinations: vec![Server {
            label: destination.label.clone(),
            target: destination.target.clone(),
        }],
        categories: job.categories.clone(),
        options: job.options,
        // `auto` never asks for a confirmation: nobody is there to give it.
        confirm_within: None,
        all: false,
        ready: Vec::new(),
        ended: Vec::new(),
    };
    let how = Interaction { yes: true, quiet: true, ..Interaction::default() };
    let driven = drive::drive(&mut op, &how).await;
    match (driven, op.ended.pop()) {
        (_, Some((_, Ended::InSync(sentence)))) => Outcome::InSync(sentence),
        (_, Some((_, Ended::Applied(outcome)))) => Outcome::Applied(outcome),
        (_, Some((_, Ended::Refused(refusals)))) => Outcome::Refused(refusals),
        (_, Some((_, Ended::Failed(e)))) | (Err(e), None) => Outcome::from_error(&e),
        (Ok(_), None) => Outcome::Failed {
            message: "the run ended without a result for this destination".into(),
            refusals: Vec::new(),
        },
    }
}

/// A two-way run: both parts, the deciding destination first; the outcome sums both.
async fn run_two_way(
    job: &Job,
    destination: &Destination,
    settings: &crate::cli::two_way::Settings,
) -> Outcome {
    use crate::cli::two_way;
    use confsync_engine::view::Decision;
    let from =
        crate::cli::targets::Server { label: job.source_label.clone(), target: job.source.clone() };
    let to = crate::cli::targets::Server {
        label: destination.label.clone(),
        target: destination.target.clone(),
    };
    let planned = match two_way::plan(&from, &to, settings).await {
        Ok(planned) => planned,
        Err(e) => return Outcome::from_error(&e),
    };
    match planned.decision() {
        Decision::InSync => {
            let sentence = format!(
                "{} and {} already agree both ways ({}): nothing to do",
                to.label,
                from.label,
                settings.both_ways.iter().map(|c| c.name()).collect::<Vec<_>>().join(", ")
            );
            // Agreeing is a common base too: record it (an empty apply on each side).
            let applied = two_way::apply(planned, |_| {}, |_| {}).await;
            if let Some(problem) = applied.base_problem {
                tracing::warn!(destination = %to.label, "two-way base not recorded: {problem}");
            }
            return Outcome::InSync(sentence);
        }
        Decision::Refused(refusals) => return Outcome::Refused(refusals),
        Decision::Ready => {}
    }
    let applied = two_way::apply(planned, |_| {}, |_| {}).await;
    let base_problem = applied.base_problem.clone();
    let (to_outcome, from_outcome) = match (applied.to, applied.from) {
        (Ok(to), Some(Ok(from))) => (to, from),
        (Err(e), _) | (_, Some(Err(e))) => return Outcome::from_error(&anyhow::Error::new(e)),
        (Ok(_), None) => {
            return Outcome::Failed {
                message: "the source's part was not applied".into(),
                refusals: Vec::new(),
            };
        }
    };
    tracing::info!(
        destination = %to.label,
        source_generation = from_outcome.generation,
        "two-way: {} took {} and {} took {}",
        to.label,
        render::count(to_outcome.files_changed, "file", "files"),
        from.label,
        render::count(from_outcome.files_changed, "file", "files"),
    );
    let mut outcome = to_outcome;
    outcome.files_changed += from_outcome.files_changed;
    outcome.bytes_received += from_outcome.bytes_received;
    outcome.bytes_written += from_outcome.bytes_written;
    outcome.warnings.extend(from_outcome.warnings.iter().map(|w| format!("{}: {w}", from.label)));
    if let Some(problem) = base_problem {
        outcome
            .warnings
            .push(format!("the common base was not advanced ({problem}); the next run converges"));
    }
    if outcome.generation == 0 && from_outcome.generation == 0 {
        return Outcome::InSync(format!("{} and {} agree both ways", to.label, from.label));
    }
    Outcome::Applied(outcome)
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
    let kinds = outcome.refusal_kinds();
    // The status first, so whoever reads it after seeing the log line finds it current.
    let now = clock::utc(clock::now_secs());
    status.update(label, |s| {
        s.address = destination.target.address.clone();
        s.last_outcome = outcome_name.to_string();
        s.last_attempt = Some(now.clone());
        s.last_refusal = (!kinds.is_empty()).then(|| kinds.clone());
        match outcome {
            Outcome::Applied(_) | Outcome::InSync(_) => {
                s.last_success = Some(now);
                s.consecutive_failures = 0;
                if let Outcome::Applied(r) = outcome {
                    s.last_generation = Some(r.generation);
                }
            }
            Outcome::Refused(refusals) => {
                s.consecutive_failures = s.consecutive_failures.saturating_add(1);
                s.last_error = Some(refusal::joined(refusals));
            }
            Outcome::Failed { message, .. } => {
                s.consecutive_failures = s.consecutive_failures.saturating_add(1);
                s.last_error = Some(message.clone());
            }
        }
    });
    match outcome {
        Outcome::Applied(r) if !r.warnings.is_empty() => tracing::warn!(
            destination = label,
            outcome = outcome_name,
            generation = r.generation,
            files = r.files_changed,
            bytes = r.bytes_written,
            bytes_received = r.bytes_received,
            duration_ms,
            warnings = r.warnings.join("; ").as_str(),
            "{label}: synced as generation {}, but: {}",
            r.generation,
            r.warnings.join("; ")
        ),
        Outcome::Applied(r) => tracing::info!(
            destination = label,
            outcome = outcome_name,
            generation = r.generation,
            files = r.files_changed,
            bytes = r.bytes_written,
            bytes_received = r.bytes_received,
            duration_ms,
            "{label}: synced, {} changed, {} received, generation {}",
            render::count(r.files_changed, "file", "files"),
            render::bytes(r.bytes_received),
            r.generation
        ),
        Outcome::InSync(sentence) => tracing::info!(
            destination = label,
            outcome = outcome_name,
            files = 0u64,
            bytes = 0u64,
            duration_ms,
            "{sentence}"
        ),
        Outcome::Refused(refusals) => tracing::warn!(
            destination = label,
            outcome = outcome_name,
            refusal = kinds.as_str(),
            files = 0u64,
            bytes = 0u64,
            duration_ms,
            reason = refusal::joined(refusals).as_str(),
            "{label}: refused, run skipped, nothing changed"
        ),
        Outcome::Failed { message, .. } => match retry_in {
            Some(wait) => tracing::warn!(
                destination = label,
                outcome = outcome_name,
                refusal = kinds.as_str(),
                files = 0u64,
                bytes = 0u64,
                duration_ms,
                failures = failures_before + 1,
                retry_in_s = wait.as_secs(),
                error = message.as_str(),
                "{label}: failed ({} in a row), retrying in {}s",
                failures_before + 1,
                wait.as_secs()
            ),
            None => tracing::warn!(
                destination = label,
                outcome = outcome_name,
                refusal = kinds.as_str(),
                files = 0u64,
                bytes = 0u64,
                duration_ms,
                error = message.as_str(),
                "{label}: failed"
            ),
        },
    }
    if outcome.is_success() && failures_before > 0 {
        tracing::info!(
            destination = label,
            outcome = "recovered",
            after_failures = failures_before,
            "{label}: recovered after {}",
            render::count(u64::from(failures_before), "failed run", "failed runs")
        );
    }
}

/// Runs once and reports; returns the outcome.
pub async fn run_and_report(job: &Job, destination: &Destination, status: &StatusBoard) -> Outcome {
    let started = Instant::now();
    let outcome = run(job, destination).await;
    report(status, destination, &outcome, started.elapsed(), 0, None);
    job.metrics.run(&destination.label, outcome.name(), outcome.is_success());
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use confsync_engine::refusal::RefusalKind;

    use crate::cli::Refused;

    #[test]
    fn refusals_are_classified_by_kind_not_by_message() {
        for kind in RefusalKind::ALL {
            // The message says nothing about the kind: only the type may decide.
            let error = anyhow::Error::new(Refused::one(kind, "no"));
            let outcome = Outcome::from_error(&error);
            if kind.is_transient() {
                assert!(matches!(outcome, Outcome::Failed { .. }), "{kind}: {outcome:?}");
            } else {
                assert!(matches!(outcome, Outcome::Refused(_)), "{kind}: {outcome:?}");
            }
            assert_eq!(outcome.refusal_kinds(), kind.name());
        }
        let failure =
            Outcome::from_error(&anyhow::anyhow!("refused: busy, changed since the preview"));
        assert!(matches!(failure, Outcome::Failed { ref refusals, .. } if refusals.is_empty()));
    }
}
