//! The plan: what a destination must do to equal its source, as a pure function of two
//! manifests and the guards. No I/O here, so every rule is unit-tested directly.
//!
//! Every step records the destination entry it expects to find, and the plan has a digest
//! over all steps and both sides' category digests. The destination recomputes the plan
//! when asked to apply and refuses when the digest differs from the one the administrator
//! reviewed: what was confirmed is exactly what is applied.

use std::cmp::Ordering;

use crate::attrs::Mask;
use crate::category::Category;
use crate::entry::{Digest, Entry, EntryKind};
use crate::manifest::{CategoryManifest, Manifest};
use crate::path::RelPath;
use crate::refusal::{Refusal, RefusalKind};
use crate::rules::Rules;

mod keep;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Overwrite,
    Delete,
    /// Only metadata differs (mode, mtime, owner, group, extended attributes): set in
    /// place, no content moves.
    Attrs,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub action: Action,
    pub path: RelPath,
    /// The entry the source has (every action but Delete).
    pub source: Option<Entry>,
    /// The entry the destination has now (every action but Create).
    pub current: Option<Entry>,
    /// The source's copy is older than the destination's: by the last-sync record when
    /// the category has one, else by modification time.
    pub downgrade: bool,
    /// The destination's entry was changed (or created) on that server since its last
    /// sync: overwriting or deleting it loses a local edit ([`crate::last_sync`]).
    pub local_edit: bool,
    /// A shared file with device-specific keys: the destination keeps its values for
    /// these, and `source` is the merged file ([`crate::merging`]).
    pub kept_keys: Vec<String>,
    /// What changes, key by key or record by record, when asked for (display only).
    pub semantic: Vec<String>,
}

impl Step {
    /// The entry this step is about: the source's, or for a deletion the destination's.
    pub fn entry(&self) -> Option<&Entry> {
        self.source.as_ref().or(self.current.as_ref())
    }

    pub fn kind(&self) -> EntryKind {
        self.entry().map_or(EntryKind::File, |e| e.kind)
    }

    /// Bytes of file content this step brings from the source (none for a hard link: its
    /// content arrives once, with the first of its names).
    pub fn bytes(&self) -> u64 {
        match (&self.action, &self.source) {
            (Action::Create | Action::Overwrite, Some(e))
                if e.kind == EntryKind::File && !e.is_link() =>
            {
                e.size
            }
            _ => 0,
        }
    }
}

/// Counts an administrator reads in a summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub created: u64,
    pub overwritten: u64,
    pub deleted: u64,
    /// Entries whose metadata alone changes.
    pub attrs: u64,
    pub bytes: u64,
}

impl Counts {
    pub fn total(&self) -> u64 {
        self.created + self.overwritten + self.deleted + self.attrs
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryPlan {
    pub category: Category,
    pub steps: Vec<Step>,
    pub source_digest: Digest,
    pub destination_digest: Digest,
    /// Entries the destination holds in this category now.
    pub destination_entries: u64,
    /// What device-specific rules (or the scan's limits) keep out of the plan.
    pub kept: Vec<Kept>,
}

/// An entry the plan leaves alone, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kept {
    pub path: RelPath,
    pub kind: EntryKind,
    pub why: KeptBy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeptBy {
    /// A path rule (the pattern as written, and whose rule it is).
    Rule { pattern: String, origin: crate::rules::Origin },
    /// An entry this server has and confsync cannot manage (what it is).
    Unmanaged(String),
    /// A folder that holds kept entries, so it is not removed.
    HoldsKept,
    /// A shared file that differs only in its device-specific keys.
    KeysOnly(Vec<String>),
    /// A shared file under a key rule that could not be merged (why); left as it is.
    Unmergeable(String),
    /// Held by the source and not carried, by the source or by this destination (what it
    /// is, and the setting that changes it).
    Skipped(String),
}

impl KeptBy {
    /// How plans word it.
    pub fn describe(&self) -> String {
        match self {
            KeptBy::Rule { pattern, origin } => {
                format!("device-specific: {pattern}, {origin} rule")
            }
            KeptBy::Unmanaged(what) => format!("{what}, which confsync does not manage"),
            KeptBy::HoldsKept => "holds device-specific entries".to_string(),
            KeptBy::KeysOnly(keys) => format!("differs only in its own {}", keys.join(", ")),
            KeptBy::Unmergeable(why) => format!("cannot be merged, left as it is: {why}"),
            KeptBy::Skipped(what) => format!("skipped: {what}"),
        }
    }
}

impl CategoryPlan {
    pub fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for step in &self.steps {
            match step.action {
                Action::Create => counts.created += 1,
                Action::Overwrite => counts.overwritten += 1,
                Action::Delete => counts.deleted += 1,
                Action::Attrs => counts.attrs += 1,
            }
            counts.bytes += step.bytes();
        }
        counts
    }
}

/// Safety guards applied while planning.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Guards {
    /// Refuse deleting more than this percentage of a category's entries.
    pub max_delete_percent: Option<u32>,
    /// Allow an empty source category to empty a non-empty destination category.
    pub allow_empty_source: bool,
    /// Refuse a plan that overwrites a file with an older copy.
    pub refuse_downgrade: bool,
    /// Refuse a plan that overwrites or deletes what was changed on the destination since
    /// its last sync.
    pub refuse_local_edits: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub categories: Vec<CategoryPlan>,
    pub digest: Digest,
    pub warnings: Vec<String>,
    /// Why this plan may not be applied (guards, protection, hold); apply is refused while
    /// any stand.
    pub refusals: Vec<Refusal>,
    /// The merged content of files under key rules, by path: what staging writes.
    pub merged: std::collections::BTreeMap<(Category, RelPath), std::sync::Arc<Vec<u8>>>,
    /// The rules the plan was made with, as [`Rules::fingerprint`] gives them.
    pub rules: String,
    /// This destination's part of a two-way sync, when it is one.
    pub two_way: Option<crate::two_way::part::TwoWayPlan>,
    /// What of the entries' attributes this destination leaves as they are (it cannot
    /// set them, or keeps them as its own): neither compared nor set.
    pub mask: Mask,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.categories.iter().all(|c| c.steps.is_empty())
    }

    pub fn counts(&self) -> Counts {
        let mut total = Counts::default();
        for c in self.categories.iter().map(CategoryPlan::counts) {
            total.created += c.created;
            total.overwritten += c.overwritten;
            total.deleted += c.deleted;
            total.attrs += c.attrs;
            total.bytes += c.bytes;
        }
        total
    }

    pub fn steps(&self) -> impl Iterator<Item = (Category, &Step)> {
        self.categories.iter().flat_map(|c| c.steps.iter().map(move |s| (c.category, s)))
    }

    /// Per category, a warning naming the files a sync would downgrade and those it
    /// would take from a local edit; computed from the steps, so always current.
    pub fn overwrite_warnings(&self) -> Vec<String> {
        let mut warnings = Vec::new();
        for c in &self.categories {
            let category = c.category;
            let (n, list) = flagged(c, |s| s.local_edit);
            if n > 0 {
                warnings.push(format!(
                    "{n} {} in {category} changed on the destination since its last sync; this \
                     sync replaces {}: {list}",
                    files(n),
                    if n == 1 { "it" } else { "them" }
                ));
            }
            let (n, list) = flagged(c, |s| s.downgrade);
            if n > 0 {
                warnings.push(format!(
                    "{n} {} in {category} {} older on the source than on the destination \
                     (downgrade): {list}",
                    files(n),
                    if n == 1 { "is" } else { "are" }
                ));
            }
        }
        warnings
    }

    /// The refusals `--refuse-downgrade` and `--refuse-local-edits` ask for.
    pub fn overwrite_refusals(&self, guards: &Guards) -> Vec<Refusal> {
        let mut refusals = Vec::new();
        for c in &self.categories {
            let category = c.category;
            let (n, list) = flagged(c, |s| s.local_edit);
            if guards.refuse_local_edits && n > 0 {
                refusals.push(Refusal::new(
                    RefusalKind::LocalEdits,
                    format!(
                        "refused by --refuse-local-edits: {n} {} in {category} changed on the \
                         destination since its last sync ({list}); bring the change to the source \
                         first, or sync without --refuse-local-edits to replace {}",
                        files(n),
                        if n == 1 { "it" } else { "them" }
                    ),
                ));
            }
            let (n, list) = flagged(c, |s| s.downgrade);
            if guards.refuse_downgrade && n > 0 {
                refusals.push(Refusal::new(
                    RefusalKind::Downgrade,
                    format!(
                        "refused by --refuse-downgrade: the source's copy of {n} {} in {category} \
                         is older than the destination's ({list}); update the source, or sync \
                         without --refuse-downgrade to go back",
                        files(n)
                    ),
                ));
            }
        }
        refusals
    }
}

/// Plans every category of `source` against the same category of `destination`.
pub fn plan(source: &Manifest, destination: &Manifest, guards: &Guards) -> Plan {
    plan_with(source, destination, guards, &Rules::default())
}

/// [`plan`], leaving alone what `rules` keep and what this tree holds that confsync
/// cannot manage, and marking the shared files whose keys are merged.
pub fn plan_with(
    source: &Manifest,
    destination: &Manifest,
    guards: &Guards,
    rules: &Rules,
) -> Plan {
    let mut categories = Vec::new();
    let mut warnings = Vec::new();
    let mut refusals = Vec::new();
    for (category, src) in &source.categories {
        let empty = CategoryManifest::new(*category, Vec::new());
        let dst = destination.get(*category).unwrap_or(&empty);
        let kept_for = |path: &RelPath| rules.kept_attrs(*category, path);
        let mut category_plan = plan_category(src, dst, rules.mask, &kept_for);
        keep::apply(&mut category_plan, dst, rules, &mut warnings);
        keep::skipped_by_source(&mut category_plan, src);
        keep::confined_symlinks(&mut category_plan, rules);
        keep::links_to_what_is_kept(&mut category_plan);
        ownership(&category_plan, rules, &mut warnings, &mut refusals);
        check_guards(&category_plan, src, guards, &mut refusals);
        categories.push(category_plan);
    }
    let mut plan = Plan {
        categories,
        digest: Digest::ZERO,
        warnings,
        refusals,
        merged: Default::default(),
        rules: rules.fingerprint(),
        two_way: None,
        mask: rules.mask,
    };
    plan.reseal();
    plan
}

/// Where this agent cannot set owners ([`Rules::unprivileged`]): says once per category
/// how many entries keep this server's owner instead of the source's, and refuses to
/// replace a file another user owns here, which would leave it owned by the agent.
fn ownership(
    plan: &CategoryPlan,
    rules: &Rules,
    warnings: &mut Vec<String>,
    refusals: &mut Vec<Refusal>,
) {
    let Some(agent) = rules.unprivileged else { return };
    let owner = |e: &Entry| e.attrs.as_ref().map(|a| (a.owner_name(), a.uid));
    let mut differ = 0usize;
    let mut taken: Vec<&str> = Vec::new();
    for step in &plan.steps {
        let (want, have) =
            (step.source.as_ref().and_then(owner), step.current.as_ref().and_then(owner));
        let lands_as = match step.action {
            Action::Create => Some(agent),
            Action::Overwrite if step.kind() != EntryKind::Dir => {
                if have.as_ref().is_some_and(|(_, uid)| *uid != agent) {
                    taken.push(step.path.as_str());
                }
                Some(agent)
            }
            _ => have.as_ref().map(|(_, uid)| *uid),
        };
        if let (Some((_, want)), Some(lands)) = (&want, lands_as)
            && *want != lands
        {
            differ += 1;
        }
    }
    let category = plan.category;
    if differ > 0 {
        warnings.push(format!(
            "owner kept in {category}: the agent is not root (nor has CAP_CHOWN), so {differ} \
             {} keep this server's owner instead of the source's; run the agent as root, or \
             grant it CAP_CHOWN, to carry owners",
            if differ == 1 { "entry" } else { "entries" }
        ));
    }
    if !taken.is_empty() {
        refusals.push(Refusal::new(
            RefusalKind::Ownership,
            format!(
                "{} {} in {category} owned by another user here would become the agent's own \
                 (the agent is not root and cannot set owners): {}; nothing was changed. Run \
                 the agent as root or grant it CAP_CHOWN",
                taken.len(),
                files(taken.len()),
                abbreviate(&taken, 5)
            ),
        ));
    }
}

/// Diffs one category. `agent` is what this destination's agent leaves out of every
/// comparison; `kept_for` what attribute rules keep of a path, which a step then brings as
/// the destination has it.
fn plan_category(
    src: &CategoryManifest,
    dst: &CategoryManifest,
    agent: Mask,
    kept_for: &dyn Fn(&RelPath) -> Mask,
) -> CategoryPlan {
    // Counted first, then built at its exact size: a vector grown by doubling would hold
    // up to twice the memory of a plan of 100,000 steps.
    let mut count = 0;
    let kept = |a: Option<&Entry>, b: Option<&Entry>| {
        a.or(b).map_or(Mask::default(), |e| kept_for(&e.path))
    };
    let mask = |a: Option<&Entry>, b: Option<&Entry>| {
        let mut mask = agent;
        mask.union(kept(a, b));
        mask
    };
    pair_up(src, dst, |a, b| count += difference(a, b, mask(a, b)).steps());
    let mut steps = Vec::with_capacity(count);
    pair_up(src, dst, |a, b| match (difference(a, b, mask(a, b)), a, b) {
        (Difference::Created, Some(a), _) => steps.push(step(Action::Create, Some(a), None)),
        (Difference::Deleted, _, Some(b)) => steps.push(step(Action::Delete, None, Some(b))),
        (Difference::Kind, Some(a), Some(b)) => {
            // A change of kind is a deletion followed by a creation at the same path.
            steps.push(step(Action::Delete, None, Some(b)));
            steps.push(step(Action::Create, Some(a), None));
        }
        (Difference::Content, Some(a), Some(b)) => {
            let mut overwrite = step(Action::Overwrite, Some(a), Some(b));
            overwrite.downgrade = a.kind == EntryKind::File && b.mtime_ns > a.mtime_ns;
            keep_own_attrs(&mut overwrite, kept(Some(a), Some(b)));
            steps.push(overwrite);
        }
        (Difference::Attrs, Some(a), Some(b)) => {
            let mut attrs = step(Action::Attrs, Some(a), Some(b));
            keep_own_attrs(&mut attrs, kept(Some(a), Some(b)));
            steps.push(attrs);
        }
        _ => {}
    });
    CategoryPlan {
        category: src.category,
        steps,
        source_digest: src.digest,
        destination_digest: dst.digest,
        destination_entries: dst.entries.len() as u64,
        kept: Vec::new(),
    }
}

/// What an attribute rule keeps of the destination's attributes stays as the destination
/// has it: the step brings those of the current entry.
fn keep_own_attrs(step: &mut Step, mask: Mask) {
    if mask == Mask::default() {
        return;
    }
    let (Some(source), Some(current)) = (step.source.as_mut(), step.current.as_ref()) else {
        return;
    };
    if let (Some(theirs), Some(ours)) = (&source.attrs, &current.attrs) {
        source.attrs = Some(std::sync::Arc::new(mask.keep_from(theirs, ours)));
    }
}

/// Walks both sorted manifests together, calling `each` once per path with the source's
/// and the destination's entry there.
fn pair_up<'a>(
    src: &'a CategoryManifest,
    dst: &'a CategoryManifest,
    mut each: impl FnMut(Option<&'a Entry>, Option<&'a Entry>),
) {
    let (mut s, mut d) = (src.entries.iter().peekable(), dst.entries.iter().peekable());
    loop {
        let order = match (s.peek(), d.peek()) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(a), Some(b)) => a.path.cmp(&b.path),
        };
        match order {
            Ordering::Less => each(s.next(), None),
            Ordering::Greater => each(None, d.next()),
            Ordering::Equal => each(s.next(), d.next()),
        }
    }
}

/// How the entries at one path differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Difference {
    Same,
    Created,
    Deleted,
    Kind,
    Content,
    /// Metadata alone: mode, mtime, owner, group, extended attributes.
    Attrs,
}

impl Difference {
    fn steps(self) -> usize {
        match self {
            Difference::Same => 0,
            Difference::Kind => 2,
            _ => 1,
        }
    }
}

fn difference(src: Option<&Entry>, dst: Option<&Entry>, mask: Mask) -> Difference {
    match (src, dst) {
        (None, None) => Difference::Same,
        (Some(_), None) => Difference::Created,
        (None, Some(_)) => Difference::Deleted,
        (Some(a), Some(b)) if a.kind != b.kind => Difference::Kind,
        (Some(a), Some(b)) if a.digest != b.digest || a.hardlink != b.hardlink => {
            Difference::Content
        }
        (Some(a), Some(b)) if a.meta_differs(b, mask) => Difference::Attrs,
        _ => Difference::Same,
    }
}

fn step(action: Action, source: Option<&Entry>, current: Option<&Entry>) -> Step {
    let path = match (source, current) {
        (Some(e), _) | (None, Some(e)) => e.path.clone(),
        (None, None) => unreachable!("a step is about at least one entry"),
    };
    Step {
        action,
        path,
        source: source.cloned(),
        current: current.cloned(),
        downgrade: false,
        local_edit: false,
        kept_keys: Vec::new(),
        semantic: Vec::new(),
    }
}

fn check_guards(
    plan: &CategoryPlan,
    src: &CategoryManifest,
    guards: &Guards,
    refusals: &mut Vec<Refusal>,
) {
    let category = plan.category;
    let deletes = plan.steps.iter().any(|s| s.action == Action::Delete);
    if src.entries.is_empty()
        && plan.destination_entries > 0
        && deletes
        && !guards.allow_empty_source
    {
        refusals.push(Refusal::new(
            RefusalKind::EmptySource,
            format!(
                "refused by a safety guard: the source's {category} is empty while the destination \
                 holds {} entries there; a wiped source must not wipe its backups (override: \
                 --allow-empty-source)",
                plan.destination_entries
            ),
        ));
        return;
    }
    if let Some(limit) = guards.max_delete_percent {
        let deleted = plan.steps.iter().filter(|s| s.action == Action::Delete).count() as u64;
        if plan.destination_entries > 0
            && deleted * 100 > u64::from(limit) * plan.destination_entries
        {
            refusals.push(Refusal::new(
                RefusalKind::MaxDelete,
                format!(
                    "refused by a safety guard: the plan deletes {deleted} of {} entries in \
                     {category} ({}%), over the limit of {limit}% (override: --max-delete 100)",
                    plan.destination_entries,
                    deleted * 100 / plan.destination_entries
                ),
            ));
        }
    }
}

impl Plan {
    /// Computes the digest again, after the plan's content changed (merged files, kept
    /// items): it covers every step, what each brings, what is kept, and the rules.
    pub fn reseal(&mut self) {
        self.digest = plan_digest(self);
    }

    /// The guards' refusals for the plan as it stands now, in place of those it was made
    /// with: a two-way part counts only the deletions it keeps.
    pub fn guard_again(&mut self, source: &Manifest, guards: &Guards) {
        let guard_kinds = [RefusalKind::EmptySource, RefusalKind::MaxDelete];
        self.refusals.retain(|r| !guard_kinds.contains(&r.kind));
        let empty = CategoryManifest::new(Category::Config, Vec::new());
        for c in &self.categories {
            let src = source.get(c.category).unwrap_or(&empty);
            check_guards(c, src, guards, &mut self.refusals);
        }
    }
}

fn plan_digest(plan: &Plan) -> Digest {
    let mut hasher = blake3::Hasher::new();
    hasher.update(b"confsync-plan-v3\0");
    hasher.update(plan.rules.as_bytes());
    hasher.update(&[0]);
    // The part of a two-way sync that takes what the other side decided is pinned by its
    // steps alone: the other side's tree changes when its own part commits first.
    let takes = plan.two_way.as_ref().is_some_and(|t| t.role == crate::two_way::part::Role::Takes);
    if let Some(two_way) = &plan.two_way {
        two_way.hash_into(&mut hasher);
    }
    for c in &plan.categories {
        for kept in &c.kept {
            hasher.update(b"kept\0");
            hasher.update(kept.path.as_str().as_bytes());
            hasher.update(kept.why.describe().as_bytes());
            hasher.update(&[0]);
        }
        hasher.update(c.category.name().as_bytes());
        if !takes {
            hasher.update(&c.source_digest.0);
        }
        hasher.update(&c.destination_digest.0);
        for s in &c.steps {
            hasher.update(&[s.action as u8]);
            hasher.update(s.path.as_str().as_bytes());
            hasher.update(&[0]);
            for key in &s.kept_keys {
                hasher.update(key.as_bytes());
                hasher.update(&[0]);
            }
            for entry in [&s.source, &s.current] {
                match entry {
                    Some(e) => {
                        hasher.update(&[1, e.kind as u8]);
                        hasher.update(&e.digest.0);
                        e.hash_meta(&mut hasher);
                    }
                    None => {
                        hasher.update(&[0]);
                    }
                }
            }
        }
    }
    hasher.finalize().into()
}

fn flagged(c: &CategoryPlan, flag: impl Fn(&Step) -> bool) -> (usize, String) {
    let paths: Vec<&str> = c.steps.iter().filter(|s| flag(s)).map(|s| s.path.as_str()).collect();
    (paths.len(), abbreviate(&paths, 5))
}

fn files(n: usize) -> &'static str {
    if n == 1 { "file" } else { "files" }
}

/// `a, b, c and 7 more`.
pub fn abbreviate(items: &[&str], keep: usize) -> String {
    if items.len() <= keep {
        return items.join(", ");
    }
    format!("{} and {} more", items[..keep].join(", "), items.len() - keep)
}

#[cfg(test)]
mod tests;
