//! Reading servers and category lists from the command line. A server is named by its
//! name in the server list or by a plain `host:port` address, wherever one is asked for.

use std::path::PathBuf;
use std::sync::OnceLock;

use confsync_engine::category::{self, Category};
use confsync_wire::Target;

use crate::cli::UsageError;
use crate::config::servers::{self, ServerList};

static SERVERS_PATH: OnceLock<PathBuf> = OnceLock::new();

/// Sets where the server list is, once, from `--servers` / `CONFSYNC_SERVERS`.
pub fn set_servers_path(path: Option<PathBuf>) {
    let _ = SERVERS_PATH.set(path.unwrap_or_else(servers::default_path));
}

pub fn servers_path() -> PathBuf {
    SERVERS_PATH.get().cloned().unwrap_or_else(servers::default_path)
}

/// The server list, or an empty one where there is none yet.
pub fn server_list() -> anyhow::Result<ServerList> {
    ServerList::load(&servers_path())
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

/// A server as named on the command line: a name from the server list, else `host:port`.
pub fn resolve(text: &str, flag: &str) -> Result<Target, UsageError> {
    let text = text.trim();
    let list = server_list().map_err(|e| UsageError(format!("{e:#}")))?;
    if let Some(entry) = list.find(text) {
        return Ok(crate::cli::tls_args::with_default(entry.target()));
    }
    if address_ok(text, flag).is_ok() {
        return Ok(crate::cli::tls_args::target(text));
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

/// A comma-separated list of servers.
pub fn resolve_list(list: &str, flag: &str) -> Result<Vec<Target>, UsageError> {
    let names: Vec<&str> = list.split(',').map(str::trim).filter(|s| !s.is_empty()).collect();
    if names.is_empty() {
        return Err(UsageError(format!("{flag} needs at least one server name or address")));
    }
    let mut targets: Vec<Target> = Vec::new();
    for name in names {
        let target = resolve(name, flag)?;
        // Naming one server twice must not race two applies against each other.
        if !targets.iter().any(|t| t.address == target.address) {
            targets.push(target);
        }
    }
    Ok(targets)
}

pub fn categories(only: &str) -> Result<Vec<Category>, UsageError> {
    category::parse_list(only).map_err(|e| UsageError(format!("--only: {e}")))
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
        assert!(
            categories("licenses").expect_err("refused").to_string().contains("never synchronized")
        );
    }
}
