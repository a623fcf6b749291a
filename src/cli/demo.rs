//! `confsync demo`: two sample servers on this machine, a primary and its backup, shown
//! drifting apart and brought back into step, with the backup's licenses left its own.
//!
//! Both agents run in this process on free loopback ports, over real gRPC; the sample
//! trees live in a temporary folder that is removed at the end (unless `--keep`).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Args;
use tokio::sync::oneshot;

use confsync_engine::Category;
use confsync_engine::layout::Layout;
use confsync_wire::Target;

use crate::agent::inventory::Identity;
use crate::agent::{self, AgentSettings};
use crate::cli::progress::ProgressDisplay;
use crate::cli::{ExitCode, GuardArgs, flow, render, wizard};
use crate::config::servers::{Role, ServerEntry, ServerList};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Keep the sample trees after the demo and print where they are.
    #[arg(long)]
    pub keep: bool,
}

struct RunningAgent {
    address: String,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

/// Starts an agent; the primary is protected, as a real primary usually is.
async fn start(name: &str, role: &str, root: &Path) -> anyhow::Result<RunningAgent> {
    let listener =
        tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding a loopback port")?;
    let address = listener.local_addr().context("reading the bound address")?.to_string();
    let settings = AgentSettings {
        name: name.to_string(),
        layout: Layout::under_root(root),
        protected: role == "primary",
        keep_generations: 5,
        stall_timeout: confsync_wire::client::STALL_TIMEOUT,
        rescan_every: confsync_engine::live::DEFAULT_RESCAN_EVERY,
        device_specific: Default::default(),
        // What an administrator would say of a thin-client manager's firmware.
        effects: if role == "primary" {
            Vec::new()
        } else {
            vec![confsync_engine::effects::EffectFile {
                category: Some("firmware".into()),
                paths: Vec::new(),
                effective: "after the next startup of the thin clients".into(),
            }]
        },
        hooks: Default::default(),
        checks: Vec::new(),
        config_file: None,
        identity: Identity { role: Some(role.to_string()), serial: None },
        client_tls: None,
        server_tls: None,
        metrics: None,
        carry: Default::default(),
        staged_flush: Default::default(),
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(agent::run(settings, listener, || {}, async move {
        let _ = stopped.await;
    }));
    Ok(RunningAgent { address, stop, task })
}

impl RunningAgent {
    async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task.await.context("agent task")?
    }
}

pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let dir = tempfile::Builder::new()
        .prefix("confsync-demo-")
        .tempdir()
        .context("creating a temporary folder")?;
    let primary_root = dir.path().join("primary");
    let backup_root = dir.path().join("backup-1");
    sample::primary(&primary_root)?;
    sample::backup(&backup_root)?;
    let licenses_before = licenses(&backup_root)?;

    let primary = start("primary", "primary", &primary_root).await?;
    let backup = start("backup-1", "backup", &backup_root).await?;
    println!("Two sample servers are running on this machine:");
    println!("  primary   {}  tree {}", primary.address, primary_root.display());
    println!("  backup-1  {}  tree {}", backup.address, backup_root.display());
    println!();

    let outcome =
        demonstrate(&primary.address, &backup.address, &backup_root, &licenses_before).await;
    primary.shutdown().await?;
    backup.shutdown().await?;
    if args.keep {
        let kept = dir.keep();
        println!("The sample trees are kept in {}.", kept.display());
    }
    outcome
}

async fn demonstrate(
    from: &str,
    to: &str,
    backup_root: &Path,
    licenses_before: &[(PathBuf, Vec<u8>)],
) -> anyhow::Result<ExitCode> {
    let (source, destination) = (Target::plain(from), Target::plain(to));
    let generation = if wizard::require_terminal().is_ok() {
        match guided(&source, &destination).await? {
            ExitCode::Success => None,
            other => return Ok(other),
        }
    } else {
        Some(scripted(&source, &destination).await?)
    };

    println!();
    println!("Step 3: check");
    let (_, after) =
        flow::plan_one(&source, &destination, &Category::ALL, &GuardArgs::default().options())
            .await?;
    let licenses_after = licenses(backup_root)?;
    let licenses_kept = licenses_after == licenses_before;
    println!(
        "  backup-1 now matches primary: {}",
        if after.is_empty() { "yes, every category is in sync" } else { "NO" }
    );
    println!(
        "  backup-1 licenses are its own: {} ({} byte-for-byte as before)",
        if licenses_kept { "yes" } else { "NO" },
        if licenses_after.len() == 1 {
            "1 file".to_string()
        } else {
            format!("{} files", licenses_after.len())
        }
    );
    if let Some(generation) = generation {
        println!("  the replaced files are kept as generation {generation} for rollback");
    }
    if after.is_empty() && licenses_kept {
        Ok(ExitCode::Success)
    } else {
        anyhow::bail!("the demo's check failed: the backup does not match, or its licenses changed")
    }
}

/// On a terminal: the administrator drives the wizard over the two sample servers.
async fn guided(source: &Target, destination: &Target) -> anyhow::Result<ExitCode> {
    println!(
        "Steps 1 and 2 in the wizard: choose primary as the source and backup-1 as the destination."
    );
    let list = ServerList {
        servers: vec![
            ServerEntry {
                name: "primary".into(),
                address: source.address.clone(),
                role: Role::Primary,
                tls: None,
                two_way: Vec::new(),
            },
            ServerEntry {
                name: "backup-1".into(),
                address: destination.address.clone(),
                role: Role::Backup,
                tls: None,
                two_way: Vec::new(),
            },
        ],
    };
    wizard::run_with(&list, None).await
}

/// Without a terminal: what `diff` and `sync --yes` would show and do.
async fn scripted(source: &Target, destination: &Target) -> anyhow::Result<u64> {
    let (from, to) = (&source.address, &destination.address);
    let options = GuardArgs::default().options();
    let categories = Category::ALL.to_vec();
    let (mut client, view) = flow::plan_one(source, destination, &categories, &options).await?;
    println!("Step 1: what differs (as `confsync diff --from {from} --to {to}` shows it)");
    print!("{}", render::plan(&view, from, to, false));
    println!();

    println!("Step 2: synchronize (as `confsync sync --from {from} --to {to} --yes` does)");
    let display = ProgressDisplay::choose(false);
    let bar = display.destination("backup-1");
    let result =
        flow::apply_one(&mut client, source, &categories, &options, view.digest, None, |event| {
            bar.update(event);
        })
        .await?;
    bar.finish();
    println!("{}", render::result_line("backup-1", &result));
    print!("{}", render::notices("backup-1", &result));
    Ok(result.generation)
}

fn licenses(root: &Path) -> anyhow::Result<Vec<(PathBuf, Vec<u8>)>> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(root.join("licenses")).sort_by_file_name() {
        let entry = entry.context("reading licenses")?;
        if entry.file_type().is_file() {
            out.push((
                entry.path().to_path_buf(),
                std::fs::read(entry.path()).context("reading a license")?,
            ));
        }
    }
    Ok(out)
}

/// The sample trees: a primary with newer firmware, an extra module, changed
/// configuration and capability records; a backup that lags behind; each with its own
/// licenses.
mod sample {
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    use anyhow::Context;

    const IMAGE_MIB: usize = 16;
    const DAY: u64 = 24 * 60 * 60;

    /// The primary's files are a day old, the backup's a month: the backup lags behind.
    fn age(root: &Path) -> std::time::Duration {
        let days = if root.ends_with("primary") { 1 } else { 30 };
        std::time::Duration::from_secs(days * DAY)
    }

    /// When both servers were installed (2026-01-01): what they hold alike has this time
    /// on both, as a sync leaves it, so that only real differences show.
    fn installed() -> std::time::SystemTime {
        std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_767_225_600)
    }

    /// Writes a file both servers hold alike, with the time of the installation.
    fn write_common(root: &Path, rel: &str, bytes: &[u8]) -> anyhow::Result<()> {
        write(root, rel, bytes)?;
        set_time(&root.join(rel), installed())
    }

    fn set_time(path: &Path, when: std::time::SystemTime) -> anyhow::Result<()> {
        std::fs::File::open(path)
            .and_then(|f| f.set_times(std::fs::FileTimes::new().set_modified(when)))
            .with_context(|| format!("setting the time of {}", path.display()))
    }

    /// Every folder of the categories with the time of the installation.
    fn settle_folders(root: &Path) -> anyhow::Result<()> {
        for category in ["firmware", "capdb", "modules", "config"] {
            for item in walkdir::WalkDir::new(root.join(category)).min_depth(1).contents_first(true)
            {
                let item = item.context("walking the sample tree")?;
                if item.file_type().is_dir() {
                    set_time(item.path(), installed())?;
                }
            }
        }
        Ok(())
    }

    fn write(root: &Path, rel: &str, bytes: &[u8]) -> anyhow::Result<()> {
        let path = root.join(rel);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))?;
        let when = std::time::SystemTime::now() - age(root);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .and_then(|f| f.set_times(std::fs::FileTimes::new().set_modified(when)))
            .with_context(|| format!("setting the time of {}", path.display()))
    }

    fn chmod(root: &Path, rel: &str, mode: u32) -> anyhow::Result<()> {
        let path = root.join(rel);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("setting mode of {}", path.display()))
    }

    /// Deterministic bytes that do not compress, like a real firmware image.
    fn image(len: usize, seed: u64) -> Vec<u8> {
        confsync_engine::noise::noise(len, seed)
    }

    fn firmware(version_patch: u8) -> Vec<u8> {
        let mut bytes = image(IMAGE_MIB << 20, 7);
        // A newer release differs from the older one in one region of 1 MiB.
        let middle = (IMAGE_MIB << 20) / 2;
        for (i, b) in bytes[middle..middle + (1 << 20)].iter_mut().enumerate() {
            *b ^= version_patch.wrapping_mul(31).wrapping_add(i as u8);
        }
        bytes
    }

    const MODELS: &str = "model,vendor,resolution,usb,audio\n\
        TC-100,Acme,1920x1080,yes,yes\nTC-200,Acme,2560x1440,yes,yes\nK-9,Kiosk Co,1280x1024,no,no\n";

    fn common(root: &Path) -> anyhow::Result<()> {
        write_common(root, "firmware/arm/rpi4-boot.img", &image(2 << 20, 99))?;
        write_common(
            root,
            "capdb/vendors/acme.json",
            br#"{"vendor":"Acme","support":"https://example.invalid"}"#,
        )?;
        write_common(root, "modules/usb-redirect.mod", &image(48 << 10, 3))?;
        write_common(root, "modules/touchscreen.mod", &image(96 << 10, 4))?;
        write_common(
            root,
            "config/terminals/lobby.conf",
            b"[terminal]\nname=lobby\nmodel=TC-100\n",
        )?;
        write_common(
            root,
            "config/terminals/lab-1.conf",
            b"[terminal]\nname=lab-1\nmodel=TC-200\n",
        )?;
        write_common(root, "config/scripts/startup.sh", b"#!/bin/sh\nexec /opt/tm/bin/serve\n")?;
        chmod(root, "config/scripts/startup.sh", 0o755)?;
        std::fs::create_dir_all(root.join("config/drop-in")).context("creating config/drop-in")?;
        Ok(())
    }

    pub(super) fn primary(root: &Path) -> anyhow::Result<()> {
        common(root)?;
        write(root, "firmware/thinclient-x86.img", &firmware(2))?;
        write(root, "firmware/VERSION", b"7.2.0\n")?;
        write(
            root,
            "capdb/models.csv",
            format!("{MODELS}TC-300,Acme,3840x2160,yes,yes\nTC-310,Acme,3840x2160,yes,no\n")
                .as_bytes(),
        )?;
        write(root, "modules/smartcard.mod", &image(64 << 10, 5))?;
        write(
            root,
            "config/server.conf",
            b"[server]\nport=2031\nfailover=backup-1\nsessions=250\n",
        )?;
        std::os::unix::fs::symlink("terminals/lobby.conf", root.join("config/default.conf"))
            .context("creating config/default.conf")?;
        write(root, "licenses/primary.lic", b"LICENSE primary serial=PRI-0001 seats=250\n")?;
        settle_folders(root)
    }

    pub(super) fn backup(root: &Path) -> anyhow::Result<()> {
        common(root)?;
        write(root, "firmware/thinclient-x86.img", &firmware(1))?;
        write(root, "firmware/VERSION", b"7.1.4\n")?;
        write(root, "capdb/models.csv", MODELS.as_bytes())?;
        write(
            root,
            "config/server.conf",
            b"[server]\nport=2031\nfailover=primary\nsessions=200\n",
        )?;
        write(root, "config/terminals/old-kiosk.conf", b"[terminal]\nname=old-kiosk\nmodel=K-9\n")?;
        write(root, "licenses/backup-1.lic", b"LICENSE backup-1 serial=BAK-0002 seats=250\n")?;
        settle_folders(root)
    }
}
