//! What a pair's base holds beside digests: the content of its files a merge can read,
//! so that a later two-way run can merge a file changed on both sides against what both
//! last agreed on (`merge::three_way`), instead of deciding the file whole.
//!
//! Kept in `.confsync/pairs/content/<digest>`, content-addressed, so a file two pairs
//! agreed on is stored once: each UTF-8 file of at most [`MAX_FILE`] bytes, up to
//! [`MAX_PER_BASE`] per base (the largest left out first). Advisory: a file not kept is
//! decided whole, as before, and every failure is only logged.

use std::collections::BTreeSet;
use std::path::PathBuf;

use crate::entry::{Digest, EntryKind};
use crate::layout::Layout;

use super::PairBase;

/// The largest file whose content a base keeps.
pub const MAX_FILE: u64 = 1 << 20;
/// The most content one base keeps.
pub const MAX_PER_BASE: u64 = 64 << 20;

fn folder(layout: &Layout) -> PathBuf {
    layout.state_dir().join(super::FOLDER).join("content")
}

/// Keeps the content of `base`'s mergeable files, read from this tree as the commit left
/// them (a file changed since, whose digest no longer matches, is not kept).
pub fn keep(layout: &Layout, base: &PairBase) {
    let dir = folder(layout);
    if let Err(e) = std::fs::create_dir_all(&dir) {
        tracing::warn!(folder = %dir.display(), error = %e, "cannot keep the base's contents; files changed on both sides will be decided whole");
        return;
    }
    let mut total = 0u64;
    for (category, paths) in &base.categories {
        let Ok(Some(tree)) = layout.open_category(*category) else { continue };
        for (path, sig) in paths.iter().filter(|(_, s)| s.kind == EntryKind::File) {
            let stored = dir.join(sig.digest.to_hex());
            if stored.exists() {
                continue;
            }
            let Ok(meta) = tree.symlink_metadata(path.as_str()) else { continue };
            if !meta.is_file() || meta.len() > MAX_FILE || total + meta.len() > MAX_PER_BASE {
                continue;
            }
            let Ok(bytes) = tree.read(path.as_str()) else { continue };
            if Digest::of(&bytes) != sig.digest || std::str::from_utf8(&bytes).is_err() {
                continue;
            }
            total += bytes.len() as u64;
            if let Err(e) = crate::fsutil::write_file(&stored, &bytes, crate::fsutil::PRIVATE, true)
            {
                tracing::warn!(file = %stored.display(), error = %e, "cannot keep a file of the base");
            }
        }
    }
}

/// The content a base kept for `digest`, checked against it.
pub fn get(layout: &Layout, digest: &Digest) -> Option<Vec<u8>> {
    let bytes = std::fs::read(folder(layout).join(digest.to_hex())).ok()?;
    (Digest::of(&bytes) == *digest).then_some(bytes)
}

/// Drops the content no base or candidate of any pair names any more.
pub fn prune(layout: &Layout) {
    let pairs = layout.state_dir().join(super::FOLDER);
    let Ok(records) = std::fs::read_dir(&pairs) else { return };
    let mut named: BTreeSet<String> = BTreeSet::new();
    for record in records.flatten() {
        let path = record.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        match super::read(&path) {
            Ok(Some(base)) => named.extend(
                base.categories.values().flat_map(|p| p.values()).map(|s| s.digest.to_hex()),
            ),
            // Another version's record: this version cannot use it, nor what it names.
            Ok(None) => {}
            // A record that cannot be read might still name content: keep it all.
            Err(_) => return,
        }
    }
    let Ok(stored) = std::fs::read_dir(folder(layout)) else { return };
    for file in stored.flatten() {
        if !file.file_name().to_str().is_some_and(|n| named.contains(n)) {
            let _ = std::fs::remove_file(file.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::category::Category;
    use crate::pair::{Sig, adopt, save_candidate};
    use crate::path::RelPath;

    #[test]
    fn a_base_keeps_its_small_text_files_once_and_drops_what_no_base_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        let layout = Layout::under_root(dir.path());
        std::fs::create_dir_all(layout.state_dir()).expect("state");
        let config = dir.path().join("config");
        std::fs::create_dir_all(&config).expect("config");
        std::fs::write(config.join("app.toml"), b"[display]\ntimeout = 30\n").expect("write");
        std::fs::write(config.join("blob.bin"), [0u8, 159, 146, 150]).expect("write");
        let sig = |content: &[u8]| Sig {
            kind: EntryKind::File,
            digest: Digest::of(content),
            mode: 0o644,
        };
        let mut base =
            PairBase { version: super::super::VERSION, run: "r1".into(), ..PairBase::default() };
        let paths = base.categories.entry(Category::Config).or_default();
        paths.insert(RelPath::new("app.toml").expect("path"), sig(b"[display]\ntimeout = 30\n"));
        paths.insert(RelPath::new("blob.bin").expect("path"), sig(&[0u8, 159, 146, 150]));
        save_candidate(&layout, "peer1", &base).expect("saved");
        let text = Digest::of(b"[display]\ntimeout = 30\n");
        assert_eq!(get(&layout, &text).as_deref(), Some(&b"[display]\ntimeout = 30\n"[..]));
        assert_eq!(get(&layout, &Digest::of(&[0u8, 159, 146, 150])), None, "not text");
        assert!(adopt(&layout, "peer1", "r1").expect("adopt"));
        assert!(get(&layout, &text).is_some(), "still named by the base");

        // A later base that no longer has the file: its content goes at that adoption.
        let later =
            PairBase { version: super::super::VERSION, run: "r2".into(), ..PairBase::default() };
        save_candidate(&layout, "peer1", &later).expect("saved");
        assert!(adopt(&layout, "peer1", "r2").expect("adopt"));
        assert_eq!(get(&layout, &text), None, "no base names it");
    }
}
