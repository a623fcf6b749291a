//! Compiles the protocol in the repository's `proto/` folder with protox (pure Rust, no
//! `protoc` needed) and tonic-prost-build. Writes only into OUT_DIR: the generated code
//! and the descriptor set that gRPC reflection serves.

use std::path::PathBuf;

use protox::prost::Message;

const PROTOS: &[&str] = &["confsync/v1/agent.proto"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let manifest = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").ok_or("CARGO_MANIFEST_DIR is not set")?,
    );
    // The protocol belongs to the project, not to this crate: it lives at the top level.
    let include = manifest.join("../../proto");
    for proto in PROTOS {
        println!("cargo:rerun-if-changed={}", include.join(proto).display());
    }
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    let descriptors = protox::compile(PROTOS, [&include])?;
    std::fs::write(out_dir.join("confsync_descriptor.bin"), descriptors.encode_to_vec())?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .compile_fds(descriptors)?;
    Ok(())
}
