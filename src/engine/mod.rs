//! The engine: everything confsync knows about trees, with no network and no terminal.
//!
//! It never imports tonic, clap, dialoguer or indicatif; the agent and the CLI adapt it.
//!
//! - [`category`]: the categories of a tree, and why `licenses` is not one of them.
//! - [`path`]: validated relative paths and symlink targets (the confinement rules).
//! - [`confine`]: rules across a peer's manifest (a tree, nothing beneath a symlink; limits).
//! - [`entry`], [`manifest`]: what a tree holds, with Merkle digests per category.
//! - [`layout`]: where one server keeps each category and its own state.
//! - [`scan`], [`index`]: walking a category and hashing only what changed.
//! - [`plan`]: the pure diff of two manifests into steps, with guards and a digest.
//! - [`chunk`], [`transfer`]: content-defined chunks, and staging files from a source.
//! - [`apply`], [`journal`]: the crash-safe commit of a plan, and recovery at start.
//! - [`history`]: the record of every apply and rollback, kept beyond pruning.
//! - [`rollback`]: planning the return to the state before a kept generation.
//! - [`clock`]: time as records keep it and as administrators read it.
//! - [`progress`]: the trait the engine reports progress to.
//! - [`failpoint`]: test-only fault injection (crash or slow down at named points).

pub mod apply;
pub mod category;
pub mod chunk;
pub mod clock;
pub mod confine;
pub mod entry;
pub mod error;
pub mod failpoint;
pub mod history;
pub mod index;
pub mod journal;
pub mod layout;
pub mod manifest;
pub mod path;
pub mod plan;
pub mod progress;
pub mod rollback;
pub mod scan;
pub mod transfer;

pub use category::Category;
pub use entry::{Digest, Entry, EntryKind};
pub use error::{EngineError, Result};
pub use manifest::{CategoryManifest, Manifest};
pub use path::RelPath;
