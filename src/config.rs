//! `agent.toml`: an agent's name, protection, kept generations, listen address and where
//! each category lives. Flags on the command line override the file.
//!
//! ```toml
//! name = "backup-1"
//! listen = "127.0.0.1:7420"
//! protected = false
//! keep_generations = 5
//! stall_timeout = "15s"    # a source silent this long in the middle of a transfer stops it
//! rescan_every = "1h"      # a full rescan this often, whatever the file watcher reported
//! role = "backup"          # shown in the server list
//! serial = "TM-BAK-0002"   # reported when the hardware serial (DMI) cannot be read
//! # Either one root with the built-in layout ...
//! root = "/srv/thinmanager"
//! create = false           # true (or --init) creates a missing root or path; otherwise
//!                          # a folder that does not exist stops the agent, named
//! # ... or each path on its own (state_dir must share a filesystem with the categories).
//! [paths]
//! firmware = "/srv/firmware"
//! capdb = "/srv/capdb"
//! modules = "/srv/modules"
//! config = "/etc/thinmanager"
//! licenses = "/srv/licenses"
//! state_dir = "/srv/.confsync"
//! # Device-specific items (see the README): never overwritten, deleted or created.
//! [device_specific]
//! paths = ["config/network/*.conf", "config/**/hostname"]
//! [[device_specific.keys]]
//! path = "config/server.toml"
//! keys = ["network.address", "server.name"]   # dotted: table.key; for INI: section.key
//! # When a change takes effect here, said in every plan, result and history entry.
//! [[effect]]
//! category = "firmware"
//! effective = "after the next startup of the thin clients"
//! [[effect]]
//! paths = ["config/network/*.conf"]
//! effective = "immediately"
//! # Commands run after a commit that changed their scope (no shell unless named), with
//! # the changed paths listed in the file $CONFSYNC_CHANGED_FILE.
//! on_hook_failure = "report"   # or "rollback": the agent rolls the generation back
//! [[hook]]
//! command = ["systemctl", "reload", "thinmanager"]
//! category = "config"          # or paths = [...]; neither: any change
//! timeout = "30s"              # default 60s; killed with what it started after that
//! # Commands run on the staged tree before a commit (a linter); one that fails refuses
//! # the apply and nothing changes. {tree} in a word is the preview of the tree, and
//! # $CONFSYNC_TREE_CONFIG its config folder; $CONFSYNC_CHANGED_FILE lists what changes.
//! [[check]]
//! category = "config"
//! command = ["/usr/local/bin/tm-lint", "{tree}/config"]
//! timeout = "30s"
//! # Mutual TLS (see `confsync certs`); without it the agent listens on loopback only,
//! # unless `insecure = true` (top level) or --insecure allows plaintext elsewhere.
//! [tls]
//! ca = "/etc/confsync/pki/ca.pem"
//! cert = "/etc/confsync/pki/backup-1.pem"
//! key = "/etc/confsync/pki/backup-1.key"
//! ```

pub mod servers;

/// `"15s"`-style durations in `agent.toml`, through humantime.
mod humantime_serde_opt {
    use serde::Deserialize;

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<std::time::Duration>, D::Error> {
        let text = Option::<String>::deserialize(deserializer)?;
        text.map(|t| {
            humantime::parse_duration(t.trim()).map_err(|e| {
                serde::de::Error::custom(format!("{t:?} is not a duration ({e}); write 15s or 1m"))
            })
        })
        .transpose()
    }
}

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use confsync_engine::category::Category;
use confsync_engine::layout::Layout;
use confsync_wire::TlsFiles;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:7420";
pub const DEFAULT_KEEP_GENERATIONS: usize = 5;

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentFile {
    pub name: Option<String>,
    pub listen: Option<String>,
    #[serde(default)]
    pub protected: bool,
    pub keep_generations: Option<usize>,
    /// How long a source may stay silent in the middle of a transfer (`15s`, `1m`).
    #[serde(default, with = "humantime_serde_opt")]
    pub stall_timeout: Option<std::time::Duration>,
    /// How often the tree is scanned in full although the watcher reported no change.
    #[serde(default, with = "humantime_serde_opt")]
    pub rescan_every: Option<std::time::Duration>,
    /// `primary` or `backup`, shown in the server list.
    pub role: Option<String>,
    /// Serial number to report when the hardware's (DMI) cannot be read.
    pub serial: Option<String>,
    pub root: Option<PathBuf>,
    /// Create a missing root or configured path at start (as `--init`).
    #[serde(default)]
    pub create: bool,
    #[serde(default)]
    pub paths: PathsFile,
    /// The agent's certificate and key, and the CA its peers' certificates come from.
    pub tls: Option<TlsFiles>,
    /// Serve plaintext on a non-loopback address (as `--insecure`).
    #[serde(default)]
    pub insecure: bool,
    /// What belongs to this server alone, and (as a source) to each of its destinations.
    #[serde(default)]
    pub device_specific: confsync_engine::rules::RulesFile,
    /// `[[effect]]`: when a change to a category or to paths takes effect on this server.
    #[serde(default)]
    pub effect: Vec<confsync_engine::effects::EffectFile>,
    /// `[[hook]]`: commands run after a durable commit that changed their scope.
    #[serde(default)]
    pub hook: Vec<HookFile>,
    /// `[[check]]`: commands run on the staged tree before a commit; one that fails
    /// refuses the apply. Written as hooks are.
    #[serde(default)]
    pub check: Vec<HookFile>,
    /// What a failed hook does: `report` (the default: "applied, hook failed") or
    /// `rollback` (the agent rolls the generation back and says so).
    pub on_hook_failure: Option<OnHookFailure>,
    /// Owners and groups by `name` (the default: the number where the name does not
    /// exist here) or by `numeric` id only. Set it alike on every server.
    #[serde(default)]
    pub ids: Ids,
    /// Carry extended attributes and POSIX ACLs (the default), or neither read nor set
    /// them here (`false`).
    pub xattrs: Option<bool>,
    /// `all` symlinks as they are (the default), or only those that stay inside their
    /// category (`confined`); the others are listed as skipped in every plan.
    #[serde(default)]
    pub symlinks: confsync_engine::scan::Symlinks,
    /// How staged files are made durable before a commit: `auto` (the default: one
    /// `syncfs`, or each file fsynced where that does not mean durable), `syncfs` or
    /// `each_file`.
    #[serde(default)]
    pub staged_flush: confsync_engine::durable::Flush,
}

/// How owners travel.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ids {
    #[default]
    Name,
    Numeric,
}

impl AgentFile {
    /// What the tree carries beside content, as this file sets it.
    pub fn carry(&self) -> confsync_engine::scan::Carry {
        confsync_engine::scan::Carry {
            attrs: confsync_engine::attrs::Settings {
                numeric_ids: self.ids == Ids::Numeric,
                xattrs: self.xattrs.unwrap_or(true),
            },
            symlinks: self.symlinks,
        }
    }
}

/// One `[[hook]]`: a command (a list of words, no shell unless it names one), what it is
/// about, and how long it may run.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HookFile {
    pub command: Vec<String>,
    /// A category; or `paths`, patterns as device-specific paths are written; neither:
    /// any change.
    pub category: Option<String>,
    #[serde(default)]
    pub paths: Vec<String>,
    /// Killed (with whatever it started) after this long; default 60s.
    #[serde(default, with = "humantime_serde_opt")]
    pub timeout: Option<std::time::Duration>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnHookFailure {
    #[default]
    Report,
    Rollback,
}

/// How long a hook or check may run unless it says otherwise.
pub const DEFAULT_COMMAND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The `[[check]]`s of a file, checked.
pub fn checks(files: &[HookFile]) -> Result<Vec<confsync_engine::checks::CheckRule>, String> {
    files
        .iter()
        .map(|f| {
            let scope =
                f.scope().map_err(|e| format!("[[check]] {:?}: {e}", f.command.join(" ")))?;
            Ok(confsync_engine::checks::CheckRule {
                scope,
                command: f.command.clone(),
                timeout: f.timeout.unwrap_or(DEFAULT_COMMAND_TIMEOUT),
            })
        })
        .collect()
}

impl HookFile {
    /// Checks the hook; the scope it is about.
    pub fn scope(&self) -> Result<confsync_engine::scope::Scope, String> {
        if self.command.first().is_none_or(|w| w.trim().is_empty()) {
            return Err("command is empty; write it as a list of words, [\"systemctl\", \"reload\", \"thinmanager\"]".into());
        }
        confsync_engine::scope::Scope::parse(self.category.as_deref(), &self.paths)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PathsFile {
    pub firmware: Option<PathBuf>,
    pub capdb: Option<PathBuf>,
    pub modules: Option<PathBuf>,
    pub config: Option<PathBuf>,
    pub licenses: Option<PathBuf>,
    pub state_dir: Option<PathBuf>,
}

impl AgentFile {
    pub fn load(path: &Path) -> anyhow::Result<AgentFile> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading agent configuration {}", path.display()))?;
        toml::from_str(&text)
            .with_context(|| format!("{} is not a valid agent configuration", path.display()))
    }

    /// The layout: paths given one by one win over `root`'s built-in layout; a
    /// relative path is taken relative to the configuration file's folder (`--root`'s,
    /// relative to the working folder). Every path is made absolute: the file watcher
    /// reports absolute paths, and a relative root would never match them (the live
    /// manifest would then go stale unnoticed).
    pub fn layout(&self, root_flag: Option<&Path>, base: &Path) -> anyhow::Result<Layout> {
        let absolute = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
        let resolve =
            |p: &Path| absolute(if p.is_absolute() { p.to_path_buf() } else { base.join(p) });
        let root = root_flag
            .map(|p| absolute(p.to_path_buf()))
            .or_else(|| self.root.as_deref().map(resolve));
        let builtin = root.as_deref().map(Layout::under_root);
        let p = &self.paths;
        let given = [
            (Category::Firmware, &p.firmware),
            (Category::Capdb, &p.capdb),
            (Category::Modules, &p.modules),
            (Category::Config, &p.config),
        ];
        let mut roots = BTreeMap::new();
        for (category, path) in given {
            let path = match (path, &builtin) {
                (Some(path), _) => resolve(path),
                (None, Some(layout)) => layout.root(category).to_path_buf(),
                (None, None) => anyhow::bail!(
                    "no folder for category {category}: give --root DIR, or root or paths.{category} in agent.toml"
                ),
            };
            roots.insert(category, path);
        }
        let licenses = match (&p.licenses, &builtin) {
            (Some(path), _) => resolve(path),
            (None, Some(layout)) => layout.licenses().to_path_buf(),
            (None, None) => {
                anyhow::bail!("no licenses folder: give root or paths.licenses in agent.toml")
            }
        };
        let state_dir = match (&p.state_dir, &builtin) {
            (Some(path), _) => resolve(path),
            (None, Some(layout)) => layout.state_dir().to_path_buf(),
            (None, None) => {
                anyhow::bail!("no state folder: give root or paths.state_dir in agent.toml")
            }
        };
        Ok(Layout::explicit(roots, licenses, state_dir)?)
    }

    /// Checks the folders the administrator named before anything is served: a root or a
    /// configured path that does not exist is most often a typo, and serving it as empty
    /// would let the next sync write into the wrong place or empty the others. With
    /// `create` they are made instead. Returns the category folders missing under an
    /// existing root: those are empty categories, worth a warning, not an error.
    pub fn check_folders(
        &self,
        root_flag: Option<&Path>,
        base: &Path,
        layout: &Layout,
        create: bool,
    ) -> anyhow::Result<Vec<(Category, PathBuf)>> {
        let resolve = |p: &Path| {
            if p.is_absolute() { p.to_path_buf() } else { base.join(p) }
        };
        let (root, root_source) = match (root_flag, &self.root) {
            (Some(root), _) => (Some(root.to_path_buf()), "--root"),
            (None, Some(root)) => (Some(resolve(root)), "root in agent.toml"),
            (None, None) => (None, ""),
        };
        let p = &self.paths;
        let mut named: Vec<(PathBuf, String)> = Vec::new();
        if let Some(root) = &root {
            named.push((root.clone(), root_source.to_string()));
        }
        for (category, path) in [
            (Category::Firmware, &p.firmware),
            (Category::Capdb, &p.capdb),
            (Category::Modules, &p.modules),
            (Category::Config, &p.config),
        ] {
            if path.is_some() {
                named.push((
                    layout.root(category).to_path_buf(),
                    format!("paths.{category} in agent.toml"),
                ));
            }
        }
        if p.licenses.is_some() {
            named.push((layout.licenses().to_path_buf(), "paths.licenses in agent.toml".into()));
        }
        for (path, source) in &named {
            match std::fs::metadata(path) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => anyhow::bail!(
                    "{} (from {source}) is not a folder; give the folder that holds the categories",
                    path.display()
                ),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && create => {
                    std::fs::create_dir_all(path)
                        .with_context(|| format!("creating {} (from {source})", path.display()))?;
                    tracing::info!(folder = %path.display(), "created, as --init or create = true asks");
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => anyhow::bail!(
                    "{} (from {source}) does not exist; check the path for a typo, or start once \
                     with --init (or create = true in agent.toml) to create it empty",
                    path.display()
                ),
                Err(e) => {
                    return Err(e)
                        .with_context(|| format!("inspecting {} (from {source})", path.display()));
                }
            }
        }
        let mut missing = Vec::new();
        for category in Category::ALL {
            let folder = layout.root(category);
            if folder.exists() {
                continue;
            }
            if create {
                std::fs::create_dir_all(folder)
                    .with_context(|| format!("creating {}", folder.display()))?;
            } else {
                missing.push((category, folder.to_path_buf()));
            }
        }
        Ok(missing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_paths_override_the_root_layout() {
        let file: AgentFile = toml::from_str(
            r#"
            name = "backup-1"
            protected = true
            root = "/srv/tm"
            [paths]
            config = "etc"
            "#,
        )
        .expect("valid toml");
        assert!(file.protected);
        let layout = file.layout(None, Path::new("/opt/conf")).expect("layout");
        assert_eq!(layout.root(Category::Config), Path::new("/opt/conf/etc"));
        assert_eq!(layout.root(Category::Firmware), Path::new("/srv/tm/firmware"));
        assert_eq!(layout.state_dir(), Path::new("/srv/tm/.confsync"));
    }

    #[test]
    fn unknown_keys_and_missing_paths_are_errors() {
        assert!(toml::from_str::<AgentFile>("nmae = \"typo\"").is_err());
        let err = AgentFile::default().layout(None, Path::new(".")).expect_err("no paths");
        assert!(err.to_string().contains("--root"), "{err}");
    }
}
