//! The agent's side of mutual TLS: a rustls configuration that requires a client
//! certificate signed by the configured CA, and checks of the agent's own certificate at
//! start (so that an expired or admin certificate is a clear start-up error, not a
//! mysterious handshake failure on every peer).

use std::sync::Arc;

use anyhow::Context;
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{RootCertStore, ServerConfig};

use crate::tls::files::{self, TlsFiles};
use crate::tls::identity::{self, Role};

/// Warn at start when the agent's certificate expires within this many days.
const EXPIRY_WARNING_DAYS: i64 = 30;

/// Builds the agent's TLS configuration from its certificate, key and CA files.
pub fn config(tls: &TlsFiles) -> anyhow::Result<Arc<ServerConfig>> {
    let ca = files::certificates(&tls.ca, "CA certificate")?;
    let chain = files::certificates(&tls.cert, "agent certificate")?;
    let key = files::private_key(&tls.key)?;
    files::warn_if_key_is_readable(&tls.key);
    check_own_certificate(&chain[0], tls)?;

    let provider = Arc::new(ring::default_provider());
    let mut roots = RootCertStore::empty();
    for cert in ca {
        roots
            .add(cert)
            .with_context(|| format!("{} is not a usable CA certificate", tls.ca.display()))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .with_context(|| format!("building the client verifier from {}", tls.ca.display()))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("choosing TLS versions")?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .with_context(|| {
            format!(
                "the key {} does not belong to the certificate {}",
                tls.key.display(),
                tls.cert.display()
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// The agent's own certificate must carry the agent role and still be valid.
fn check_own_certificate(cert: &[u8], tls: &TlsFiles) -> anyhow::Result<()> {
    let identity =
        identity::identify(cert).map_err(|e| anyhow::anyhow!("{}: {e}", tls.cert.display()))?;
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let reissue = format!(
        "issue a new one with `confsync certs issue {} --role agent --san HOST --dir DIR`",
        identity.name
    );
    match identity.role {
        Some(Role::Agent) => {}
        Some(other) => anyhow::bail!(
            "{} is an {other} certificate; an agent needs an agent certificate: {reissue}",
            tls.cert.display()
        ),
        None => anyhow::bail!("{} carries no confsync role; {reissue}", tls.cert.display()),
    }
    anyhow::ensure!(
        identity.not_after > now,
        "the agent certificate {} has expired; {reissue}",
        tls.cert.display()
    );
    let days_left = (identity.not_after - now) / 86_400;
    if days_left < EXPIRY_WARNING_DAYS {
        tracing::warn!(cert = %tls.cert.display(), days_left, "the agent certificate expires soon; {reissue}");
    }
    Ok(())
}
