//! The client's side of TLS: the rustls configuration a client presents (its certificate,
//! the CA it trusts), and advice for the usual handshake failures, which rustls reports in
//! terms an administrator should not have to decode.

use std::sync::Arc;

use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::tls::files::{self, TlsFiles};

/// A client's rustls configuration: the CA in `files` trusted, its certificate presented.
pub fn rustls_config(files: &TlsFiles) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    for cert in files::certificates(&files.ca, "CA certificate").map_err(|e| e.to_string())? {
        roots
            .add(cert)
            .map_err(|e| format!("{} is not a usable CA certificate: {e}", files.ca.display()))?;
    }
    let chain =
        files::certificates(&files.cert, "client certificate").map_err(|e| e.to_string())?;
    let key = files::private_key(&files.key).map_err(|e| e.to_string())?;
    let mut config = ClientConfig::builder_with_provider(Arc::new(ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| {
            format!(
                "the key {} does not belong to the certificate {}: {e}",
                files.key.display(),
                files.cert.display()
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// A transport error's whole chain, followed by advice when it is a known TLS failure.
pub fn describe(error: &dyn std::error::Error) -> String {
    let text = error_chain(error);
    match advice(&text) {
        Some(advice) => format!("{text} ({advice})"),
        None => text,
    }
}

/// What to do about a TLS failure, judged from its text.
pub fn advice(text: &str) -> Option<&'static str> {
    let lower = text.to_ascii_lowercase();
    let has = |needle: &str| lower.contains(&needle.to_ascii_lowercase());
    if has("CertificateRequired") {
        Some(
            "the agent requires a client certificate: give --ca, --cert and --key, or CONFSYNC_CA, CONFSYNC_CERT and CONFSYNC_KEY, or a tls entry in the server list",
        )
    } else if has("UnknownCA") || has("UnknownIssuer") {
        Some(
            "a certificate was issued by another certificate authority than the one trusted: use certificates of one CA (`confsync certs issue ... --dir` of that CA) and its ca.pem on both sides",
        )
    } else if has("CertificateExpired") || has("Expired") {
        Some(
            "a certificate has expired: issue a new one with `confsync certs issue NAME --role ROLE --dir DIR`",
        )
    } else if has("NotValidForName") || has("not valid for name") {
        Some(
            "the agent's certificate does not name the address used to reach it: connect by a name it carries, or reissue it with --san HOST",
        )
    } else if has("BadSignature") || has("DecryptError") {
        Some(
            "a certificate's signature does not verify: it was issued by another certificate authority of the same name, or altered; use certificates of one CA and its ca.pem on both sides",
        )
    } else if has("tls handshake eof") || has("InvalidContentType") || has("corrupt message") {
        Some(
            "the agent ended the TLS handshake: it most likely serves plaintext (allowed on loopback only; reach it without --ca, --cert and --key), as its log says",
        )
    } else {
        None
    }
}

/// The whole error chain of a transport error, which tonic hides behind "transport error".
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        let more = e.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = e.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_failures_get_advice() {
        assert!(
            advice("received fatal alert: CertificateRequired")
                .is_some_and(|a| a.contains("--cert"))
        );
        assert!(
            advice("invalid peer certificate: UnknownIssuer").is_some_and(|a| a.contains("CA"))
        );
        assert!(advice("connection refused").is_none());
    }
}
