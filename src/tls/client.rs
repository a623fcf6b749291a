//! The client's side: an endpoint for a [`Target`] (mutual TLS with its certificate, or
//! plaintext to a loopback address), and advice for the usual handshake failures, which
//! rustls reports in terms an administrator should not have to decode.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::crypto::ring;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::client::{ClientError, Target, error_chain};
use crate::tls::files::TlsFiles;
use crate::tls::{self, files};

/// Longest the TLS check of [`probe`] may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// An endpoint for `target`: `https` with its certificate when it has one; otherwise
/// plaintext, which is refused for a non-loopback address unless `--insecure` was given.
pub fn endpoint(target: &Target) -> Result<Endpoint, ClientError> {
    let address = target.address.as_str();
    let host = tls::host_of(address);
    let setup = |detail: String| ClientError::Tls { address: address.to_string(), detail };
    let Some(files) = &target.tls else {
        if !tls::is_loopback_host(host) {
            if !tls::insecure_allowed() {
                return Err(ClientError::Refused {
                    address: address.to_string(),
                    message: format!(
                        "refusing to connect to {address} without TLS: plaintext is allowed to loopback addresses only. \
                         Give a certificate with --ca, --cert and --key (or CONFSYNC_CA, CONFSYNC_CERT, CONFSYNC_KEY, \
                         or a tls entry in the server list), or pass --insecure to send in the clear"
                    ),
                });
            }
            tracing::warn!(%address, "connecting without TLS to a non-loopback address (--insecure)");
        }
        return Endpoint::from_shared(format!("http://{address}")).map_err(|e| {
            ClientError::Unreachable {
                address: address.to_string(),
                detail: format!("not a valid address ({e})"),
            }
        });
    };
    // Parse here, so that a wrong file is named rather than reported as "transport error".
    files::certificates(&files.ca, "CA certificate").map_err(|e| setup(e.to_string()))?;
    files::certificates(&files.cert, "client certificate").map_err(|e| setup(e.to_string()))?;
    files::private_key(&files.key).map_err(|e| setup(e.to_string()))?;
    let read =
        |path: &std::path::Path, what| files::read(path, what).map_err(|e| setup(e.to_string()));
    let config = ClientTlsConfig::new()
        .domain_name(host)
        .ca_certificate(Certificate::from_pem(read(&files.ca, "CA certificate")?))
        .identity(Identity::from_pem(
            read(&files.cert, "client certificate")?,
            read(&files.key, "private key")?,
        ));
    Endpoint::from_shared(format!("https://{address}"))
        .map_err(|e| ClientError::Unreachable {
            address: address.to_string(),
            detail: format!("not a valid address ({e})"),
        })?
        .tls_config(config)
        .map_err(|e| setup(error_chain(&e)))
}

/// Checks that the agent at `address` accepts this client's certificate, so that a
/// refusal is reported with its reason.
///
/// With TLS 1.3 a client learns that its certificate was refused only after its own side
/// of the handshake is done, from an alert; the HTTP/2 client may then report just
/// "connection closed". This probe completes a handshake, sends the HTTP/2 preface, and
/// reads: the agent's first HTTP/2 frame means accepted, an alert says why not.
pub async fn probe(address: &str, files: &TlsFiles) -> Result<(), ClientError> {
    let setup = |detail: String| ClientError::Tls { address: address.to_string(), detail };
    let config = rustls_config(files).map_err(setup)?;
    let host = tls::host_of(address);
    let name = ServerName::try_from(host.to_string())
        .map_err(|e| setup(format!("{host:?} is not a host name or address ({e})")))?;
    let attempt = async {
        let tcp = tokio::net::TcpStream::connect(address).await.map_err(|e| {
            ClientError::Unreachable { address: address.to_string(), detail: e.to_string() }
        })?;
        let mut stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| connect_error(address, &e))?;
        // The client preface and an empty SETTINGS frame.
        let mut hello = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
        hello.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
        let mut first = [0u8; 1];
        let answered = async {
            stream.write_all(&hello).await?;
            stream.flush().await?;
            stream.read(&mut first).await
        };
        match answered.await {
            Ok(n) if n > 0 => Ok(()),
            Ok(_) => Err(connect_error(
                address,
                &std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
            )),
            Err(e) => Err(connect_error(address, &e)),
        }
    };
    tokio::time::timeout(PROBE_TIMEOUT, attempt).await.map_err(|_| ClientError::Unreachable {
        address: address.to_string(),
        detail: format!("no TLS answer within {PROBE_TIMEOUT:?}"),
    })?
}

/// The rustls configuration of [`probe`]: the same trust and identity as the channel's.
fn rustls_config(files: &TlsFiles) -> Result<Arc<ClientConfig>, String> {
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

/// The error for a failed connection: a TLS failure says what to do about it; anything
/// else is "unreachable".
pub fn connect_error(address: &str, error: &dyn std::error::Error) -> ClientError {
    let text = error_chain(error);
    match advice(&text) {
        Some(advice) => {
            ClientError::Tls { address: address.to_string(), detail: format!("{text}; {advice}") }
        }
        None => ClientError::Unreachable { address: address.to_string(), detail: text },
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plaintext_to_a_remote_address_is_refused_and_names_the_way_out() {
        let err = endpoint(&Target::plain("10.0.0.2:7420")).expect_err("refused");
        let text = err.to_string();
        assert!(text.contains("--insecure") && text.contains("--cert"), "{text}");
        assert!(err.is_refusal());
        endpoint(&Target::plain("127.0.0.1:7420")).expect("loopback is fine");
        endpoint(&Target::plain("localhost:7420")).expect("localhost is fine");
    }

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
