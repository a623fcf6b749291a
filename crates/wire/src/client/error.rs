//! What went wrong talking to an agent, in words an administrator acts on: unreachable
//! (and how to check), refused (typed, with the agent's reasons), failed, a protocol
//! violation, or a TLS problem with advice.

use confsync_engine::refusal::{self, Refusal, RefusalKind};

use crate::status;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot reach the agent at {address}: {detail}; check that `confsync agent` runs there and the address is right"
    )]
    Unreachable { address: String, detail: String },
    #[error("{address} refused: {}", refusal::joined(.refusals))]
    Refused { address: String, refusals: Vec<Refusal> },
    #[error("{address} failed: {message}")]
    Failed { address: String, message: String },
    #[error("{address} sent a message this client does not understand: {detail}")]
    Protocol { address: String, detail: String },
    #[error("cannot connect to {address} securely: {detail}")]
    Tls { address: String, detail: String },
    /// The connection broke in the middle of a stream (the agent stopped or crashed).
    #[error(
        "the agent at {address} went away during the {what} ({detail}); nothing was changed \
         there (a commit under way is finished or undone when it starts again); run again \
         once it is back: it resumes from what it had received"
    )]
    Gone { address: String, what: &'static str, detail: String },
}

impl ClientError {
    /// The agent's address, whatever went wrong.
    pub fn address(&self) -> &str {
        match self {
            ClientError::Unreachable { address, .. }
            | ClientError::Refused { address, .. }
            | ClientError::Failed { address, .. }
            | ClientError::Protocol { address, .. }
            | ClientError::Tls { address, .. }
            | ClientError::Gone { address, .. } => address,
        }
    }

    /// One refusal of `kind` by (or about) the agent at `address`.
    pub fn refused(address: &str, kind: RefusalKind, message: impl Into<String>) -> ClientError {
        ClientError::Refused {
            address: address.to_string(),
            refusals: vec![Refusal::new(kind, message)],
        }
    }

    pub(crate) fn from_status(address: &str, status: tonic::Status) -> ClientError {
        let address = address.to_string();
        if let Some(refusals) = status::refusals(&status) {
            return ClientError::Refused { address, refusals };
        }
        let message = match std::error::Error::source(&status) {
            // A transport failure (a refused handshake) hides its reason in the source.
            Some(source) => {
                format!("{}: {}", status.message(), crate::tls::client::describe(source))
            }
            None => status.message().to_string(),
        };
        match status.code() {
            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded => ClientError::Unreachable {
                address,
                detail: if message.is_empty() {
                    status.code().description().to_string()
                } else {
                    message
                },
            },
            // The agent's role policy (or its TLS requirement) turned the call away.
            tonic::Code::PermissionDenied | tonic::Code::Unauthenticated => ClientError::Refused {
                address,
                refusals: vec![Refusal::new(RefusalKind::Denied, message)],
            },
            _ => ClientError::Failed { address, message },
        }
    }

    /// A status that ended a stream already under way: the connection broke (a
    /// transport error beneath it, or the code a lost connection gets) rather than the
    /// agent answering with an error of its own.
    pub(crate) fn from_stream_status(
        address: &str,
        what: &'static str,
        status: tonic::Status,
    ) -> ClientError {
        let broken = std::error::Error::source(&status).is_some()
            || (matches!(status.code(), tonic::Code::Unknown | tonic::Code::Unavailable)
                && status::refusals(&status).is_none());
        if !broken {
            return ClientError::from_status(address, status);
        }
        ClientError::Gone { address: address.to_string(), what, detail: root_cause(&status) }
    }

    /// The refusals, when this is one.
    pub fn refusals(&self) -> &[Refusal] {
        match self {
            ClientError::Refused { refusals, .. } => refusals,
            _ => &[],
        }
    }

    pub fn is_refusal(&self) -> bool {
        matches!(self, ClientError::Refused { .. })
    }

    /// Whether every refusal only means "not now" (busy, changed since the preview).
    pub fn is_transient_refusal(&self) -> bool {
        self.is_refusal() && self.refusals().iter().all(|r| r.kind.is_transient())
    }
}

/// The innermost reason of a transport failure, without the links to documentation the
/// TLS library adds: "connection reset", "peer closed connection without sending TLS
/// close_notify".
fn root_cause(status: &tonic::Status) -> String {
    let mut cause: &dyn std::error::Error = status;
    while let Some(inner) = cause.source() {
        cause = inner;
    }
    let text = cause.to_string();
    let text = if text.is_empty() { status.message().to_string() } else { text };
    let text = text.split(": https://").next().unwrap_or(&text).trim().to_string();
    if text.is_empty() { "the connection closed".to_string() } else { text }
}
