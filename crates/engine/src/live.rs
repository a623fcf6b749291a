//! The live tree: one server's manifest kept in memory between scans, so that a `Hello`
//! or a plan on an unchanged tree walks nothing.
//!
//! A cached category is used only while it has earned trust:
//!
//! - something watches the category (a file watcher tells [`LiveTree::changed`] about
//!   every change; [`LiveTree::set_watched`] says whether one watches it now). Without a
//!   watcher every use scans, as before;
//! - no change was reported since the scan started: a scan that raced with an edit is
//!   used once, for the request that made it, and never cached as trusted;
//! - the tree was quiet when it was scanned: an entry changed less than [`QUIET`] before
//!   may still be being written, and a rewrite within the same timestamp tick would not
//!   change its stamp;
//! - the scan is younger than the periodic full rescan (`rescan_every`), the safety net
//!   for whatever a watcher can miss.
//!
//! Lost events (a watcher error, a queue overflow) and every write by the agent itself
//! (a commit, before and after) take the trust away, and the next use rescans. The hash
//! index lives here too: a rescan rehashes only files whose stamp changed.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::category::Category;
use crate::chunk::ChunkList;
use crate::error::Result;
use crate::index::{FileStamp, HashIndex, now_ns};
use crate::layout::Layout;
use crate::manifest::{CategoryManifest, Manifest};
use crate::path::RelPath;
use crate::scan;

/// How long a category must have been left alone before its scan is trusted.
pub const QUIET: Duration = Duration::from_secs(2);
/// The default interval of the full rescan that catches what a watcher missed.
pub const DEFAULT_RESCAN_EVERY: Duration = Duration::from_secs(3600);

pub struct LiveTree {
    layout: Layout,
    index: Mutex<HashIndex>,
    slots: Mutex<HashMap<Category, Slot>>,
    rescan_every: Duration,
    walks: AtomicU64,
    /// What this server's scans carry (owners by name or number, extended attributes,
    /// which symlinks).
    carry: scan::Carry,
    /// What this agent may set (owners need root or CAP_CHOWN).
    privileges: crate::attrs::Privileges,
}

#[derive(Default)]
struct Slot {
    /// The last scan and when it finished.
    cached: Option<(Arc<CategoryManifest>, Instant)>,
    /// Changes reported so far; a scan is trusted only if none arrived while it ran.
    changes: u64,
    trusted: bool,
    /// Whether a watcher reports this category's changes now.
    watched: bool,
}

impl LiveTree {
    /// A tree with nothing cached yet: the first use of each category scans it.
    pub fn new(layout: Layout, rescan_every: Duration) -> LiveTree {
        let index = HashIndex::load(&layout.index_path());
        LiveTree {
            layout,
            index: Mutex::new(index),
            slots: Mutex::new(HashMap::new()),
            rescan_every,
            walks: AtomicU64::new(0),
            carry: scan::Carry::default(),
            privileges: crate::attrs::Privileges::of_this_process(),
        }
    }

    /// `rules` for plans that write this tree: what its agent does not carry or cannot
    /// set is neither compared nor set, and the plan says so.
    pub fn for_agent(&self, rules: crate::rules::Rules) -> crate::rules::Rules {
        let mask = crate::attrs::Mask { owner: false, xattrs: !self.carry.attrs.xattrs };
        let mut rules = rules.for_agent(self.privileges, mask);
        rules.confined_symlinks = self.carry.symlinks == scan::Symlinks::Confined;
        rules
    }

    /// This tree, scanned with `carry` (agent.toml's `ids`, `xattrs` and `symlinks`).
    pub fn with_carry(mut self, carry: scan::Carry) -> LiveTree {
        self.carry = carry;
        self
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// Whether a watcher reports `category`'s changes from now on; without one nothing
    /// of it is trusted. Either way what was scanned before is not trusted any more: it
    /// may predate the watch.
    pub fn set_watched(&self, category: Category, watched: bool) {
        let mut slots = self.slots();
        let slot = slots.entry(category).or_default();
        slot.watched = watched;
        slot.changes += 1;
        slot.trusted = false;
    }

    /// Something in `category` changed: its next use scans it again.
    pub fn changed(&self, category: Category) {
        let mut slots = self.slots();
        let slot = slots.entry(category).or_default();
        slot.changes += 1;
        slot.trusted = false;
    }

    /// Anything may have changed (lost events, or this agent writes the tree).
    pub fn changed_all(&self) {
        for category in Category::ALL {
            self.changed(category);
        }
    }

    /// How many category walks were made so far (the rest came from memory).
    pub fn walks(&self) -> u64 {
        self.walks.load(Ordering::Relaxed)
    }

    /// The manifest of `categories` as the tree holds them now; blocking. Categories
    /// that kept their trust come from memory, the others are scanned.
    pub fn scan(&self, categories: &[Category]) -> Result<Manifest> {
        let mut manifest = Manifest::default();
        for shared in self.scan_shared(categories)? {
            manifest.insert(Arc::unwrap_or_clone(shared));
        }
        Ok(manifest)
    }

    /// As [`scan`](Self::scan), without copying what comes from memory: for readers that
    /// only look (a `Hello`'s summary).
    pub fn scan_shared(&self, categories: &[Category]) -> Result<Vec<Arc<CategoryManifest>>> {
        let mut shared = Vec::with_capacity(categories.len());
        let mut walked = false;
        for &category in categories {
            if let Some(fresh) = self.trusted(category) {
                shared.push(fresh);
                continue;
            }
            walked = true;
            shared.push(self.rescan(category)?);
        }
        if walked && let Err(e) = self.index().save() {
            tracing::warn!(error = %e, "could not save the hash index; the next scan hashes again");
        }
        Ok(shared)
    }

    /// The chunk list learned for the file at `path` with exactly this stamp.
    pub fn chunks_of(
        &self,
        category: Category,
        path: &RelPath,
        stamp: &FileStamp,
    ) -> Option<Arc<ChunkList>> {
        self.index().lookup_chunks(&scan::index_key(category, path), stamp)
    }

    /// Remembers a file's chunk list, learned while reading it for another reason.
    pub fn learn_chunks(
        &self,
        category: Category,
        path: &RelPath,
        stamp: FileStamp,
        list: Arc<ChunkList>,
    ) {
        self.index().remember_chunks(scan::index_key(category, path), stamp, list);
    }

    /// Forgets what the index holds for one file (its chunks were found wrong).
    pub fn forget(&self, category: Category, path: &RelPath) {
        self.index().forget(&scan::index_key(category, path));
    }

    /// The hash index, for what reads files outside a scan (a rollback's planning).
    pub fn index(&self) -> MutexGuard<'_, HashIndex> {
        self.index.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn slots(&self) -> MutexGuard<'_, HashMap<Category, Slot>> {
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn trusted(&self, category: Category) -> Option<Arc<CategoryManifest>> {
        let slots = self.slots();
        let slot = slots.get(&category).filter(|s| s.trusted)?;
        let (manifest, at) = slot.cached.as_ref()?;
        (at.elapsed() < self.rescan_every).then(|| Arc::clone(manifest))
    }

    fn rescan(&self, category: Category) -> Result<Arc<CategoryManifest>> {
        let ticket = self.slots().entry(category).or_default().changes;
        self.walks.fetch_add(1, Ordering::Relaxed);
        let started = Instant::now();
        let scanned = {
            let mut index = self.index();
            scan::scan_category_with(&self.layout, category, &mut index, true, self.carry)?
        };
        for warning in &scanned.warnings {
            tracing::warn!("{warning}");
        }
        let quiet = now_ns().saturating_sub(scanned.newest_change_ns) >= QUIET.as_nanos() as i64;
        let mut slots = self.slots();
        let slot = slots.entry(category).or_default();
        slot.trusted = slot.watched && slot.changes == ticket && quiet;
        tracing::debug!(
            %category,
            entries = scanned.manifest.entries.len(),
            hashed = scanned.hashed_files,
            ms = started.elapsed().as_millis() as u64,
            trusted = slot.trusted,
            watched = slot.watched,
            quiet,
            "scanned"
        );
        let manifest = Arc::new(scanned.manifest);
        slot.cached = Some((Arc::clone(&manifest), Instant::now()));
        Ok(manifest)
    }
}

/// What a full read-back of a tree found: every file read, ignoring the index.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    pub files: u64,
    pub bytes: u64,
    /// Files whose content does not match the digest the tree recorded for them (the hash
    /// index's, which every plan trusts): changed behind the stamps, or damaged.
    pub mismatches: Vec<Mismatch>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub category: Category,
    pub path: crate::path::RelPath,
    pub recorded: crate::entry::Digest,
    pub actual: crate::entry::Digest,
}

impl LiveTree {
    /// Reads every file of `categories` again, ignoring the hash index, and reports what
    /// does not match what was recorded; blocking. A mismatch is forgotten by the index,
    /// so the next plan sees the content as it is.
    pub fn verify(&self, categories: &[Category]) -> Result<Verification> {
        let recorded = self.scan(categories)?;
        let mut verification = Verification::default();
        for &category in categories {
            let actual = scan::scan_category_with(
                &self.layout,
                category,
                &mut HashIndex::default(),
                false,
                self.carry,
            )?;
            let before: HashMap<&str, &crate::entry::Entry> = recorded
                .get(category)
                .map(|m| m.files().map(|e| (e.path.as_str(), e)).collect())
                .unwrap_or_default();
            if recorded.get(category).map(|m| m.digest) != Some(actual.manifest.digest) {
                // Whatever differs, the memory no longer speaks for this category.
                self.changed(category);
            }
            for entry in actual.manifest.files() {
                verification.files += 1;
                verification.bytes += entry.size;
                // An entry that appeared or went between the two reads is no mismatch.
                // Same size and mtime, other content: what no stamp shows. (An edit between
                // the two reads moves the mtime and is no mismatch.)
                match before.get(entry.path.as_str()) {
                    Some(old)
                        if old.digest != entry.digest
                            && old.size == entry.size
                            && old.mtime_ns == entry.mtime_ns =>
                    {
                        verification.mismatches.push(Mismatch {
                            category,
                            path: entry.path.clone(),
                            recorded: old.digest,
                            actual: entry.digest,
                        })
                    }
                    _ => {}
                }
            }
        }
        if !verification.mismatches.is_empty() {
            let mut index = self.index();
            for m in &verification.mismatches {
                index.forget(&scan::index_key(m.category, &m.path));
            }
            if let Err(e) = index.save() {
                tracing::warn!(error = %e, "could not save the hash index after a verification");
            }
            drop(index);
            for m in &verification.mismatches {
                self.changed(m.category);
            }
        }
        Ok(verification)
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;

    fn old_file(root: &std::path::Path, name: &str, content: &[u8]) {
        let path = root.join("config").join(name);
        std::fs::write(&path, content).expect("write");
        let old = SystemTime::now() - Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_modified(old))
            .expect("set mtime");
    }

    fn tree() -> (tempfile::TempDir, LiveTree) {
        let tmp = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(tmp.path().join("config")).expect("mkdir");
        let tree = LiveTree::new(Layout::under_root(tmp.path()), DEFAULT_RESCAN_EVERY);
        (tmp, tree)
    }

    #[test]
    fn a_watched_quiet_tree_is_walked_once_and_a_reported_change_is_walked_again() {
        let (tmp, tree) = tree();
        old_file(tmp.path(), "a.conf", b"one");
        tree.set_watched(Category::Config, true);
        // ctime is now: the first scan is not trusted (it may still be being written).
        tree.scan(&[Category::Config]).expect("scan");
        tree.scan(&[Category::Config]).expect("scan");
        assert_eq!(tree.walks(), 2, "a tree changed within QUIET is scanned again");

        let mut slots = tree.slots();
        let slot = slots.entry(Category::Config).or_default();
        // What a scan sees once the entries are old enough.
        slot.trusted = true;
        drop(slots);
        let before = tree.scan(&[Category::Config]).expect("scan");
        assert_eq!(tree.walks(), 2, "a trusted category comes from memory");

        old_file(tmp.path(), "a.conf", b"two");
        let stale = tree.scan(&[Category::Config]).expect("scan");
        assert_eq!(stale, before, "an unreported change is not seen: the watcher's job");
        tree.changed(Category::Config);
        let after = tree.scan(&[Category::Config]).expect("scan");
        assert_ne!(after, before);
        assert_eq!(tree.walks(), 3);
    }

    #[test]
    fn without_a_watcher_every_use_walks() {
        let (tmp, tree) = tree();
        old_file(tmp.path(), "a.conf", b"one");
        for _ in 0..3 {
            tree.scan(&[Category::Config]).expect("scan");
        }
        assert_eq!(tree.walks(), 3);
    }
}
