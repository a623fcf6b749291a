//! Two-way synchronization: the two servers are peers, and what changed on either since
//! their last two-way sync (each side's [`pair`](crate::pair) base) goes to the other.
//!
//! One side decides both directions, the destination of the request (the *deciding*
//! side): it plans one way against the other side as usual, so that equality means
//! exactly what it means for a one-way sync (device-specific items, merged keys and kept
//! entries included), then sorts every differing path by where it changed:
//!
//! - changed only on the source: the destination takes it (the step stays);
//! - changed only on the destination: the source takes it (the path is *given*: the
//!   other side plans it one way against this one, restricted to the given paths);
//! - changed on both: a conflict, decided by the policy (newest by default, with the
//!   peer's modification times corrected by the clock offset measured at `Hello`, and
//!   refused when the clocks disagree by more than the limit); a modification always wins
//!   over a deletion, whatever the policy;
//! - a deletion goes across only when the other side did not change the entry;
//! - no common base (never synchronized both ways, or the two sides' records are of
//!   different runs): additions flow, and differing files are conflicts. Nothing is
//!   deleted.
//!
//! The losing version of a conflict is replaced like any overwritten entry: it is kept
//! in that side's generation, and can be rolled back alone. A folder one side deletes
//! stays when something inside it stays.

use std::collections::{BTreeMap, BTreeSet};

use crate::category::Category;
use crate::entry::{Entry, EntryKind};
use crate::pair::SideChanges;
use crate::path::RelPath;
use crate::plan::{Plan, Step};
use crate::refusal::{Refusal, RefusalKind};

pub mod part;

pub use part::{Conflict, How, Role, Side, TwoWayPlan, Version};

/// How a conflict (a path changed on both sides) is decided.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ConflictPolicy {
    /// The most recent modification wins.
    #[default]
    Newest,
    /// The `--from` server's version wins.
    Source,
    /// The `--to` server's version wins.
    Destination,
    /// Each conflict is decided by the administrator (the wizard asks).
    Ask,
}

impl ConflictPolicy {
    pub fn name(self) -> &'static str {
        match self {
            ConflictPolicy::Newest => "newest",
            ConflictPolicy::Source => "source",
            ConflictPolicy::Destination => "destination",
            ConflictPolicy::Ask => "ask",
        }
    }
}

/// The two-way part of a plan request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TwoWay {
    /// This destination decides both directions for these categories.
    Decide(Decide),
    /// This server takes exactly these paths from the other one (which decided).
    Take(Take),
}

impl TwoWay {
    pub fn run(&self) -> &str {
        match self {
            TwoWay::Decide(d) => &d.run,
            TwoWay::Take(t) => &t.run,
        }
    }

    pub fn categories(&self) -> &[Category] {
        match self {
            TwoWay::Decide(d) => &d.categories,
            TwoWay::Take(t) => &t.categories,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decide {
    /// The categories synchronized both ways; the request's others go one way.
    pub categories: Vec<Category>,
    pub policy: ConflictPolicy,
    /// The administrator's answers to conflicts (policy `ask`), by path.
    pub choices: Vec<Choice>,
    /// Clocks further apart than this are not trusted to decide conflicts.
    pub max_skew_ms: u64,
    /// Names the run: both sides' bases of one run carry it.
    pub run: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Choice {
    pub category: Category,
    pub path: RelPath,
    pub winner: Side,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Take {
    pub categories: Vec<Category>,
    /// The paths this server takes from the other, per category.
    pub paths: BTreeMap<Category, Vec<RelPath>>,
    pub run: String,
}

/// The inputs of the decision besides the one-way plan.
pub struct Inputs<'a> {
    pub decide: &'a Decide,
    pub source: &'a SideChanges,
    pub destination: &'a SideChanges,
    /// The source's clock minus this one's, measured at `Hello`.
    pub clock_offset_ms: Option<i64>,
    pub peer: &'a str,
}

/// Where one differing path goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    /// The destination takes the source's version.
    Take,
    /// The source takes the destination's version.
    Give,
    /// Undecided: nothing happens at this path.
    Stay,
}

/// Turns `plan` (one way, from the source to this destination) into this destination's
/// part of a two-way sync: it keeps the steps this side takes, and records what the
/// source takes from it and every conflict. Categories outside the two-way ones are left
/// as they are (one way).
pub fn decide(plan: &mut Plan, inputs: &Inputs) -> TwoWayPlan {
    let decide = inputs.decide;
    let based = inputs.source.run.is_some() && inputs.source.run == inputs.destination.run;
    let mut first = false;
    let skew_too_large =
        inputs.clock_offset_ms.is_some_and(|offset| offset.unsigned_abs() > decide.max_skew_ms);
    let choices: BTreeMap<(Category, &RelPath), Side> =
        decide.choices.iter().map(|c| ((c.category, &c.path), c.winner)).collect();
    let mut give = BTreeMap::new();
    let mut conflicts = Vec::new();
    for category_plan in &mut plan.categories {
        let category = category_plan.category;
        if !decide.categories.contains(&category) {
            continue;
        }
        // A category new to the pair's two-way set has no base yet, even in a pair that has.
        let first_here =
            !based || !inputs.source.covers(category) || !inputs.destination.covers(category);
        first |= first_here;
        let mut flows: BTreeMap<String, (Flow, Option<Conflict>, Sides)> = BTreeMap::new();
        for step in &category_plan.steps {
            let sides = flows.entry(step.path.as_str().to_string()).or_insert((
                Flow::Stay,
                None,
                Sides::default(),
            ));
            sides.2.add(step);
        }
        for (path, (flow, conflict, sides)) in &mut flows {
            let Ok(path) = RelPath::new(path) else { continue };
            let context = Context {
                category,
                path: &path,
                first: first_here,
                skew_too_large,
                offset_ns: inputs.clock_offset_ms.unwrap_or(0).saturating_mul(1_000_000),
                policy: decide.policy,
                choice: choices.get(&(category, &path)).copied(),
            };
            (*flow, *conflict) = one_path(&context, sides, inputs.source, inputs.destination);
        }
        keep_folders(category, &mut flows);
        let mut given = Vec::new();
        for (path, (flow, conflict, _)) in &flows {
            if *flow == Flow::Give
                && let Ok(path) = RelPath::new(path)
            {
                given.push(path);
            }
            conflicts.extend(conflict.clone());
        }
        category_plan
            .steps
            .retain(|s| flows.get(s.path.as_str()).is_some_and(|(flow, _, _)| *flow == Flow::Take));
        if !given.is_empty() {
            give.insert(category, given);
        }
    }
    let undecided: Vec<&Conflict> = conflicts.iter().filter(|c| c.winner.is_none()).collect();
    if !undecided.is_empty() {
        let list: Vec<String> =
            undecided.iter().map(|c| format!("{}/{}", c.category, c.path)).collect();
        let list = crate::plan::abbreviate(&list.iter().map(String::as_str).collect::<Vec<_>>(), 5);
        let refusal = if skew_too_large {
            Refusal::new(
                RefusalKind::ClockSkew,
                format!(
                    "the two servers' clocks differ by {} ms, more than the {} ms allowed, so \
                     the newer of {} conflicting {} cannot be told ({list}); set the clocks \
                     right (NTP), or decide with --conflict source|destination",
                    inputs.clock_offset_ms.unwrap_or(0).unsigned_abs(),
                    decide.max_skew_ms,
                    undecided.len(),
                    if undecided.len() == 1 { "file" } else { "files" }
                ),
            )
        } else {
            Refusal::new(
                RefusalKind::Conflict,
                format!(
                    "{} {} changed on both servers and not decided ({list}); answer in the \
                     wizard, or choose --conflict newest|source|destination",
                    undecided.len(),
                    if undecided.len() == 1 { "file was" } else { "files were" }
                ),
            )
        };
        plan.refusals.push(refusal);
    }
    TwoWayPlan {
        role: Role::Decides,
        categories: decide.categories.clone(),
        first,
        give,
        conflicts,
        clock_offset_ms: inputs.clock_offset_ms,
        run: decide.run.clone(),
        peer: inputs.peer.to_string(),
    }
}

/// Restricts `plan` (one way, from the deciding side to this one) to the paths `take`
/// names: this side's part of a two-way sync.
pub fn take_only(plan: &mut Plan, take: &Take, peer: &str) -> TwoWayPlan {
    for category_plan in &mut plan.categories {
        let category = category_plan.category;
        let wanted: BTreeSet<&RelPath> =
            take.paths.get(&category).map(|p| p.iter().collect()).unwrap_or_default();
        let within =
            |path: &RelPath| wanted.contains(path) || wanted.iter().any(|w| path.is_inside(w));
        category_plan.steps.retain(|s| wanted.contains(&s.path));
        // What the one-way plan kept around paths this part does not take (a folder held
        // for its device-specific child, a shared file differing only in its keys) is
        // the other side's business: it would change when that side commits first.
        category_plan.kept.retain(|k| within(&k.path));
        plan.merged.retain(|(c, path), _| *c != category || wanted.contains(path));
    }
    TwoWayPlan {
        role: Role::Takes,
        categories: take.categories.clone(),
        first: false,
        give: BTreeMap::new(),
        conflicts: Vec::new(),
        clock_offset_ms: None,
        run: take.run.clone(),
        peer: peer.to_string(),
    }
}

/// Both sides' entries at one path, from the one-way steps there (a change of kind is a
/// deletion and a creation at the same path).
#[derive(Debug, Clone, Default)]
struct Sides {
    source: Option<Entry>,
    destination: Option<Entry>,
}

impl Sides {
    fn add(&mut self, step: &Step) {
        if let Some(e) = &step.source {
            self.source = Some(e.clone());
        }
        if let Some(e) = &step.current {
            self.destination = Some(e.clone());
        }
    }
}

struct Context<'a> {
    category: Category,
    path: &'a RelPath,
    first: bool,
    skew_too_large: bool,
    offset_ns: i64,
    policy: ConflictPolicy,
    choice: Option<Side>,
}

fn one_path(
    context: &Context,
    sides: &Sides,
    source: &SideChanges,
    destination: &SideChanges,
) -> (Flow, Option<Conflict>) {
    let (src, dst) = (sides.source.as_ref(), sides.destination.as_ref());
    let conflict = |winner: Option<Side>, how: How| Conflict {
        category: context.category,
        path: context.path.clone(),
        source: src.map(Version::of),
        destination: dst.map(Version::of),
        winner,
        how,
    };
    let flow = |winner: Option<Side>| match winner {
        Some(Side::Source) => Flow::Take,
        Some(Side::Destination) => Flow::Give,
        None => Flow::Stay,
    };
    if context.first {
        return match (src, dst) {
            (Some(_), None) => (Flow::Take, None),
            (None, Some(_)) => (Flow::Give, None),
            _ => {
                let (winner, how) = by_policy(context, src, dst);
                (flow(winner), Some(conflict(winner, how)))
            }
        };
    }
    let changed_source = source.changed(context.category, context.path);
    let changed_destination = destination.changed(context.category, context.path);
    match (changed_source, changed_destination, src, dst) {
        (true, false, _, _) => (Flow::Take, None),
        (false, true, _, _) => (Flow::Give, None),
        (true, true, None, Some(_)) => {
            (Flow::Give, Some(conflict(Some(Side::Destination), How::ModifiedOverDeleted)))
        }
        (true, true, Some(_), None) => {
            (Flow::Take, Some(conflict(Some(Side::Source), How::ModifiedOverDeleted)))
        }
        // Changed on both, or on neither though they differ (a base that no longer
        // describes the trees): the policy decides.
        _ => {
            let (winner, how) = by_policy(context, src, dst);
            (flow(winner), Some(conflict(winner, how)))
        }
    }
}

fn by_policy(context: &Context, src: Option<&Entry>, dst: Option<&Entry>) -> (Option<Side>, How) {
    match context.policy {
        ConflictPolicy::Source => (Some(Side::Source), How::Policy),
        ConflictPolicy::Destination => (Some(Side::Destination), How::Policy),
        ConflictPolicy::Ask => match context.choice {
            Some(side) => (Some(side), How::Asked),
            None => (None, How::NotAnswered),
        },
        ConflictPolicy::Newest => match (src, dst) {
            (Some(_), None) => (Some(Side::Source), How::OnlyOne),
            (None, Some(_)) => (Some(Side::Destination), How::OnlyOne),
            _ if context.skew_too_large => (None, How::ClockSkew),
            (Some(s), Some(d)) => {
                // The source's times are read on its clock: bring them to ours.
                let source_time = s.mtime_ns.saturating_sub(context.offset_ns);
                match source_time.cmp(&d.mtime_ns) {
                    std::cmp::Ordering::Greater => (Some(Side::Source), How::Newer),
                    std::cmp::Ordering::Less => (Some(Side::Destination), How::Newer),
                    std::cmp::Ordering::Equal => (Some(Side::Source), How::Tie),
                }
            }
            (None, None) => (Some(Side::Source), How::Tie),
        },
    }
}

/// A folder one side would delete stays when something inside it stays on that side:
/// it is then created on the other side instead. Children first, so a kept folder keeps
/// its parents too.
fn keep_folders(category: Category, flows: &mut BTreeMap<String, (Flow, Option<Conflict>, Sides)>) {
    let paths: Vec<String> = flows.keys().rev().cloned().collect();
    for path in paths {
        let Some((flow, _, sides)) = flows.get(&path) else { continue };
        let flow = *flow;
        let is_dir = |e: Option<&Entry>| e.is_some_and(|e| e.kind == EntryKind::Dir);
        let (src, dst) = (sides.source.clone(), sides.destination.clone());
        let (src, dst) = (src.as_ref(), dst.as_ref());
        // Taking removes the destination's folder when the source has none there, and
        // giving removes the source's when the destination has none.
        let (removes_folder, flipped, keeper) = match flow {
            Flow::Take if is_dir(dst) && !is_dir(src) => (true, Flow::Give, Side::Destination),
            Flow::Give if is_dir(src) && !is_dir(dst) => (true, Flow::Take, Side::Source),
            _ => (false, flow, Side::Source),
        };
        if !removes_folder {
            continue;
        }
        let prefix = format!("{path}/");
        let inside_stays = flows
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
            .any(|(_, (f, _, _))| *f != flow);
        if inside_stays && let Some(entry) = flows.get_mut(&path) {
            let Ok(rel) = RelPath::new(&path) else { continue };
            entry.0 = flipped;
            entry.1 = Some(Conflict {
                category,
                path: rel,
                source: src.map(Version::of),
                destination: dst.map(Version::of),
                winner: Some(keeper),
                how: How::FolderKept,
            });
        }
    }
}

#[cfg(test)]
mod tests;
