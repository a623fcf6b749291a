//! Human text for plans and results. JSON output is the serde form of the same views.

use std::fmt::Write;

use confsync_engine::EntryKind;
use confsync_engine::apply::ApplyOutcome;
use confsync_engine::plan::{Action, Counts};
use confsync_engine::view::{CategoryView, PlanView};

/// Paths listed per category before folding, unless `--all`.
pub const FOLD_AFTER: usize = 10;

pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{n} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// `1 file`, `3 files`: a count with its noun, the one way every command words it.
pub fn count(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `2 created, 1 overwritten, 3 deleted, 1 mode change`
pub fn counts(c: &Counts) -> String {
    let mut parts = Vec::new();
    if c.created > 0 {
        parts.push(format!("{} created", c.created));
    }
    if c.overwritten > 0 {
        parts.push(format!("{} overwritten", c.overwritten));
    }
    if c.deleted > 0 {
        parts.push(format!("{} deleted", c.deleted));
    }
    if c.attrs > 0 {
        parts.push(count(c.attrs, "metadata change", "metadata changes"));
    }
    if parts.is_empty() { "in sync".to_string() } else { parts.join(", ") }
}

fn marker(action: Action) -> char {
    match action {
        Action::Create => '+',
        Action::Overwrite => '~',
        Action::Delete => '-',
        Action::Attrs => '*',
    }
}

pub(crate) fn category_block(out: &mut String, c: &CategoryView, all: bool, hint: &str) {
    let size = if c.counts.bytes > 0 { bytes(c.counts.bytes) } else { String::new() };
    let mut summary = counts(&c.counts);
    if !c.kept.is_empty() {
        let _ = write!(summary, ", {} kept", c.kept.len());
    }
    let line = format!("  {:<21} {:<46} {size:>10}", c.category.title(), summary);
    let _ = writeln!(out, "{}", line.trim_end());
    let shown = if all { c.steps.len() } else { c.steps.len().min(FOLD_AFTER) };
    for step in &c.steps[..shown] {
        let slash = if step.kind == EntryKind::Dir { "/" } else { "" };
        let size = if step.kind == EntryKind::File
            && step.action != Action::Delete
            && step.action != Action::Attrs
        {
            bytes(step.size)
        } else {
            String::new()
        };
        let note = match (step.action, step.downgrade, step.kept_keys.len()) {
            _ if step.local_edit => "  (changed here since the last sync)".to_string(),
            (_, true, _) => "  (the source's copy is older: downgrade)".to_string(),
            (Action::Attrs, _, _) => format!("  ({})", step.attrs.join("; ")),
            (_, _, 0) => String::new(),
            (_, _, n) => format!(
                "  ({} kept: {})",
                count(n as u64, "key", "keys"),
                step.kept_keys.join(", ")
            ),
        };
        let path = format!("{}{slash}", step.path);
        let line = format!("      {} {path:<53} {size:>10}{note}", marker(step.action));
        let _ = writeln!(out, "{}", line.trim_end());
        for change in &step.semantic {
            let _ = writeln!(out, "          {change}");
        }
    }
    if shown < c.steps.len() {
        let _ = writeln!(out, "      … and {} more ({hint})", c.steps.len() - shown);
    }
    let kept_shown = if all { c.kept.len() } else { c.kept.len().min(FOLD_AFTER) };
    for kept in &c.kept[..kept_shown] {
        let slash = if kept.kind == EntryKind::Dir { "/" } else { "" };
        let path = format!("{}{slash}", kept.path);
        let _ = writeln!(out, "      = {path:<53} kept ({})", kept.why);
    }
    if kept_shown < c.kept.len() {
        let _ = writeln!(out, "      … and {} more kept ({hint})", c.kept.len() - kept_shown);
    }
}

/// How to see what a folded list leaves out.
pub const FOLD_HINT: &str = "add --all to list every path";

/// The differences view of one plan, long lists folded with `hint` saying how to see
/// them whole.
pub fn plan_folded(view: &PlanView, from: &str, to: &str, hint: &str) -> String {
    plan_with(view, from, to, false, hint)
}

/// The full differences view of one plan.
pub fn plan(view: &PlanView, from: &str, to: &str, all: bool) -> String {
    plan_with(view, from, to, all, FOLD_HINT)
}

fn plan_with(view: &PlanView, from: &str, to: &str, all: bool, hint: &str) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Differences from {} ({from}) to {} ({to}):",
        display_name(&view.source_name, from),
        display_name(&view.destination_name, to)
    );
    for c in &view.categories {
        category_block(&mut out, c, all, hint);
    }
    let _ = writeln!(out, "  {:<21} never synchronized (bound to each machine)", "Licenses");
    let total = view.counts();
    if view.is_empty() {
        let _ = writeln!(out, "Already in sync.");
    } else {
        let _ = writeln!(
            out,
            "Total: {}: {} change; {} to transfer or reuse.",
            counts(&total),
            count(view.files_changed(), "file", "files"),
            bytes(total.bytes)
        );
    }
    for w in &view.warnings {
        let _ = writeln!(out, "Warning: {w}");
    }
    let destination = display_name(&view.destination_name, to);
    for n in &view.notices {
        let _ = writeln!(out, "Effect: {}", n.pending(&destination));
    }
    for r in &view.refusals {
        let label = if view.is_empty() { "Note" } else { "Refused" };
        let _ = writeln!(out, "{label}: {r}");
    }
    let _ = writeln!(out, "Plan {}", view.digest.short());
    out
}

/// The question asked before overwriting, with the direction spelled out.
pub fn confirmation(view: &PlanView, from: &str, destinations: &[String]) -> String {
    let total = view.counts();
    let mut text = format!(
        "Overwrite {} with {}? {} change ({} to write)",
        destinations.join(", "),
        display_name(&view.source_name, from),
        count(view.files_changed(), "file", "files"),
        bytes(total.bytes)
    );
    if total.deleted > 0 {
        let _ = write!(text, "; {} will be deleted", count(total.deleted, "entry", "entries"));
    }
    text
}

pub fn result_line(destination: &str, result: &ApplyOutcome) -> String {
    if result.generation == 0 {
        return format!("{destination}: already in sync, nothing transferred");
    }
    format!(
        "{destination}: {} changed, {} received ({} written) in {:.1}s, generation {}",
        count(result.files_changed, "file", "files"),
        bytes(result.bytes_received),
        bytes(result.bytes_written),
        result.duration_ms as f64 / 1000.0,
        result.generation
    )
}

/// What the apply means for `destination` ("New firmware was deployed to backup-1. It
/// becomes effective after the next startup."), a line each; empty when it has no rule.
pub fn notices(destination: &str, result: &ApplyOutcome) -> String {
    let mut out: String =
        result.notices.iter().map(|n| format!("  {}\n", n.deployed(destination))).collect();
    for hook in &result.hooks {
        let _ = writeln!(
            out,
            "  hook {}: {} ({:.1}s)",
            hook.command,
            hook.ending(),
            hook.duration_ms as f64 / 1000.0
        );
        if !hook.succeeded() {
            for line in hook.output.lines().rev().take(5).collect::<Vec<_>>().into_iter().rev() {
                let _ = writeln!(out, "    | {line}");
            }
        }
    }
    out
}

/// "but: ..." lines for what failed after a commit point, one each; empty when nothing did.
pub fn but(result: &ApplyOutcome) -> String {
    result.warnings.iter().map(|w| format!("  applied, but: {w}\n")).collect()
}

pub fn display_name(name: &str, address: &str) -> String {
    if name.is_empty() { address.to_string() } else { name.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_like_an_administrator_expects() {
        assert_eq!(bytes(0), "0 B");
        assert_eq!(bytes(1023), "1023 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(128 << 20), "128.0 MiB");
    }

    #[test]
    fn counts_name_only_what_happens() {
        let c = Counts { created: 2, deleted: 1, attrs: 1, ..Counts::default() };
        assert_eq!(counts(&c), "2 created, 1 deleted, 1 metadata change");
        assert_eq!(counts(&Counts::default()), "in sync");
    }
}
