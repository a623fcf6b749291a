//! Making what an apply staged durable before the journal that names it, wherever the
//! tree lives.
//!
//! One `syncfs` of the staging folder's file system is the cheap way, and where it means
//! "everything written is on disk, or an error" it is used. Where it does not, every
//! staged file is fsynced instead (in parallel), then the folders that name them:
//!
//! - Linux before 5.8: `syncfs` does not report writeback errors, so an EIO while the
//!   staged data went to disk would go unseen and the commit would proceed;
//! - FUSE, NFS, SMB/CIFS, Ceph, 9P, AFS and the like: `syncfs` is not passed to the
//!   server, while `fsync` is.
//!
//! The way is chosen once per agent, at start, from the staging folder's file system
//! (and logged), or set in agent.toml (`staged_flush`).

use std::path::Path;

use rayon::prelude::*;

/// How staged files are made durable.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Flush {
    /// Chosen from the file system and the kernel ([`choose`]).
    #[default]
    Auto,
    /// One `syncfs` of the staging folder's file system.
    Syncfs,
    /// `fsync` of every staged file, then of the folders holding them.
    EachFile,
}

/// The way to use for staging under `folder` (`setting` as agent.toml gives it), and why.
pub fn choose(folder: &Path, setting: Flush) -> (Flush, String) {
    match setting {
        Flush::Syncfs => return (Flush::Syncfs, "set in agent.toml (staged_flush)".into()),
        Flush::EachFile => return (Flush::EachFile, "set in agent.toml (staged_flush)".into()),
        Flush::Auto => {}
    }
    let release = rustix::system::uname().release().to_string_lossy().into_owned();
    if kernel_below(&release, (5, 8)) {
        let why = format!("Linux {release} does not report writeback errors through syncfs");
        return (Flush::EachFile, why);
    }
    match remote_file_system(folder) {
        Some(name) => {
            (Flush::EachFile, format!("{name} does not pass syncfs to the server holding the data"))
        }
        None => (Flush::Syncfs, format!("syncfs reports writeback errors on Linux {release}")),
    }
}

/// Makes every file staged under `staging` durable, the way `flush` says.
pub fn flush_staged(staging: &Path, flush: Flush) -> std::io::Result<()> {
    match flush {
        Flush::Auto | Flush::Syncfs => {
            let folder = std::fs::File::open(staging)?;
            rustix::fs::syncfs(&folder).map_err(std::io::Error::from)
        }
        Flush::EachFile => {
            let mut files = Vec::new();
            let mut folders = Vec::new();
            for entry in walkdir::WalkDir::new(staging).follow_links(false) {
                let entry = entry.map_err(std::io::Error::other)?;
                if entry.file_type().is_file() {
                    files.push(entry.into_path());
                } else if entry.file_type().is_dir() {
                    folders.push(entry.into_path());
                }
            }
            files.par_iter().try_for_each(|path| std::fs::File::open(path)?.sync_all())?;
            // The names too: a folder's entries are durable once the folder is synced.
            folders.par_iter().try_for_each(|path| std::fs::File::open(path)?.sync_all())
        }
    }
}

/// Whether a kernel release (`5.4.0-150-generic`) is older than `(major, minor)`; an
/// unreadable one is taken as recent.
fn kernel_below(release: &str, (major, minor): (u32, u32)) -> bool {
    let mut parts = release.split(|c: char| !c.is_ascii_digit());
    let number = |p: Option<&str>| p.and_then(|s| s.parse::<u32>().ok());
    match (number(parts.next()), number(parts.next())) {
        (Some(a), Some(b)) => (a, b) < (major, minor),
        _ => false,
    }
}

/// The name of the network or user-space file system `folder` lives on, if it does.
fn remote_file_system(folder: &Path) -> Option<&'static str> {
    // Magic numbers from linux/magic.h (and fs/*/super.c for those it lacks).
    const KNOWN: &[(i64, &str)] = &[
        (0x6573_5546, "FUSE"),
        (0x6969, "NFS"),
        (0xFF53_4D42, "CIFS"),
        (0xFE53_4D42, "SMB2"),
        (0x517B, "SMB"),
        (0x00C3_6400, "Ceph"),
        (0x0102_1997, "9P"),
        (0x5346_414F, "AFS"),
        (0x6B41_4653, "kAFS"),
        (0x1974_1214, "AuFS"),
        (0x0BD0_0BD0, "Lustre"),
    ];
    let fs = rustix::fs::statfs(folder).ok()?;
    // `f_type` is signed on some targets; the magic numbers are its low 32 bits.
    #[allow(clippy::unnecessary_cast)]
    let kind = fs.f_type as i64 & 0xFFFF_FFFF;
    KNOWN.iter().find(|(magic, _)| *magic == kind).map(|(_, name)| *name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_kernels_are_told_from_new_ones() {
        assert!(kernel_below("5.4.0-150-generic", (5, 8)));
        assert!(kernel_below("4.19.0", (5, 8)));
        assert!(!kernel_below("5.8.0", (5, 8)));
        assert!(!kernel_below("6.1.0-13-amd64", (5, 8)));
        assert!(!kernel_below("weird", (5, 8)), "unreadable: taken as recent");
    }

    #[test]
    fn a_setting_wins_and_each_file_flushes_every_staged_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(choose(dir.path(), Flush::EachFile).0, Flush::EachFile);
        assert_eq!(choose(dir.path(), Flush::Syncfs).0, Flush::Syncfs);
        std::fs::create_dir_all(dir.path().join("1/sub")).expect("folders");
        std::fs::write(dir.path().join("1/0.abc"), b"staged").expect("write");
        std::fs::write(dir.path().join("1/sub/x"), b"staged").expect("write");
        flush_staged(dir.path(), Flush::EachFile).expect("flushed");
        flush_staged(dir.path(), Flush::Syncfs).expect("flushed");
    }
}
