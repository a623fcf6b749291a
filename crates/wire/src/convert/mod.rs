//! Conversions between protobuf and the engine's own types, for the client and the
//! server adapter. Protobuf stops here: nothing above this crate sees it.
//!
//! Everything arriving from the network is validated on the way in: paths become
//! [`RelPath`]s, digests must be 32 bytes, symlinks must stay inside their category, and
//! `licenses` is refused with its reason.
//!
//! - this file: categories, entries, chunk lists (tree data);
//! - [`plan`]: plans, refusals, apply progress and outcomes, requests;
//! - [`info`]: `Hello`, holds, history;
//! - [`two_way`]: the two-way parts of requests and plans, a side's changes.

pub(crate) mod info;
pub(crate) mod plan;
pub(crate) mod two_way;

use confsync_engine::attrs::{Attrs, Interner, Xattr};
use confsync_engine::category::{Category, LICENSES_REFUSAL};
use confsync_engine::chunk::{ChunkInfo, ChunkList};
use confsync_engine::confine::MAX_FILE_BYTES;
use confsync_engine::entry::{Digest, Entry, EntryKind};
use confsync_engine::path::{PathError, RelPath, Short, check_symlink_syntax};
use confsync_proto::v1;

/// Why a message from a peer was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ConvertError {
    #[error("{LICENSES_REFUSAL}")]
    Licenses,
    #[error("unknown category number {0}")]
    UnknownCategory(i32),
    #[error("unknown entry kind {kind} for {:?}", Short(.path))]
    UnknownKind { path: String, kind: i32 },
    #[error("digest of {:?} is {len} bytes, expected 32", Short(.path))]
    BadDigest { path: String, len: usize },
    #[error("{:?} declares {size} bytes, more than the {max} accepted", Short(.path))]
    TooLarge { path: String, size: u64, max: u64 },
    #[error("attributes of {:?}: {detail}", Short(.path))]
    BadAttrs { path: String, detail: String },
    #[error("chunk list of {:?}: {detail}", Short(.path))]
    BadChunks { path: String, detail: String },
    #[error(
        "the bundle {0:?} is not named by an absolute path (without ..) on the agent's machine"
    )]
    BundlePath(String),
    #[error("unknown {what} number {value}")]
    UnknownValue { what: &'static str, value: i32 },
    #[error(transparent)]
    Path(#[from] PathError),
    #[error(transparent)]
    Shape(#[from] confsync_engine::confine::ShapeError),
}

pub(crate) fn category_to_proto(category: Category) -> v1::Category {
    match category {
        Category::Firmware => v1::Category::Firmware,
        Category::Capdb => v1::Category::Capdb,
        Category::Modules => v1::Category::Modules,
        Category::Config => v1::Category::Config,
    }
}

pub(crate) fn category_from_proto(raw: i32) -> Result<Category, ConvertError> {
    match v1::Category::try_from(raw) {
        Ok(v1::Category::Firmware) => Ok(Category::Firmware),
        Ok(v1::Category::Capdb) => Ok(Category::Capdb),
        Ok(v1::Category::Modules) => Ok(Category::Modules),
        Ok(v1::Category::Config) => Ok(Category::Config),
        Ok(v1::Category::Licenses) => Err(ConvertError::Licenses),
        _ => Err(ConvertError::UnknownCategory(raw)),
    }
}

/// A requested category list; empty means all four.
pub(crate) fn categories_from_proto(raw: &[i32]) -> Result<Vec<Category>, ConvertError> {
    let mut out = raw.iter().map(|c| category_from_proto(*c)).collect::<Result<Vec<_>, _>>()?;
    if out.is_empty() {
        out = Category::ALL.to_vec();
    }
    out.sort();
    out.dedup();
    Ok(out)
}

pub(crate) fn categories_to_proto(categories: &[Category]) -> Vec<i32> {
    categories.iter().map(|c| category_to_proto(*c) as i32).collect()
}

pub(crate) fn kind_to_proto(kind: EntryKind) -> v1::EntryKind {
    match kind {
        EntryKind::File => v1::EntryKind::File,
        EntryKind::Dir => v1::EntryKind::Dir,
        EntryKind::Symlink => v1::EntryKind::Symlink,
    }
}

pub(crate) fn kind_from_proto(raw: i32, path: &str) -> Result<EntryKind, ConvertError> {
    match v1::EntryKind::try_from(raw) {
        Ok(v1::EntryKind::File) => Ok(EntryKind::File),
        Ok(v1::EntryKind::Dir) => Ok(EntryKind::Dir),
        Ok(v1::EntryKind::Symlink) => Ok(EntryKind::Symlink),
        _ => Err(ConvertError::UnknownKind { path: path.to_string(), kind: raw }),
    }
}

pub(crate) fn digest_from_proto(raw: &[u8], path: &str) -> Result<Digest, ConvertError> {
    Digest::from_slice(raw)
        .ok_or(ConvertError::BadDigest { path: path.to_string(), len: raw.len() })
}

pub(crate) fn entry_to_proto(entry: &Entry) -> v1::Entry {
    v1::Entry {
        path: entry.path.to_string(),
        kind: kind_to_proto(entry.kind) as i32,
        size: entry.size,
        mode: entry.mode,
        mtime_ns: entry.mtime_ns,
        digest: if entry.kind == EntryKind::Dir { Vec::new() } else { entry.digest.0.to_vec() },
        symlink_target: entry.symlink_target.clone().unwrap_or_default(),
        attrs: entry.attrs.as_deref().map(attrs_to_proto),
        hardlink: entry.hardlink.as_ref().map(ToString::to_string).unwrap_or_default(),
    }
}

fn attrs_to_proto(attrs: &Attrs) -> v1::Attrs {
    v1::Attrs {
        uid: attrs.uid,
        gid: attrs.gid,
        user: attrs.user.clone().unwrap_or_default(),
        group: attrs.group.clone().unwrap_or_default(),
        xattrs: attrs
            .xattrs
            .iter()
            .map(|x| v1::Xattr { name: x.name.clone(), value: x.value.clone() })
            .collect(),
        xattrs_unread: attrs.xattrs_unread,
    }
}

/// Validates a peer's attributes ([`Attrs::check`]: names an account could have, only
/// extended attributes confsync carries, bounded, sorted).
fn attrs_from_proto(raw: v1::Attrs, path: &str) -> Result<Attrs, ConvertError> {
    let name = |n: String| (!n.is_empty()).then_some(n);
    let attrs = Attrs {
        uid: raw.uid,
        gid: raw.gid,
        user: name(raw.user),
        group: name(raw.group),
        xattrs: raw.xattrs.into_iter().map(|x| Xattr { name: x.name, value: x.value }).collect(),
        xattrs_unread: raw.xattrs_unread,
    };
    attrs.check().map_err(|detail| ConvertError::BadAttrs { path: path.to_string(), detail })?;
    Ok(attrs)
}

/// Validates an entry from a peer: canonical path, known kind, 32-byte digest, a symlink
/// target a symlink can hold (its digest derived from it), attributes of the kinds
/// confsync carries.
#[cfg(test)]
pub(crate) fn entry_from_proto(raw: v1::Entry) -> Result<Entry, ConvertError> {
    entry_from_proto_in(raw, &mut Interner::default())
}

/// [`entry_from_proto`], sharing one copy of each distinct set of attributes across the
/// entries converted with `shared` (a manifest of 100,000 entries holds a handful).
pub(crate) fn entry_from_proto_in(
    raw: v1::Entry,
    shared: &mut Interner,
) -> Result<Entry, ConvertError> {
    let path = RelPath::new(&raw.path)?;
    let kind = kind_from_proto(raw.kind, &raw.path)?;
    let (digest, symlink_target, size) = match kind {
        EntryKind::Dir => (Digest::ZERO, None, 0),
        EntryKind::File if raw.size > MAX_FILE_BYTES => {
            return Err(ConvertError::TooLarge {
                path: raw.path,
                size: raw.size,
                max: MAX_FILE_BYTES,
            });
        }
        EntryKind::File => (digest_from_proto(&raw.digest, &raw.path)?, None, raw.size),
        EntryKind::Symlink => {
            check_symlink_syntax(&path, &raw.symlink_target)?;
            // The digest of a link is derived, never trusted.
            let digest = Digest::of(raw.symlink_target.as_bytes());
            (digest, Some(raw.symlink_target.clone()), raw.symlink_target.len() as u64)
        }
    };
    Ok(Entry {
        path,
        kind,
        size,
        mode: raw.mode & confsync_engine::entry::SYNCED_MODE_BITS,
        mtime_ns: raw.mtime_ns,
        digest,
        symlink_target,
        attrs: match raw.attrs {
            Some(attrs) => Some(shared.intern(attrs_from_proto(attrs, &raw.path)?)),
            None => None,
        },
        // Where it leads is checked across the manifest (`confine::check_tree`).
        hardlink: match raw.hardlink.as_str() {
            "" => None,
            first if kind == EntryKind::File => Some(RelPath::new(first)?),
            _ => return Err(ConvertError::UnknownKind { path: raw.path, kind: raw.kind }),
        },
    })
}

pub(crate) fn chunk_list_to_proto(list: &ChunkList) -> v1::ChunkList {
    v1::ChunkList {
        size: list.size,
        digest: list.digest.0.to_vec(),
        chunks: list
            .chunks
            .iter()
            .map(|c| v1::ChunkRef {
                offset: c.offset,
                length: c.length,
                digest: c.digest.0.to_vec(),
            })
            .collect(),
    }
}

/// Validates a chunk list from a peer: 32-byte digests, and chunks that cover the file
/// exactly, in order, each at most [`MAX_CHUNK`] bytes.
///
/// [`MAX_CHUNK`]: confsync_engine::chunk::MAX_CHUNK
pub(crate) fn chunk_list_from_proto(
    raw: v1::ChunkList,
    path: &str,
) -> Result<ChunkList, ConvertError> {
    let bad = |detail: String| ConvertError::BadChunks { path: path.to_string(), detail };
    let mut expected_offset = 0u64;
    for c in &raw.chunks {
        if c.offset != expected_offset {
            return Err(bad(format!(
                "a chunk starts at {} instead of {expected_offset}",
                c.offset
            )));
        }
        if c.length == 0 || c.length > confsync_engine::chunk::MAX_CHUNK {
            return Err(bad(format!("a chunk of {} bytes at {}", c.length, c.offset)));
        }
        expected_offset = expected_offset.saturating_add(u64::from(c.length));
    }
    if expected_offset != raw.size || raw.size > MAX_FILE_BYTES {
        return Err(bad(format!("chunks cover {expected_offset} bytes of {}", raw.size)));
    }
    let chunks = raw
        .chunks
        .into_iter()
        .map(|c| {
            Ok(ChunkInfo {
                offset: c.offset,
                length: c.length,
                digest: digest_from_proto(&c.digest, path)?,
            })
        })
        .collect::<Result<Vec<_>, ConvertError>>()?;
    Ok(ChunkList { size: raw.size, digest: digest_from_proto(&raw.digest, path)?, chunks })
}

#[cfg(test)]
mod fuzz_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn licenses_and_unknown_categories_are_refused() {
        assert_eq!(category_from_proto(v1::Category::Licenses as i32), Err(ConvertError::Licenses));
        assert!(matches!(category_from_proto(99), Err(ConvertError::UnknownCategory(99))));
        assert_eq!(categories_from_proto(&[]).expect("all"), Category::ALL.to_vec());
    }

    #[test]
    fn hostile_entries_are_refused() {
        let base = v1::Entry {
            path: "ok".into(),
            kind: v1::EntryKind::File as i32,
            size: 1,
            mode: 0o4755,
            mtime_ns: 0,
            digest: vec![0; 32],
            symlink_target: String::new(),
            attrs: None,
            hardlink: String::new(),
        };
        let ok = entry_from_proto(base.clone()).expect("valid");
        assert_eq!(ok.mode, 0o755, "setuid stripped");
        for path in ["../x", "/etc/passwd", "a/../../b", "a//b", ".", ""] {
            assert!(
                entry_from_proto(v1::Entry { path: path.into(), ..base.clone() }).is_err(),
                "{path}"
            );
        }
        assert!(entry_from_proto(v1::Entry { digest: vec![0; 3], ..base.clone() }).is_err());
        // A symlink is carried as the string it holds, wherever it leads...
        let link = v1::Entry {
            kind: v1::EntryKind::Symlink as i32,
            symlink_target: "/usr/share/zoneinfo/Etc/UTC".into(),
            ..base.clone()
        };
        let link = entry_from_proto(link).expect("an absolute symlink is carried");
        assert_eq!(link.symlink_target.as_deref(), Some("/usr/share/zoneinfo/Etc/UTC"));
        // ...but not one no symlink can hold.
        let nul = v1::Entry {
            kind: v1::EntryKind::Symlink as i32,
            symlink_target: "a\0b".into(),
            ..base.clone()
        };
        assert!(entry_from_proto(nul).is_err());
        // Attributes: never a capability, nothing unsorted, no name with a slash.
        let with = |xattrs: Vec<(&str, &[u8])>, user: &str| v1::Entry {
            attrs: Some(v1::Attrs {
                uid: 0,
                gid: 0,
                user: user.into(),
                group: String::new(),
                xattrs_unread: false,
                xattrs: xattrs
                    .into_iter()
                    .map(|(n, v)| v1::Xattr { name: n.into(), value: v.to_vec() })
                    .collect(),
            }),
            ..base.clone()
        };
        entry_from_proto(with(vec![("system.posix_acl_access", b"x"), ("user.a", b"1")], "nobody"))
            .expect("an ACL and a user attribute");
        for (bad, user) in [
            (vec![("security.capability", &b"x"[..])], "root"),
            (vec![("trusted.overlay.redirect", &b"/x"[..])], "root"),
            (vec![("user.b", &b"1"[..]), ("user.a", &b"1"[..])], "root"),
            (vec![("system.nfs4_acl", &b"x"[..])], "root"),
            (vec![], "../x"),
        ] {
            let err = entry_from_proto(with(bad, user)).expect_err("refused");
            assert!(err.to_string().contains("attributes of"), "{err}");
        }
        let link = v1::Entry {
            kind: v1::EntryKind::Symlink as i32,
            symlink_target: String::new(),
            ..base
        };
        let err = entry_from_proto(link).expect_err("an empty symlink");
        assert!(err.to_string().contains("no symlink can hold"), "{err}");
    }
}
