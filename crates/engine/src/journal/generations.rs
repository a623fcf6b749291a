//! The kept generations: listing them, numbering the next one, and pruning the oldest.
//!
//! Retention keeps the newest `keep` applied generations and every generation newer than
//! the oldest of them, rollbacks included: a rollback never pushes out the generations an
//! administrator may still want to walk back through one step at a time. The total is
//! capped at four times `keep`, so that rollbacks of rollbacks cannot grow without bound.

use super::{Journal, JournalState, RECORD, generation_dir};
use crate::error::{EngineError, Result};
use crate::fsutil;
use crate::layout::Layout;

/// How many times `keep` generations are kept at most, rollbacks included.
const CAP_FACTOR: usize = 4;

/// The records of every kept generation, newest first. A generation whose commit is under
/// way (its journal is not marked committed) is not kept yet.
pub fn generations(layout: &Layout) -> Result<Vec<Journal>> {
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
        let path = entry.path().join(RECORD);
        if let Ok(bytes) = std::fs::read(&path) {
            match serde_json::from_slice::<Journal>(&bytes) {
                Ok(journal) if Some(journal.record.id) == pending => {}
                Ok(journal) => out.push(journal),
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "skipping unreadable generation record")
                }
            }
        }
    }
    out.sort_by_key(|j| std::cmp::Reverse(j.record.id));
    Ok(out)
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
        kept.iter().filter(|j| j.record.rollback_of.is_none()).nth(keep - 1).map(|j| j.record.id);
    let newest_allowed: Vec<u64> =
        kept.iter().take(keep * CAP_FACTOR).map(|j| j.record.id).collect();
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
