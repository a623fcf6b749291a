//! Writing small files so that a crash leaves either the old content or the new one,
//! never a mix or an empty file: a temporary file in the same folder is written and
//! fsynced, renamed over the target, and the folder is fsynced so the rename itself is
//! durable. Every state and configuration file confsync writes goes through here (hash
//! index, journal, generation records, hold, server list, status file, certificates).

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::error::{EngineError, Result};
use crate::fault;

/// Mode of files only their owner should read (state, keys).
pub const PRIVATE: u32 = 0o600;
/// Mode of files others may read (certificates, status for monitoring).
pub const READABLE: u32 = 0o644;

/// Writes `bytes` to `path` atomically and durably, replacing what is there; the file is
/// private to its owner.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_file(path, bytes, PRIVATE, true)
}

/// Writes `bytes` to `path` atomically and durably with `mode`. With `replace` false an
/// existing file is an `AlreadyExists` error and is left as it was.
pub fn write_file(path: &Path, bytes: &[u8], mode: u32, replace: bool) -> Result<()> {
    write_with(path, mode, replace, |out| out.write_all(bytes))
}

/// Writes `value` as JSON to `path`, atomically and durably, streamed: a large record is
/// never held whole in memory.
pub fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    write_with(path, PRIVATE, true, |out| {
        let mut buffered = std::io::BufWriter::new(out);
        serde_json::to_writer(&mut buffered, value).map_err(std::io::Error::other)?;
        buffered.flush()
    })
}

/// Writes what `fill` writes to `path`, atomically and durably with `mode`. With
/// `replace` false an existing file is an `AlreadyExists` error and is left as it was.
pub fn write_with(
    path: &Path,
    mode: u32,
    replace: bool,
    fill: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> Result<()> {
    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let mut tmp = fault::check("create", path)
        .and_then(|()| {
            tempfile::Builder::new()
                .prefix(&format!(".{}.", file_name(path)))
                .suffix(".tmp")
                .tempfile_in(folder)
        })
        .map_err(EngineError::io("create a temporary file in", folder))?;
    fault::check("write", path)
        .and_then(|()| fill(tmp.as_file_mut()))
        .map_err(EngineError::io("write", tmp.path()))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(EngineError::io("set the mode of", tmp.path()))?;
    fault::check("fsync", path)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(EngineError::io("fsync", tmp.path()))?;
    fault::check("rename", path).map_err(EngineError::io("rename into place", path))?;
    if replace {
        tmp.persist(path).map_err(|e| EngineError::io("rename into place", path)(e.error))?;
    } else {
        tmp.persist_noclobber(path).map_err(|e| EngineError::io("create", path)(e.error))?;
    }
    sync_dir(folder)
}

/// Fsyncs a directory so that renames inside it are durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    fault::check("fsync folder", dir)
        .and_then(|()| std::fs::File::open(dir))
        .and_then(|d| d.sync_all())
        .map_err(EngineError::io("fsync folder", dir))
}

/// Removes a file; one that is not there is no error.
pub fn remove_file(path: &Path) -> Result<()> {
    let removed = fault::check("remove", path).and_then(|()| std::fs::remove_file(path));
    match removed {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(EngineError::io("remove", path)(e))
        }
        _ => Ok(()),
    }
}

/// Removes a folder and everything in it; one that is not there is no error.
pub fn remove_all(path: &Path) -> Result<()> {
    let removed = fault::check("remove folder", path).and_then(|()| std::fs::remove_dir_all(path));
    match removed {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(EngineError::io("remove", path)(e))
        }
        _ => Ok(()),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| "file".to_string(), |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_or_refuses_and_leaves_no_temporary_file() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("state.json");
        write_atomically(&path, b"one").expect("write");
        write_atomically(&path, b"two").expect("replace");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        let mode = std::fs::metadata(&path).expect("stat").permissions().mode() & 0o777;
        assert_eq!(mode, PRIVATE);
        let err = write_file(&path, b"three", READABLE, false).expect_err("exists");
        assert!(err.to_string().contains("state.json"), "{err}");
        assert_eq!(std::fs::read(&path).expect("read"), b"two");
        let left: Vec<_> = std::fs::read_dir(tmp.path()).expect("list").flatten().collect();
        assert_eq!(left.len(), 1, "{left:?}");
    }
}
