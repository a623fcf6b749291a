//! TLS on the command line.
//!
//! - [`ClientTlsArgs`] (global): the certificate the commands that connect to agents
//!   (diff, sync, history, ...) present, `--ca/--cert/--key` or `CONFSYNC_CA`,
//!   `CONFSYNC_CERT`, `CONFSYNC_KEY`; used for servers given by address and for server
//!   list entries without a `tls` table. And `--insecure`, which allows plaintext to and
//!   from non-loopback addresses for the whole process.
//! - [`AgentTlsArgs`]: the certificate an agent serves with, `--tls-ca/--tls-cert/--tls-key`,
//!   overriding `[tls]` in `agent.toml`.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use clap::Args;
use confsync_wire::{Target, TlsFiles};

use crate::cli::UsageError;

static CLIENT_TLS: OnceLock<Option<TlsFiles>> = OnceLock::new();

#[derive(Debug, Clone, Default, Args)]
pub struct ClientTlsArgs {
    /// CA certificate (PEM) that issued the agents' certificates; with --cert and --key,
    /// connect to agents with mutual TLS.
    #[arg(long, value_name = "FILE", env = "CONFSYNC_CA", global = true, help_heading = crate::cli::GLOBAL)]
    pub ca: Option<PathBuf>,

    /// This client's certificate (PEM), issued by `confsync certs issue NAME --role admin`.
    #[arg(long, value_name = "FILE", env = "CONFSYNC_CERT", global = true, help_heading = crate::cli::GLOBAL)]
    pub cert: Option<PathBuf>,

    /// The private key of --cert (PEM).
    #[arg(long, value_name = "FILE", env = "CONFSYNC_KEY", global = true, help_heading = crate::cli::GLOBAL)]
    pub key: Option<PathBuf>,

    /// Allow plaintext to and from non-loopback addresses (logged as a warning). Without
    /// it, plaintext is refused anywhere but on loopback.
    #[arg(long, global = true, help_heading = crate::cli::GLOBAL)]
    pub insecure: bool,
}

impl ClientTlsArgs {
    /// The three files, when given; all or none.
    pub fn files(&self) -> Result<Option<TlsFiles>, UsageError> {
        both_or_none(
            [("--ca", &self.ca), ("--cert", &self.cert), ("--key", &self.key)],
            "CONFSYNC_CA, CONFSYNC_CERT, CONFSYNC_KEY",
        )
    }
}

/// Records the command line's TLS settings for [`client_tls`] and the plaintext rule.
pub fn install(args: &ClientTlsArgs) -> Result<(), UsageError> {
    confsync_wire::tls::allow_insecure(args.insecure);
    let files = args.files()?;
    let _ = CLIENT_TLS.set(files);
    Ok(())
}

/// The client certificate from `--ca/--cert/--key` (or the environment), if any.
pub fn client_tls() -> Option<TlsFiles> {
    CLIENT_TLS.get().cloned().flatten()
}

/// A server given by address: reached with the command line's certificate, if any.
pub fn target(address: &str) -> Target {
    Target { address: address.to_string(), tls: client_tls() }
}

/// A server list entry: its own `tls` table wins, else the command line's certificate.
pub fn with_default(mut target: Target) -> Target {
    if target.tls.is_none() {
        target.tls = client_tls();
    }
    target
}

#[derive(Debug, Clone, Default, Args)]
pub struct AgentTlsArgs {
    /// CA certificate (PEM) that issued the peers' certificates (admins and other agents).
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,

    /// This agent's certificate (PEM), from `confsync certs issue NAME --role agent`.
    #[arg(long, value_name = "FILE")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE")]
    pub tls_key: Option<PathBuf>,
}

impl AgentTlsArgs {
    /// The agent's TLS files: the flags, else `[tls]` of `agent.toml` (paths relative to
    /// its folder), else none (plaintext).
    pub fn resolve(
        &self,
        file: Option<&TlsFiles>,
        base: &Path,
    ) -> Result<Option<TlsFiles>, UsageError> {
        let flags = both_or_none(
            [
                ("--tls-ca", &self.tls_ca),
                ("--tls-cert", &self.tls_cert),
                ("--tls-key", &self.tls_key),
            ],
            "[tls] in agent.toml",
        )?;
        let resolve = |p: &Path| if p.is_absolute() { p.to_path_buf() } else { base.join(p) };
        Ok(flags.or_else(|| {
            file.map(|f| TlsFiles {
                ca: resolve(&f.ca),
                cert: resolve(&f.cert),
                key: resolve(&f.key),
            })
        }))
    }
}

fn both_or_none(
    given: [(&str, &Option<PathBuf>); 3],
    alternative: &str,
) -> Result<Option<TlsFiles>, UsageError> {
    match given {
        [(_, Some(ca)), (_, Some(cert)), (_, Some(key))] => {
            Ok(Some(TlsFiles { ca: ca.clone(), cert: cert.clone(), key: key.clone() }))
        }
        [(_, None), (_, None), (_, None)] => Ok(None),
        _ => {
            let missing: Vec<&str> =
                given.iter().filter(|(_, v)| v.is_none()).map(|(flag, _)| *flag).collect();
            let names: Vec<&str> = given.iter().map(|(flag, _)| *flag).collect();
            Err(UsageError(format!(
                "TLS needs {} together (or {alternative}); missing {}",
                names.join(", "),
                missing.join(", ")
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_flags_come_all_or_none() {
        let none = ClientTlsArgs::default();
        assert_eq!(none.files().expect("none is fine"), None);
        let partial = ClientTlsArgs { cert: Some("a.pem".into()), ..ClientTlsArgs::default() };
        let err = partial.files().expect_err("partial");
        assert!(err.to_string().contains("missing --ca, --key"), "{err}");
        let agent = AgentTlsArgs::default();
        let file = TlsFiles { ca: "ca.pem".into(), cert: "/abs/b.pem".into(), key: "b.key".into() };
        let resolved = agent.resolve(Some(&file), Path::new("/etc/confsync")).expect("file");
        assert_eq!(
            resolved,
            Some(TlsFiles {
                ca: "/etc/confsync/ca.pem".into(),
                cert: "/abs/b.pem".into(),
                key: "/etc/confsync/b.key".into()
            })
        );
    }
}
