//! The kept generations: listing them, numbering the next one, and pruning the oldest.
//!
//! Retention keeps the newest `keep` applied generations and every generation newer than
//! the oldest of them, rollbacks included: a rollback never pushes out the generations an
//! administrator may still want to walk back through one step at a time. The total is
//! capped at four times `keep`, so that rollbacks of rollbacks cannot grow without bound.

use super::{GenerationRecord, Journal, JournalState, LEGACY_RECORD, RECORD, generation_dir};
use crate::error::{EngineError, Result};
use crate::fsutil;
use crate::layout::Layout;

/// How many times `keep` generations are kept at most, rollbacks included.
const CAP_FACTOR: usize = 4;

/// The records of every kept generation, newest first. A generation whose commit is under
/// way (its journal is not marked committed) is not kept yet.
pub fn generations(layout: &Layout) -> Result<Vec<GenerationRecord>> {
    let dir = layout.generations_dir();
    let mut out = Vec::new();
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(EngineError::io("list generations", dir)(e)),
    };
    let pending = Journal::read(layout)
        .ok()
        .flatten()
        .filter(|j| j.state == JournalState::Committing)
        .map(|j| j.record.id);
    for entry in entries.flatten() {
        let Some(record) = read_record(&entry.path()) else { continue };
        if Some(record.id) != pending {
            out.push(record);
        }
    }
    out.sort_by_key(|r| std::cmp::Reverse(r.id));
    Ok(out)
}

/// The record in a generation's folder (or in an older version's combined file).
fn read_record(dir: &std::path::Path) -> Option<GenerationRecord> {
    let parse = |name: &str, legacy: bool| -> Option<GenerationRecord> {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).ok()?;
        let parsed = if legacy {
            serde_json::from_slice::<Journal>(&bytes).map(|j| j.record)
        } else {
            serde_json::from_slice::<GenerationRecord>(&bytes)
        };
        parsed
            .inspect_err(|e| {
                tracing::warn!(path = %path.display(), error = %e, "skipping unreadable generation record")
            })
            .ok()
    };
    parse(RECORD, false).or_else(|| parse(LEGACY_RECORD, true))
}

/// The id the next generation gets: one past the highest ever kept.
pub fn next_generation_id(layout: &Layout) -> u64 {
    ids(layout).into_iter().max().unwrap_or(0) + 1
}

fn ids(layout: &Layout) -> Vec<u64> {
    std::fs::read_dir(layout.generations_dir())
        .map(|entries| {
            entries
                .flatten()
                .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u64>().ok()))
                .collect()
        })
        .unwrap_or_default()
}

/// Removes what retention no longer keeps (see the module documentation), oldest first,
/// so that the kept generations are always a contiguous run up to the newest.
pub fn prune(layout: &Layout, keep: usize) -> Result<()> {
    let keep = keep.max(1);
    let kept = generations(layout)?;
    let oldest_applied =
        kept.iter().filter(|r| r.rollback_of.is_none()).nth(keep - 1).map(|r| r.id);
    let newest_allowed: Vec<u64> = kept.iter().take(keep * CAP_FACTOR).map(|r| r.id).collect();
    let floor = match oldest_applied {
        Some(oldest) => oldest.max(newest_allowed.last().copied().unwrap_or(0)),
        // Fewer applied generations than `keep`: only the cap applies.
        None => newest_allowed.last().copied().unwrap_or(0),
    };
    for id in ids(layout).into_iter().filter(|id| *id < floor) {
        fsutil::remove_all(&generation_dir(layout, id))?;
    }
    Ok(())
}
