//! Validated relative paths: the only kind of path the engine accepts from a peer.
//!
//! A [`RelPath`] is canonical relative UTF-8 with `/` separators: no empty, `.` or `..`
//! segment, no leading `/`, no NUL or backslash, and bounded lengths. Symlink targets are
//! checked by [`check_symlink_target`] so that a link can never lead outside its category,
//! even through other links.

use std::fmt;

/// Longest accepted path, in bytes (Linux PATH_MAX).
pub const MAX_PATH_BYTES: usize = 4096;
/// Longest accepted path segment, in bytes (Linux NAME_MAX).
pub const MAX_NAME_BYTES: usize = 255;

/// A canonical relative path inside one category. Shared, not copied: the same path is
/// in a manifest, a plan's steps, a journal's changes; a clone is a reference count.
#[derive(
    Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct RelPath(std::sync::Arc<str>);

/// Why a path was rejected. Every variant names the path (escaped for display).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path is empty")]
    Empty,
    #[error("path {:?} is absolute; only paths relative to a category are accepted", Short(.0))]
    Absolute(String),
    #[error("path {:?} contains a NUL byte", Short(.0))]
    Nul(String),
    #[error("path {:?} contains a backslash", Short(.0))]
    Backslash(String),
    #[error("path {:?} has an empty, '.' or '..' segment; only canonical paths are accepted", Short(.0))]
    NotCanonical(String),
    #[error("path {0:?}… is longer than {MAX_PATH_BYTES} bytes")]
    TooLong(String),
    #[error("path {:?} has a segment longer than {MAX_NAME_BYTES} bytes", Short(.0))]
    NameTooLong(String),
    #[error("path {:?} is not valid UTF-8", Short(.0))]
    NotUtf8(String),
    #[error("symlink {:?} points to {:?}, which leaves its category", Short(.link), Short(.target))]
    SymlinkEscapes { link: String, target: String },
    #[error("symlink {:?} holds {:?}, which no symlink can hold (empty, a NUL byte, or too long)", Short(.link), Short(.target))]
    SymlinkTarget { link: String, target: String },
}

impl RelPath {
    /// Validates `raw` as a canonical relative path.
    pub fn new(raw: &str) -> Result<Self, PathError> {
        if raw.is_empty() {
            return Err(PathError::Empty);
        }
        if raw.len() > MAX_PATH_BYTES {
            let head: String = raw.chars().take(40).collect();
            return Err(PathError::TooLong(head));
        }
        if raw.contains('\0') {
            return Err(PathError::Nul(raw.to_string()));
        }
        if raw.contains('\\') {
            return Err(PathError::Backslash(raw.to_string()));
        }
        if raw.starts_with('/') {
            return Err(PathError::Absolute(raw.to_string()));
        }
        for segment in raw.split('/') {
            if segment.is_empty() || segment == "." || segment == ".." {
                return Err(PathError::NotCanonical(raw.to_string()));
            }
            if segment.len() > MAX_NAME_BYTES {
                return Err(PathError::NameTooLong(raw.to_string()));
            }
        }
        Ok(RelPath(raw.into()))
    }

    /// Validates raw bytes (as a peer may send them), rejecting non-UTF-8 first.
    pub fn from_bytes(raw: &[u8]) -> Result<Self, PathError> {
        let text = std::str::from_utf8(raw)
            .map_err(|_| PathError::NotUtf8(String::from_utf8_lossy(raw).into_owned()))?;
        RelPath::new(text)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// How many directories deep the entry sits (0 for a top-level entry).
    pub fn depth(&self) -> usize {
        self.0.matches('/').count()
    }

    /// The parent path, or `None` for a top-level entry.
    pub fn parent(&self) -> Option<RelPath> {
        self.0.rfind('/').map(|i| RelPath(self.0[..i].into()))
    }

    /// Whether `self` lies strictly inside the directory `dir`.
    pub fn is_inside(&self, dir: &RelPath) -> bool {
        self.0.len() > dir.0.len()
            && self.0.starts_with(&*dir.0)
            && self.0.as_bytes()[dir.0.len()] == b'/'
    }
}

impl fmt::Display for RelPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for RelPath {
    type Error = PathError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        RelPath::new(&value)
    }
}

impl From<RelPath> for String {
    fn from(value: RelPath) -> Self {
        value.0.to_string()
    }
}

impl AsRef<std::path::Path> for RelPath {
    fn as_ref(&self) -> &std::path::Path {
        std::path::Path::new(&*self.0)
    }
}

/// Longest path quoted whole in a message; longer ones keep their start and end.
pub const SHORT_PATH: usize = 256;
/// Characters kept at each end of a shortened path.
const KEPT_EACH_END: usize = 100;

/// `path` for a message: whole when short, else its start and end around an ellipsis
/// and the count of what was left out (JSON output keeps paths whole).
pub fn shorten(path: &str) -> String {
    let count = path.chars().count();
    if count <= SHORT_PATH {
        return path.to_string();
    }
    let head: String = path.chars().take(KEPT_EACH_END).collect();
    let tail: Vec<char> = path.chars().rev().take(KEPT_EACH_END).collect();
    let tail: String = tail.into_iter().rev().collect();
    format!("{head}…({} more characters)…{tail}", count - 2 * KEPT_EACH_END)
}

/// A path as messages quote it: [`shorten`]ed, with `{:?}` giving it quoted.
pub struct Short<'a>(pub &'a str);

impl fmt::Display for Short<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&shorten(self.0))
    }
}

impl fmt::Debug for Short<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", shorten(self.0))
    }
}

/// Checks that `target` is a string a symlink can hold: not empty, no NUL byte, no longer
/// than a path. Where it leads does not matter: confsync writes a symlink as a name and a
/// string, and never writes through one (every access goes through a directory handle
/// that refuses to leave its category, and a manifest that places an entry beneath a
/// symlink is refused, [`crate::confine`]).
pub fn check_symlink_syntax(link: &RelPath, target: &str) -> Result<(), PathError> {
    if target.is_empty() || target.contains('\0') || target.len() > MAX_PATH_BYTES {
        return Err(PathError::SymlinkTarget {
            link: link.to_string(),
            target: target.to_string(),
        });
    }
    Ok(())
}

/// Checks that the symlink at `link` with `target` stays inside its category (what
/// `symlinks = "confined"` keeps).
///
/// The target must be relative and of the form `../../name/name`: any `..` segments come
/// first, and there are no more of them than `link` has parent directories. A `..` after a
/// name is refused because the name may itself be a symlink (`a -> .`, then `b -> a/../x`
/// would escape); with this shape, every link resolves inside by induction.
pub fn check_symlink_target(link: &RelPath, target: &str) -> Result<(), PathError> {
    let escapes =
        || PathError::SymlinkEscapes { link: link.to_string(), target: target.to_string() };
    if target.is_empty()
        || target.starts_with('/')
        || target.contains('\0')
        || target.contains('\\')
        || target.len() > MAX_PATH_BYTES
    {
        return Err(escapes());
    }
    let mut ups = 0usize;
    let mut names = 0usize;
    for segment in target.split('/') {
        match segment {
            ".." if names == 0 => ups += 1,
            "" | "." | ".." => return Err(escapes()),
            name if name.len() > MAX_NAME_BYTES => return Err(escapes()),
            _ => names += 1,
        }
    }
    if names == 0 || ups > link.depth() {
        return Err(escapes());
    }
    Ok(())
}

/// `a/b/c` → (`a/b`, `c`); the parent is empty for a name alone.
pub fn split(path: &std::path::Path) -> std::io::Result<(&std::path::Path, &std::path::Path)> {
    let name = path.file_name().ok_or(std::io::ErrorKind::InvalidInput)?;
    Ok((path.parent().unwrap_or(std::path::Path::new("")), std::path::Path::new(name)))
}

/// The folder `parent` opened through `dir` (which refuses any way out of it); `dir`
/// itself for an empty one.
pub fn open_parent(
    dir: &cap_std::fs::Dir,
    parent: &std::path::Path,
) -> std::io::Result<cap_std::fs::Dir> {
    if parent.as_os_str().is_empty() { dir.try_clone() } else { dir.open_dir(parent) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_paths_are_accepted() {
        for ok in ["a", "a/b", "firmware-1.2.bin", "dir with space/f", "ünïcode/ß"] {
            assert_eq!(RelPath::new(ok).expect(ok).as_str(), ok);
        }
    }

    #[test]
    fn hostile_paths_are_rejected_with_their_name() {
        let long = "x".repeat(MAX_PATH_BYTES + 1);
        let long_name = "y".repeat(MAX_NAME_BYTES + 1);
        for bad in [
            "",
            "/etc/passwd",
            "../x",
            "a/../../b",
            "a//b",
            ".",
            "a/.",
            "a/",
            "nul\0byte",
            "back\\slash",
            &long,
            &long_name,
        ] {
            let err = RelPath::new(bad).expect_err(bad);
            if !bad.is_empty() && bad.len() < 300 {
                assert!(err.to_string().contains(&format!("{bad:?}")), "{err}");
            }
        }
        assert!(matches!(RelPath::from_bytes(b"bad\xff"), Err(PathError::NotUtf8(_))));
    }

    #[test]
    fn symlinks_may_not_leave_their_category() {
        let link = RelPath::new("a/b/link").expect("valid");
        for ok in ["target", "../sibling", "../../top", "../c/d"] {
            check_symlink_target(&link, ok).expect(ok);
        }
        for bad in ["/etc/passwd", "../../../out", "x/../../..", "sub/../y", ".", "", "a//b"] {
            assert!(check_symlink_target(&link, bad).is_err(), "{bad} accepted");
        }
        let top = RelPath::new("link").expect("valid");
        assert!(check_symlink_target(&top, "../x").is_err());
    }

    #[test]
    fn long_paths_are_shortened_in_messages_and_kept_whole_otherwise() {
        let long = format!("{}/{}", "a".repeat(200), "b".repeat(200));
        let err = RelPath::new(&format!("{long}/../x")).expect_err("not canonical");
        let text = err.to_string();
        assert!(text.len() < 320, "{text}");
        assert!(text.contains("more characters") && text.contains("bbb/../x"), "{text}");
        assert_eq!(shorten("short/path"), "short/path");
    }

    #[test]
    fn parent_and_inside() {
        let p = RelPath::new("a/b/c").expect("valid");
        assert_eq!(p.parent(), Some(RelPath::new("a/b").expect("valid")));
        assert!(p.is_inside(&RelPath::new("a").expect("valid")));
        assert!(
            !RelPath::new("ab/c").expect("valid").is_inside(&RelPath::new("a").expect("valid"))
        );
        assert_eq!(p.depth(), 2);
    }
}
