//! `--on-change`: follows the source's `Watch` stream and bumps a counter each time the
//! source's tree digest changes; every destination loop wakes on it. The stream is
//! re-subscribed with capped backoff whenever it breaks, and declared dead when the
//! source's heartbeat stops.
//!
//! Losing the stream is news: every destination loop is woken at once (its run then says
//! the source is unreachable, in its log line, the status file and the metrics, and
//! retries with its backoff), each re-subscription that fails is a log line, and the
//! caller is told when the source goes and comes back.

use std::time::Duration;

use tokio::sync::watch;

use confsync_engine::Digest;
use confsync_engine::category::Category;
use confsync_wire::{AgentClient, Target};

use crate::cli::auto::schedule::Backoff;

/// Silence after which the stream is taken for dead (the agent beats every 30 s).
const SILENCE: Duration = Duration::from_secs(95);

/// Whether the source's stream is up (`None`) or why it is not.
pub type SourceState<'a> = Option<&'a str>;

/// Runs until the receivers are gone; never returns an error, only logs, and tells
/// `on_state` each time the source is lost or found again.
pub async fn follow(
    source: Target,
    categories: Vec<Category>,
    bump: watch::Sender<u64>,
    on_state: impl Fn(SourceState<'_>) + Send + 'static,
) {
    let mut backoff = Backoff::default();
    let mut last: Option<Digest> = None;
    let mut lost = false;
    loop {
        let why = match AgentClient::connect(&source).await {
            Ok(mut client) => match client.watch(&categories).await {
                Ok(mut changes) => loop {
                    match tokio::time::timeout(SILENCE, changes.next()).await {
                        Ok(Some(Ok(digest))) => {
                            if lost || last.is_none() {
                                // Said before it is logged: whoever reads the log line
                                // finds the status file current.
                                if lost {
                                    on_state(None);
                                }
                                tracing::info!(
                                    source = %source.address,
                                    watch = "subscribed",
                                    "following the source's changes{}",
                                    if lost { " again" } else { "" }
                                );
                                lost = false;
                            }
                            backoff.reset();
                            if last != Some(digest) {
                                last = Some(digest);
                                bump.send_modify(|n| *n += 1);
                            }
                        }
                        Ok(Some(Err(e))) => break e.to_string(),
                        Ok(None) => break "the source ended its change stream".to_string(),
                        Err(_) => {
                            break format!("no word from the source for {}s", SILENCE.as_secs());
                        }
                    }
                    if bump.is_closed() {
                        return;
                    }
                },
                Err(e) => e.to_string(),
            },
            Err(e) => e.to_string(),
        };
        if bump.is_closed() {
            return;
        }
        let wait = backoff.failed();
        if lost {
            tracing::warn!(
                source = %source.address,
                reason = %why,
                retry_in_s = wait.as_secs(),
                "the source is still unreachable: {why}; trying again in {}s",
                wait.as_secs()
            );
        } else {
            on_state(Some(&why));
            tracing::warn!(
                source = %source.address,
                reason = %why,
                "lost the source's change stream: {why}; re-subscribing with backoff (scheduled runs, if any, go on)"
            );
            lost = true;
            // Every destination looks now, and its run says what it finds.
            bump.send_modify(|n| *n += 1);
        }
        tokio::time::sleep(wait).await;
    }
}
