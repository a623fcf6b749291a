//! Human text for a two-way run: both parts as one plan (`→` what the `--to` server
//! takes, `←` what the `--from` server takes, the conflicts with their outcome), and after
//! it, where each losing version is kept with the one command that restores it.

use std::fmt::Write;

use confsync_engine::two_way::{Conflict, Side};

use super::{Applied, Planned};
use crate::cli::render::{self, FOLD_HINT, display_name};

/// The plan of both parts, as the wizard, `sync` and `diff` show it.
pub fn plan(planned: &Planned, from: &str, to: &str, all: bool) -> String {
    let (decides, takes) = (&planned.decides, &planned.takes);
    let from_name = display_name(&decides.source_name, from);
    let to_name = display_name(&decides.destination_name, to);
    let mut out = String::new();
    let both: Vec<&str> = decides
        .two_way
        .as_ref()
        .map(|t| t.categories.iter().map(|c| c.name()).collect())
        .unwrap_or_default();
    let one_way: Vec<&str> = decides
        .categories()
        .iter()
        .filter(|c| !both.contains(&c.name()))
        .map(|c| c.name())
        .collect();
    let _ = write!(
        out,
        "Two-way sync of {} and {}: {} both ways",
        named(&from_name, from),
        named(&to_name, to),
        both.join(", ")
    );
    if !one_way.is_empty() {
        let _ = write!(out, "; {} one way, from {from_name}", one_way.join(", "));
    }
    let _ = writeln!(out, ".");
    if planned.first() {
        let _ = writeln!(
            out,
            "First two-way sync of this pair (no common base yet): only additions flow, nothing \
             is deleted, and files that differ are conflicts decided by the policy."
        );
    }
    let _ = writeln!(out, "→ {to_name} takes from {from_name}:");
    part(&mut out, decides, all);
    let _ = writeln!(out, "← {from_name} takes from {to_name}:");
    part(&mut out, takes, all);
    let _ = writeln!(out, "  {:<21} never synchronized (bound to each machine)", "Licenses");
    if !planned.conflicts().is_empty() {
        let _ = writeln!(out, "Conflicts:");
        for line in conflict_lines(planned, from, to) {
            let _ = writeln!(out, "  {line}");
        }
    }
    if planned.is_empty() && !planned.conflicts().iter().any(|c| c.winner.is_none()) {
        let _ = writeln!(out, "Already in sync, both ways.");
    } else {
        let _ = writeln!(
            out,
            "Total: {} change ({} to {to_name}, {} to {from_name}).",
            render::count(planned.files_changed(), "file", "files"),
            decides.files_changed(),
            takes.files_changed()
        );
    }
    for w in decides.warnings.iter().chain(&takes.warnings) {
        let _ = writeln!(out, "Warning: {w}");
    }
    for (view, name) in [(decides, &to_name), (takes, &from_name)] {
        for n in &view.notices {
            let _ = writeln!(out, "Effect: {}", n.pending(name));
        }
    }
    for (view, name) in [(decides, &to_name), (takes, &from_name)] {
        let label = if view.is_empty() { "Note" } else { "Refused" };
        for r in &view.refusals {
            let label = if super::is_undecided(r) { "Refused" } else { label };
            let _ = writeln!(out, "{label} ({name}): {r}");
        }
    }
    let _ = writeln!(out, "Plan {}", planned.digest.short());
    out
}

/// "primary (10.0.0.1:7420)", or the name alone when it was given by name.
fn named(name: &str, label: &str) -> String {
    if name == label { name.to_string() } else { format!("{name} ({label})") }
}

fn part(out: &mut String, view: &confsync_engine::view::PlanView, all: bool) {
    if view.is_empty() {
        let _ = writeln!(out, "  nothing");
        return;
    }
    for c in view.categories.iter().filter(|c| !c.in_sync) {
        render::category_block(out, c, all, FOLD_HINT);
    }
}

/// One line per conflict: the path, what happened on each side, who wins and why.
pub fn conflict_lines(planned: &Planned, from: &str, to: &str) -> Vec<String> {
    let from_name = display_name(&planned.decides.source_name, from);
    let to_name = display_name(&planned.decides.destination_name, to);
    planned.conflicts().iter().map(|c| c.describe(&from_name, &to_name)).collect()
}

/// After the applies: where each losing version is kept, and the command that restores
/// it on its server alone.
pub fn restore_lines(
    conflicts: &[Conflict],
    applied: &Applied,
    from: &str,
    to: &str,
) -> Vec<String> {
    let mut lines = Vec::new();
    for conflict in conflicts {
        let Some(winner) = conflict.winner else { continue };
        let loser = winner.other();
        let (server, lost) = match loser {
            Side::Source => (from, &conflict.source),
            Side::Destination => (to, &conflict.destination),
        };
        // A deletion that lost leaves nothing to restore; the folder rule keeps, not loses.
        if lost.is_none() || matches!(conflict.how, confsync_engine::two_way::How::FolderKept) {
            continue;
        }
        let generation = applied.generation(loser);
        if generation == 0 {
            continue;
        }
        let what = format!("{}/{}", conflict.category, conflict.path);
        lines.push(format!(
            "{server}'s version of {what} is kept in its generation {generation}; to restore it \
             there: confsync rollback --server {server} --generation {generation} --path {what}"
        ));
    }
    lines
}
