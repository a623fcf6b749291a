//! The status file of `auto --status-file PATH`: one JSON document, rewritten atomically
//! after every run, with per destination the last attempt, the last success, the
//! failures in a row and the last error. Monitoring reads it; nothing else does.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use confsync_engine::clock;
use confsync_engine::fsutil::{READABLE, write_file};

/// What one destination's runs came to so far.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct DestinationStatus {
    pub address: String,
    /// `applied`, `in_sync`, `refused` or `failed`.
    pub last_outcome: String,
    pub last_attempt: Option<String>,
    /// The last run that ended with the destination in sync (applied or nothing to do).
    pub last_success: Option<String>,
    /// Runs in a row that did not end in sync (failed or refused); 0 after a success.
    pub consecutive_failures: u32,
    pub last_error: Option<String>,
    /// The kinds of the last run's refusals (`hold`, `max_delete`, `busy`...), if any.
    pub last_refusal: Option<String>,
    /// The last generation an apply committed there.
    pub last_generation: Option<u64>,
}

#[derive(Debug, serde::Serialize)]
struct Document<'a> {
    source: &'a str,
    /// Whether the source's change stream is up (with `--on-change`; else always true).
    source_reachable: bool,
    /// Why it is not, and since when.
    #[serde(skip_serializing_if = "Option::is_none")]
    source_error: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_lost_since: Option<&'a str>,
    updated: String,
    pid: u32,
    destinations: &'a BTreeMap<String, DestinationStatus>,
}

/// The status of every destination, and where to write it (if anywhere).
pub struct StatusBoard {
    path: Option<PathBuf>,
    source: String,
    destinations: Mutex<BTreeMap<String, DestinationStatus>>,
    /// Why the source cannot be reached, and since when (none: it can).
    source_lost: Mutex<Option<(String, String)>>,
}

impl StatusBoard {
    pub fn new(path: Option<PathBuf>, source: &str) -> StatusBoard {
        StatusBoard {
            path,
            source: source.to_string(),
            destinations: Mutex::default(),
            source_lost: Mutex::default(),
        }
    }

    /// The source was lost (why) or found again (`None`); the file is rewritten at once.
    pub fn source(&self, lost: Option<&str>) {
        {
            let mut source = self.source_lost.lock().unwrap_or_else(|p| p.into_inner());
            *source = lost.map(|why| (why.to_string(), clock::utc(clock::now_secs())));
        }
        self.update_all();
    }

    fn update_all(&self) {
        let all = self.destinations.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(path) = &self.path
            && let Err(e) = self.write(path, &all)
        {
            tracing::warn!(path = %path.display(), error = %e, "cannot write the status file");
        }
    }

    /// Writes the file once before any run, so that a path that cannot be written is an
    /// error at start rather than a warning at every run.
    pub fn init(&self) -> anyhow::Result<()> {
        let all = self.destinations.lock().unwrap_or_else(|p| p.into_inner());
        match &self.path {
            Some(path) => self.write(path, &all).map_err(|e| {
                anyhow::anyhow!(
                    "cannot write the status file {}: {e}; check that its folder exists and is writable",
                    path.display()
                )
            }),
            None => Ok(()),
        }
    }

    /// Updates one destination's status and rewrites the file; a file that cannot be
    /// written is logged, never fatal (synchronization matters more than its report).
    pub fn update(&self, destination: &str, change: impl FnOnce(&mut DestinationStatus)) {
        let mut all = self.destinations.lock().unwrap_or_else(|p| p.into_inner());
        change(all.entry(destination.to_string()).or_default());
        if let Some(path) = &self.path
            && let Err(e) = self.write(path, &all)
        {
            tracing::warn!(path = %path.display(), error = %e, "cannot write the status file");
        }
    }

    fn write(
        &self,
        path: &std::path::Path,
        all: &BTreeMap<String, DestinationStatus>,
    ) -> Result<(), String> {
        let lost = self.source_lost.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let document = Document {
            source: &self.source,
            source_reachable: lost.is_none(),
            source_error: lost.as_ref().map(|(why, _)| why.as_str()),
            source_lost_since: lost.as_ref().map(|(_, since)| since.as_str()),
            updated: clock::utc(clock::now_secs()),
            pid: std::process::id(),
            destinations: all,
        };
        let bytes = serde_json::to_vec_pretty(&document).map_err(|e| e.to_string())?;
        write_file(path, &bytes, READABLE, true).map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_holds_every_destination() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("status.json");
        let board = StatusBoard::new(Some(path.clone()), "primary");
        board.init().expect("writable");
        board.update("b1", |s| s.consecutive_failures = 2);
        board.update("b2", |s| s.last_outcome = "in_sync".into());
        let doc: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
        assert_eq!(doc["source"], "primary");
        assert_eq!(doc["destinations"]["b1"]["consecutive_failures"], 2);
        assert_eq!(doc["destinations"]["b2"]["last_outcome"], "in_sync");

        let nowhere = StatusBoard::new(Some(tmp.path().join("missing/status.json")), "primary");
        let err = nowhere.init().expect_err("no such folder");
        assert!(err.to_string().contains("missing/status.json"), "{err}");
    }
}
