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
}

impl ClientError {
    /// The agent's address, whatever went wrong.
    pub fn address(&self) -> &str {
        match self {
            ClientError::Unreachable { address, .. }
            | ClientError::Refused { address, .. }
            | ClientError::Failed { address, .. }
            | ClientError::Protocol { address, .. }
            | ClientError::Tls { address, .. } => address,
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
