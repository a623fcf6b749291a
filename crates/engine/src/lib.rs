//! The engine: everything confsync knows about trees, with no network and no terminal.
//!
//! It never imports tonic, prost, clap, dialoguer or indicatif (its manifest has none of
//! them, and a test checks the lock file): the wire crate, the agent and the command line
//! adapt it. See `docs/ARCHITECTURE.md` for the whole picture.
//!
//! - [`category`]: the categories of a tree, and why `licenses` is not one of them.
//! - [`path`]: validated relative paths and symlink targets (the confinement rules).
//! - [`confine`]: rules across a peer's manifest (a tree, nothing beneath a symlink; limits).
//! - [`entry`], [`manifest`]: what a tree holds, with Merkle digests per category.
//! - [`attrs`]: what travels with an entry beside its bytes (owner, group, extended
//!   attributes and ACLs), read, compared and set.
//! - [`layout`]: where one server keeps each category and its own state.
//! - [`scan`], [`index`]: walking a category and hashing only what changed.
//! - [`live`]: the manifest kept in memory while a watcher vouches for it.
//! - [`plan`]: the pure diff of two manifests into steps, with guards and a digest.
//! - [`chunk`], [`transfer`]: content-defined chunks, and staging files from a source.
//! - [`apply`], [`journal`]: the crash-safe commit of a plan, and recovery at start.
//! - [`durable`]: making staged data durable before the journal, wherever the tree lives.
//! - [`subtree`]: where each entry is staged; new folders staged whole, moved in at once.
//! - [`resume`]: what a cut transfer staged, kept so that the next attempt resumes.
//! - [`history`]: the record of every apply and rollback, kept beyond pruning.
//! - [`last_sync`]: what the last sync left, to tell local edits from downgrades.
//! - [`standing`]: where a server stands against its source: the one meaning of "in
//!   sync" and "changed here" every view shows.
//! - [`pair`], [`two_way`]: what each side held after its last two-way sync with a peer,
//!   and deciding from it what goes which way, conflicts included.
//! - [`rollback`]: planning the return to the state before a kept generation.
//! - [`scope`]: what a rule of `agent.toml` is about (a category, path patterns, all).
//! - [`command`]: running an administrator's command (a check, a hook) with a timeout.
//! - [`checks`]: the destination's checks, run on the staged tree before the commit.
//! - [`effects`]: what a change means for the server receiving it ("effective after the
//!   next startup"), said in plans, results and history.
//! - [`clock`]: time as records keep it and as administrators read it.
//! - [`progress`]: the trait the engine reports progress to.
//! - [`refusal`]: typed refusals (busy, changed since the preview, guards, hold, ...).
//! - [`request`], [`view`], [`server`]: what a destination is asked, the plan as it is
//!   reviewed (and the one decision on it), what a server says about itself.
//! - [`hold`]: refusing every apply during maintenance, across restarts.
//! - [`confirm`]: an apply that stands only if confirmed before its deadline.
//! - [`rules`], [`merge`]: device-specific items (path and key rules) and merging a shared
//!   file with a server's own values; [`merge::three_way`]: merging two servers' copies of
//!   a file against their base, key by key, record by record, line by line (pure).
//! - [`merging`]: the part of planning that reads contents (merges, `diff --keys`).
//! - [`semantic`]: differences key by key, record by record, version by version.
//! - [`fsutil`]: atomic, durable writes of small files.
//! - [`noise`]: deterministic incompressible bytes for sample images and tests.
//! - [`failpoint`], [`fault`]: test-only fault injection (crash or slow down at named
//!   points; an I/O error at any operation of a commit).

pub mod apply;
pub mod attrs;
pub mod bundle;
pub mod category;
pub mod checks;
pub mod chunk;
pub mod clock;
pub mod command;
pub mod compress;
pub mod confine;
pub mod confirm;
pub mod durable;
pub mod effects;
pub mod entry;
pub mod error;
pub mod failpoint;
pub mod fault;
pub mod fsutil;
pub mod history;
pub mod hold;
pub mod index;
pub mod journal;
pub mod last_sync;
pub mod layout;
pub mod live;
pub mod manifest;
pub mod merge;
pub mod merging;
pub mod noise;
pub mod pair;
pub mod path;
pub mod plan;
pub mod progress;
pub mod refusal;
pub mod request;
pub mod resume;
pub mod rollback;
pub mod rules;
pub mod scan;
pub mod scope;
pub mod semantic;
pub mod server;
pub mod standing;
pub mod subtree;
pub mod transfer;
pub mod two_way;
pub mod view;

pub use category::Category;
pub use entry::{Digest, Entry, EntryKind};
pub use error::{EngineError, Result};
pub use manifest::{CategoryManifest, Manifest};
pub use path::RelPath;
pub use refusal::{Refusal, RefusalKind};
