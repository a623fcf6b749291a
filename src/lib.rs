//! confsync keeps redundant servers' firmware, capability database, modules and
//! configuration identical, while each machine's licenses stay its own.
//!
//! # Layout
//!
//! - [`engine`]: the domain, with no network and no terminal: categories, validated
//!   paths, manifests, scanning with a hash index, the pure plan, content-defined
//!   chunking, staging, the crash-safe journaled apply, history and rollback.
//! - [`agent`]: the gRPC service over the engine that runs on every server: source side
//!   (manifests, chunks, files, watch) and destination side (plan, apply, rollback, hold),
//!   roles, start-up recovery, shutdown.
//! - [`client`]: connecting to an agent, one method per RPC, errors that say what to do.
//! - [`proto`]: generated protobuf code and the conversions that validate peer input.
//! - [`config`]: `agent.toml`, the server list `servers.toml`, and the defaults.
//! - [`tls`]: mutual TLS, certificates and their roles, and the loopback-only rule for
//!   plaintext.
//! - [`cli`]: clap commands (one file each: agent, wizard, diff, sync, servers, auto,
//!   history, rollback, hold, certs, demo), rendering, progress, exit codes.
//!
//! Data flows from the source agent straight to the destination agent; the CLI decides
//! and shows. See `DESIGN.md` in the shared folder and the README for the whole picture.

pub mod agent;
pub mod cli;
pub mod client;
pub mod config;
pub mod engine;
pub mod proto;
pub mod tls;
