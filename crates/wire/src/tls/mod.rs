//! Transport security: mutual TLS between everything, roles carried by certificates, and
//! the rule that plaintext is for loopback only.
//!
//! - [`pki`]: the certificate authority and the certificates `confsync certs` issues.
//! - [`identity`]: the role (`admin`, `agent`) and name a certificate carries.
//! - [`files`]: reading PEM files, with errors that name the file.
//! - [`server`]: the agent's rustls configuration, and checks of its own certificate.
//! - [`client`]: the channel to an agent (TLS or loopback plaintext), and advice for
//!   handshake failures.
//!
//! # Roles
//!
//! A certificate's role is a subject alternative name URI, `confsync:role:admin` or
//! `confsync:role:agent`. An `admin` may plan, apply, roll back, read history, hold and
//! release, and read; an `agent` (a destination pulling from its source) may only say
//! hello, read manifests and chunks, and watch. The check is in one place, the agent's
//! [`crate::server::auth`] layer.
//!
//! # Plaintext
//!
//! Without certificates, an agent serves and a client connects in plaintext only on a
//! loopback address (127.0.0.0/8, `::1`, `localhost`): single-machine use and tests. No
//! roles are enforced then, since anyone on the machine could read the tree anyway.
//! `--insecure` lifts the loopback rule for the whole process, with a warning.

pub mod client;
pub mod files;
pub mod identity;
pub mod pki;
pub mod server;

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};

pub use identity::Role;

static INSECURE: AtomicBool = AtomicBool::new(false);

/// Allows plaintext to and from non-loopback addresses for the rest of this process
/// (`--insecure`).
pub fn allow_insecure(allow: bool) {
    INSECURE.store(allow, Ordering::SeqCst);
}

/// Whether `--insecure` was given to this process.
pub fn insecure_allowed() -> bool {
    INSECURE.load(Ordering::SeqCst)
}

/// The host part of `host:port`, `[v6]:port` or a bare host, without brackets.
pub fn host_of(address: &str) -> &str {
    let address = address.trim();
    if let Some(rest) = address.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match address.rsplit_once(':') {
        // More than one colon and no brackets: a bare IPv6 address.
        Some((host, _)) if host.contains(':') => address,
        Some((host, _)) => host,
        None => address,
    }
}

/// Whether `host` (a name or an address) is this machine's loopback. Names other than
/// `localhost` are not resolved: a name that happens to point at 127.0.0.1 does not count.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim().trim_end_matches('.');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<IpAddr>().is_ok_and(is_loopback_ip)
}

pub fn is_loopback_ip(ip: IpAddr) -> bool {
    ip.to_canonical().is_loopback()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_recognised_in_every_spelling() {
        for host in ["127.0.0.1:7420", "127.9.8.7:1", "localhost:7420", "[::1]:7420", "::1"] {
            assert!(is_loopback_host(host_of(host)), "{host}");
        }
        for host in ["10.0.0.2:7420", "0.0.0.0:7420", "[::]:7420", "backup-1:7420", "example.org"] {
            assert!(!is_loopback_host(host_of(host)), "{host}");
        }
        assert!(is_loopback_host("::ffff:127.0.0.1"));
        assert_eq!(host_of("[fe80::1]:7420"), "fe80::1");
        assert_eq!(host_of("backup-1:7420"), "backup-1");
    }
}
