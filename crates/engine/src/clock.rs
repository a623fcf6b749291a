//! Wall-clock time as records keep it (seconds since the Unix epoch) and as an
//! administrator reads it (UTC, RFC 3339, through the `time` crate).

use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Seconds since the Unix epoch (0 if the clock is before it).
pub fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Milliseconds since the Unix epoch (0 if the clock is before it).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `2026-11-21T10:38:58Z`.
pub fn utc(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| OffsetDateTime::from_unix_timestamp(s).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| format!("{secs} seconds after the Unix epoch"))
}

/// For `#[serde(serialize_with)]`: seconds since the epoch written as [`utc`] writes
/// them, so that every time in confsync's JSON reads the same way (RFC 3339).
pub fn as_utc<S: serde::Serializer>(secs: &u64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&utc(*secs))
}

/// [`as_utc`] for a time that may be absent (`null`).
pub fn as_utc_opt<S: serde::Serializer>(
    secs: &Option<u64>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match secs {
        Some(secs) => serializer.serialize_str(&utc(*secs)),
        None => serializer.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_like_rfc3339() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_795_257_538), "2026-11-21T10:38:58Z");
    }
}
