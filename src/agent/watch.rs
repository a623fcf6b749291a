//! Watching the tree for changes (source side), for `auto --on-change`.
//!
//! Each `Watch` stream has its own file watcher (inotify through `notify`) on the asked
//! category roots, recursively: never on the state folder, never on licenses. Events are
//! debounced (quiet for [`QUIET`], at most [`MAX_DELAY`] after the first), then the
//! categories are scanned (the hash index makes that cheap) and a `TreeChanged` with the
//! new digest is sent when it differs from the last one sent. The first message is the
//! current digest, so a client knows the stream is live; an idle stream repeats it every
//! [`HEARTBEAT`].
//!
//! A category folder that does not exist yet is watched for through its parent and
//! watched itself once it appears. If no watcher can be started the agent keeps serving
//! everything else and this RPC answers UNAVAILABLE, saying why.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use confsync_engine::category::Category;
use confsync_engine::entry::Digest;
use confsync_engine::error::{EngineError, Result};
use confsync_wire::server::Changes;
use futures::StreamExt;
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;
use tokio_stream::wrappers::ReceiverStream;

use crate::agent::state::AgentState;

/// A change is reported once the tree has been quiet this long...
const QUIET: Duration = Duration::from_millis(500);
/// ... or this long after the first event of a burst, whichever comes first.
const MAX_DELAY: Duration = Duration::from_secs(5);
/// How often an idle stream checks whether the agent is shutting down.
const SHUTDOWN_POLL: Duration = Duration::from_millis(250);
/// An idle stream repeats the last digest this often, so that a client can tell a quiet
/// tree from a connection that silently died.
pub const HEARTBEAT: Duration = Duration::from_secs(30);

pub async fn watch(state: &Arc<AgentState>, categories: Vec<Category>) -> Result<Changes> {
    let roots: Vec<PathBuf> =
        categories.iter().map(|c| state.layout().root(*c).to_path_buf()).collect();
    let changed = Arc::new(Notify::new());
    let mut roots_watch = Roots::start(&roots, Arc::clone(&changed)).map_err(|e| {
        tracing::warn!(error = %e, "cannot watch the tree; Watch is unavailable on this agent");
        EngineError::Unavailable(format!(
            "this agent cannot watch its tree for changes ({e}); use `confsync auto --every` instead, \
             or raise fs.inotify.max_user_watches / max_user_instances on the source"
        ))
    })?;
    let mut last = digest(state, &categories).await?;
    let (tx, rx) = mpsc::channel(4);
    let state = Arc::clone(state);
    tokio::spawn(async move {
        if tx.send(Ok(last)).await.is_err() {
            return;
        }
        loop {
            match wait_for_change(&changed, &tx, &state).await {
                Wake::Stop => return,
                Wake::Heartbeat => {
                    if tx.send(Ok(last)).await.is_err() {
                        return;
                    }
                    continue;
                }
                Wake::Changed => {}
            }
            roots_watch.refresh();
            match digest(&state, &categories).await {
                Ok(now) if now != last => {
                    last = now;
                    if tx.send(Ok(last)).await.is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "scanning after a change failed"),
            }
        }
    });
    Ok(ReceiverStream::new(rx).boxed())
}

enum Wake {
    Changed,
    Heartbeat,
    Stop,
}

/// Waits for a burst of changes to settle, or for the time of a heartbeat; `Stop` when
/// the client left or the agent is stopping.
async fn wait_for_change(
    changed: &Notify,
    tx: &mpsc::Sender<Result<Digest>>,
    state: &AgentState,
) -> Wake {
    let heartbeat = Instant::now() + HEARTBEAT;
    loop {
        tokio::select! {
            () = changed.notified() => break,
            () = tx.closed() => return Wake::Stop,
            () = tokio::time::sleep(SHUTDOWN_POLL) => {
                if state.is_shutting_down() {
                    return Wake::Stop;
                }
                if Instant::now() >= heartbeat {
                    return Wake::Heartbeat;
                }
            }
        }
    }
    let deadline = Instant::now() + MAX_DELAY;
    loop {
        let quiet_until = (Instant::now() + QUIET).min(deadline);
        tokio::select! {
            () = changed.notified() => {
                if Instant::now() >= deadline {
                    return Wake::Changed;
                }
            }
            () = tokio::time::sleep_until(quiet_until) => return Wake::Changed,
            () = tx.closed() => return Wake::Stop,
        }
    }
}

async fn digest(state: &Arc<AgentState>, categories: &[Category]) -> Result<Digest> {
    Ok(state.scan(categories.to_vec()).await?.digest())
}

/// The watcher and which category roots it watches recursively.
struct Roots {
    watcher: RecommendedWatcher,
    roots: Vec<(PathBuf, bool)>,
    parents: Vec<PathBuf>,
}

impl Roots {
    fn start(roots: &[PathBuf], changed: Arc<Notify>) -> notify::Result<Roots> {
        let filter = roots.to_vec();
        let watcher = notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
            match event {
                Ok(event)
                    if event.paths.iter().any(|p| filter.iter().any(|r| p.starts_with(r))) =>
                {
                    changed.notify_one();
                }
                Ok(_) => {}
                Err(e) => {
                    // Lost events (queue overflow) may hide a change: rescan to be sure.
                    tracing::warn!(error = %e, "file watcher error; rescanning");
                    changed.notify_one();
                }
            }
        })?;
        let mut this = Roots {
            watcher,
            roots: roots.iter().map(|r| (r.clone(), false)).collect(),
            parents: Vec::new(),
        };
        for i in 0..this.roots.len() {
            let root = this.roots[i].0.clone();
            if root.is_dir() {
                this.watcher.watch(&root, RecursiveMode::Recursive)?;
                this.roots[i].1 = true;
            } else {
                this.watch_parent(&root);
            }
        }
        Ok(this)
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

    /// Starts watching roots that appeared, and waits again for roots that went away.
    fn refresh(&mut self) {
        for i in 0..self.roots.len() {
            let (root, watched) = self.roots[i].clone();
            match (watched, root.is_dir()) {
                (false, true) => match self.watcher.watch(&root, RecursiveMode::Recursive) {
                    Ok(()) => self.roots[i].1 = true,
                    Err(e) => {
                        tracing::warn!(folder = %root.display(), error = %e, "cannot watch a category folder")
                    }
                },
                (true, false) => {
                    let _ = self.watcher.unwatch(&root);
                    self.roots[i].1 = false;
                    self.watch_parent(&root);
                }
                _ => {}
            }
        }
    }
}
