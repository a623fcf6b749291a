//! Accepting connections. The agent does its TLS handshakes here rather than inside tonic,
//! so that:
//!
//! - every refused handshake is logged with the client's address and the reason (no
//!   certificate, another CA, expired...), at warning level;
//! - a plaintext client of a TLS agent is answered with a gRPC error saying TLS is
//!   required (see [`Policy::RequireTls`]), instead of a broken connection;
//! - a TLS client of a plaintext agent is logged as such, and its handshake ends;
//! - a client that connects and does not finish its handshake and the HTTP/2 preface
//!   within [`HANDSHAKE_TIMEOUT`] is dropped (half-open connections never pile up);
//! - each client address has its shares of connections ([`crate::server::shares`]):
//!   [`MAX_PENDING_PER_ADDRESS`] whose handshake is under way (a newcomer makes the idlest
//!   give way), and [`MAX_CONNECTIONS_PER_ADDRESS`] established ones without a role
//!   certificate and as many again with one, so that a flood from an address cannot lock
//!   out an administrator or an agent holding a certificate;
//! - an established connection whose peer vanished is closed by HTTP/2 keepalive (a ping
//!   every 30 s, answered within 20 s).
//!
//! The first byte tells the two apart: a TLS connection starts with a handshake record
//! (0x16), an HTTP/2 one with `PRI * HTTP/2.0`.
//!
//! [`Policy::RequireTls`]: super::auth::Policy::RequireTls

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::server::TlsStream;
use tokio_stream::wrappers::ReceiverStream;

use crate::server::auth::{AuthLayer, Policy};
use crate::server::conn::{Conn, PREFACE};
use crate::server::shares::{Admitted, Share, Shares};
use crate::tls::files::TlsFiles;

/// HTTP/2 streams one connection may have open at once (calls in flight, including
/// long chunk streams); more wait for a free one.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 64;
/// Deadline for a call's answer to start when the client set none (or a longer one).
pub const SERVER_CALL_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// Connections that may be between accept and a finished handshake at once; more are
/// dropped, so a flood of idle connections cannot pile up tasks.
const MAX_PENDING_HANDSHAKES: usize = 256;
/// Longest a client may take to finish its TLS handshake and send the HTTP/2 preface.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Established connections one client address may hold open at once, in each share
/// (with a role certificate, and without).
pub const MAX_CONNECTIONS_PER_ADDRESS: usize = 128;
/// Connections from one address whose handshake may be under way at once.
pub const MAX_PENDING_PER_ADDRESS: usize = 128;

/// The handshake timeout; the `handshake-timeout-ms` failpoint shortens it in tests.
fn handshake_timeout() -> Duration {
    confsync_engine::failpoint::value(confsync_engine::failpoint::HANDSHAKE_TIMEOUT_MS)
        .map_or(HANDSHAKE_TIMEOUT, Duration::from_millis)
}
/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

pub type Accepted<T> = ReceiverStream<std::io::Result<T>>;

/// The connections to serve.
pub enum Incoming {
    /// A plaintext agent: every HTTP/2 connection.
    Plain(Accepted<Conn<TcpStream>>),
    /// A TLS agent: completed handshakes, and plaintext clients to be told TLS is needed.
    Tls { secure: Accepted<Conn<TlsStream<TcpStream>>>, plaintext: Accepted<Conn<TcpStream>> },
}

/// How an agent accepts connections: with its TLS configuration, or in plaintext.
#[derive(Clone)]
pub struct Security(Option<Arc<ServerConfig>>);

impl Security {
    pub fn is_tls(&self) -> bool {
        self.0.is_some()
    }
}

/// The agent's TLS configuration, or plaintext, which is refused on a non-loopback
/// address unless `--insecure` was given (then it is logged as a warning). Checked before
/// anything else at start, so that a bad certificate is a start-up error.
pub fn security(tls: Option<&TlsFiles>, listener: &TcpListener) -> anyhow::Result<Security> {
    if let Some(files) = tls {
        return crate::tls::server::config(files).map(|c| Security(Some(c)));
    }
    let bound = listener.local_addr().context("reading the bound address")?;
    if !crate::tls::is_loopback_ip(bound.ip()) {
        anyhow::ensure!(
            crate::tls::insecure_allowed(),
            "refusing to serve plaintext on {bound}: without TLS an agent listens on loopback only. \
             Give its certificate in agent.toml ([tls] ca, cert, key) or with --tls-ca, --tls-cert and \
             --tls-key (see `confsync certs --help`), or pass --insecure to serve in the clear"
        );
        tracing::warn!(address = %bound, "serving plaintext on a non-loopback address (--insecure): anyone who can reach it may plan, apply and read");
    }
    Ok(Security(None))
}

/// Serves plaintext clients of a TLS agent: every call is answered `UNAUTHENTICATED`
/// with what to do, so the client sees a reason rather than a broken connection.
pub fn answer_tls_required(plaintext: Accepted<Conn<TcpStream>>) {
    let (_, health) = tonic_health::server::health_reporter();
    tokio::spawn(
        tonic::transport::Server::builder()
            .timeout(HANDSHAKE_TIMEOUT)
            .layer(AuthLayer::new(Policy::RequireTls))
            .add_service(health)
            .serve_with_incoming(plaintext),
    );
}

/// Starts accepting on `listener`; the task ends when the server stops taking connections.
pub fn accept(listener: TcpListener, security: Security) -> Incoming {
    let (plain_tx, plain_rx) = mpsc::channel(16);
    match security.0 {
        None => {
            tokio::spawn(accept_loop(listener, None, plain_tx));
            Incoming::Plain(ReceiverStream::new(plain_rx))
        }
        Some(config) => {
            let (secure_tx, secure_rx) = mpsc::channel(16);
            let acceptor = TlsAcceptor::from(config);
            tokio::spawn(accept_loop(listener, Some((acceptor, secure_tx)), plain_tx));
            Incoming::Tls {
                secure: ReceiverStream::new(secure_rx),
                plaintext: ReceiverStream::new(plain_rx),
            }
        }
    }
}

type SecureSender = mpsc::Sender<std::io::Result<Conn<TlsStream<TcpStream>>>>;
type PlainSender = mpsc::Sender<std::io::Result<Conn<TcpStream>>>;

async fn accept_loop(
    listener: TcpListener,
    tls: Option<(TlsAcceptor, SecureSender)>,
    plain: PlainSender,
) {
    // The server that reads the main stream going away means the agent is stopping.
    let main_closed = {
        let secure = tls.as_ref().map(|(_, tx)| tx.clone());
        let plain = plain.clone();
        async move {
            match secure {
                Some(tx) => tx.closed().await,
                None => plain.closed().await,
            }
        }
    };
    tokio::pin!(main_closed);
    let pending = Arc::new(tokio::sync::Semaphore::new(MAX_PENDING_HANDSHAKES));
    let shares = Shares::default();
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut main_closed => return,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = Arc::clone(&pending).try_acquire_owned() else {
            tracing::warn!(%peer, "{MAX_PENDING_HANDSHAKES} connections are already being accepted; dropped this one");
            continue;
        };
        let admitted = shares.admit(peer.ip(), MAX_PENDING_PER_ADDRESS);
        let (tls, plain, shares) = (tls.clone(), plain.clone(), shares.clone());
        tokio::spawn(async move {
            let _permit = permit;
            if let Err(e) = stream.set_nodelay(true) {
                tracing::debug!(%peer, error = %e, "cannot set TCP_NODELAY");
            }
            let Admitted { slot, evicted, started } = admitted;
            let established = async {
                let (stream, share) = handshake(stream, peer, &started, tls.as_ref()).await?;
                let Some(slot) = shares.promote(slot, share, MAX_CONNECTIONS_PER_ADDRESS) else {
                    tracing::warn!(%peer, ?share, "{} already holds {MAX_CONNECTIONS_PER_ADDRESS} such connections; dropped this one", peer.ip());
                    return None;
                };
                Some((stream, slot))
            };
            let established = tokio::select! {
                established = established => established,
                Ok(()) = evicted => {
                    tracing::debug!(%peer, "gave way to a newer connection from its address before finishing its handshake");
                    None
                }
            };
            match established {
                Some((Stream::Secure(stream, preface), slot)) => {
                    if let Some((_, secure)) = &tls {
                        let _ = secure.send(Ok(Conn::new(*stream, preface, slot))).await;
                    }
                }
                Some((Stream::Plain(stream), slot)) => {
                    let _ = plain.send(Ok(Conn::new(stream, Vec::new(), slot))).await;
                }
                None => {}
            }
        });
    }
}

/// An established connection: over TLS (with the HTTP/2 preface already read from it),
/// or in plaintext.
enum Stream {
    Secure(Box<TlsStream<TcpStream>>, Vec<u8>),
    Plain(TcpStream),
}

/// Takes a connection through its handshake (and the HTTP/2 preface), by the deadline;
/// says which share it then belongs in. `None`: it was refused or went away.
async fn handshake(
    stream: TcpStream,
    peer: SocketAddr,
    started: &std::sync::atomic::AtomicBool,
    tls: Option<&(TlsAcceptor, SecureSender)>,
) -> Option<(Stream, Share)> {
    let limit = handshake_timeout();
    let deadline = tokio::time::Instant::now() + limit;
    let mut first = [0u8; 1];
    let starts_tls = match tokio::time::timeout_at(deadline, stream.peek(&mut first)).await {
        Ok(Ok(1)) => first[0] == TLS_HANDSHAKE,
        Ok(Ok(_)) => return None,
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "connection failed before its first byte");
            return None;
        }
        Err(_) => {
            tracing::debug!(%peer, "connection sent nothing within {limit:?}; closed");
            return None;
        }
    };
    // It has begun: an idle newcomer's flood no longer makes it give way first.
    started.store(true, std::sync::atomic::Ordering::Relaxed);
    match (tls, starts_tls) {
        (Some((acceptor, _)), true) => {
            let handshake = acceptor.accept(stream).into_fallible();
            match tokio::time::timeout_at(deadline, handshake).await {
                Ok(Ok(mut stream)) => {
                    // TLS cannot be peeked: read the preface, and replay it to the server.
                    let mut preface = vec![0u8; PREFACE.len()];
                    match tokio::time::timeout_at(deadline, stream.read_exact(&mut preface)).await {
                        Ok(Ok(_)) => {
                            let share =
                                if has_role(&stream) { Share::Trusted } else { Share::Open };
                            Some((Stream::Secure(Box::new(stream), preface), share))
                        }
                        _ => {
                            tracing::debug!(%peer, "no HTTP/2 preface within {limit:?} after the TLS handshake; closed");
                            None
                        }
                    }
                }
                Ok(Err((e, stream))) => {
                    tracing::warn!(%peer, "refused a TLS client: {e}");
                    linger(stream).await;
                    None
                }
                Err(_) => {
                    tracing::warn!(%peer, "refused a TLS client: no handshake within {limit:?}");
                    None
                }
            }
        }
        (Some(_), false) => {
            if !wait_for_preface(&stream, peer, deadline).await {
                return None;
            }
            tracing::warn!(%peer, "a plaintext client connected to this TLS agent; answering that TLS is required");
            Some((Stream::Plain(stream), Share::Open))
        }
        (None, true) => {
            tracing::warn!(
                %peer,
                "a TLS client connected, but this agent serves plaintext (loopback only); \
                 configure [tls] in agent.toml or --tls-ca, --tls-cert and --tls-key to accept it"
            );
            linger(stream).await;
            None
        }
        (None, false) => {
            if !wait_for_preface(&stream, peer, deadline).await {
                return None;
            }
            Some((Stream::Plain(stream), Share::Open))
        }
    }
}

/// Whether the client's certificate (of this agent's CA: the handshake checked it)
/// carries a confsync role.
fn has_role(stream: &TlsStream<TcpStream>) -> bool {
    let (_, connection) = stream.get_ref();
    connection
        .peer_certificates()
        .and_then(|certs| certs.first())
        .and_then(|leaf| crate::tls::identity::identify(leaf).ok())
        .is_some_and(|identity| identity.role.is_some())
}

/// Waits until the whole HTTP/2 preface can be peeked, by `deadline`; false (and the
/// connection is dropped) when it does not come or is not a preface.
async fn wait_for_preface(
    stream: &TcpStream,
    peer: SocketAddr,
    deadline: tokio::time::Instant,
) -> bool {
    let mut seen = vec![0u8; PREFACE.len()];
    loop {
        match tokio::time::timeout_at(deadline, stream.peek(&mut seen)).await {
            Ok(Ok(n)) if n == PREFACE.len() => {
                if seen == PREFACE {
                    return true;
                }
                tracing::debug!(%peer, "the client does not speak HTTP/2; closed");
                return false;
            }
            Ok(Ok(0)) | Ok(Err(_)) => return false,
            Ok(Ok(n)) if seen[..n] != PREFACE[..n] => {
                tracing::debug!(%peer, "the client does not speak HTTP/2; closed");
                return false;
            }
            // Part of the preface so far: wait for the rest, but not past the deadline (a
            // peek that has data is always ready, so the timeout alone would never strike).
            Ok(Ok(_)) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Ok(Ok(_)) => {
                tracing::debug!(%peer, "no complete HTTP/2 preface within the handshake timeout; closed");
                return false;
            }
            Err(_) => {
                tracing::debug!(%peer, "no complete HTTP/2 preface within the handshake timeout; closed");
                return false;
            }
        }
    }
}

/// Closes a refused connection in an orderly way: what the client already sent is read
/// and dropped first (for at most a second), so the close is not a reset that would
/// discard, on the client's side, the alert that says why it was refused.
async fn linger(mut stream: TcpStream) {
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        while let Ok(n) = stream.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    })
    .await;
    let _ = stream.shutdown().await;
}
