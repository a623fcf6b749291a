//! The part of planning that reads file contents: merging the shared files under key
//! rules (the destination fetches the source's copy while planning, so that the plan's
//! digest covers the very bytes that will be written), and the key-by-key differences
//! `diff --keys` shows. It runs after the pure plan ([`crate::plan`]) and seals it again.

use std::sync::Arc;

use crate::category::Category;
use crate::entry::{Digest, Entry, EntryKind};
use crate::error::{EngineError, Result};
use crate::layout::Layout;
use crate::merge::{self, MAX_STRUCTURED_BYTES, MergeError};
use crate::plan::{Action, Kept, KeptBy, Plan, Step};
use crate::refusal::{Refusal, RefusalKind};
use crate::rules::Rules;
use crate::semantic;
use crate::transfer::{self, ChunkSource};

/// What planning may read file contents for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Leave shared files that cannot be merged as they are, and apply the rest.
    pub allow_unmergeable: bool,
    /// Describe what changes in files of known formats (`diff --keys`).
    pub semantic: bool,
    /// The capability database's key column, for record-by-record differences.
    pub key_column: Option<String>,
}

/// Merges every file the plan marked, describes changes when asked, and seals the plan.
pub async fn resolve<S: ChunkSource>(
    plan: &mut Plan,
    rules: &Rules,
    layout: &Layout,
    source: &S,
    options: &Options,
) -> Result<()> {
    for c in 0..plan.categories.len() {
        let category = plan.categories[c].category;
        // Worked on in place: a second vector of 100,000 steps would double the peak.
        let mut steps = std::mem::take(&mut plan.categories[c].steps);
        let mut kept_now = Vec::new();
        let mut dropped = std::collections::HashSet::new();
        for (i, step) in steps.iter_mut().enumerate() {
            if !step.kept_keys.is_empty() {
                match merged(step, category, rules, layout, source).await {
                    Ok((bytes, current)) => {
                        let digest = Digest::of(&bytes);
                        if step.current.as_ref().is_some_and(|e| e.digest == digest) {
                            kept_now.push(Kept {
                                path: step.path.clone(),
                                kind: EntryKind::File,
                                why: KeptBy::KeysOnly(step.kept_keys.clone()),
                            });
                            dropped.insert(i);
                            continue;
                        }
                        if options.semantic {
                            step.semantic = semantic::describe(
                                step.path.as_str(),
                                &current,
                                &bytes,
                                options.key_column.as_deref(),
                            )
                            .unwrap_or_default();
                        }
                        if let Some(entry) = step.source.as_mut() {
                            entry.size = bytes.len() as u64;
                            entry.digest = digest;
                        }
                        plan.merged.insert((category, step.path.clone()), Arc::new(bytes));
                    }
                    Err(Unmerged::Refused(why)) if options.allow_unmergeable => {
                        plan.warnings.push(format!(
                            "{category}/{} cannot be merged ({why}); it is left as it is",
                            crate::path::shorten(step.path.as_str())
                        ));
                        kept_now.push(Kept {
                            path: step.path.clone(),
                            kind: EntryKind::File,
                            why: KeptBy::Unmergeable(why),
                        });
                        dropped.insert(i);
                        continue;
                    }
                    Err(Unmerged::Refused(why)) => {
                        // Shown as what it is (a file the plan cannot write), not as a
                        // merge that keeps keys, just above its refusal.
                        step.semantic = vec![format!(
                            "holds device-specific keys ({}) and cannot be merged: refused, see below",
                            step.kept_keys.join(", ")
                        )];
                        let keys = std::mem::take(&mut step.kept_keys);
                        plan.refusals.push(Refusal::new(
                        RefusalKind::Unmergeable,
                        format!(
                            "{category}/{} holds device-specific keys ({}) and cannot be merged: {why}; \
                             nothing about it changes. Fix the file, or pass --allow-unmergeable to \
                             leave it as it is and apply the rest",
                            crate::path::shorten(step.path.as_str()),
                            keys.join(", ")
                        ),
                    ));
                    }
                    Err(Unmerged::Failed(e)) => return Err(e),
                }
            } else if options.semantic
                && describable(step)
                && let Ok((current, incoming)) = both(step, category, layout, source).await
            {
                step.semantic = semantic::describe(
                    step.path.as_str(),
                    &current,
                    &incoming,
                    options.key_column.as_deref(),
                )
                .unwrap_or_default();
            }
        }
        if !dropped.is_empty() {
            let mut i = 0;
            steps.retain(|_| {
                i += 1;
                !dropped.contains(&(i - 1))
            });
        }
        let category_plan = &mut plan.categories[c];
        category_plan.steps = steps;
        category_plan.kept.extend(kept_now);
        category_plan.kept.sort_by(|a, b| a.path.cmp(&b.path));
    }
    plan.reseal();
    Ok(())
}

enum Unmerged {
    /// The file cannot be merged (too large, does not parse): a refusal, not a failure.
    Refused(String),
    Failed(EngineError),
}

/// The merged bytes of a step, and the destination's current bytes.
async fn merged<S: ChunkSource>(
    step: &Step,
    category: Category,
    rules: &Rules,
    layout: &Layout,
    source: &S,
) -> std::result::Result<(Vec<u8>, Vec<u8>), Unmerged> {
    let rule = rules.key_rule(category, &step.path).ok_or_else(|| {
        Unmerged::Failed(EngineError::State {
            path: layout.root(category).join(&step.path),
            detail: "a merged file without its key rule".into(),
        })
    })?;
    for (side, entry) in [("source", &step.source), ("destination", &step.current)] {
        let size = entry.as_ref().map_or(0, |e| e.size);
        if size > MAX_STRUCTURED_BYTES as u64 {
            return Err(Unmerged::Refused(
                MergeError::TooLarge { side, size: size as usize }.to_string(),
            ));
        }
    }
    let (current, incoming) =
        both(step, category, layout, source).await.map_err(Unmerged::Failed)?;
    let bytes = merge::merge(rule.format, &incoming, &current, &rule.keys)
        .map_err(|e| Unmerged::Refused(e.to_string()))?;
    Ok((bytes, current))
}

fn describable(step: &Step) -> bool {
    step.action == Action::Overwrite
        && step.kind() == EntryKind::File
        && step.source.as_ref().is_some_and(|e| e.size <= MAX_STRUCTURED_BYTES as u64)
        && step.current.as_ref().is_some_and(|e| e.size <= MAX_STRUCTURED_BYTES as u64)
}

/// The destination's bytes and the source's, each checked against its digest.
async fn both<S: ChunkSource>(
    step: &Step,
    category: Category,
    layout: &Layout,
    source: &S,
) -> Result<(Vec<u8>, Vec<u8>)> {
    let missing = || EngineError::State {
        path: layout.root(category).join(&step.path),
        detail: "a step without its entries".into(),
    };
    let (incoming, current) =
        (step.source.as_ref().ok_or_else(missing)?, step.current.as_ref().ok_or_else(missing)?);
    let theirs = transfer::read_whole(source, category, incoming).await?;
    let ours = read_local(layout, category, current)?;
    Ok((ours, theirs))
}

fn read_local(layout: &Layout, category: Category, entry: &Entry) -> Result<Vec<u8>> {
    let full = layout.root(category).join(&entry.path);
    let dir = layout.open_category(category)?.ok_or_else(|| EngineError::Io {
        op: "open",
        path: full.clone(),
        source: std::io::ErrorKind::NotFound.into(),
    })?;
    let bytes = dir.read(&entry.path).map_err(EngineError::io("read", &full))?;
    if Digest::of(&bytes) != entry.digest {
        return Err(EngineError::refused(
            RefusalKind::ChangedSincePreview,
            format!(
                "{} changed while it was being read; run again",
                crate::path::shorten(&full.display().to_string())
            ),
        ));
    }
    Ok(bytes)
}
