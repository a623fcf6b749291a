//! Checks before the commit (`[[check]]` in the destination's agent.toml): a command, a
//! config linter for example, run against the tree as the commit would leave it, after
//! every file is staged and verified and before the journal is written. A check that
//! fails (or hangs past its timeout) refuses the apply with its output, and nothing
//! changes.
//!
//! The tree a check reads is a preview under the state folder: each category in its scope,
//! built from hard links to the files the commit leaves alone and to the staged files,
//! with folders and symlinks made as they will be (a mode-only change shows the old mode).
//! Nothing is copied, so a preview of 100,000 files costs as many links, not their bytes;
//! a check that writes to a staged file through its link is caught and refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use cap_std::ambient_authority;
use cap_std::fs::Dir;

use crate::category::Category;
use crate::command::{self, Ran};
use crate::entry::{Entry, EntryKind};
use crate::error::{EngineError, Result};
use crate::index::FileStamp;
use crate::layout::Layout;
use crate::manifest::Manifest;
use crate::path::RelPath;
use crate::plan::{Action, Plan};
use crate::refusal::{Refusal, RefusalKind};
use crate::scope::Scope;
use crate::subtree::Subtrees;

/// One check, as agent.toml gives it.
#[derive(Debug, Clone)]
pub struct CheckRule {
    pub scope: Scope,
    /// The command's words; `{tree}` in any of them becomes the preview's folder.
    pub command: Vec<String>,
    pub timeout: Duration,
}

/// Where a file of the preview comes from.
enum From {
    /// This tree, left alone by the commit.
    Live,
    /// The staging folder, at this path.
    Staged(String),
    /// Made as the entry says (a folder, a symlink).
    Made,
    /// Another name of the file at this path of the preview (made before it: it comes
    /// first in path order).
    Link(RelPath),
}

/// Runs every check whose scope `plan` changes against the preview of what the commit
/// (generation `id`, staged in `staging`) would leave; refuses when one does not succeed.
pub async fn run(
    layout: &Layout,
    plan: &Plan,
    destination: &Manifest,
    staging: &Path,
    id: u64,
    rules: &[CheckRule],
) -> Result<Vec<Ran>> {
    let due: Vec<(&CheckRule, Vec<String>)> =
        rules.iter().map(|r| (r, r.scope.changed(plan))).filter(|(_, c)| !c.is_empty()).collect();
    if due.is_empty() {
        return Ok(Vec::new());
    }
    let mut categories: Vec<Category> = due
        .iter()
        .flat_map(|(r, _)| r.scope.categories())
        .filter(|c| plan.categories.iter().any(|p| p.category == *c))
        .collect();
    categories.sort();
    categories.dedup();

    let folder = layout.state_dir().join("check");
    let root = folder.join(format!("{id:08}"));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(&root).map_err(EngineError::io("create check folder", &root))?;
    let outcome = async {
        let linked = build(layout, plan, destination, staging, &root, &categories)?;
        let mut ran = Vec::new();
        let mut failed = Vec::new();
        for (n, (rule, changed)) in due.iter().enumerate() {
            let list = folder.join(format!("{id:08}-changed-{n}.txt"));
            std::fs::write(&list, changed.join("\n") + "\n")
                .map_err(EngineError::io("write the changed paths for a check", &list))?;
            let mut env = vec![
                ("CONFSYNC_TREE".to_string(), root.display().to_string()),
                ("CONFSYNC_CHANGED_FILE".to_string(), list.display().to_string()),
                ("CONFSYNC_CHANGED_COUNT".to_string(), changed.len().to_string()),
                ("CONFSYNC_SCOPE".to_string(), rule.scope.describe().to_string()),
            ];
            for category in &categories {
                env.push((
                    format!("CONFSYNC_TREE_{}", category.name().to_uppercase()),
                    root.join(category.name()).display().to_string(),
                ));
            }
            let tree = root.display().to_string();
            let argv: Vec<String> =
                rule.command.iter().map(|w| w.replace("{tree}", &tree)).collect();
            let result = command::run(&argv, &env, &root, rule.timeout).await;
            let _ = std::fs::remove_file(&list);
            match result {
                Ok(r) if r.succeeded() => ran.push(r),
                Ok(r) => {
                    let output = if r.output.is_empty() {
                        String::new()
                    } else {
                        format!(":\n{}", r.output)
                    };
                    failed.push(format!(
                        "check {:?} {} on the staged tree{output}",
                        r.command,
                        r.ending()
                    ));
                    ran.push(r);
                }
                Err(e) => {
                    failed.push(format!("check {:?} could not run: {e}", rule.command.join(" ")))
                }
            }
        }
        for (path, before) in &linked {
            let now = std::fs::symlink_metadata(path).map(|m| FileStamp::of(&m)).ok();
            if now.as_ref() != Some(before) {
                failed.push(format!(
                    "a check changed the staged file {} through the preview; checks must only read",
                    path.display()
                ));
            }
        }
        if failed.is_empty() {
            return Ok(ran);
        }
        Err(EngineError::Refused(vec![Refusal::new(
            RefusalKind::CheckFailed,
            format!(
                "{}; nothing was changed. Fix what the check reports on the source (or the check \
                 in this server's agent.toml), then synchronize again",
                failed.join("; ")
            ),
        )]))
    }
    .await;
    let _ = std::fs::remove_dir_all(&root);
    outcome
}

/// Makes the preview of `categories` under `root`; returns the staged files it links, with
/// their stamps, to tell afterwards whether a check wrote to one.
fn build(
    layout: &Layout,
    plan: &Plan,
    destination: &Manifest,
    staging: &Path,
    root: &Path,
    categories: &[Category],
) -> Result<Vec<(PathBuf, FileStamp)>> {
    let subtrees = Subtrees::of(plan);
    let staging_dir = Dir::open_ambient_dir(staging, ambient_authority())
        .map_err(EngineError::io("open", staging))?;
    let mut linked = Vec::new();
    for &category in categories {
        let mut after: BTreeMap<RelPath, (Entry, From)> = destination
            .get(category)
            .map(|m| m.entries.iter().map(|e| (e.path.clone(), (e.clone(), From::Live))).collect())
            .unwrap_or_default();
        for (i, (c, step)) in plan.steps().enumerate() {
            if c != category {
                continue;
            }
            match (step.action, &step.source) {
                (Action::Delete, _) => {
                    after.remove(&step.path);
                }
                (Action::Attrs, Some(entry)) => {
                    after.insert(step.path.clone(), (entry.clone(), From::Live));
                }
                (_, Some(entry)) if entry.hardlink.is_some() => {
                    let first = entry.hardlink.clone().unwrap_or_else(|| step.path.clone());
                    after.insert(step.path.clone(), (entry.clone(), From::Link(first)));
                }
                (_, Some(entry)) if entry.kind == EntryKind::File => {
                    let at = subtrees.location(i, c, step).path().to_string();
                    after.insert(step.path.clone(), (entry.clone(), From::Staged(at)));
                }
                (_, Some(entry)) => {
                    after.insert(step.path.clone(), (entry.clone(), From::Made));
                }
                (_, None) => {}
            }
        }
        let top = root.join(category.name());
        std::fs::create_dir_all(&top).map_err(EngineError::io("create", &top))?;
        let preview = Dir::open_ambient_dir(&top, ambient_authority())
            .map_err(EngineError::io("open", &top))?;
        let live = layout.open_category(category)?;
        for (path, (entry, from)) in &after {
            let full = top.join(path);
            if let Some(parent) = path.parent() {
                preview.create_dir_all(parent).map_err(EngineError::io("create", &full))?;
            }
            let made = match (entry.kind, from) {
                (EntryKind::Dir, _) => preview.create_dir_all(path),
                (EntryKind::Symlink, _) => preview
                    .symlink_contents(entry.symlink_target.as_deref().unwrap_or_default(), path),
                (EntryKind::File, From::Staged(at)) => {
                    let staged = staging.join(at);
                    let stamp = std::fs::symlink_metadata(&staged)
                        .map_err(EngineError::io("inspect staged file", &staged))?;
                    let made = staging_dir.hard_link(at, &preview, path);
                    // The link itself changes the status time: stamp after linking.
                    if made.is_ok() {
                        let stamp = std::fs::symlink_metadata(&staged)
                            .map(|m| FileStamp::of(&m))
                            .unwrap_or_else(|_| FileStamp::of(&stamp));
                        linked.push((staged, stamp));
                    }
                    made
                }
                (EntryKind::File, From::Link(first)) => preview.hard_link(first, &preview, path),
                (EntryKind::File, _) => match &live {
                    Some(live) => live.hard_link(path, &preview, path),
                    None => Err(std::io::ErrorKind::NotFound.into()),
                },
            };
            made.map_err(EngineError::io("make the check's preview of", &full))?;
        }
    }
    Ok(linked)
}
