//! `confsync history`: the applies and rollbacks recorded on a server, newest first, as a
//! table or (`--json`) one JSON document.

use std::fmt::Write;

use clap::Args;

use crate::cli::{ExitCode, render, targets};
use crate::client::AgentClient;
use crate::engine::clock;
use crate::proto::{self, v1};

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
    let target = targets::resolve(&args.server, "--server")?;
    let mut client = AgentClient::connect(&target).await?;
    let mut generations = client.history().await?;
    if args.limit > 0 {
        generations.truncate(args.limit);
    }
    if args.json {
        let doc = serde_json::json!({
            "server": args.server,
            "address": target.address,
            "generations": generations.iter().map(to_json).collect::<Vec<_>>(),
        });
        println!("{}", serde_json::to_string_pretty(&doc)?);
    } else {
        print!("{}", table(&args.server, &generations));
    }
    Ok(ExitCode::Success)
}

fn categories(g: &v1::Generation) -> Vec<String> {
    g.categories
        .iter()
        .filter_map(|c| proto::category_from_proto(*c).ok())
        .map(|c| c.name().to_string())
        .collect()
}

fn to_json(g: &v1::Generation) -> serde_json::Value {
    serde_json::json!({
        "generation": g.id,
        "time": clock::utc(g.started_at),
        "started_at": g.started_at,
        "kind": g.kind,
        "source": g.source,
        "requested_by": g.requested_by,
        "categories": categories(g),
        "files_changed": g.files_changed,
        "bytes_received": g.bytes_received,
        "bytes_written": g.bytes_written,
        "duration_ms": g.duration_ms,
        "result": g.result,
        "kept": g.kept,
    })
}

/// The table an administrator reads: one line per entry with the result last (it can be
/// long), and under it where it came from, who asked and which categories.
pub fn table(server: &str, generations: &[v1::Generation]) -> String {
    let mut out = String::new();
    if generations.is_empty() {
        let _ = writeln!(out, "{server}: nothing was ever applied here.");
        return out;
    }
    let _ = writeln!(out, "History of {server}, newest first (kept: can be rolled back):");
    let _ = writeln!(
        out,
        "{:>5}  {:<19}  {:<15}  {:>6}  {:>10}  {:<4}  RESULT",
        "GEN", "TIME (UTC)", "KIND", "FILES", "RECEIVED", "KEPT"
    );
    for g in generations {
        let id = if g.id == 0 { "-".to_string() } else { g.id.to_string() };
        let time = clock::utc(g.started_at).replace('T', " ").trim_end_matches('Z').to_string();
        let _ = writeln!(
            out,
            "{id:>5}  {time:<19}  {:<15}  {:>6}  {:>10}  {:<4}  {}",
            g.kind,
            g.files_changed,
            render::bytes(g.bytes_received),
            if g.kept { "yes" } else { "no" },
            g.result
        );
        let mut origin = format!("from {}; asked by {}", g.source, g.requested_by);
        let categories = categories(g);
        if !categories.is_empty() {
            let _ = write!(origin, "; {}", categories.join(", "));
        }
        let _ = writeln!(out, "       {origin}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_shows_rollbacks_failures_and_what_is_kept() {
        let applied = v1::Generation {
            id: 1,
            started_at: 1_795_257_538,
            source: "primary (127.0.0.1:7420)".into(),
            requested_by: "127.0.0.1:50000".into(),
            categories: vec![v1::Category::Config as i32],
            files_changed: 3,
            bytes_received: 2048,
            kind: "applied".into(),
            kept: false,
            result: "ok".into(),
            ..Default::default()
        };
        let rollback =
            v1::Generation { id: 2, kind: "rollback of 1".into(), kept: true, ..applied.clone() };
        let failed =
            v1::Generation { id: 0, result: "the source failed".into(), ..applied.clone() };
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
