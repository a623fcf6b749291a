//! The generated code of confsync's protocol, `proto/confsync/v1/agent.proto`: messages,
//! the client and server stubs, and the encoded descriptor set that reflection serves.
//!
//! Only `confsync-wire` uses it (and the end-to-end tests, which forge hostile messages):
//! protobuf types stop at the wire crate's edge, and the agent and the command line never
//! see them.

#[allow(clippy::all, clippy::unwrap_used)]
pub mod v1 {
    tonic::include_proto!("confsync.v1");

    /// The encoded descriptor set, served by gRPC reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] =
        tonic::include_file_descriptor_set!("confsync_descriptor");
}

/// The protocol version this build speaks; agents refuse peers of another.
pub const PROTOCOL_VERSION: u32 = 2;
