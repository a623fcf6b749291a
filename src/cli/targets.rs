//! Reading server addresses and category lists from the command line.

use crate::cli::UsageError;
use crate::client::Target;
use crate::engine::category::{self, Category};

/// Splits `a:1,b:2` into addresses, each checked to be `host:port`.
pub fn addresses(list: &str, flag: &str) -> Result<Vec<String>, UsageError> {
    let out: Vec<String> =
        list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect();
    if out.is_empty() {
        return Err(UsageError(format!("{flag} needs at least one server address (host:port)")));
    }
    for address in &out {
        address_ok(address, flag)?;
    }
    Ok(out)
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

/// A server as named on the command line: for now an address (`host:port`).
pub fn resolve(text: &str, flag: &str) -> Result<Target, UsageError> {
    address_ok(text.trim(), flag)?;
    Ok(Target::plain(text.trim()))
}

/// A comma-separated list of servers.
pub fn resolve_list(list: &str, flag: &str) -> Result<Vec<Target>, UsageError> {
    addresses(list, flag)?.iter().map(|a| resolve(a, flag)).collect()
}

pub fn categories(only: &str) -> Result<Vec<Category>, UsageError> {
    category::parse_list(only).map_err(|e| UsageError(format!("--only: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_need_a_port() {
        assert_eq!(addresses("a:1, b:2", "--to").expect("valid"), ["a:1", "b:2"]);
        assert!(addresses("backup-1", "--to").is_err());
        assert!(addresses(":7420", "--to").is_err());
        assert!(addresses("", "--to").is_err());
        assert!(
            categories("licenses").expect_err("refused").to_string().contains("never synchronized")
        );
    }
}
