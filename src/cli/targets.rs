//! Reading servers and category lists from the command line. A server is named by its
//! name in the server list or by a plain `host:port` address, wherever one is asked for.

use std::path::PathBuf;
use std::sync::OnceLock;

use confsync_wire::Target;

use crate::cli::UsageError;
use crate::config::servers::{self, ServerList};

static SERVERS_PATH: OnceLock<PathBuf> = OnceLock::new();

/// The environment variable that names the server list when `--servers` does not.
pub const SERVERS_ENV: &str = "CONFSYNC_SERVERS";

/// The port an agent listens on when none is given.
pub const DEFAULT_PORT: u16 = 7420;

/// Sets where the server list is, once: `--servers`, else `CONFSYNC_SERVERS`, else the
/// user's config folder. (The variable is read here rather than by clap, so that usage
/// lines never show `--servers` as if it had been typed.)
pub fn set_servers_path(path: Option<PathBuf>) {
    let from_env = std::env::var_os(SERVERS_ENV).filter(|v| !v.is_empty()).map(PathBuf::from);
    let _ = SERVERS_PATH.set(path.or(from_env).unwrap_or_else(servers::default_path));
}

pub fn servers_path() -> PathBuf {
    SERVERS_PATH.get().cloned().unwrap_or_else(servers::default_path)
}

/// The server list, or an empty one where there is none yet; a list that cannot be read
/// is a usage error (exit 2) naming the file, for every command alike.
pub fn server_list() -> Result<ServerList, UsageError> {
    ServerList::load(&servers_path()).map_err(|e| UsageError(format!("{e:#}")))
}

pub fn address_ok(address: &str, flag: &str) -> Result<(), UsageError> {
    let port = address.rsplit_once(':').map(|(host, port)| (host, port.parse::<u16>()));
    match port {
        Some((host, Ok(_))) if !host.is_empty() => Ok(()),
        _ => Err(UsageError(format!(
            "{flag} {address:?} is not an address; give host:port, for example 10.0.0.2:7420"
        ))),
    }
}

/// A server as the administrator named it, and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// As typed: a name from the list, or an address. Output names servers by it.
    pub label: String,
    pub target: Target,
}

/// A server as named on the command line: a name from the server list, else `host:port`.
/// A host that is a list name with some port is that entry (said on stderr); a host with
/// no port gets the agent's default port (said too).
pub fn resolve(text: &str, flag: &str) -> Result<Server, UsageError> {
    let text = text.trim();
    let named = |target: Target| Server { label: text.to_string(), target };
    // A plain address works even when the server list is broken.
    let list = match server_list() {
        Ok(list) => list,
        Err(e) if address_ok(text, flag).is_ok() => {
            tracing::warn!("{e}; using {text} as an address");
            return Ok(named(crate::cli::tls_args::target(text)));
        }
        Err(e) => return Err(e),
    };
    if let Some(entry) = list.find(text) {
        return Ok(named(crate::cli::tls_args::with_default(entry.target())));
    }
    if let Some((host, _)) = text.rsplit_once(':')
        && let Some(entry) = list.find(host)
    {
        eprintln!(
            "confsync: {flag} {text}: {host} is a server of the list (at {}); using that entry",
            entry.address
        );
        return Ok(Server {
            label: host.to_string(),
            target: crate::cli::tls_args::with_default(entry.target()),
        });
    }
    if address_ok(text, flag).is_ok() {
        return Ok(named(crate::cli::tls_args::target(text)));
    }
    if !text.is_empty() && !text.contains([':', '/', ' ', ',']) && looks_like_a_host(text) {
        let address = format!("{text}:{DEFAULT_PORT}");
        eprintln!("confsync: {flag} {text}: no port given; using the agent's default, {address}");
        return Ok(Server {
            label: text.to_string(),
            target: crate::cli::tls_args::target(&address),
        });
    }
    let known = if list.servers.is_empty() {
        format!("the server list {} is empty", servers_path().display())
    } else {
        format!("known servers: {}", list.names().join(", "))
    };
    Err(UsageError(format!(
        "{flag} {text:?} is neither a server name nor an address; {known}. \
         Give host:port, or add it with `confsync servers add NAME ADDRESS`"
    )))
}

/// An IP address, or a name with a dot (a host name rather than a mistyped server name).
fn looks_like_a_host(text: &str) -> bool {
    text.parse::<std::net::IpAddr>().is_ok() || text == "localhost" || text.contains('.')
}

/// A comma-separated list of servers.
pub fn resolve_list(list: &str, flag: &str) -> Result<Vec<Server>, UsageError> {
    let names: Vec<&str> = list.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    if names.is_empty() {
        return Err(UsageError(format!("{flag} needs at least one server name or address")));
    }
    let mut servers: Vec<Server> = Vec::new();
    for name in names {
        let server = resolve(name, flag)?;
        // Naming one server twice must not race two applies against each other.
        if !servers.iter().any(|s| s.target.address == server.target.address) {
            servers.push(server);
        }
    }
    Ok(servers)
}

/// `--from X --to X`: a usage error before anything connects.
pub fn distinct(source: &Server, destinations: &[Server]) -> Result<(), UsageError> {
    match destinations.iter().find(|d| d.target.address == source.target.address) {
        Some(same) => Err(UsageError(format!(
            "{} is both the source and a destination; choose another --to (or --from)",
            same.label
        ))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_need_a_port() {
        assert!(address_ok("10.0.0.2:7420", "--to").is_ok());
        assert!(address_ok("[::1]:7420", "--to").is_ok());
        assert!(address_ok("backup-1", "--to").is_err());
        assert!(address_ok(":7420", "--to").is_err());
        assert!(address_ok("", "--to").is_err());
    }
}
