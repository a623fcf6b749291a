//! `confsync auto`: keep destinations following a source, on a schedule (`--every`), on
//! change (`--on-change`, following the source's `Watch` stream), or both; until SIGTERM
//! or Ctrl-C, or for one pass with `--once`.
//!
//! Each destination has its own loop, so one destination's failure never holds the others
//! back. Each run is plan + apply through [`flow`](crate::cli::flow), the same path as
//! `sync --yes`; a destination already in sync costs a digest comparison. Guards refuse
//! runs (logged, skipped, never applied); failures are retried with capped exponential
//! backoff, one log line each, and the recovery is logged. Stopping mid-apply is safe:
//! the destination agent notices the client is gone and drops what it staged, or
//! completes a commit already under way, so it is entirely old or entirely new.
//!
//! - [`schedule`]: durations, jitter, backoff.
//! - [`pass`]: one run for one destination, its log line and status.
//! - [`changes`]: following the source's changes.
//! - [`status`]: the `--status-file`.

pub mod changes;
pub mod pass;
pub mod schedule;
pub mod status;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use tokio::sync::watch;
use tracing_subscriber::EnvFilter;

use crate::cli::parse::duration as parse_duration;
use crate::cli::{ExitCode, GuardArgs, UsageError, logging, targets};
use pass::{Destination, Job, Outcome};
use schedule::{Backoff, DEFAULT_EVERY, with_jitter};
use status::StatusBoard;

#[derive(Debug, Args)]
pub struct AutoArgs {
    /// The source server: a name from the server list, or host:port.
    #[arg(long, value_name = "SRC")]
    pub from: String,

    /// Destination servers, comma separated: names or host:port.
    #[arg(long, value_name = "DST[,DST...]")]
    pub to: String,

    /// Only these categories, comma separated (firmware, capdb, modules, config).
    /// Licenses are never synchronized.
    #[arg(long, value_name = "CATS", value_parser = crate::cli::parse::categories)]
    pub only: Option<crate::cli::parse::Categories>,

    /// Sync on this schedule: 30s, 5m, 1h, 1h30m (a little jitter is added).
    /// Without --every and --on-change: every 5m.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub every: Option<Duration>,

    /// Sync soon after the source's tree changes (follows the source's change events).
    #[arg(long)]
    pub on_change: bool,

    /// One pass over every destination, then exit with the sync exit codes (cron, timers).
    #[arg(long, conflicts_with_all = ["every", "on_change"])]
    pub once: bool,

    /// The same safety guards and overrides as `sync`.
    #[command(flatten)]
    pub guards: GuardArgs,

    /// `--two-way [CATS]`, `--conflict`, `--max-clock-skew`: as for `sync`. Without
    /// `--two-way`, a destination whose server-list entry has `two_way = [...]` is
    /// synchronized both ways in those categories. With `--on-change`, such a
    /// destination's own changes start a run too.
    #[command(flatten)]
    pub two_way: crate::cli::two_way::TwoWayArgs,

    /// Log lines as JSON objects on stdout, one per line.
    #[arg(long)]
    pub json: bool,

    /// Keep a JSON status here: per destination the last attempt, last success,
    /// failures in a row and last error.
    #[arg(long, value_name = "PATH")]
    pub status_file: Option<PathBuf>,

    /// Serve Prometheus metrics at http://ADDR/metrics: runs by destination and outcome,
    /// seconds since each destination's last success [default ADDR: 127.0.0.1:9469].
    #[arg(long, value_name = "ADDR", num_args = 0..=1,
          default_missing_value = crate::metrics::DEFAULT_ADDRESS)]
    pub metrics: Option<String>,
}

/// Logs for a long-running follower: info by default (one line per run), JSON lines on
/// stdout with `--json`, text on stderr otherwise.
pub fn init_logging(verbose: u8, json: bool) {
    let level = match verbose {
        0 => "warn,confsync=info",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    let _ = if json {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .with_writer(std::io::stdout)
            .try_init()
    } else {
        builder.with_writer(std::io::stderr).with_ansi(logging::color_enabled()).try_init()
    };
}

pub async fn run(args: AutoArgs) -> anyhow::Result<ExitCode> {
    let categories = args.only.clone().unwrap_or_default().0;
    let source = targets::resolve(&args.from, "--from")?;
    let options = args.guards.options();
    let destinations = destinations(&args.to, &args.two_way, &categories, &options)?;
    let servers: Vec<targets::Server> = destinations
        .iter()
        .map(|d| targets::Server { label: d.label.clone(), target: d.target.clone() })
        .collect();
    targets::distinct(&source, &servers)?;
    let guards = args.guards.clone();
    let job = Arc::new(Job {
        source: source.target,
        source_label: source.label,
        categories,
        options: guards.options(),
        metrics: Arc::new(crate::metrics::AutoMetrics::default()),
    });
    if let Some(address) = &args.metrics {
        let metrics = Arc::clone(&job.metrics);
        let scrape: crate::metrics::Scrape = Arc::new(move || {
            let text = metrics.encode();
            Box::pin(async move { text })
        });
        let bound = crate::metrics::serve(address, scrape).await?;
        tracing::info!(address = %bound, "metrics at http://{bound}/metrics");
    }
    let status = Arc::new(StatusBoard::new(args.status_file.clone(), &args.from));
    status.init()?;

    if args.once {
        let runs = destinations.iter().map(|d| pass::run_and_report(&job, d, &status));
        let outcomes = futures::future::join_all(runs).await;
        return Ok(outcomes.iter().map(Outcome::exit_code).max().unwrap_or(ExitCode::Success));
    }

    let every = match (args.every, args.on_change) {
        (None, false) => Some(DEFAULT_EVERY),
        (every, _) => every,
    };
    tracing::info!(
        source = %args.from,
        destinations = %args.to,
        every_s = every.map_or(0, |d| d.as_secs()),
        on_change = args.on_change,
        max_delete = guards.max_delete(),
        "following {}: {}{}",
        args.from,
        every.map_or_else(String::new, |d| format!("every {}", humanize(d))),
        if args.on_change { if every.is_some() { " and on change" } else { "on change" } } else { "" }
    );
    let (bump, changes) = watch::channel(0u64);
    let mut tasks = tokio::task::JoinSet::new();
    if args.on_change {
        for destination in &destinations {
            if let Some(two_way) = &destination.two_way {
                let (target, both) = (destination.target.clone(), two_way.both_ways.clone());
                tasks.spawn(changes::follow(target, both, bump.clone(), |_| {}));
            }
        }
        let (board, metrics) = (Arc::clone(&status), Arc::clone(&job.metrics));
        let on_state = move |state: changes::SourceState<'_>| {
            board.source(state);
            metrics.source_up.set(i64::from(state.is_none()));
        };
        tasks.spawn(changes::follow(job.source.clone(), job.categories.clone(), bump, on_state));
    } else {
        drop(bump);
    }
    for destination in destinations {
        let (job, status, changes) = (Arc::clone(&job), Arc::clone(&status), changes.clone());
        tasks.spawn(follow_destination(job, destination, every, changes, status));
    }
    crate::cli::signals::shutdown_signal().await;
    tracing::info!(
        "stopping; an apply in flight is dropped by its destination before commit, or completes"
    );
    tasks.shutdown().await;
    Ok(ExitCode::Success)
}

/// `--to` as given, each resolved, keeping the name for the logs, with its two-way
/// categories (`--two-way`, else its server-list entry's `two_way`).
fn destinations(
    list: &str,
    two_way: &crate::cli::two_way::TwoWayArgs,
    categories: &[confsync_engine::Category],
    options: &confsync_engine::request::PlanOptions,
) -> Result<Vec<Destination>, UsageError> {
    let labels: Vec<&str> = list.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    if labels.is_empty() {
        return Err(UsageError("--to needs at least one server name or address".into()));
    }
    labels
        .into_iter()
        .map(|label| {
            let server = targets::resolve(label, "--to")?;
            let listed = targets::server_list()
                .ok()
                .and_then(|list| list.find(&server.label).map(|e| e.two_way.clone()))
                .unwrap_or_default();
            let mut asked = two_way.clone();
            if asked.two_way.is_none() && !listed.is_empty() {
                let names: Vec<&str> = listed.iter().map(|c| c.name()).collect();
                asked.two_way = Some(names.join(","));
            }
            let two_way = asked.settings(categories, options)?;
            Ok(Destination { label: server.label, target: server.target, two_way })
        })
        .collect()
}

/// With `--on-change` alone, how soon a refused destination is tried again.
const REFUSED_RECHECK: Duration = Duration::from_secs(60);

/// One destination's loop: run now, then on schedule, on change, or after a backoff.
async fn follow_destination(
    job: Arc<Job>,
    destination: Destination,
    every: Option<Duration>,
    mut changes: watch::Receiver<u64>,
    status: Arc<StatusBoard>,
) {
    let mut backoff = Backoff::default();
    let mut on_change = changes.has_changed().is_ok();
    let mut next = Some(tokio::time::Instant::now());
    loop {
        let sleep = async {
            match next {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        // While backing off, a change does not cut the wait short.
        let listen = on_change && backoff.failures() == 0;
        tokio::select! {
            () = sleep => {}
            changed = changes.changed(), if listen => {
                if changed.is_err() {
                    on_change = false;
                    continue;
                }
            }
        }
        changes.borrow_and_update();
        let started = Instant::now();
        let outcome = pass::run(&job, &destination).await;
        let failures_before = backoff.failures();
        let retry_in = match &outcome {
            Outcome::Failed { .. } => Some(backoff.failed()),
            _ => {
                backoff.reset();
                None
            }
        };
        pass::report(&status, &destination, &outcome, started.elapsed(), failures_before, retry_in);
        job.metrics.run(&destination.label, outcome.name(), outcome.is_success());
        // Without a schedule, a refused destination (held, guarded) is looked at again now
        // and then, so that a release or a fix is followed without waiting for a change.
        let wait = retry_in.or_else(|| every.map(with_jitter)).or_else(|| {
            matches!(outcome, Outcome::Refused(_)).then(|| with_jitter(REFUSED_RECHECK))
        });
        next = wait.map(|w| tokio::time::Instant::now() + w);
    }
}

/// `5m`, `90s`, `1h 30m`.
fn humanize(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}
