//! The agent's one file watcher (inotify through `notify`) over its category roots,
//! recursively: never over the state folder, never over licenses. Every event marks its
//! category changed in the [`LiveTree`], so the next use scans it again, and wakes the
//! `Watch` streams of `auto --on-change`.
//!
//! Once a change has been quiet for two seconds the changed categories are scanned in the
//! background, so that the next plan finds them in memory.
//! Lost events (a watcher error, an inotify queue overflow) mark every category changed.
//! A category folder that does not exist yet is watched for through its parent and
//! watched itself once it appears; until then it is never trusted. Every
//! `rescan_every` everything is marked changed, so that what a watcher missed is found
//! (and reported to `Watch` streams) within that time.
//!
//! Where no watcher can start (inotify limits, a file system without it) the agent scans
//! at every use, says so once in its log, and `Watch` answers UNAVAILABLE.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use confsync_engine::category::Category;
use confsync_engine::failpoint;
use confsync_engine::live::{LiveTree, QUIET};
use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::watch;

/// How soon after a burst of events the roots are checked for folders that appeared.
const REFRESH_DELAY: Duration = Duration::from_millis(100);
/// Added to the quiet time before scanning what changed, so that the scan is trusted.
const SETTLE_MARGIN: Duration = Duration::from_millis(250);

pub struct TreeWatcher {
    roots: Mutex<Roots>,
    /// Counts the events seen; `Watch` streams wait for it to move.
    changes: Arc<watch::Sender<u64>>,
}

impl TreeWatcher {
    /// Starts watching `tree`'s categories, or says why it cannot.
    fn new(tree: &Arc<LiveTree>) -> notify::Result<TreeWatcher> {
        let layout = tree.layout();
        let roots: Vec<(Category, PathBuf)> =
            Category::ALL.iter().map(|c| (*c, layout.root(*c).to_path_buf())).collect();
        let (changes, _) = watch::channel(0u64);
        let changes = Arc::new(changes);
        let replaced = Arc::new(Mutex::new(Vec::new()));
        let handler = EventHandler {
            replaced: Arc::clone(&replaced),
            tree: Arc::clone(tree),
            roots: roots.clone(),
            state_dir: layout.state_dir().to_path_buf(),
            changes: Arc::clone(&changes),
            ignore: failpoint::value(failpoint::WATCH_IGNORE_EVENTS).is_some(),
            overflow: failpoint::value(failpoint::WATCH_OVERFLOW).is_some(),
        };
        let watcher = notify::recommended_watcher(move |event| handler.handle(event))?;
        let mut this = Roots {
            watcher,
            tree: Arc::clone(tree),
            roots: roots.into_iter().map(|(c, r)| (c, r, false)).collect(),
            parents: Vec::new(),
            replaced,
        };
        this.refresh()?;
        Ok(TreeWatcher { roots: Mutex::new(this), changes })
    }

    fn tree(&self) -> Arc<LiveTree> {
        Arc::clone(&self.roots.lock().unwrap_or_else(|p| p.into_inner()).tree)
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Starts watching roots that appeared, and waits again for roots that went away.
    fn refresh(&self) {
        let mut roots = self.roots.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = roots.refresh() {
            tracing::warn!(error = %e, "cannot watch a category folder; it is scanned at every use");
        }
    }
}

/// Starts the watcher of `tree` and its upkeep (roots that appear, the periodic full
/// rescan every `rescan_every`); without a watcher, says once that every use will scan.
pub fn start(tree: &Arc<LiveTree>, rescan_every: Duration) -> Option<Arc<TreeWatcher>> {
    match TreeWatcher::new(tree) {
        Ok(watcher) => {
            let watcher = Arc::new(watcher);
            let events = watcher.subscribe();
            tokio::spawn(upkeep(Arc::downgrade(&watcher), events, rescan_every));
            Some(watcher)
        }
        Err(e) => {
            tracing::warn!(
                error = %e,
                "cannot watch the tree for changes: every request scans it, and Watch (auto \
                 --on-change) is unavailable; raise fs.inotify.max_user_watches to fix it"
            );
            None
        }
    }
}

/// Until the watcher goes away: refreshes the watched roots after events, scans what
/// changed once it has been quiet for [`QUIET`] (so that the next plan finds it in
/// memory, whoever changed it: an administrator, a tool, this agent's own commit), and
/// marks the whole tree changed every `every`.
async fn upkeep(watcher: Weak<TreeWatcher>, mut events: watch::Receiver<u64>, every: Duration) {
    let mut rescan = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    let mut due: Option<tokio::time::Instant> = None;
    loop {
        let wake = due.unwrap_or_else(|| tokio::time::Instant::now() + every);
        tokio::select! {
            more = events.changed() => {
                if more.is_err() {
                    return;
                }
                tokio::time::sleep(REFRESH_DELAY).await;
                let Some(watcher) = watcher.upgrade() else { return };
                watcher.refresh();
                due = Some(tokio::time::Instant::now() + QUIET + SETTLE_MARGIN);
            }
            () = tokio::time::sleep_until(wake), if due.is_some() => {
                due = None;
                let Some(watcher) = watcher.upgrade() else { return };
                let tree = watcher.tree();
                drop(watcher);
                // Trusted categories cost nothing; the others are scanned and, if quiet
                // by now, trusted again.
                let scanned = tokio::task::spawn_blocking(move || tree.scan(&Category::ALL)).await;
                if let Ok(Err(e)) = scanned {
                    tracing::debug!(error = %e, "scanning after changes failed; the next use scans again");
                }
            }
            _ = rescan.tick() => {
                let Some(watcher) = watcher.upgrade() else { return };
                tracing::debug!("periodic full rescan");
                watcher.tree().changed_all();
                watcher.changes.send_modify(|n| *n += 1);
            }
        }
    }
}

/// What runs on the watcher's own thread for every event: cheap bookkeeping only.
struct EventHandler {
    tree: Arc<LiveTree>,
    /// Categories whose root folder itself had an event (removed, moved, replaced):
    /// their watch may be gone, so they are watched afresh at the next refresh.
    replaced: Arc<Mutex<Vec<Category>>>,
    roots: Vec<(Category, PathBuf)>,
    state_dir: PathBuf,
    changes: Arc<watch::Sender<u64>>,
    /// Failpoints: drop every event, or turn each into a lost-events overflow.
    ignore: bool,
    overflow: bool,
}

impl EventHandler {
    fn handle(&self, event: notify::Result<notify::Event>) {
        match event {
            Ok(event) if event.need_rescan() => self.lost("the watcher lost events"),
            // Opening or reading changes nothing, and this agent's own scans and reads
            // would otherwise distrust the manifest they just built.
            Ok(event) if is_read_only(&event.kind) => {}
            Ok(event) => {
                let categories: Vec<Category> = event
                    .paths
                    .iter()
                    .filter(|p| !p.starts_with(&self.state_dir))
                    .filter_map(|p| self.category_of(p))
                    .collect();
                if categories.is_empty() || self.ignore {
                    return;
                }
                if self.overflow {
                    return self.lost("simulated queue overflow");
                }
                for category in categories {
                    self.tree.changed(category);
                }
                let moves_a_root = matches!(
                    event.kind,
                    EventKind::Create(_)
                        | EventKind::Remove(_)
                        | EventKind::Modify(ModifyKind::Name(_))
                );
                for (category, root) in &self.roots {
                    if moves_a_root && event.paths.iter().any(|p| p == root) {
                        self.tree.set_watched(*category, false);
                        self.replaced.lock().unwrap_or_else(|p| p.into_inner()).push(*category);
                    }
                }
                self.changes.send_modify(|n| *n += 1);
            }
            Err(e) => self.lost(&e.to_string()),
        }
    }

    fn lost(&self, why: &str) {
        tracing::warn!(reason = why, "file watcher lost events; the whole tree is scanned again");
        self.tree.changed_all();
        self.changes.send_modify(|n| *n += 1);
    }

    fn category_of(&self, path: &Path) -> Option<Category> {
        self.roots.iter().find(|(_, root)| path.starts_with(root)).map(|(c, _)| *c)
    }
}

/// Whether an event only says that something was opened or read.
fn is_read_only(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => false,
        EventKind::Access(_) => true,
        _ => false,
    }
}

/// The watcher and which category roots it watches recursively.
struct Roots {
    watcher: RecommendedWatcher,
    tree: Arc<LiveTree>,
    roots: Vec<(Category, PathBuf, bool)>,
    parents: Vec<PathBuf>,
    replaced: Arc<Mutex<Vec<Category>>>,
}

impl Roots {
    /// Watches roots that exist and are not watched yet (then vouches for them), and
    /// watches for missing ones through their parent.
    fn refresh(&mut self) -> notify::Result<()> {
        let replaced =
            std::mem::take(&mut *self.replaced.lock().unwrap_or_else(|p| p.into_inner()));
        for (category, root, watched) in &mut self.roots {
            if replaced.contains(category) && *watched {
                // A folder of the same name may be a new one: drop the old watch.
                let _ = self.watcher.unwatch(root);
                *watched = false;
            }
        }
        for i in 0..self.roots.len() {
            let (category, root, watched) = self.roots[i].clone();
            match (watched, root.is_dir()) {
                (false, true) => {
                    self.watcher.watch(&root, RecursiveMode::Recursive)?;
                    self.roots[i].2 = true;
                    self.tree.set_watched(category, true);
                }
                (true, false) => {
                    let _ = self.watcher.unwatch(&root);
                    self.roots[i].2 = false;
                    self.tree.set_watched(category, false);
                    self.watch_parent(&root);
                }
                (false, false) => self.watch_parent(&root),
                (true, true) => {}
            }
        }
        Ok(())
    }

    /// Watches for a missing root to appear, through its parent folder.
    fn watch_parent(&mut self, root: &Path) {
        let Some(parent) = root.parent().filter(|p| p.is_dir()) else { return };
        if self.parents.iter().any(|p| p == parent) {
            return;
        }
        match self.watcher.watch(parent, RecursiveMode::NonRecursive) {
            Ok(()) => self.parents.push(parent.to_path_buf()),
            Err(e) => {
                tracing::warn!(folder = %parent.display(), error = %e, "cannot watch for a category folder to appear")
            }
        }
    }
}
