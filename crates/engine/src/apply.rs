//! Applying a plan on the destination, crash-safe:
//!
//! 1. stage every file and symlink the plan brings under `staging/<generation>/`,
//!    verifying each against the planned digest (see [`transfer`]);
//! 2. rescan the destination and refuse if it changed since the plan;
//! 3. write and fsync the journal (see [`journal`]);
//! 4. commit: move what is replaced into the generation's backup, rename staged entries
//!    into place, fsync the folders; undo everything on any error;
//! 5. mark the generation done, clear staging, prune old generations.
//!
//! Until step 4 the tree is untouched; a crash during step 4 is undone at the next start.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt, TryFutureExt, TryStreamExt};

use crate::category::Category;
use crate::chunk::{ChunkList, WHOLE_FILE_LIMIT};
use crate::entry::{Digest, EntryKind};
use crate::error::{EngineError, Result};
use crate::index::FileStamp;
use crate::journal::{
    self, Change, CommitError, GenerationRecord, Journal, JournalState, Meta, Op, Stamp,
};
use crate::layout::Layout;
use crate::live::LiveTree;
use crate::manifest::Manifest;
use crate::path::RelPath;
use crate::plan::{Action, Plan, Step};
use crate::progress::{Phase, Progress, ProgressEvent};
use crate::resume;
use crate::scan;
use crate::subtree::{Staged, Subtrees};
use crate::transfer::{self, ChunkSource, StageContext};

/// How many files are staged at once: enough to hide the round trip per small file.
const FILES_IN_FLIGHT: usize = 16;

/// Who asked and from where, for the generation record.
#[derive(Debug, Clone)]
pub struct Origin {
    pub source: String,
    pub requested_by: String,
    /// For a rollback: the oldest generation it undoes.
    pub rollback_of: Option<u64>,
    /// What the change means for this server, for its history and its result.
    pub notices: Vec<crate::effects::Notice>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ApplyOutcome {
    pub generation: u64,
    pub files_changed: u64,
    pub bytes_received: u64,
    pub bytes_written: u64,
    pub duration_ms: u64,
    /// What failed after the commit point: the commit stands ("applied, but ..."), and
    /// whoever reports it does not call it a plain success.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Where the time went.
    pub phases: Phases,
    /// What the change means for this server ("effective after the next startup").
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notices: Vec<crate::effects::Notice>,
    /// The commands the destination ran after the commit, and how each ended.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<crate::command::Ran>,
    /// A hook failed and the destination rolled this generation back itself: the
    /// generation of that rollback.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rolled_back_by: Option<u64>,
    /// Commit-confirmed: rolled back at this time (seconds since the Unix epoch) unless
    /// confirmed before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirm_by: Option<u64>,
}

/// Where a sync's time went, in milliseconds. The first four are the plan's (the
/// destination's, whether made for the review or again for the apply); the rest the
/// apply's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Phases {
    /// Reading both trees' manifests where they were not in memory.
    pub scan_ms: u64,
    /// Asking the source (its `Hello`, the manifests of differing categories).
    pub exchange_ms: u64,
    /// Comparing the manifests into steps, merging shared files.
    pub diff_ms: u64,
    /// At the apply: checking that both trees are still as the reviewed plan saw them.
    pub revalidate_ms: u64,
    /// Fetching, writing and verifying every staged file.
    pub transfer_ms: u64,
    /// Making the staged files durable.
    pub flush_ms: u64,
    /// Stamping what the commit moves aside, checking the tree is unchanged.
    pub check_ms: u64,
    /// The journaled commit (renames, folder flushes).
    pub commit_ms: u64,
    /// Pruning old generations.
    pub finish_ms: u64,
}

/// Milliseconds since `start`, for [`Phases`].
pub fn elapsed_ms(start: Instant) -> u64 {
    u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// What an apply or rollback reports while it runs, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyEvent {
    Progress(ProgressEvent),
    Done(ApplyOutcome),
}

pub struct Applier<'a, S> {
    pub layout: &'a Layout,
    /// This tree's live manifest: the check before the commit reads it, and the commit
    /// takes its trust away (before and after), so no scan caches a half-committed tree.
    pub tree: &'a LiveTree,
    pub source: &'a S,
    pub progress: &'a dyn Progress,
    pub keep_generations: usize,
    /// The destination's `[[check]]`s, run on the staged tree before the journal.
    pub checks: &'a [crate::checks::CheckRule],
    /// How staged files are made durable before the journal ([`crate::durable`]).
    pub flush: crate::durable::Flush,
}

impl<S: ChunkSource> Applier<'_, S> {
    /// Applies `plan`, computed against `destination` (this tree's manifest).
    pub async fn apply(
        &self,
        plan: &Plan,
        destination: &Manifest,
        origin: Origin,
    ) -> Result<ApplyOutcome> {
        let started = Instant::now();
        if !plan.refusals.is_empty() {
            return Err(EngineError::Refused(plan.refusals.clone()));
        }
        let id = journal::next_generation_id(self.layout);
        let staging_path = journal::staging_dir(self.layout, id);
        resume::prune_to(self.layout, plan);
        create_fresh_staging(&staging_path)?;
        let result = self.stage_and_commit(id, plan, destination, origin, started).await;
        match result {
            Ok(outcome) => {
                resume::clear(self.layout);
                Ok(outcome)
            }
            Err(error) => {
                // What was staged (verified or not) may spare the next attempt a refetch,
                // unless the space it takes is what the server is short of; the rest of
                // staging is only ever ours, and cleared at start as well.
                resume::keep_staged(self.layout, &self.layout.staging_dir());
                let _ = std::fs::remove_dir_all(&staging_path);
                let dropped = resume::keep_free(self.layout);
                Err(if dropped.files > 0 { with_note(error, &dropped.describe()) } else { error })
            }
        }
    }

    async fn stage_and_commit(
        &self,
        id: u64,
        plan: &Plan,
        destination: &Manifest,
        origin: Origin,
        started: Instant,
    ) -> Result<ApplyOutcome> {
        let staging_path = journal::staging_dir(self.layout, id);
        let staging = Dir::open_ambient_dir(&staging_path, ambient_authority())
            .map_err(EngineError::io("open", &staging_path))?;
        let mut phases = Phases::default();
        let mut clock = Instant::now();
        let staged = self.stage_all(plan, destination, &staging).await?;
        phases.transfer_ms = elapsed_ms(clock);
        clock = Instant::now();
        // Every staged file must be on disk before the journal that names them.
        crate::durable::flush_staged(&staging_path, self.flush)
            .map_err(EngineError::io("flush staged files to disk in", &staging_path))?;
        drop(staging);
        phases.flush_ms = elapsed_ms(clock);
        clock = Instant::now();

        // The destination's checks read the tree as the commit would leave it; one that
        // fails refuses the apply here, before anything is written.
        crate::checks::run(self.layout, plan, destination, &staging_path, id, self.checks).await?;
        self.progress.report(self.event(Phase::Committing, "", &staged.tracker));
        // Stamps first, then the rescan: an edit after the stamps shows in the rescan, an
        // edit after the rescan in the stamps, checked again as each entry is moved aside.
        let stamps = stamp_and_check(self.layout, plan)?;
        let folder_times = folder_times(self.layout, plan);
        self.check_unchanged(plan).await?;
        phases.check_ms = elapsed_ms(clock);
        if let Some(ms) = crate::failpoint::value(crate::failpoint::COMMIT_DELAY_MS) {
            tokio::time::sleep(Duration::from_millis(ms)).await;
        }
        clock = Instant::now();

        let changes = changes(plan);
        let record = GenerationRecord {
            id,
            started_at: SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
            source: origin.source,
            requested_by: origin.requested_by,
            categories: plan.categories.iter().map(|c| c.category).collect(),
            // Distinct paths that are (or become) no folder: what the preview counts too.
            files_changed: changes
                .iter()
                .filter(|c| {
                    [&c.before, &c.after]
                        .iter()
                        .any(|e| e.as_ref().is_some_and(|e| e.kind != EntryKind::Dir))
                })
                .count() as u64,
            bytes_received: staged.bytes_received,
            bytes_written: staged.bytes_written,
            rollback_of: origin.rollback_of,
            notices: origin.notices.clone(),
        };
        // Missing category folders are made only now: an apply that stops before its
        // commit leaves no trace, and one whose commit undoes itself removes them again.
        let mut created = Vec::new();
        for category in plan.categories.iter().filter(|c| !c.steps.is_empty()) {
            if self.layout.open_category(category.category)?.is_none() {
                self.layout.create_category(category.category)?;
                created.push(self.layout.root(category.category).to_path_buf());
            }
        }
        let journal = Journal {
            state: JournalState::Committing,
            record,
            ops: commit_ops(plan, &stamps),
            changes,
        };
        let layout = self.layout.clone();
        let files_changed = journal.record.files_changed;
        // Injected I/O errors (tests) count from here: the commit, its undo, what follows.
        crate::fault::arm();
        self.tree.changed_all();
        let committed = tokio::task::spawn_blocking(move || journal::commit(&layout, &journal))
            .await
            .map_err(|e| EngineError::State {
                path: self.layout.journal_path(),
                detail: format!("commit task failed: {e}"),
            })?;
        // Moving entries in and out of a folder moves its mtime; the plan's folders keep
        // theirs (an undone commit's too). Advisory: a folder left with a new mtime is a
        // metadata difference the next plan shows and fixes.
        if !matches!(committed, Err(CommitError::Stuck { .. })) {
            restore_folder_times(self.layout, &folder_times);
        }
        self.tree.changed_all();
        phases.commit_ms = elapsed_ms(clock);
        clock = Instant::now();
        let mut committed = match committed {
            Ok(committed) => committed,
            Err(CommitError::Undone(e)) => {
                for root in created {
                    // Only an empty folder goes; one that gained content is left as it is.
                    let _ = std::fs::remove_dir(root);
                }
                // A refusal says itself that nothing changed; a failure says so here.
                return Err(if e.is_refusal() { e } else { EngineError::Undone(Box::new(e)) });
            }
            Err(CommitError::Stuck { error, undo }) => {
                return Err(EngineError::CommitStuck {
                    error: Box::new(error),
                    undo: Box::new(undo),
                });
            }
        };
        self.remember_written(plan, &staged.learned);
        if let Err(e) = journal::prune(self.layout, self.keep_generations) {
            committed.warnings.push(format!("old generations could not be pruned ({e})"));
        }
        phases.finish_ms = elapsed_ms(clock);

        let outcome = ApplyOutcome {
            generation: id,
            files_changed,
            bytes_received: staged.bytes_received,
            bytes_written: staged.bytes_written,
            duration_ms: elapsed_ms(started),
            warnings: committed.warnings,
            phases,
            notices: origin.notices,
            hooks: Vec::new(),
            rolled_back_by: None,
            confirm_by: None,
        };
        self.progress.report(self.event(Phase::Done, "", &staged.tracker));
        Ok(outcome)
    }

    /// Tells the hash index the digests of the files the commit put in place (each was
    /// verified as it was staged), and the chunks of those staged by a delta, so that the
    /// next scan does not read them again, nor the next delta against them.
    fn remember_written(
        &self,
        plan: &Plan,
        learned: &HashMap<(Category, RelPath), Arc<ChunkList>>,
    ) {
        let mut index = self.tree.index();
        for (category, step) in plan.steps() {
            let Some(entry) = step.source.as_ref().filter(|e| e.kind == EntryKind::File) else {
                continue;
            };
            if !matches!(step.action, Action::Create | Action::Overwrite) {
                continue;
            }
            let full = self.layout.root(category).join(&step.path);
            // What the commit put there has the source's size and mtime; anything else was
            // written since, and is left to the next scan.
            if let Ok(meta) = std::fs::symlink_metadata(&full)
                && meta.is_file()
                && meta.len() == entry.size
                && FileStamp::of(&meta).mtime_ns == entry.mtime_ns
            {
                let key = scan::index_key(category, &step.path);
                match learned.get(&(category, step.path.clone())) {
                    Some(list) if list.digest == entry.digest => {
                        index.remember_chunks(key, FileStamp::of(&meta), Arc::clone(list));
                    }
                    _ => index.remember(key, FileStamp::of(&meta), entry.digest),
                }
            }
        }
        if let Err(e) = index.save() {
            tracing::warn!(error = %e, "could not save the hash index; the next scan hashes again");
        }
    }

    async fn stage_all(
        &self,
        plan: &Plan,
        destination: &Manifest,
        staging: &Dir,
    ) -> Result<StagedTotals> {
        let to_stage: Vec<(usize, Category, &Step)> = plan
            .steps()
            .enumerate()
            .filter(|(_, (_, s))| {
                matches!(s.action, Action::Create | Action::Overwrite)
                    && s.kind() != EntryKind::Dir
                    && !s.source.as_ref().is_some_and(|e| e.is_link())
            })
            .map(|(i, (c, s))| (i, c, s))
            .collect();
        let tracker = Tracker {
            bytes_total: plan.counts().bytes,
            files_total: to_stage.len() as u64,
            ..Tracker::default()
        };
        let local_by_digest: HashMap<Digest, (Category, crate::RelPath)> = destination
            .categories
            .values()
            .flat_map(|m| m.files().map(move |e| (e.digest, (m.category, e.path.clone()))))
            .collect();
        let flush_ahead = FlushAhead::new(&self.layout.staging_dir());
        let on_bytes = |n: u64| {
            tracker.bytes_done.fetch_add(n, Ordering::Relaxed);
            self.maybe_report(&tracker);
            flush_ahead.wrote(n);
            !self.progress.is_cancelled()
        };
        let resumable = resume::pieces(self.layout);
        let learned = Mutex::new(HashMap::new());
        let subtrees = Subtrees::of(plan);
        for folder in subtrees.folders(plan) {
            staging.create_dir_all(&folder).map_err(EngineError::io(
                "create staging folder",
                self.layout.staging_dir().join(&folder),
            ))?;
        }
        let ctx = StageContext {
            layout: self.layout,
            staging,
            source: self.source,
            local_by_digest: &local_by_digest,
            inline: &plan.merged,
            resumable: &resumable,
            tree: Some(self.tree),
            on_bytes: &on_bytes,
            mask: plan.mask,
        };
        self.progress.report(self.event(Phase::Transferring, "", &tracker));
        // Small files the destination does not hold travel in batches, one request each;
        // the rest one by one (local copies, deltas of large files, symlinks).
        let (batched, single): (Vec<_>, Vec<_>) = to_stage.into_iter().partition(|(_, c, step)| {
            step.source.as_ref().is_some_and(|e| {
                e.kind == EntryKind::File
                    && e.size <= WHOLE_FILE_LIMIT
                    && !local_by_digest.contains_key(&e.digest)
                    && !resumable.contains(&e.digest)
                    && !plan.merged.contains_key(&(*c, e.path.clone()))
            })
        });
        // The futures are built before streaming them (not in a stream's map closure), which
        // keeps their lifetimes concrete and the whole apply future Send.
        let mut jobs: Vec<BoxFuture<'_, Result<Vec<transfer::Staged>>>> = single
            .iter()
            .map(|(i, category, step)| {
                let at = subtrees.location(*i, *category, step);
                self.stage_one(&ctx, &tracker, at, *category, step)
                    .map_ok(|s| {
                        if let Some(list) = &s.chunks {
                            let mut learned = learned.lock().unwrap_or_else(|p| p.into_inner());
                            learned.insert((*category, step.path.clone()), Arc::clone(list));
                        }
                        vec![s]
                    })
                    .boxed()
            })
            .collect();
        for (category, batch) in batches(&batched) {
            let batch: Vec<(Staged, &Step)> =
                batch.into_iter().map(|(i, s)| (subtrees.location(i, category, s), s)).collect();
            jobs.push(self.stage_batch(&ctx, &tracker, category, batch).boxed());
        }
        let results: Vec<Vec<transfer::Staged>> =
            futures::stream::iter(jobs).buffer_unordered(FILES_IN_FLIGHT).try_collect().await?;
        flush_ahead
            .settle()
            .await
            .map_err(EngineError::io("flush staged files to disk in", self.layout.staging_dir()))?;
        let results: Vec<transfer::Staged> = results.into_iter().flatten().collect();
        if self.progress.is_cancelled() {
            return Err(EngineError::Cancelled("the transfer was stopped".into()));
        }
        let bytes_received = results.iter().map(|s| s.bytes_received).sum();
        let bytes_written = results.iter().map(|s| s.bytes_written).sum();
        let learned = learned.into_inner().unwrap_or_else(|p| p.into_inner());
        Ok(StagedTotals { tracker, bytes_received, bytes_written, learned })
    }

    async fn stage_one(
        &self,
        ctx: &StageContext<'_, S>,
        tracker: &Tracker,
        at: Staged,
        category: Category,
        step: &Step,
    ) -> Result<transfer::Staged> {
        let entry = step.source.as_ref().ok_or_else(|| EngineError::State {
            path: self.layout.journal_path(),
            detail: format!("step for {} has no source entry", step.path),
        })?;
        *tracker.current.lock().unwrap_or_else(|p| p.into_inner()) =
            format!("{category}/{}", step.path);
        let staged =
            transfer::stage_entry(ctx, category, entry, step.current.as_ref(), at.path()).await?;
        tracker.files_done.fetch_add(1, Ordering::Relaxed);
        Ok(staged)
    }

    async fn stage_batch(
        &self,
        ctx: &StageContext<'_, S>,
        tracker: &Tracker,
        category: Category,
        batch: Vec<(Staged, &Step)>,
    ) -> Result<Vec<transfer::Staged>> {
        let mut items = Vec::with_capacity(batch.len());
        for (at, step) in &batch {
            let entry = step.source.as_ref().ok_or_else(|| EngineError::State {
                path: self.layout.journal_path(),
                detail: format!("step for {} has no source entry", step.path),
            })?;
            items.push((at.path().to_string(), entry));
        }
        if let Some((_, first)) = batch.first() {
            *tracker.current.lock().unwrap_or_else(|p| p.into_inner()) =
                format!("{category}/{}", first.path);
        }
        let staged = transfer::stage_files(ctx, category, &items).await?;
        tracker.files_done.fetch_add(staged.len() as u64, Ordering::Relaxed);
        Ok(staged)
    }

    /// Refuses when any category differs from the plan's view. The live manifest answers
    /// for categories a watcher vouches for; the others are scanned again.
    async fn check_unchanged(&self, plan: &Plan) -> Result<()> {
        let categories: Vec<Category> = plan.categories.iter().map(|c| c.category).collect();
        let now = tokio::task::block_in_place(|| self.tree.scan(&categories))?;
        for category in &plan.categories {
            let current = now.get(category.category).map(|m| m.digest);
            if current != Some(category.destination_digest) {
                return Err(EngineError::changed_since_preview(
                    Some(category.destination_digest),
                    current.unwrap_or_default(),
                ));
            }
        }
        Ok(())
    }

    fn event(&self, phase: Phase, current: &str, t: &Tracker) -> ProgressEvent {
        ProgressEvent {
            phase,
            current_file: current.to_string(),
            bytes_done: t.bytes_done.load(Ordering::Relaxed),
            bytes_total: t.bytes_total,
            files_done: t.files_done.load(Ordering::Relaxed),
            files_total: t.files_total,
        }
    }

    fn maybe_report(&self, t: &Tracker) {
        let mut last = t.last_report.lock().unwrap_or_else(|p| p.into_inner());
        if last.is_some_and(|at| at.elapsed() < Duration::from_millis(100)) {
            return;
        }
        *last = Some(Instant::now());
        let current = t.current.lock().unwrap_or_else(|p| p.into_inner()).clone();
        self.progress.report(self.event(Phase::Transferring, &current, t));
    }
}

/// Starts writing staged data to disk while the transfer goes on, so that the flush
/// before the journal finds little left to write: a machine with plenty of memory would
/// otherwise hold the whole transfer in its page cache until that flush.
struct FlushAhead {
    folder: Option<std::sync::Arc<std::fs::File>>,
    since: AtomicU64,
    running: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// A write-back error seen here is reported to this descriptor only, not to the final
    /// flush's: it is kept, and fails the apply before its journal.
    failed: std::sync::Arc<Mutex<Option<std::io::Error>>>,
}

/// Bytes staged between two flushes ahead.
const FLUSH_AHEAD_BYTES: u64 = 64 << 20;

impl FlushAhead {
    fn new(staging: &std::path::Path) -> FlushAhead {
        FlushAhead {
            folder: std::fs::File::open(staging).ok().map(std::sync::Arc::new),
            since: AtomicU64::new(0),
            running: Default::default(),
            failed: Default::default(),
        }
    }

    /// Waits for a flush in flight, and returns the first error any flush met.
    async fn settle(&self) -> std::io::Result<()> {
        while self.running.load(Ordering::Acquire) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        match self.failed.lock().unwrap_or_else(|p| p.into_inner()).take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn wrote(&self, bytes: u64) {
        let Some(folder) = &self.folder else { return };
        if self.since.fetch_add(bytes, Ordering::Relaxed) + bytes < FLUSH_AHEAD_BYTES
            || self.running.swap(true, Ordering::AcqRel)
        {
            return;
        }
        self.since.store(0, Ordering::Relaxed);
        let (folder, running) =
            (std::sync::Arc::clone(folder), std::sync::Arc::clone(&self.running));
        // Advisory: durability comes from the flush before the journal, whatever this did.
        tokio::task::spawn_blocking(move || {
            let _ = rustix::fs::syncfs(&*folder);
            running.store(false, Ordering::Release);
        });
    }
}

#[derive(Default)]
struct Tracker {
    bytes_total: u64,
    files_total: u64,
    bytes_done: AtomicU64,
    files_done: AtomicU64,
    current: Mutex<String>,
    last_report: Mutex<Option<Instant>>,
}

struct StagedTotals {
    tracker: Tracker,
    bytes_received: u64,
    bytes_written: u64,
    /// Chunk lists of files staged by a delta, for the index once they are committed.
    learned: HashMap<(Category, RelPath), Arc<ChunkList>>,
}

/// Creates a generation's staging folder, which must not exist yet: anything already there
/// (a planted file or link) was not put there by this agent, and staging into it could
/// write through it.
fn create_fresh_staging(path: &std::path::Path) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(EngineError::io("create staging folder", parent))?;
    }
    match std::fs::create_dir(path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(EngineError::State {
            path: path.to_path_buf(),
            detail:
                "the staging folder of this generation already exists, so something other than \
                     this apply wrote in the state folder; nothing was changed. Inspect it, then \
                     restart the agent (which clears staging)"
                    .into(),
        }),
        other => other.map_err(EngineError::io("create staging folder", path)),
    }
}

/// Reads every path the plan touches once, now: refuses when one is not what the plan
/// saw (kind, mode, and for files size and mtime; nothing where it creates one), and
/// returns the stamps of the entries the commit moves aside (overwritten or deleted files
/// and symlinks), checked again as each is moved. This does not depend on the live
/// manifest, whose watcher can be blind (a network file system, a mount over a folder),
/// and costs what the plan is long.
fn stamp_and_check(layout: &Layout, plan: &Plan) -> Result<Stamps> {
    let replaced: std::collections::HashSet<(Category, &str)> = plan
        .steps()
        .filter(|(_, s)| s.action == Action::Delete)
        .map(|(c, s)| (c, s.path.as_str()))
        .collect();
    let mut dirs: HashMap<Category, Option<Dir>> = HashMap::new();
    let mut stamps = Stamps::new();
    for (category, step) in plan.steps() {
        let dir = match dirs.entry(category) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(layout.open_category(category)?)
            }
        };
        let now = match dir {
            Some(dir) => Stamp::read_in(dir, &step.path)
                .map_err(EngineError::io("inspect", layout.root(category).join(&step.path)))?,
            None => None,
        };
        let as_planned = match (&step.current, &now) {
            (None, None) => true,
            // A creation where the plan also removes what is there (a change of kind).
            (None, Some(_)) => replaced.contains(&(category, step.path.as_str())),
            (Some(_), None) => false,
            (Some(entry), Some(stamp)) => {
                stamp.kind == entry.kind
                    && stamp.mode & crate::entry::SYNCED_MODE_BITS == entry.mode
                    && (stamp.kind != EntryKind::File
                        || (stamp.size == entry.size && stamp.mtime_ns == entry.mtime_ns))
            }
        };
        if !as_planned {
            return Err(EngineError::refused(
                crate::refusal::RefusalKind::ChangedSincePreview,
                format!(
                    "{category}/{} changed since the preview; nothing was changed: run the diff \
                     again and review the new plan",
                    crate::path::shorten(step.path.as_str())
                ),
            ));
        }
        let moved_aside = matches!(step.action, Action::Overwrite | Action::Delete)
            && step.kind() != EntryKind::Dir;
        if moved_aside && let Some(stamp) = now {
            stamps.insert((category, step.path.clone()), stamp);
        }
    }
    Ok(stamps)
}

/// A folder of a category (`None`: the category's own) and its modification time.
type FolderTime = (Category, Option<RelPath>, i64);

/// The folders whose entries the commit adds or removes, and that keep their place and
/// their metadata (no step of the plan is about them), with their mtime now.
fn folder_times(layout: &Layout, plan: &Plan) -> Vec<FolderTime> {
    let stepped: std::collections::HashSet<(Category, &RelPath)> =
        plan.steps().map(|(c, s)| (c, &s.path)).collect();
    let mut folders = std::collections::BTreeSet::new();
    for (category, step) in plan.steps().filter(|(_, s)| s.action != Action::Attrs) {
        let parent = step.path.parent();
        if parent.as_ref().is_none_or(|p| !stepped.contains(&(category, p))) {
            folders.insert((category, parent));
        }
    }
    folders
        .into_iter()
        .filter_map(|(category, path)| {
            let full = match &path {
                Some(p) => layout.root(category).join(p),
                None => layout.root(category).to_path_buf(),
            };
            let meta = std::fs::symlink_metadata(full).ok().filter(|m| m.is_dir())?;
            Some((category, path, FileStamp::of(&meta).mtime_ns))
        })
        .collect()
}

fn restore_folder_times(layout: &Layout, folders: &[FolderTime]) {
    for (category, path, mtime_ns) in folders {
        let Ok(Some(dir)) = layout.open_category(*category) else { continue };
        let rel = path.as_ref().map_or(std::path::Path::new(""), |p| p.as_ref());
        if let Err(e) = crate::attrs::set_mtime(&dir, rel, *mtime_ns) {
            tracing::warn!(%category, path = ?path, error = %e, "could not restore a folder's mtime");
        }
    }
}

/// The stamps of the entries a commit moves aside, as they were just before it.
pub type Stamps = HashMap<(Category, crate::RelPath), Stamp>;

/// Orders a plan's steps into commit operations: removals (contents before their
/// folders), then new folders (parents first), then new subtrees, then files and
/// symlinks, then hard links to those, then metadata (children first; a folder's mtime last of all in it). What is staged where is [`Subtrees::location`]'s, as staged by
/// [`Applier::stage_all`]; what a subtree's move brings has no operation of its own.
pub fn commit_ops(plan: &Plan, stamps: &Stamps) -> Vec<Op> {
    let subtrees = Subtrees::of(plan);
    let mut removals = Vec::new();
    let mut dir_removals = Vec::new();
    let mut dirs = Vec::new();
    let mut trees = Vec::new();
    let mut puts = Vec::new();
    let mut links = Vec::new();
    let mut modes = Vec::new();
    for (i, (category, step)) in plan.steps().enumerate() {
        let path = step.path.clone();
        match (step.action, step.kind()) {
            (Action::Delete, EntryKind::Dir) => {
                let mode = step.current.as_ref().map_or(0o755, |e| e.mode);
                dir_removals.push(Op::RemoveDir { category, path, mode });
            }
            (Action::Delete, _) => {
                let expect = stamps.get(&(category, path.clone())).copied();
                removals.push(Op::Remove { category, path, expect });
            }
            (Action::Create, EntryKind::Dir) => {
                if let Some(entry) = &step.source {
                    let to = Meta::of(entry, plan.mask);
                    modes.push(Op::DirMeta { category, path: path.clone(), to });
                }
                if let Some(staged) = subtrees.root_name(category, &path) {
                    trees.push(Op::PutTree { category, path, staged });
                } else if !subtrees.makes(category, &path) {
                    dirs.push(Op::MakeDir { category, path });
                }
            }
            (Action::Create | Action::Overwrite, EntryKind::File)
                if let Some(first) = step.source.as_ref().and_then(|e| e.hardlink.clone()) =>
            {
                // Another name of a file put in place before: linked, never staged.
                let replaces = step.action == Action::Overwrite;
                let expect =
                    replaces.then(|| stamps.get(&(category, path.clone())).copied()).flatten();
                links.push(Op::Link { category, path, first, replaces, expect });
            }
            (Action::Create | Action::Overwrite, _) => {
                let Staged::Alone(staged) = subtrees.location(i, category, step) else {
                    continue;
                };
                let replaces = step.action == Action::Overwrite;
                let expect =
                    replaces.then(|| stamps.get(&(category, path.clone())).copied()).flatten();
                puts.push(Op::Put { category, path, staged, replaces, expect });
            }
            (Action::Attrs, _) => {
                if let (Some(before), Some(after)) = (&step.current, &step.source) {
                    let (from, to) = (Meta::of(before, plan.mask), Meta::of(after, plan.mask));
                    modes.push(Op::SetMeta { category, path, from, to });
                }
            }
        }
    }
    // Deepest first, so a folder is empty when its turn comes.
    dir_removals.sort_by(|a, b| op_path(b).cmp(&op_path(a)));
    // Parents first; children sort after their parent.
    dirs.sort_by(|a, b| op_path(a).cmp(&op_path(b)));
    // Children's first, so a read-only parent is set last, and a folder's mtime after
    // everything inside it moved.
    modes.sort_by(|a, b| op_path(b).cmp(&op_path(a)));
    removals
        .into_iter()
        .chain(dir_removals)
        .chain(dirs)
        .chain(trees)
        .chain(puts)
        .chain(links)
        .chain(modes)
        .collect()
}

/// Every path `plan` changes, with the entry before and after; a change of kind (a
/// deletion and a creation at one path) is one change.
pub fn changes(plan: &Plan) -> Vec<Change> {
    let mut all: Vec<Change> = plan
        .steps()
        .map(|(category, step)| Change {
            category,
            path: step.path.clone(),
            before: step.current.clone(),
            after: step.source.clone(),
        })
        .collect();
    // By path, the steps of one path staying in plan order (a stable sort), merged in
    // place: the first state before, the last after. A map of 100,000 changes would cost
    // twice the memory.
    all.sort_by(|a, b| (a.category, a.path.as_str()).cmp(&(b.category, b.path.as_str())));
    all.dedup_by(|later, kept| {
        let same = later.category == kept.category && later.path == kept.path;
        if same {
            kept.before = kept.before.take().or(later.before.take());
            kept.after = later.after.take().or_else(|| kept.after.take());
        }
        same
    });
    all
}

/// Files and bytes in one batch request: small enough to keep several in flight.
const BATCH_FILES: usize = 256;
const BATCH_BYTES: u64 = 8 << 20;

/// Groups small files by category into batches of at most [`BATCH_FILES`] files and
/// [`BATCH_BYTES`] bytes, keeping plan order.
fn batches<'a>(files: &[(usize, Category, &'a Step)]) -> Vec<(Category, Vec<(usize, &'a Step)>)> {
    let mut out: Vec<(Category, Vec<(usize, &'a Step)>)> = Vec::new();
    let mut bytes = 0;
    for &(index, category, step) in files {
        let size = step.bytes();
        let fits = out.last().is_some_and(|(c, batch)| {
            *c == category && batch.len() < BATCH_FILES && bytes + size <= BATCH_BYTES
        });
        if fits {
            bytes += size;
            if let Some((_, batch)) = out.last_mut() {
                batch.push((index, step));
            }
        } else {
            bytes = size;
            out.push((category, vec![(index, step)]));
        }
    }
    out
}

pub use resume::staged_name;

/// `error` with `note` added where its reader sees it (an I/O error's message keeps its
/// kind); other errors are returned as they are, the note being logged already.
fn with_note(error: EngineError, note: &str) -> EngineError {
    match error {
        EngineError::Io { op, path, source } => {
            let source = std::io::Error::new(source.kind(), format!("{source}; {note}"));
            EngineError::Io { op, path, source }
        }
        EngineError::Undone(inner) => EngineError::Undone(Box::new(with_note(*inner, note))),
        other => other,
    }
}

fn op_path(op: &Op) -> (Category, &str) {
    let (category, path) = op.target();
    (category, path.as_str())
}
