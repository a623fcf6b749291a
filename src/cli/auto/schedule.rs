//! Time for `auto`: reading `--every` durations, jitter, and the capped exponential
//! backoff after failures.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The schedule when neither `--every` nor `--on-change` is given.
pub const DEFAULT_EVERY: Duration = Duration::from_secs(5 * 60);
/// First wait after a failure; doubled after each further failure...
const BACKOFF_START: Duration = Duration::from_secs(1);
/// ... up to this.
pub const BACKOFF_CAP: Duration = Duration::from_secs(5 * 60);

/// Reads `30s`, `5m`, `1h`, `1h30m`, `500ms` (humantime's units: ms, s, m, h, d and
/// their long forms); zero is refused, since it would mean syncing without pause.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let hint = "give a number and a unit, for example 30s, 5m, 1h or 1h30m";
    // Whole numbers only: "1.5h" reads differently to different people; "1h30m" does not.
    if text.contains(['.', ',']) {
        return Err(format!("{text:?} has a fraction; {hint}"));
    }
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => Err(format!("{text:?} is no time at all; {hint}")),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("{text:?} is not a duration ({e}); {hint}")),
    }
}

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
    fn durations_read_like_an_administrator_writes_them() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        for bad in ["", "30", "m", "5x", "0s", "-1s", "1.5h"] {
            let err = parse_duration(bad).expect_err(bad);
            assert!(err.contains("30s, 5m"), "{bad}: {err}");
        }
    }

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
