//! confsync's gRPC edge: everything that speaks protobuf, and nothing else does.
//!
//! - [`convert`]: validated conversions between protobuf and the engine's types.
//! - [`client`]: a connection to one agent, one method per call, in the engine's types.
//! - [`server`]: the agent's domain handlers ([`server::Api`]) served over gRPC, with
//!   role checks, TLS handshakes and the standard health and reflection services.
//! - [`status`]: typed refusals carried in gRPC status details.
//! - [`tls`]: certificates, roles, rustls configurations, the loopback-only rule.
//!
//! The crates above this one (the agent and the command line) cannot name a protobuf
//! type: they do not depend on `confsync-proto`.

pub mod client;
mod convert;
pub mod server;
mod status;
pub mod tls;

pub use client::{AgentClient, ClientError, Target};
pub use confsync_proto::PROTOCOL_VERSION;
pub use tls::files::TlsFiles;
