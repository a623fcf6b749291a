//! The history of a server: one record per apply or rollback it carried out or failed,
//! kept as JSON lines in the state folder (`history.jsonl`) so that it outlives the
//! generations that pruning removes. Kept generations are merged in when reading, so a
//! commit is listed even if the agent stopped before its line was written.

use std::collections::BTreeSet;
use std::io::Write;

use crate::error::{EngineError, Result};
use crate::fsutil::write_atomically;
use crate::journal::{self, GenerationRecord};
use crate::layout::Layout;

/// Past this size the log is trimmed to its newest [`KEEP_AFTER_TRIM`] records.
const TRIM_ABOVE_BYTES: u64 = 2 << 20;
const KEEP_AFTER_TRIM: usize = 2000;

/// What an attempt came to.
pub const RESULT_OK: &str = "ok";

/// One attempt: the generation it committed (id 0 when nothing was committed) and how it
/// ended.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HistoryEntry {
    #[serde(flatten)]
    pub record: GenerationRecord,
    /// [`RESULT_OK`], or what went wrong.
    pub result: String,
    #[serde(default)]
    pub duration_ms: u64,
    /// The commands run after the commit, and how each ended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<crate::command::Ran>,
}

impl HistoryEntry {
    /// `applied`, `rollback of N`, or for an attempt that committed nothing (failed,
    /// refused, cancelled) `apply not committed`, `rollback not committed`.
    pub fn kind(&self) -> String {
        let committed = self.record.id != 0;
        match (self.record.rollback_of, committed) {
            (Some(_), false) => "rollback not committed".to_string(),
            (None, false) => "apply not committed".to_string(),
            // Recorded before it knew which generation was the newest.
            (Some(0), true) => "rollback".to_string(),
            (Some(id), true) => format!("rollback of {id}"),
            (None, true) => "applied".to_string(),
        }
    }
}

/// A history entry as listed, with whether its generation can still be rolled back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub entry: HistoryEntry,
    pub kept: bool,
}

fn log_path(layout: &Layout) -> std::path::PathBuf {
    layout.state_dir().join("history.jsonl")
}

/// Appends one record; trims the log when it has grown large.
pub fn append(layout: &Layout, entry: &HistoryEntry) -> Result<()> {
    let path = log_path(layout);
    let mut line = serde_json::to_vec(entry)
        .map_err(|e| EngineError::State { path: path.clone(), detail: e.to_string() })?;
    line.push(b'\n');
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(EngineError::io("open history", &path))?;
    crate::fault::check("append to history", &path)
        .and_then(|()| file.write_all(&line))
        .map_err(EngineError::io("append to history", &path))?;
    crate::fault::check("fsync history", &path)
        .and_then(|()| file.sync_data())
        .map_err(EngineError::io("fsync history", &path))?;
    let size = file.metadata().map_err(EngineError::io("inspect history", &path))?.len();
    if size > TRIM_ABOVE_BYTES {
        let entries = read_log(layout)?;
        let keep = &entries[entries.len().saturating_sub(KEEP_AFTER_TRIM)..];
        let mut bytes = Vec::new();
        for entry in keep {
            serde_json::to_writer(&mut bytes, entry)
                .map_err(|e| EngineError::State { path: path.clone(), detail: e.to_string() })?;
            bytes.push(b'\n');
        }
        write_atomically(&path, &bytes)?;
    }
    Ok(())
}

/// The log's records, oldest first; unreadable lines are skipped with a warning.
fn read_log(layout: &Layout) -> Result<Vec<HistoryEntry>> {
    let path = log_path(layout);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(EngineError::io("read history", path)(e)),
    };
    Ok(text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| match serde_json::from_str(l) {
            Ok(entry) => Some(entry),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "skipping an unreadable history line");
                None
            }
        })
        .collect())
}

/// Every recorded attempt, newest first, with kept generations merged in.
pub fn list(layout: &Layout) -> Result<Vec<Listed>> {
    let generations = journal::generations(layout)?;
    let kept: BTreeSet<u64> = generations.iter().map(|g| g.id).collect();
    let mut entries = read_log(layout)?;
    // A generation recorded twice (finished again after a restart) is listed once.
    let mut seen = BTreeSet::new();
    let mut unique = Vec::new();
    for entry in entries.drain(..).rev() {
        if entry.record.id == 0 || seen.insert(entry.record.id) {
            unique.push(entry);
        }
    }
    for generation in generations {
        if !seen.contains(&generation.id) {
            unique.push(HistoryEntry {
                record: generation,
                result: RESULT_OK.to_string(),
                duration_ms: 0,
                hooks: Vec::new(),
            });
        }
    }
    // Newest first: by time, then by generation; the log's own order breaks the rest.
    let mut order: Vec<(usize, HistoryEntry)> = unique.into_iter().enumerate().collect();
    order.sort_by(|(ia, a), (ib, b)| {
        (b.record.started_at, b.record.id, std::cmp::Reverse(*ib)).cmp(&(
            a.record.started_at,
            a.record.id,
            std::cmp::Reverse(*ia),
        ))
    });
    Ok(order
        .into_iter()
        .map(|(_, entry)| {
            let kept = entry.record.id != 0 && kept.contains(&entry.record.id);
            Listed { entry, kept }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::category::Category;

    fn entry(id: u64, started_at: u64, result: &str) -> HistoryEntry {
        HistoryEntry {
            record: GenerationRecord {
                id,
                started_at,
                source: "primary (127.0.0.1:7420)".into(),
                requested_by: "127.0.0.1:5000".into(),
                categories: vec![Category::Config],
                files_changed: 1,
                bytes_received: 2,
                bytes_written: 3,
                rollback_of: None,
                notices: Vec::new(),
            },
            result: result.into(),
            duration_ms: 4,
            hooks: Vec::new(),
        }
    }

    #[test]
    fn lists_newest_first_once_each_and_knows_what_is_kept() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let layout = Layout::under_root(tmp.path());
        layout.prepare().expect("layout");
        append(&layout, &entry(1, 10, RESULT_OK)).expect("append");
        append(&layout, &entry(0, 11, "the source failed")).expect("append");
        append(&layout, &entry(2, 12, RESULT_OK)).expect("append");
        append(&layout, &entry(2, 12, RESULT_OK)).expect("append again after a restart");
        // Only generation 2 is still kept.
        let journal = journal::Journal {
            state: journal::JournalState::Committed,
            record: entry(2, 12, RESULT_OK).record,
            ops: Vec::new(),
            changes: Vec::new(),
        };
        journal::finish(&layout, &journal).expect("finish");

        let listed = list(&layout).expect("list");
        let ids: Vec<(u64, bool)> = listed.iter().map(|l| (l.entry.record.id, l.kept)).collect();
        assert_eq!(ids, [(2, true), (0, false), (1, false)]);
        assert_eq!(listed[1].entry.result, "the source failed");
    }

    #[test]
    fn a_kept_generation_missing_from_the_log_is_still_listed() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let layout = Layout::under_root(tmp.path());
        layout.prepare().expect("layout");
        let mut record = entry(7, 20, RESULT_OK).record;
        record.rollback_of = Some(5);
        let journal = journal::Journal {
            state: journal::JournalState::Committed,
            record,
            ops: Vec::new(),
            changes: Vec::new(),
        };
        journal::finish(&layout, &journal).expect("finish");
        let listed = list(&layout).expect("list");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].entry.kind(), "rollback of 5");
        assert!(listed[0].kept);
    }
}
