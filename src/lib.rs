//! confsync keeps redundant servers' firmware, capability database, modules and
//! configuration identical, while each machine's licenses stay its own.
//!
//! # Layout
//!
//! The workspace's crates are its layers, and each depends only on those below it:
//!
//! - `confsync-engine` (`crates/engine`): the domain, with no network and no terminal:
//!   categories, validated paths, manifests, scanning with a hash index, the pure plan and
//!   the one decision on it, typed refusals, content-defined chunking, staging, the
//!   crash-safe journaled apply, history and rollback, holds.
//! - `confsync-proto` (`crates/proto`): the code generated from `proto/`, nothing else.
//! - `confsync-wire` (`crates/wire`): the gRPC edge: validated conversions, mutual TLS, the
//!   client, and the server adapter the agent plugs its handlers into.
//! - this crate, which cannot name a protobuf type:
//!   - [`agent`]: the handlers an agent serves, over the engine: source side (hello,
//!     manifests, chunks, files, watch) and destination side (plan, apply, rollback,
//!     hold), start-up recovery, shutdown.
//!   - [`config`]: `agent.toml`, the server list `servers.toml`, and the defaults.
//!   - [`metrics`]: the Prometheus endpoint of `agent --metrics` and `auto --metrics`.
//!   - [`cli`]: clap commands (one file each), the shared plan-then-apply flow, rendering,
//!     progress, JSON events, exit codes.
//!
//! Data flows from the source agent straight to the destination agent; the CLI decides
//! and shows. `docs/ARCHITECTURE.md` has the whole picture: the words, the shape, the
//! protocol, the apply path, and the layering rule with its reasons.

pub mod agent;
pub mod cli;
pub mod config;
pub mod metrics;
