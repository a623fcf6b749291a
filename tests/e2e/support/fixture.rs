//! The common shapes of a test site, built in a line: a source and a destination agent
//! over their own trees ([`Pair`]), and a server list naming agents ([`ServerFile`]).
//!
//! ```ignore
//! let site = Pair::with(|src| write(src, "config/a", b"new"), |dst| write(dst, "config/a", b"old"));
//! sync_ok(&site.source, &site.destination, &[]);
//! assert_categories_equal(site.src.path(), site.dst.path());
//! ```

use std::path::{Path, PathBuf};

use crate::support::{Agent, tempdir};

/// A source agent `primary` and a destination agent `backup`, each over a tree of its own.
pub(crate) struct Pair {
    pub source: Agent,
    pub destination: Agent,
    pub src: tempfile::TempDir,
    pub dst: tempfile::TempDir,
}

impl Pair {
    /// Writes the source's tree with `source` and the destination's with `destination`,
    /// with every mtime pinned to one instant (what both write alike is then equal, times
    /// included, however far apart the writes were), then starts both agents.
    pub(crate) fn with(source: impl FnOnce(&Path), destination: impl FnOnce(&Path)) -> Pair {
        let (src, dst) = (tempdir(), tempdir());
        source(src.path());
        destination(dst.path());
        crate::support::pin_times(src.path());
        crate::support::pin_times(dst.path());
        Pair::start(src, dst)
    }

    /// Starts agents over trees already written.
    pub(crate) fn start(src: tempfile::TempDir, dst: tempfile::TempDir) -> Pair {
        let source = Agent::start(src.path(), "primary");
        let destination = Agent::start(dst.path(), "backup");
        Pair { source, destination, src, dst }
    }
}

/// A server list file, written as servers are added.
pub(crate) struct ServerFile {
    pub path: PathBuf,
    entries: Vec<String>,
}

impl ServerFile {
    pub(crate) fn new(dir: &Path) -> ServerFile {
        ServerFile { path: dir.join("servers.toml"), entries: Vec::new() }
    }

    /// Adds `name` at `address` with `role` (`primary` or `backup`) and rewrites the file.
    pub(crate) fn add(&mut self, name: &str, address: &str, role: &str) -> &mut ServerFile {
        self.entries.push(format!(
            "[[server]]\nname = \"{name}\"\naddress = \"{address}\"\nrole = \"{role}\"\n"
        ));
        std::fs::write(&self.path, self.entries.join("\n")).expect("write the server list");
        self
    }
}
