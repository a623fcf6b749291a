//! Where an agent is and the channel to it: mutual TLS with the target's certificate, or
//! plaintext to a loopback address; a probe that turns a refused client certificate into
//! its reason; and connection errors with advice.

use std::time::Duration;

use confsync_engine::refusal::RefusalKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls::pki_types::ServerName;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};

use crate::client::ClientError;
use crate::tls;
use crate::tls::client::error_chain;
use crate::tls::files::{self, TlsFiles};

/// Longest the TLS check of [`probe`] may take.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where an agent is and how to reach it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `host:port`.
    pub address: String,
    /// `None`: plaintext (allowed on loopback only).
    pub tls: Option<TlsFiles>,
}

impl Target {
    pub fn plain(address: &str) -> Target {
        Target { address: address.to_string(), tls: None }
    }
}

/// An endpoint for `target`: `https` with its certificate when it has one; otherwise
/// plaintext, which is refused for a non-loopback address unless `--insecure` was given.
pub fn endpoint(target: &Target) -> Result<Endpoint, ClientError> {
    let address = target.address.as_str();
    let host = tls::host_of(address);
    let setup = |detail: String| ClientError::Tls { address: address.to_string(), detail };
    let Some(files) = &target.tls else {
        if !tls::is_loopback_host(host) {
            if !tls::insecure_allowed() {
                return Err(ClientError::refused(
                    address,
                    RefusalKind::Denied,
                    format!(
                        "refusing to connect to {address} without TLS: plaintext is allowed to loopback addresses only. \
                         Give a certificate with --ca, --cert and --key (or CONFSYNC_CA, CONFSYNC_CERT, CONFSYNC_KEY, \
                         or a tls entry in the server list), or pass --insecure to send in the clear"
                    ),
                ));
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
    let config = tls::client::rustls_config(files).map_err(setup)?;
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

/// The error for a failed connection: a TLS failure says what to do about it; anything
/// else is "unreachable".
pub fn connect_error(address: &str, error: &dyn std::error::Error) -> ClientError {
    let text = error_chain(error);
    match tls::client::advice(&text) {
        Some(advice) => {
            ClientError::Tls { address: address.to_string(), detail: format!("{text}; {advice}") }
        }
        None => ClientError::Unreachable { address: address.to_string(), detail: text },
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
        assert_eq!(err.refusals()[0].kind, RefusalKind::Denied);
        endpoint(&Target::plain("127.0.0.1:7420")).expect("loopback is fine");
        endpoint(&Target::plain("localhost:7420")).expect("localhost is fine");
    }
}
