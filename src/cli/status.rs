//! `confsync status`: one row per server of the list, against the primary (or `--from`),
//! saying what it is (in sync, changes pending, edited locally, awaiting its initial sync,
//! applying, on hold, awaiting confirmation, unreachable, another version; with the primary
//! down: source down, and not compared) and ending with
//! the command that fixes it. `--watch` keeps the table live: redrawn in place on a
//! terminal when any agent's tree changes (their `Watch` streams) and every few seconds
//! for what has no stream (holds, progress). Exit codes for monitoring scripts: 0 all in
//! sync, 1 something pending or drifted (or held, applying, awaiting confirmation), 3
//! something unreachable.

use std::io::IsTerminal;
use std::time::Duration;

use clap::Args;
use confsync_engine::category::Category;
use confsync_engine::clock;
use confsync_engine::standing::{self, Standing};
use serde::Serialize;

use crate::cli::servers::{Awaiting, ServerStatus, probe};
use crate::cli::{ExitCode, UsageError, flow, render, targets, tls_args};
use crate::config::servers::ServerEntry;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The server the others are compared with [default: the list's primary].
    #[arg(long, value_name = "SRC")]
    pub from: Option<String>,

    /// Keep the table live: redrawn when a tree changes, and every --every.
    #[arg(long)]
    pub watch: bool,

    /// With --watch, redraw at least this often.
    #[arg(long, value_name = "DURATION", default_value = "5s",
          value_parser = crate::cli::parse::duration)]
    pub every: Duration,

    /// Print the rows as JSON (with --watch, one document per line).
    #[arg(long)]
    pub json: bool,
}

/// What a server is, against the primary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum State {
    /// The primary itself.
    Primary,
    InSync,
    /// The primary has files it lacks (or differ): how many, how many bytes, since when.
    ChangesPending {
        files: u64,
        bytes: u64,
        last_sync: Option<u64>,
    },
    /// Its tree differs from what its last sync left: local edits.
    EditedLocally {
        paths: Vec<String>,
        total: u64,
        pending_files: u64,
    },
    /// Never synchronized, and it differs.
    AwaitingInitialSync {
        files: u64,
        bytes: u64,
    },
    Applying {
        source: String,
        bytes_done: u64,
        bytes_total: u64,
    },
    OnHold {
        reason: String,
        by: String,
        #[serde(serialize_with = "clock::as_utc")]
        since: u64,
    },
    AwaitingConfirmation {
        generation: u64,
        #[serde(serialize_with = "clock::as_utc")]
        deadline: u64,
    },
    Unreachable {
        reason: String,
    },
    /// The primary (or `--from`) cannot be asked: nothing can be compared with it.
    SourceDown {
        reason: String,
    },
    /// Up, but not compared: its source is down.
    NotCompared {
        reason: String,
    },
    VersionMismatch {
        reason: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub name: String,
    pub address: String,
    pub role: &'static str,
    #[serde(flatten)]
    pub state: State,
    /// What fixes it; none when nothing is to be done.
    pub command: Option<String>,
}

impl Row {
    fn exit_code(&self) -> ExitCode {
        match self.state {
            State::Primary | State::InSync => ExitCode::Success,
            State::Unreachable { .. }
            | State::SourceDown { .. }
            | State::VersionMismatch { .. } => ExitCode::Failed,
            _ => ExitCode::Differences,
        }
    }
}

pub async fn run(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let list = targets::server_list()?;
    if list.servers.is_empty() {
        return Err(UsageError(format!(
            "the server list {} is empty: add servers with `confsync servers add NAME ADDRESS`",
            targets::servers_path().display()
        ))
        .into());
    }
    let primary = match &args.from {
        Some(name) => list.find(name).cloned().ok_or_else(|| {
            UsageError(format!(
                "--from {name}: not in the server list ({})",
                list.names().join(", ")
            ))
        })?,
        None => list.primary().cloned().ok_or_else(|| {
            UsageError(
                "the server list has no primary: give --from, or mark one with `confsync servers \
                 add NAME ADDRESS --role primary`"
                    .into(),
            )
        })?,
    };
    if !args.watch {
        let rows = rows(&list.servers, &primary).await;
        print(&rows, &primary, args.json, false);
        return Ok(worst(&rows));
    }
    watch(&list.servers, &primary, &args).await
}

fn worst(rows: &[Row]) -> ExitCode {
    rows.iter().map(Row::exit_code).max().unwrap_or(ExitCode::Success)
}

/// One row per server, all asked at once.
pub async fn rows(servers: &[ServerEntry], primary: &ServerEntry) -> Vec<Row> {
    let primary_status = probe(primary).await;
    futures::future::join_all(servers.iter().map(|s| row(s, primary, &primary_status))).await
}

async fn row(entry: &ServerEntry, primary: &ServerEntry, primary_status: &ServerStatus) -> Row {
    let mut row = Row {
        name: entry.name.clone(),
        address: entry.address.clone(),
        role: entry.role.name(),
        state: State::InSync,
        command: None,
    };
    let status =
        if entry.name == primary.name { primary_status.clone() } else { probe(entry).await };
    let name = &entry.name;
    if let Some(error) = &status.error {
        let mismatch = status.version_mismatch;
        row.state = if mismatch {
            State::VersionMismatch { reason: error.clone() }
        } else {
            let reason = status.reason.clone().unwrap_or_else(|| error.clone());
            let reason = reason.strip_prefix("unreachable: ").unwrap_or(&reason).to_string();
            if entry.name == primary.name {
                State::SourceDown { reason }
            } else {
                State::Unreachable { reason }
            }
        };
        row.command = Some(if mismatch {
            format!("install the same confsync version on {name} and on this machine")
        } else {
            format!(
                "check the agent on {name}: systemctl status confsync-agent (at {})",
                entry.address
            )
        });
        return row;
    }
    if entry.name == primary.name {
        row.state = State::Primary;
        return row;
    }
    if let Some(applying) = &status.applying {
        row.state = State::Applying {
            source: applying.source.clone(),
            bytes_done: applying.bytes_done,
            bytes_total: applying.bytes_total,
        };
        row.command = Some(format!("wait, or follow it: confsync history --server {name}"));
        return row;
    }
    if let Some(Awaiting { generation, deadline }) = status.awaiting_confirmation {
        row.state = State::AwaitingConfirmation { generation, deadline };
        row.command = Some(format!("confsync confirm --server {name}"));
        return row;
    }
    if let Some(reason) = &status.held {
        row.state = State::OnHold {
            reason: reason.clone(),
            by: status.held_by.clone().unwrap_or_default(),
            since: status.held_since.unwrap_or(0),
        };
        row.command = Some(format!("confsync release --server {name}"));
        return row;
    }
    if primary_status.error.is_some() {
        row.state = State::NotCompared { reason: format!("{} is down", primary.name) };
        return row;
    }
    match flow::compare(entry, primary).await {
        Ok((view, drift)) => {
            let sync = format!("confsync sync --from {} --to {name}", primary.name);
            let synced_before = status.last_generation.is_some();
            match standing::judge(&view, &drift, synced_before) {
                Standing::EditedHere { pending_files } => {
                    let paths = drift
                        .paths
                        .iter()
                        .map(|(c, p, k)| format!("{c}/{p} ({})", k.name()))
                        .collect();
                    row.state = State::EditedLocally { paths, total: drift.total, pending_files };
                    row.command = Some(format!(
                        "review: confsync diff --from {} --to {name}; keep the edit by making it \
                         on the primary, or replace it: {sync}",
                        primary.name
                    ));
                }
                Standing::InSync => row.state = State::InSync,
                Standing::NeverSynced { files, bytes } => {
                    row.state = State::AwaitingInitialSync { files, bytes };
                    row.command = Some(sync);
                }
                Standing::Pending { files, bytes } => {
                    row.state =
                        State::ChangesPending { files, bytes, last_sync: status.last_sync_time };
                    row.command = Some(sync);
                }
            }
        }
        Err(e) => {
            row.state = State::Unreachable { reason: format!("{e:#}") };
            row.command = Some(format!(
                "check the agents: confsync diff --from {} --to {name}",
                primary.name
            ));
        }
    }
    row
}

fn print(rows: &[Row], primary: &ServerEntry, json: bool, redraw: bool) {
    if json {
        let doc = crate::cli::events::Status {
            primary: &primary.name,
            time: clock::utc(clock::now_secs()),
            servers: rows,
        };
        crate::cli::events::print(&doc, redraw);
        return;
    }
    let mut out = String::new();
    if redraw {
        // Home and clear: the table is redrawn in place.
        out.push_str("\x1b[H\x1b[2J");
    }
    out.push_str(&format!(
        "Status against {} ({}), {}:\n",
        primary.name,
        primary.address,
        clock::utc(clock::now_secs())
    ));
    out.push_str(&format!("  {:<14} {:<8} {:<22} {}\n", "NAME", "ROLE", "ADDRESS", "STATE"));
    for row in rows {
        out.push_str(&format!(
            "  {:<14} {:<8} {:<22} {}\n",
            row.name,
            row.role,
            row.address,
            describe(&row.state)
        ));
        if let State::EditedLocally { paths, total, .. } = &row.state {
            for path in paths.iter().take(5) {
                out.push_str(&format!("{:48}{path}\n", ""));
            }
            if *total > 5 {
                out.push_str(&format!("{:48}… and {} more\n", "", total - 5));
            }
        }
        if let Some(command) = &row.command {
            out.push_str(&format!("{:48}→ {command}\n", ""));
        }
    }
    print!("{out}");
}

/// The state column: a few words an administrator reads at a glance.
pub fn describe(state: &State) -> String {
    match state {
        State::Primary => "primary".into(),
        State::InSync => "in sync".into(),
        State::ChangesPending { files, bytes, last_sync } => format!(
            "changes pending: {files} {} ({}) from the primary{}",
            if *files == 1 { "file" } else { "files" },
            render::bytes(*bytes),
            last_sync.map(|t| format!(", last synced {}", clock::utc(t))).unwrap_or_default()
        ),
        State::EditedLocally { total, pending_files, .. } => format!(
            "edited locally: {total} {} changed since its last sync{}",
            if *total == 1 { "path" } else { "paths" },
            if *pending_files > 0 {
                format!(" ({pending_files} files differ from the primary)")
            } else {
                String::new()
            }
        ),
        State::AwaitingInitialSync { files, bytes } => {
            format!("awaiting initial sync: {files} files ({}) to bring", render::bytes(*bytes))
        }
        State::Applying { source, bytes_done, bytes_total } => format!(
            "applying from {source}: {} of {}",
            render::bytes(*bytes_done),
            render::bytes(*bytes_total)
        ),
        State::OnHold { reason, by, since } => format!(
            "on hold: {reason} (by {}, since {})",
            if by.is_empty() { "someone" } else { by },
            clock::utc(*since)
        ),
        State::AwaitingConfirmation { generation, deadline } => format!(
            "awaiting confirmation of generation {generation} (rolls back at {} unless confirmed)",
            clock::utc(*deadline)
        ),
        State::Unreachable { reason } => format!("unreachable: {reason}"),
        State::SourceDown { reason } => format!("source down, cannot compare: {reason}"),
        State::NotCompared { reason } => format!("not compared: {reason}"),
        State::VersionMismatch { reason } => format!("version mismatch: {reason}"),
    }
}

/// `--watch`: redraw on any agent's tree change, and at least every `--every`.
async fn watch(
    servers: &[ServerEntry],
    primary: &ServerEntry,
    args: &StatusArgs,
) -> anyhow::Result<ExitCode> {
    let (bump, mut changes) = tokio::sync::watch::channel(0u64);
    let mut tasks = tokio::task::JoinSet::new();
    for entry in servers {
        let target = tls_args::with_default(entry.target());
        tasks.spawn(crate::cli::auto::changes::follow(
            target,
            Category::ALL.to_vec(),
            bump.clone(),
            |_| {},
        ));
    }
    drop(bump);
    let redraw = !args.json && std::io::stdout().is_terminal();
    loop {
        let rows = rows(servers, primary).await;
        // JSON while watching: one compact document per line.
        print(&rows, primary, args.json, redraw || args.json);
        tokio::select! {
            _ = changes.changed() => {}
            () = tokio::time::sleep(args.every) => {}
            _ = tokio::signal::ctrl_c() => break,
        }
        // A burst of changes is one redraw.
        tokio::time::sleep(Duration::from_millis(300)).await;
        changes.borrow_and_update();
    }
    tasks.shutdown().await;
    Ok(ExitCode::Success)
}
