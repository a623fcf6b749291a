//! The base of a pair: what this server held, entry by entry, when its last two-way
//! synchronization with one peer completed. Two-way sync compares each side with its own
//! base to learn what changed *there* since (see [`two_way`](crate::two_way)).
//!
//! Each side keeps only its own entries, so each side tells its own changes: a shared file
//! merged with device-specific keys legitimately differs between the two servers, and
//! neither side's base needs to know the other's copy. Both halves of one base carry the
//! same run identifier; two halves of different runs are no common base, and the pair is
//! treated as never synchronized both ways.
//!
//! A base is written in two steps, so that it only ever records a run both sides finished:
//! this side's part of a run leaves a *candidate* (what its commit left, computed from the
//! plan and the tree it was planned against, so an edit made after the plan is still seen
//! as a change next time), and [`adopt`] makes it the base once both sides committed. An
//! interrupted run leaves the previous base; the next run sees the same changes again.
//!
//! Beside digests, a base keeps the content of its small text files ([`content`]), so
//! that a file changed on both sides can be merged against what both last agreed on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use crate::category::Category;
use crate::entry::{Digest, Entry, EntryKind};
use crate::error::{EngineError, Result};
use crate::layout::Layout;
use crate::manifest::Manifest;
use crate::path::RelPath;
use crate::plan::{Action, Plan};

pub mod content;

const FOLDER: &str = "pairs";
const VERSION: u32 = 1;

/// What identifies an entry's content for change detection: its kind, content (or
/// target) and permission bits. A touch that changes only the mtime is no change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sig {
    #[serde(rename = "k")]
    pub kind: EntryKind,
    #[serde(rename = "d")]
    pub digest: Digest,
    #[serde(rename = "m")]
    pub mode: u32,
}

impl Sig {
    pub fn of(entry: &Entry) -> Sig {
        // Symlink modes do not matter (nor are they synchronized).
        let mode = if entry.kind == EntryKind::Symlink { 0 } else { entry.mode };
        Sig { kind: entry.kind, digest: entry.digest, mode }
    }
}

/// This server's half of the base it shares with one peer.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PairBase {
    version: u32,
    /// The run that made it; the peer's half of the same base carries the same one.
    pub run: String,
    /// The peer's name when the run was made (for messages only).
    pub peer: String,
    /// Seconds since the Unix epoch.
    pub recorded_at: u64,
    pub categories: BTreeMap<Category, BTreeMap<RelPath, Sig>>,
}

/// What changed on one side since its half of the base, as that side reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SideChanges {
    /// The run of the base the changes are counted from; `None`: this side has no base
    /// with the peer (never synchronized both ways, or its record is gone).
    pub run: Option<String>,
    /// Per category, the paths whose entry was created, changed or deleted since.
    pub paths: BTreeMap<Category, BTreeSet<RelPath>>,
    /// The categories the base holds (a category added to the two-way set later has no
    /// base yet).
    pub covered: BTreeSet<Category>,
}

impl SideChanges {
    pub fn covers(&self, category: Category) -> bool {
        self.covered.contains(&category)
    }

    pub fn changed(&self, category: Category, path: &RelPath) -> bool {
        self.paths.get(&category).is_some_and(|p| p.contains(path))
    }
}

impl PairBase {
    /// The base `plan`, once committed over `before` (the tree it was planned against),
    /// leaves in `categories`. Device-specific entries are in it too: no plan ever has a
    /// step for them, so whether they changed never matters, and keeping them keeps a
    /// side's report of its changes short.
    pub fn after(
        plan: &Plan,
        before: &Manifest,
        categories: &[Category],
        run: &str,
        peer: &str,
    ) -> PairBase {
        let mut base = PairBase {
            version: VERSION,
            run: run.to_string(),
            peer: peer.to_string(),
            recorded_at: crate::clock::now_secs(),
            categories: BTreeMap::new(),
        };
        for category in categories {
            let mut now: BTreeMap<RelPath, Sig> = before
                .get(*category)
                .map(|m| m.entries.iter().map(|e| (e.path.clone(), Sig::of(e))).collect())
                .unwrap_or_default();
            if let Some(category_plan) = plan.categories.iter().find(|c| c.category == *category) {
                for step in &category_plan.steps {
                    match (&step.action, &step.source) {
                        (Action::Delete, _) => {
                            now.remove(&step.path);
                        }
                        (_, Some(entry)) => {
                            now.insert(step.path.clone(), Sig::of(entry));
                        }
                        (_, None) => {}
                    }
                }
            }
            base.categories.insert(*category, now);
        }
        base
    }

    /// The paths of `categories` whose entry in `now` differs from this base (created,
    /// changed, deleted).
    pub fn changes(&self, now: &Manifest, categories: &[Category]) -> SideChanges {
        let mut changes = SideChanges {
            run: Some(self.run.clone()),
            paths: BTreeMap::new(),
            covered: self.categories.keys().copied().collect(),
        };
        let empty = BTreeMap::new();
        for category in categories {
            let base = self.categories.get(category).unwrap_or(&empty);
            let mut changed = BTreeSet::new();
            let mut seen = 0;
            for entry in now.get(*category).map(|m| m.entries.as_slice()).unwrap_or_default() {
                match base.get(&entry.path) {
                    Some(sig) => {
                        seen += 1;
                        if *sig != Sig::of(entry) {
                            changed.insert(entry.path.clone());
                        }
                    }
                    None => {
                        changed.insert(entry.path.clone());
                    }
                }
            }
            if seen < base.len() {
                let present: BTreeSet<&RelPath> = now
                    .get(*category)
                    .map(|m| m.entries.iter().map(|e| &e.path).collect())
                    .unwrap_or_default();
                changed.extend(base.keys().filter(|p| !present.contains(p)).cloned());
            }
            changes.paths.insert(*category, changed);
        }
        changes
    }
}

/// The changes of this server's `now` since its base with `peer_id`, or "no base".
pub fn changes_since(
    layout: &Layout,
    peer_id: &str,
    now: &Manifest,
    categories: &[Category],
) -> Result<SideChanges> {
    Ok(match load(layout, peer_id)? {
        Some(base) => base.changes(now, categories),
        None => SideChanges::default(),
    })
}

/// This server's half of its base with `peer_id`; `None` when there is none. A record
/// that cannot be read counts as none (logged): the pair is then synchronized as for the
/// first time, where differing files are conflicts and nothing is deleted.
pub fn load(layout: &Layout, peer_id: &str) -> Result<Option<PairBase>> {
    read(&path(layout, peer_id, false)?)
}

/// Leaves `base` as the candidate of its run, for [`adopt`].
pub fn save_candidate(layout: &Layout, peer_id: &str, base: &PairBase) -> Result<()> {
    let path = path(layout, peer_id, true)?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(EngineError::io("create", parent))?;
    }
    crate::fsutil::write_json(&path, base)?;
    content::keep(layout, base);
    Ok(())
}

/// Makes the candidate of `run` this server's base with `peer_id`. `false` when there is
/// no candidate of that run (this side's part did not finish, or another run followed).
pub fn adopt(layout: &Layout, peer_id: &str, run: &str) -> Result<bool> {
    let candidate = path(layout, peer_id, true)?;
    match read(&candidate)? {
        Some(base) if base.run == run => {
            let base_path = path(layout, peer_id, false)?;
            std::fs::rename(&candidate, &base_path)
                .map_err(EngineError::io("adopt", candidate.clone()))?;
            if let Some(parent) = base_path.parent() {
                crate::fsutil::sync_dir(parent)?;
            }
            content::prune(layout);
            Ok(true)
        }
        _ => Ok(false),
    }
}

fn read(path: &std::path::Path) -> Result<Option<PairBase>> {
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(EngineError::io("read", path)(e)),
    };
    match serde_json::from_slice::<PairBase>(&text) {
        Ok(base) if base.version == VERSION => Ok(Some(base)),
        Ok(_) | Err(_) => {
            tracing::warn!(path = %path.display(), "the two-way base is not one this version reads; the pair is synchronized as for the first time");
            Ok(None)
        }
    }
}

/// `.confsync/pairs/<peer>.json` (or `.candidate.json`). The peer's identifier comes from
/// its `Hello` or a request: only an identifier that is a plain file name is accepted.
fn path(layout: &Layout, peer_id: &str, candidate: bool) -> Result<PathBuf> {
    let plain = !peer_id.is_empty()
        && peer_id.len() <= 64
        && peer_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !plain {
        return Err(EngineError::Source(format!(
            "{peer_id:?} is not a server's instance identifier (letters, digits, - and _, at \
             most 64)"
        )));
    }
    let name =
        if candidate { format!("{peer_id}.candidate.json") } else { format!("{peer_id}.json") };
    Ok(layout.state_dir().join(FOLDER).join(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::CategoryManifest;

    fn file(path: &str, content: &[u8]) -> Entry {
        Entry {
            path: RelPath::new(path).expect("valid"),
            kind: EntryKind::File,
            size: content.len() as u64,
            mode: 0o644,
            mtime_ns: 1,
            digest: Digest::of(content),
            symlink_target: None,
            attrs: None,
            hardlink: None,
        }
    }

    fn nothing(tree: &Manifest) -> Plan {
        crate::plan::plan(tree, tree, &crate::plan::Guards::default())
    }

    fn manifest(entries: Vec<Entry>) -> Manifest {
        let mut m = Manifest::default();
        m.insert(CategoryManifest::new(Category::Config, entries));
        m
    }

    #[test]
    fn changes_are_creations_edits_and_deletions_never_a_touch() {
        let before = manifest(vec![file("a", b"1"), file("b", b"2"), file("c", b"3")]);
        let base = PairBase::after(&nothing(&before), &before, &[Category::Config], "r1", "peer");
        let mut touched = file("a", b"1");
        touched.mtime_ns = 99;
        let now = manifest(vec![touched, file("b", b"22"), file("d", b"4")]);
        let changes = base.changes(&now, &[Category::Config]);
        let paths: Vec<&str> =
            changes.paths[&Category::Config].iter().map(|p| p.as_str()).collect();
        assert_eq!(paths, ["b", "c", "d"]);
        assert_eq!(changes.run.as_deref(), Some("r1"));
    }

    #[test]
    fn a_candidate_becomes_the_base_only_for_its_run() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = Layout::under_root(dir.path());
        std::fs::create_dir_all(layout.state_dir()).expect("state");
        let before = manifest(vec![file("a", b"1")]);
        let base = PairBase::after(&nothing(&before), &before, &[Category::Config], "r1", "p");
        save_candidate(&layout, "peer1", &base).expect("saved");
        assert!(!adopt(&layout, "peer1", "r2").expect("adopt"));
        assert_eq!(load(&layout, "peer1").expect("load"), None);
        assert!(adopt(&layout, "peer1", "r1").expect("adopt"));
        assert_eq!(load(&layout, "peer1").expect("load").map(|b| b.run), Some("r1".into()));
        assert!(load(&layout, "../etc").is_err());
    }
}
