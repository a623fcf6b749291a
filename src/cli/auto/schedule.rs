//! Time for `auto`: jitter, and the capped exponential backoff after failures (its
//! `--every` is read by [`crate::cli::parse::duration`]).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The schedule when neither `--every` nor `--on-change` is given.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(5 * 60);
/// First wait after a failure; doubled after each further failure...
const BACKOFF_START: Duration = Duration::from_secs(1);
/// ... up to this.
pub const BACKOFF_CAP: Duration = Duration::from_secs(5 * 60);

/// `period` plus up to a tenth of it (at most 30 s), so that many `auto` processes
/// started together do not all call the source at the same instant.
pub fn with_jitter(period: Duration) -> Duration {
    let spread = (period / 10).min(Duration::from_secs(30));
    period + spread.mul_f64(random_fraction())
}

/// A number in [0, 1) from the clock's nanoseconds: plenty for spreading timers.
fn random_fraction() -> f64 {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    f64::from(nanos % 1_000_000) / 1_000_000.0
}

/// Capped exponential backoff: 1 s, 2 s, 4 s ... 5 min.
#[derive(Debug, Default)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    /// Counts a failure and returns how long to wait before the next attempt.
    pub fn failed(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let doubled = BACKOFF_START.saturating_mul(1 << self.failures.saturating_sub(1).min(20));
        with_jitter(doubled.min(BACKOFF_CAP)).min(BACKOFF_CAP)
    }

    /// Failures in a row so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Back to normal; returns how many failures came before.
    pub fn reset(&mut self) -> u32 {
        std::mem::take(&mut self.failures)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap_and_resets() {
        let mut backoff = Backoff::default();
        let waits: Vec<Duration> = (0..12).map(|_| backoff.failed()).collect();
        assert!(waits[0] >= Duration::from_secs(1) && waits[0] < Duration::from_secs(2));
        assert!(waits[3] >= Duration::from_secs(8) && waits[3] < Duration::from_secs(9));
        assert_eq!(waits[11], BACKOFF_CAP);
        assert_eq!(backoff.reset(), 12);
        assert_eq!(backoff.failures(), 0);
    }

    #[test]
    fn jitter_adds_at_most_a_tenth() {
        let period = Duration::from_secs(60);
        let jittered = with_jitter(period);
        assert!(jittered >= period && jittered <= period + Duration::from_secs(6));
    }
}
