//! The server list, `servers.toml`: the servers an administrator works with, by name.
//!
//! ```toml
//! [[server]]
//! name = "primary"
//! address = "10.0.0.1:7420"
//! role = "primary"
//!
//! [[server]]
//! name = "backup-1"
//! address = "10.0.0.2:7420"
//! role = "backup"
//! # Optional: the client certificate used to reach this server (mutual TLS).
//! tls = { ca = "/etc/confsync/pki/ca.pem", cert = "/etc/confsync/pki/admin.pem", key = "/etc/confsync/pki/admin.key" }
//! ```
//!
//! Where it is: `--servers FILE`, else `$CONFSYNC_SERVERS`, else
//! `$XDG_CONFIG_HOME/confsync/servers.toml` (`~/.config/confsync/servers.toml`).

use std::path::{Path, PathBuf};

use anyhow::Context;

use confsync_wire::{Target, TlsFiles};

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Primary,
    Backup,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Primary => "primary",
            Role::Backup => "backup",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerEntry {
    pub name: String,
    pub address: String,
    pub role: Role,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsFiles>,
    /// Categories `auto` synchronizes both ways between this server and its source
    /// (`two_way = ["config"]`); the others go one way from the source.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub two_way: Vec<confsync_engine::Category>,
}

impl ServerEntry {
    pub fn target(&self) -> Target {
        Target { address: self.address.clone(), tls: self.tls.clone() }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerList {
    #[serde(default, rename = "server")]
    pub servers: Vec<ServerEntry>,
}

impl ServerList {
    /// Reads the list at `path`; a missing file is an empty list.
    pub fn load(path: &Path) -> anyhow::Result<ServerList> {
        match std::fs::read_to_string(path) {
            Ok(text) => toml::from_str(&text).with_context(|| {
                format!(
                    "{} is not a valid server list (see `confsync servers --help`)",
                    path.display()
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(ServerList::default()),
            Err(e) => Err(e).with_context(|| format!("reading the server list {}", path.display())),
        }
    }

    /// Writes the list atomically and durably, creating its folder.
    pub fn save(&self, path: &Path) -> anyhow::Result<()> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating the folder {}", parent.display()))?;
        }
        let text = toml::to_string_pretty(self).context("encoding the server list")?;
        confsync_engine::fsutil::write_atomically(path, text.as_bytes())?;
        Ok(())
    }

    pub fn find(&self, name: &str) -> Option<&ServerEntry> {
        self.servers.iter().find(|s| s.name == name)
    }

    pub fn names(&self) -> Vec<&str> {
        self.servers.iter().map(|s| s.name.as_str()).collect()
    }

    pub fn primary(&self) -> Option<&ServerEntry> {
        self.servers.iter().find(|s| s.role == Role::Primary)
    }
}

/// The server list's path: the flag, else the environment, else the user's config folder.
pub fn default_path() -> PathBuf {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("confsync").join("servers.toml")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_finds_by_name() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("nested/servers.toml");
        assert_eq!(ServerList::load(&path).expect("missing is empty"), ServerList::default());
        let list = ServerList {
            servers: vec![
                ServerEntry {
                    name: "primary".into(),
                    address: "10.0.0.1:7420".into(),
                    role: Role::Primary,
                    tls: None,
                    two_way: Vec::new(),
                },
                ServerEntry {
                    name: "backup-1".into(),
                    address: "10.0.0.2:7420".into(),
                    role: Role::Backup,
                    tls: None,
                    two_way: Vec::new(),
                },
            ],
        };
        list.save(&path).expect("save");
        let loaded = ServerList::load(&path).expect("load");
        assert_eq!(loaded, list);
        assert_eq!(loaded.find("backup-1").map(|s| s.address.as_str()), Some("10.0.0.2:7420"));
        assert_eq!(loaded.primary().map(|s| s.name.as_str()), Some("primary"));
        std::fs::write(&path, "[[server]]\nname = \"x\"\n").expect("write");
        let err = ServerList::load(&path).expect_err("incomplete entry");
        assert!(format!("{err:#}").contains("servers.toml"), "{err:#}");
    }
}
