//! Leaving device-specific entries out of a category's plan: what a path rule keeps, what
//! the scan found and cannot manage, and the folders that hold either; and marking the
//! shared files whose device-specific keys are merged rather than overwritten.

use std::collections::BTreeMap;

use super::{Action, CategoryPlan, Kept, KeptBy};
use crate::entry::EntryKind;
use crate::manifest::CategoryManifest;
use crate::path::RelPath;
use crate::rules::Rules;

/// Lists what the source holds and cannot carry (a FIFO, a confined symlink...) as
/// skipped, and leaves alone whatever this tree holds at or beneath those paths: the source
/// says nothing of them.
pub(super) fn skipped_by_source(plan: &mut CategoryPlan, src: &CategoryManifest) {
    if src.unmanaged.is_empty() {
        return;
    }
    // By path, and each step's folders looked up: a long list costs what the plan is long.
    let skipped: std::collections::HashSet<&RelPath> =
        src.unmanaged.iter().map(|(p, _)| p).collect();
    let under = |p: &RelPath| {
        let mut at = Some(p.clone());
        while let Some(path) = at {
            if skipped.contains(&path) {
                return true;
            }
            at = path.parent();
        }
        false
    };
    plan.steps.retain(|s| !under(&s.path));
    let kept: std::collections::HashSet<RelPath> =
        plan.kept.iter().map(|k| k.path.clone()).collect();
    for (path, what) in &src.unmanaged {
        if !kept.contains(path) {
            let why = KeptBy::Skipped(what.clone());
            plan.kept.push(Kept { path: path.clone(), kind: EntryKind::File, why });
        }
    }
    plan.kept.sort_by(|a, b| a.path.cmp(&b.path));
}

/// On a destination that keeps symlinks confined (`symlinks = "confined"`), a source's
/// symlink leading out of its category is not written either: listed as skipped.
pub(super) fn confined_symlinks(plan: &mut CategoryPlan, rules: &Rules) {
    if !rules.confined_symlinks {
        return;
    }
    let mut skipped = Vec::new();
    plan.steps.retain(|step| {
        let escapes = step.source.as_ref().is_some_and(|e| {
            e.kind == EntryKind::Symlink
                && crate::path::check_symlink_target(
                    &e.path,
                    e.symlink_target.as_deref().unwrap_or_default(),
                )
                .is_err()
        });
        if escapes && step.action != Action::Delete {
            skipped.push(step.path.clone());
        }
        !escapes
    });
    for path in skipped {
        let why = KeptBy::Skipped(
            "a symlink leading out of its category, which this server keeps confined \
             (symlinks = \"confined\" in its agent.toml)"
                .into(),
        );
        plan.kept.push(Kept { path, kind: EntryKind::Symlink, why });
    }
    plan.kept.sort_by(|a, b| a.path.cmp(&b.path));
}

/// A hard link whose first name this destination does not take as the source has it
/// (kept by a rule, merged with its own keys) is made an ordinary file: a link would share
/// this server's own content under a shared name.
pub(super) fn links_to_what_is_kept(plan: &mut CategoryPlan) {
    let kept: std::collections::HashSet<RelPath> =
        plan.kept.iter().map(|k| k.path.clone()).collect();
    let merged: std::collections::HashSet<RelPath> =
        plan.steps.iter().filter(|s| !s.kept_keys.is_empty()).map(|s| s.path.clone()).collect();
    for step in &mut plan.steps {
        if let Some(source) = step.source.as_mut()
            && let Some(first) = &source.hardlink
            && (kept.contains(first) || merged.contains(first))
        {
            source.hardlink = None;
        }
    }
}

pub(super) fn apply(
    plan: &mut CategoryPlan,
    dst: &CategoryManifest,
    rules: &Rules,
    warnings: &mut Vec<String>,
) {
    let category = plan.category;
    // What this tree holds that stays as it is, whatever the source has.
    let mut held: BTreeMap<RelPath, (EntryKind, KeptBy)> = BTreeMap::new();
    for entry in &dst.entries {
        if let Some(m) = rules.keeps(category, &entry.path) {
            let why = KeptBy::Rule { pattern: m.rule.pattern.clone(), origin: m.rule.origin };
            held.insert(entry.path.clone(), (entry.kind, why));
        }
    }
    for (path, what) in &dst.unmanaged {
        held.insert(path.clone(), (EntryKind::File, KeptBy::Unmanaged(what.clone())));
    }
    let holds_kept = |dir: &RelPath| held.keys().any(|kept| kept.is_inside(dir));
    let under_unmanaged =
        |path: &RelPath| dst.unmanaged.iter().any(|(u, _)| path == u || path.is_inside(u));

    let mut kept: BTreeMap<RelPath, Kept> = BTreeMap::new();
    let mut kind_conflicts = Vec::new();
    // In place: a plan can hold 100,000 steps, and a second vector of them would double
    // the planning's peak memory.
    plan.steps.retain_mut(|step| {
        let kind = step.kind();
        if let Some(m) = rules.keeps(category, &step.path) {
            let why = KeptBy::Rule { pattern: m.rule.pattern.clone(), origin: m.rule.origin };
            kept.entry(step.path.clone()).or_insert(Kept { path: step.path.clone(), kind, why });
            return false;
        }
        if under_unmanaged(&step.path) {
            return false;
        }
        let is_dir_removal = step.action == Action::Delete && kind == EntryKind::Dir;
        if is_dir_removal && holds_kept(&step.path) {
            kept.insert(
                step.path.clone(),
                Kept { path: step.path.clone(), kind, why: KeptBy::HoldsKept },
            );
            return false;
        }
        if step.action == Action::Create
            && kind != EntryKind::Dir
            && kept.get(&step.path).is_some_and(|k| k.why == KeptBy::HoldsKept)
        {
            kind_conflicts.push(step.path.to_string());
            return false;
        }
        if step.action == Action::Overwrite
            && kind == EntryKind::File
            && let Some(rule) = rules.key_rule(category, &step.path)
        {
            step.kept_keys = rule.keys.clone();
        }
        true
    });
    for (path, (kind, why)) in held {
        kept.entry(path.clone()).or_insert(Kept { path, kind, why });
    }
    if !kind_conflicts.is_empty() {
        let listed: Vec<&str> = kind_conflicts.iter().map(String::as_str).collect();
        warnings.push(format!(
            "the source has files where device-specific entries keep folders here, in {category}: {}; \
             those folders stay",
            super::abbreviate(&listed, 5)
        ));
    }
    plan.kept = kept.into_values().collect();
}
