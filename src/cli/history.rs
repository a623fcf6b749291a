//! `confsync history`: the applies and rollbacks recorded on a server, newest first, as a
//! table or (`--json`) one JSON document.

use std::fmt::Write;

use clap::Args;
use confsync_engine::clock;
use confsync_engine::history::Listed;
use confsync_wire::AgentClient;

use crate::cli::{ExitCode, render, targets};

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The server: a name from the server list, or host:port.
    #[arg(long, value_name = "NAME")]
    pub server: String,

    /// Print one JSON document instead of a table.
    #[arg(long)]
    pub json: bool,

    /// Show at most this many entries (0: all that are recorded).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub limit: usize,
}

pub async fn run(args: HistoryArgs) -> anyhow::Result<ExitCode> {
    let target = targets::resolve(&args.server, "--server")?.target;
    let mut client = AgentClient::connect(&target).await?;
    let mut generations = client.history().await?;
    if args.limit > 0 {
        generations.truncate(args.limit);
    }
    if args.json {
        let doc = crate::cli::events::History {
            server: &args.server,
            address: &target.address,
            generations: generations.iter().map(Generation::of).collect(),
        };
        crate::cli::events::print(&doc, false);
    } else {
        print!("{}", table(&args.server, &generations));
    }
    Ok(ExitCode::Success)
}

fn categories(listed: &Listed) -> Vec<String> {
    listed.entry.record.categories.iter().map(|c| c.name().to_string()).collect()
}

/// One generation as `history --json` gives it.
#[derive(Debug, serde::Serialize)]
struct Generation<'a> {
    generation: u64,
    time: String,
    started_at: u64,
    kind: String,
    source: &'a str,
    requested_by: &'a str,
    categories: Vec<String>,
    files_changed: u64,
    bytes_received: u64,
    bytes_written: u64,
    duration_ms: u64,
    result: &'a str,
    kept: bool,
    notices: &'a [confsync_engine::effects::Notice],
    hooks: &'a [confsync_engine::command::Ran],
}

impl<'a> Generation<'a> {
    fn of(listed: &'a Listed) -> Generation<'a> {
        let (entry, r) = (&listed.entry, &listed.entry.record);
        Generation {
            generation: r.id,
            time: clock::utc(r.started_at),
            started_at: r.started_at,
            kind: entry.kind(),
            source: &r.source,
            requested_by: &r.requested_by,
            categories: categories(listed),
            files_changed: r.files_changed,
            bytes_received: r.bytes_received,
            bytes_written: r.bytes_written,
            duration_ms: entry.duration_ms,
            result: &entry.result,
            kept: listed.kept,
            notices: &r.notices,
            hooks: &entry.hooks,
        }
    }
}

/// The table an administrator reads: one line per entry with the result last (it can be
/// long), and under it where it came from, who asked and which categories.
pub fn table(server: &str, generations: &[Listed]) -> String {
    let mut out = String::new();
    if generations.is_empty() {
        let _ = writeln!(out, "{server}: nothing was ever applied here.");
        return out;
    }
    let _ = writeln!(out, "History of {server}, newest first (kept: can be rolled back):");
    let _ = writeln!(
        out,
        "{:>5}  {:<19}  {:<22}  {:>6}  {:>10}  {:<4}  RESULT",
        "GEN", "TIME (UTC)", "KIND", "FILES", "RECEIVED", "KEPT"
    );
    for listed in generations {
        let g = &listed.entry.record;
        let id = if g.id == 0 { "-".to_string() } else { g.id.to_string() };
        let time = clock::utc(g.started_at).replace('T', " ").trim_end_matches('Z').to_string();
        let _ = writeln!(
            out,
            "{id:>5}  {time:<19}  {:<22}  {:>6}  {:>10}  {:<4}  {}",
            listed.entry.kind(),
            g.files_changed,
            render::bytes(g.bytes_received),
            if listed.kept { "yes" } else { "no" },
            listed.entry.result
        );
        let mut origin = format!("from {}; asked by {}", g.source, g.requested_by);
        let categories = categories(listed);
        if !categories.is_empty() {
            let _ = write!(origin, "; {}", categories.join(", "));
        }
        let _ = writeln!(out, "       {origin}");
        for notice in &g.notices {
            let _ = writeln!(out, "       {}", notice.deployed(server));
        }
        for hook in &listed.entry.hooks {
            let _ = writeln!(out, "       hook {}: {}", hook.command, hook.ending());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use confsync_engine::category::Category;
    use confsync_engine::history::HistoryEntry;
    use confsync_engine::journal::GenerationRecord;

    fn listed(id: u64, rollback_of: Option<u64>, kept: bool, result: &str) -> Listed {
        Listed {
            entry: HistoryEntry {
                record: GenerationRecord {
                    id,
                    started_at: 1_795_257_538,
                    source: "primary (127.0.0.1:7420)".into(),
                    requested_by: "127.0.0.1:50000".into(),
                    categories: vec![Category::Config],
                    files_changed: 3,
                    bytes_received: 2048,
                    bytes_written: 0,
                    rollback_of,
                    notices: Vec::new(),
                },
                result: result.into(),
                hooks: Vec::new(),
                duration_ms: 0,
            },
            kept,
        }
    }

    #[test]
    fn the_table_shows_rollbacks_failures_and_what_is_kept() {
        let applied = listed(1, None, false, "ok");
        let rollback = listed(2, Some(1), true, "ok");
        let failed = listed(0, None, false, "the source failed");
        let text = table("backup-1", &[rollback, failed, applied]);
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].contains("backup-1"), "{text}");
        assert!(lines[2].contains("rollback of 1") && lines[2].contains("yes"), "{text}");
        assert!(
            lines[3].contains("from primary (127.0.0.1:7420); asked by 127.0.0.1:50000; config")
        );
        assert!(lines[4].trim_start().starts_with('-') && lines[4].ends_with("the source failed"));
        assert!(lines[6].contains("2026-11-21 10:38:58") && lines[6].contains("2.0 KiB"), "{text}");
    }
}
