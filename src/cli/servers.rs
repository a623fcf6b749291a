//! `confsync servers`: keep the server list, and see every listed server live: reachable
//! or why not, version, serial, MAC, last sync, and whether its tree matches the primary's.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, Subcommand};
use confsync_engine::Category;
use confsync_engine::clock;
use confsync_engine::server::ServerInfo;
use confsync_engine::standing;
use confsync_wire::{AgentClient, ClientError};

use crate::cli::{ExitCode, UsageError, render, targets, tls_args};
use crate::config::servers::{Role, ServerEntry};

/// How long one server may take to answer in `list` and `show`.
const HELLO_TIMEOUT: Duration = Duration::from_secs(4);

#[derive(Debug, Subcommand)]
pub enum ServersCommand {
    /// Add a server to the list (or change it); with --ca/--cert/--key, store the
    /// certificate to reach it with.
    #[command(
        after_help = "Examples:\n  confsync servers add backup-1 10.0.0.2:7420 --role backup\n  \
                      confsync servers add backup-1 10.0.0.2:7420 --ca ca.pem --cert admin.pem --key admin.key\n  \
                      confsync servers add backup-1 10.0.0.2:7420 --two-way config"
    )]
    Add(AddArgs),
    /// Remove a server from the list.
    #[command(after_help = "Example:\n  confsync servers remove backup-1")]
    Remove { name: String },
    /// Ask every listed server at once and print one table.
    #[command(after_help = "Example:\n  confsync servers list --filter backup")]
    List(ListArgs),
    /// Everything one server reports about itself.
    #[command(after_help = "Example:\n  confsync servers show backup-1 --json")]
    Show {
        name: String,
        /// Print machine-readable JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct AddArgs {
    /// A short name to use in --from, --to and the wizard.
    pub name: String,
    /// Where its agent listens: host:port.
    pub address: String,
    /// primary or backup.
    #[arg(long, value_enum, default_value = "backup")]
    pub role: RoleArg,
    /// Categories `auto` synchronizes both ways between this server and its source,
    /// comma separated (`config`); the others go one way.
    #[arg(long, value_name = "CATS")]
    pub two_way: Option<String>,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum RoleArg {
    Primary,
    Backup,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only servers whose name contains this text (any case).
    #[arg(long)]
    pub filter: Option<String>,
    /// Print machine-readable JSON.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(command: ServersCommand) -> anyhow::Result<ExitCode> {
    match command {
        ServersCommand::Add(args) => add(args),
        ServersCommand::Remove { name } => remove(&name),
        ServersCommand::List(args) => list(args).await,
        ServersCommand::Show { name, json } => show(&name, json).await,
    }
}

fn add(args: AddArgs) -> anyhow::Result<ExitCode> {
    targets::address_ok(&args.address, "ADDRESS")?;
    if args.name.is_empty() || args.name.contains([',', ':', ' ']) {
        return Err(UsageError(format!(
            "server name {:?} may not be empty or contain ',', ':' or spaces",
            args.name
        ))
        .into());
    }
    let path = targets::servers_path();
    let mut list = targets::server_list()?;
    let role = match args.role {
        RoleArg::Primary => Role::Primary,
        RoleArg::Backup => Role::Backup,
    };
    if role == Role::Primary
        && let Some(other) = list.primary().filter(|p| p.name != args.name)
    {
        return Err(UsageError(format!(
            "{} is already the primary; change it to a backup first (servers add {} {} --role backup)",
            other.name, other.name, other.address
        ))
        .into());
    }
    // The global --ca/--cert/--key, when given, are the certificate for this server,
    // stored as absolute paths: the list is used from any folder.
    let absolute = |p: &std::path::Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let tls = tls_args::client_tls().map(|f| confsync_wire::TlsFiles {
        ca: absolute(&f.ca),
        cert: absolute(&f.cert),
        key: absolute(&f.key),
    });
    let entry = ServerEntry {
        name: args.name.clone(),
        address: args.address.clone(),
        role,
        tls,
        two_way: match &args.two_way {
            Some(list) => crate::cli::parse::categories(list).map_err(UsageError)?.0,
            None => Vec::new(),
        },
    };
    let verb = match list.servers.iter_mut().find(|s| s.name == args.name) {
        Some(existing) => {
            *existing = entry;
            "Updated"
        }
        None => {
            list.servers.push(entry);
            "Added"
        }
    };
    list.save(&path)?;
    println!("{verb} {} ({}, {}) in {}", args.name, args.address, role.name(), path.display());
    Ok(ExitCode::Success)
}

fn remove(name: &str) -> anyhow::Result<ExitCode> {
    let path = targets::servers_path();
    let mut list = targets::server_list()?;
    let before = list.servers.len();
    list.servers.retain(|s| s.name != name);
    if list.servers.len() == before {
        return Err(UsageError(format!(
            "no server named {name:?} in {}; known: {}",
            path.display(),
            list.names().join(", ")
        ))
        .into());
    }
    list.save(&path)?;
    println!("Removed {name} from {}", path.display());
    Ok(ExitCode::Success)
}

/// One server as seen just now.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ServerStatus {
    pub name: String,
    pub address: String,
    pub role: &'static str,
    pub reachable: bool,
    /// Why it could not be asked, when it could not.
    pub error: Option<String>,
    /// The same, short enough for a table cell, worded so that it reads right.
    pub reason: Option<String>,
    pub agent_version: Option<String>,
    /// The name the agent gives itself (`--name`, `name` in agent.toml).
    pub agent_name: Option<String>,
    pub hostname: Option<String>,
    pub serial: Option<String>,
    pub mac_addresses: Vec<String>,
    pub cpu: Option<String>,
    pub memory_bytes: Option<u64>,
    pub os: Option<String>,
    pub uptime_seconds: Option<u64>,
    pub protected: bool,
    /// The hold's reason, when it is held ("no reason given" when none was).
    pub held: Option<String>,
    /// Who placed the hold, and since when.
    pub held_by: Option<String>,
    #[serde(serialize_with = "clock::as_utc_opt")]
    pub held_since: Option<u64>,
    /// A commit-confirmed generation waiting for its confirmation.
    pub awaiting_confirmation: Option<Awaiting>,
    /// An apply running there now, with its progress.
    pub applying: Option<confsync_engine::server::Applying>,
    /// It answered, but speaks another protocol version (from the refusal's kind).
    pub version_mismatch: bool,
    pub last_generation: Option<u64>,
    pub last_sync_time: Option<u64>,
    pub last_sync_source: Option<String>,
    pub categories: Vec<CategoryStatus>,
    /// Paths changed on it since its last sync (0 when not compared).
    pub edited_here: u64,
    /// Why it could not be compared with the primary, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compare_error: Option<String>,
}

/// A commit-confirmed generation, and when it rolls back unless confirmed.
#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct Awaiting {
    pub generation: u64,
    #[serde(serialize_with = "clock::as_utc")]
    pub deadline: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_names_the_root_cause() {
        let full = "cannot reach the agent at 127.0.0.1:1: transport error: tcp connect error: \
                    Connection refused (os error 111); check that `confsync agent` runs there";
        assert_eq!(short_reason(full), "connection refused");
    }
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct CategoryStatus {
    pub category: Category,
    pub files: u64,
    pub bytes: u64,
    pub digest: String,
    /// Whether it equals the primary's; `None` when there is no primary to compare with.
    pub matches_primary: Option<bool>,
    /// Its folder, when the folder does not exist on the server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_folder: Option<String>,
}

/// Asks one server, bounded in time; an unreachable server is a status, not an error.
pub async fn probe(entry: &ServerEntry) -> ServerStatus {
    let hello = tokio::time::timeout(HELLO_TIMEOUT, async {
        let mut client = AgentClient::connect(&tls_args::with_default(entry.target())).await?;
        client.hello().await
    })
    .await;
    let mut status = ServerStatus {
        name: entry.name.clone(),
        address: entry.address.clone(),
        role: entry.role.name(),
        reachable: false,
        error: None,
        reason: None,
        agent_version: None,
        agent_name: None,
        hostname: None,
        serial: None,
        mac_addresses: Vec::new(),
        cpu: None,
        memory_bytes: None,
        os: None,
        uptime_seconds: None,
        protected: false,
        held: None,
        held_by: None,
        held_since: None,
        awaiting_confirmation: None,
        applying: None,
        version_mismatch: false,
        last_generation: None,
        last_sync_time: None,
        last_sync_source: None,
        categories: Vec::new(),
        edited_here: 0,
        compare_error: None,
    };
    let hello = match hello {
        Err(_) => {
            let why = format!("no answer within {}s", HELLO_TIMEOUT.as_secs());
            status.reason = Some(format!("unreachable: {why}"));
            status.error = Some(why);
            return status;
        }
        Ok(Err(e)) => {
            status.version_mismatch = e
                .refusals()
                .iter()
                .any(|r| r.kind == confsync_engine::refusal::RefusalKind::VersionMismatch);
            status.reason = Some(short_status(&e));
            status.error = Some(e.to_string());
            return status;
        }
        Ok(Ok(hello)) => hello,
    };
    status.reachable = true;
    fill(&mut status, hello);
    status
}

fn fill(status: &mut ServerStatus, hello: ServerInfo) {
    let some = |s: String| (!s.is_empty()).then_some(s);
    status.agent_version = some(hello.agent_version);
    status.agent_name = some(hello.name);
    status.hostname = some(hello.hostname);
    status.protected = hello.protected;
    if let Some(hold) = hello.hold {
        status.held =
            Some(if hold.reason.is_empty() { "no reason given".into() } else { hold.reason });
        status.held_by = some(hold.held_by);
        status.held_since = (hold.since > 0).then_some(hold.since);
    }
    status.awaiting_confirmation = hello
        .pending_confirmation
        .map(|p| Awaiting { generation: p.generation, deadline: p.deadline });
    status.applying = hello.applying.clone();
    if let Some(last) = hello.last_generation {
        status.last_generation = Some(last.id);
        status.last_sync_time = Some(last.time);
        status.last_sync_source = some(last.source);
    }
    let inv = hello.inventory;
    status.serial = some(inv.serial_number);
    status.mac_addresses = inv.mac_addresses;
    status.cpu = some(inv.cpu_model);
    status.memory_bytes = Some(inv.memory_bytes);
    status.os = some(inv.os);
    status.uptime_seconds = Some(inv.uptime_seconds);
    status.categories = hello
        .categories
        .into_iter()
        .map(|c| CategoryStatus {
            category: c.category,
            files: c.files,
            bytes: c.bytes,
            digest: c.digest.to_hex(),
            matches_primary: None,
            missing_folder: c.missing_folder,
        })
        .collect();
}

/// Marks each category of each server as in sync with the primary or not, as `diff` and
/// `status` would say ([`standing`]): from the plan the primary's changes make there and
/// the server's drift, never from a bare digest (a server keeping its own items never has
/// the primary's).
async fn compare_with_primary(statuses: &mut [ServerStatus], entries: &[ServerEntry]) {
    let Some(primary) = entries.iter().find(|e| {
        e.role == Role::Primary && statuses.iter().any(|s| s.name == e.name && s.reachable)
    }) else {
        return;
    };
    let compared = futures::future::join_all(statuses.iter().map(|status| async move {
        if !status.reachable || status.name == primary.name {
            return None;
        }
        let entry = entries.iter().find(|e| e.name == status.name)?;
        Some(crate::cli::flow::compare(entry, primary).await)
    }))
    .await;
    for (status, compared) in statuses.iter_mut().zip(compared) {
        if status.name == primary.name && status.reachable {
            status.categories.iter_mut().for_each(|c| c.matches_primary = Some(true));
            continue;
        }
        match compared {
            Some(Ok((view, drift))) => {
                let in_sync = standing::categories(&view, &drift);
                for c in &mut status.categories {
                    c.matches_primary =
                        in_sync.iter().find(|(cat, _)| *cat == c.category).map(|(_, ok)| *ok);
                }
                status.edited_here = drift.total;
            }
            Some(Err(e)) => status.compare_error = Some(format!("{e:#}")),
            None => {}
        }
    }
}

/// Every listed server, asked at once, and compared with the primary.
pub async fn probe_all(entries: &[ServerEntry]) -> Vec<ServerStatus> {
    let mut statuses = futures::future::join_all(entries.iter().map(probe)).await;
    compare_with_primary(&mut statuses, entries).await;
    statuses
}

async fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let all = targets::server_list()?;
    let filter = args.filter.as_deref().map(str::to_lowercase);
    // The primary is always asked, so that every row can be compared with it.
    let asked: Vec<ServerEntry> = all
        .servers
        .iter()
        .filter(|s| {
            s.role == Role::Primary
                || filter.as_ref().is_none_or(|f| s.name.to_lowercase().contains(f))
        })
        .cloned()
        .collect();
    let shown =
        |s: &ServerStatus| filter.as_ref().is_none_or(|f| s.name.to_lowercase().contains(f));
    let statuses: Vec<ServerStatus> = probe_all(&asked).await.into_iter().filter(shown).collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&statuses)?);
    } else if all.servers.is_empty() {
        println!(
            "The server list {} is empty. Add servers with `confsync servers add NAME ADDRESS --role primary|backup`.",
            targets::servers_path().display()
        );
    } else {
        print!("{}", table(&statuses));
    }
    Ok(ExitCode::Success)
}

async fn show(name: &str, json: bool) -> anyhow::Result<ExitCode> {
    let list = targets::server_list()?;
    let unlisted;
    let entry = match list.find(name) {
        Some(entry) => entry,
        // An address works here as it does everywhere else.
        None if targets::address_ok(name, "NAME").is_ok() => {
            unlisted = ServerEntry {
                name: name.to_string(),
                address: name.to_string(),
                role: Role::Backup,
                tls: tls_args::client_tls(),
                two_way: Vec::new(),
            };
            &unlisted
        }
        None => {
            return Err(UsageError(format!(
                "no server named {name:?}, and it is no host:port address; known: {}",
                list.names().join(", ")
            ))
            .into());
        }
    };
    let mut asked = vec![entry.clone()];
    if let Some(primary) = list.primary().filter(|p| p.name != entry.name) {
        asked.push(primary.clone());
    }
    let mut status = probe_all(&asked).await.remove(0);
    if list.find(name).is_none() {
        status.role = "unlisted";
        // Typed as an address: the agent's own name says which server it is.
        if let Some(own) = status.agent_name.clone() {
            status.name = own;
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&status)?);
    } else {
        print!("{}", details(&status));
    }
    Ok(if status.reachable { ExitCode::Success } else { ExitCode::Failed })
}

/// A failed `Hello` in a table cell, from the error's kind: a refusal keeps its first
/// sentence whole (cutting one mid-way can make it read as its opposite), a TLS problem
/// keeps the file it names, an unreachable agent its root cause.
fn short_status(error: &ClientError) -> String {
    let first_sentence = |text: &str| -> String {
        let end = text.find(". ").or_else(|| text.find("; ")).unwrap_or(text.len());
        // The address has a column of its own.
        let sentence = text[..end].replace(&format!(" to {}", error.address()), "");
        let sentence = sentence.as_str();
        if sentence.chars().count() > 100 {
            format!("{}…", sentence.chars().take(100).collect::<String>())
        } else {
            sentence.to_string()
        }
    };
    match error {
        ClientError::Unreachable { detail, .. } => format!("unreachable: {}", short_reason(detail)),
        ClientError::Refused { refusals, .. } => {
            format!("refused: {}", first_sentence(&confsync_engine::refusal::joined(refusals)))
        }
        ClientError::Tls { detail, .. } => format!("TLS: {}", first_sentence(detail)),
        ClientError::Failed { message, .. } => format!("failed: {}", first_sentence(message)),
        ClientError::Protocol { detail, .. } => format!("protocol: {}", first_sentence(detail)),
        ClientError::Gone { detail, .. } => format!("went away: {}", first_sentence(detail)),
    }
}

/// The root cause at the end of an error chain, short enough for a table cell.
fn short_reason(error: &str) -> String {
    let without_hint = error.split("; check that").next().unwrap_or(error);
    let cause = without_hint.rsplit(": ").next().unwrap_or(without_hint);
    let cause = cause.split(" (os error").next().unwrap_or(cause).trim();
    cause.chars().take(40).collect::<String>().to_lowercase()
}

/// `3m ago`, `2h ago`, `5d ago`.
pub fn age(epoch_seconds: u64) -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let secs = now.saturating_sub(epoch_seconds);
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86400),
    }
}

fn matches_column(s: &ServerStatus) -> String {
    if !s.reachable {
        return "-".into();
    }
    if s.role == Role::Primary.name() {
        return "(primary)".into();
    }
    let differing: Vec<&str> = s
        .categories
        .iter()
        .filter(|c| c.matches_primary == Some(false))
        .map(|c| c.category.name())
        .collect();
    match (s.categories.iter().all(|c| c.matches_primary.is_none()), differing.is_empty()) {
        (true, _) => "no primary".into(),
        (false, true) => "all match".into(),
        (false, false) => format!("differs: {}", differing.join(",")),
    }
}

pub fn table(statuses: &[ServerStatus]) -> String {
    let header = [
        "NAME",
        "ADDRESS",
        "ROLE",
        "STATUS",
        "VERSION",
        "SERIAL",
        "MAC",
        "LAST SYNC",
        "MATCHES PRIMARY",
    ];
    let rows: Vec<[String; 9]> = statuses
        .iter()
        .map(|s| {
            let status = match (&s.error, &s.held) {
                (Some(e), _) => {
                    s.reason.clone().unwrap_or_else(|| format!("unreachable: {}", short_reason(e)))
                }
                (None, Some(reason)) => format!("held: {reason}"),
                (None, None) if s.awaiting_confirmation.is_some() => {
                    let Awaiting { generation, deadline } =
                        s.awaiting_confirmation.unwrap_or_default();
                    format!("awaiting confirmation of {generation} until {}", clock::utc(deadline))
                }
                (None, None) if s.protected => "up (protected)".into(),
                (None, None) => "up".into(),
            };
            let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            [
                s.name.clone(),
                s.address.clone(),
                s.role.to_string(),
                status,
                dash(&s.agent_version),
                dash(&s.serial),
                s.mac_addresses.first().cloned().unwrap_or_else(|| "-".into()),
                s.last_sync_time.map_or_else(|| "never".into(), age),
                matches_column(s),
            ]
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count().min(60));
        }
    }
    let line = |cells: Vec<&str>| -> String {
        let text: Vec<String> =
            cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}", w = *w)).collect();
        format!("{}\n", text.join("  ").trim_end())
    };
    let mut out = line(header.to_vec());
    for row in &rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

fn details(s: &ServerStatus) -> String {
    let mut out = format!("{} ({}, {})\n", s.name, s.address, s.role);
    let mut field = |k: &str, v: String| out.push_str(&format!("  {k:<20} {v}\n"));
    if let Some(e) = &s.error {
        field("status", format!("unreachable: {e}"));
        return out;
    }
    let held = s.held.as_ref().map(|reason| {
        let by = s.held_by.as_ref().map_or_else(String::new, |b| format!(" by {b}"));
        let since = s.held_since.map_or_else(String::new, |t| format!(" since {}", clock::utc(t)));
        format!("on hold{since}{by}: {reason} (`confsync release --server {}` ends it)", s.name)
    });
    field("status", held.unwrap_or_else(|| "up".into()));
    if let Some(Awaiting { generation, deadline }) = s.awaiting_confirmation {
        field(
            "confirmation",
            format!(
                "generation {generation} rolls back at {} unless confirmed \
                 (`confsync confirm --server {}`)",
                clock::utc(deadline),
                s.name
            ),
        );
    }
    field("protected", if s.protected { "yes".into() } else { "no".into() });
    let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    field("agent version", dash(&s.agent_version));
    field("hostname", dash(&s.hostname));
    field("serial", dash(&s.serial));
    field(
        "MAC addresses",
        if s.mac_addresses.is_empty() { "-".into() } else { s.mac_addresses.join(", ") },
    );
    field("CPU", dash(&s.cpu));
    field("memory", s.memory_bytes.map_or_else(|| "-".into(), render::bytes));
    field("OS", dash(&s.os));
    field(
        "uptime",
        s.uptime_seconds
            .map_or_else(|| "-".into(), |u| format!("{}h {}m", u / 3600, u % 3600 / 60)),
    );
    let last = match (s.last_generation, s.last_sync_time) {
        (Some(g), Some(t)) => {
            format!("generation {g}, {} from {}", age(t), dash(&s.last_sync_source))
        }
        _ => "never".into(),
    };
    field("last sync", last);
    if s.edited_here > 0 {
        field(
            "edited here",
            format!(
                "{} {} changed since its last sync (`confsync status` lists them)",
                s.edited_here,
                if s.edited_here == 1 { "path" } else { "paths" }
            ),
        );
    }
    if let Some(e) = &s.compare_error {
        field("compared", format!("not compared with the primary: {e}"));
    }
    for c in &s.categories {
        if let Some(folder) = &c.missing_folder {
            field(c.category.title(), format!("no folder: {folder} does not exist (empty)"));
            continue;
        }
        let matches = match c.matches_primary {
            _ if s.role == Role::Primary.name() => "",
            Some(true) => "in sync with the primary",
            Some(false) => "differs from the primary",
            None => "",
        };
        field(
            c.category.title(),
            format!(
                "{} {}, {}, digest {} {matches}",
                c.files,
                if c.files == 1 { "file" } else { "files" },
                render::bytes(c.bytes),
                &c.digest[..12]
            )
            .trim_end()
            .to_string(),
        );
    }
    out
}
