//! What an entry carries beside its bytes and permission bits: its owner and group (the
//! numbers, and the names this server gives them) and its extended attributes, the POSIX
//! ACLs among them. Read by a scan, compared by a plan, set on a staged entry before the
//! commit moves it into place, and on an entry in place when only these changed.
//!
//! Owners travel by **name**, with the number as the fallback where a name does not exist
//! on the receiving server (as rsync does); `ids = "numeric"` in agent.toml makes both
//! sides use numbers. The extended attributes carried are `user.*`, the SELinux label
//! (`security.selinux`) and the two ACLs (`system.posix_acl_access`,
//! `system.posix_acl_default`), as the kernel stores them: confsync moves those values, it
//! never encodes an ACL itself, so an ACL's named users and groups travel by number.
//! Nothing else of `security.*` or `trusted.*` is carried: file capabilities, Smack exec
//! labels, IMA/EVM signatures and overlay redirects grant privileges or reach other trees,
//! which a peer must not plant (for the reason setuid is not carried). A label is set, never
//! removed (the kernel refuses that), and compared only where both sides have one.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd};
use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use rustix::fs::{AtFlags, Gid, Timespec, Timestamps, UTIME_OMIT, Uid, XattrFlags};

/// Owner, group and extended attributes of one entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
pub struct Attrs {
    pub uid: u32,
    pub gid: u32,
    /// The owner's name on the server that read it; `None` where it has none (or with
    /// `ids = "numeric"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Sorted by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub xattrs: Vec<Xattr>,
    /// The server that read it carries no extended attributes (`xattrs = false`): `xattrs`
    /// says nothing, and none are compared or set.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub xattrs_unread: bool,
}

/// One extended attribute.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
pub struct Xattr {
    pub name: String,
    #[serde(with = "hex_bytes")]
    pub value: Vec<u8>,
}

/// The ACL attributes, named apart in plans.
pub const ACL_ACCESS: &str = "system.posix_acl_access";
pub const ACL_DEFAULT: &str = "system.posix_acl_default";

/// Largest value and count accepted from a peer (the kernel's own limit is 64 KiB).
pub const MAX_XATTR_VALUE: usize = 64 << 10;
pub const MAX_XATTRS: usize = 64;

/// The SELinux label.
pub const SELINUX: &str = "security.selinux";

/// Whether an extended attribute of this name is one confsync carries.
pub fn carried(name: &str) -> bool {
    name == ACL_ACCESS || name == ACL_DEFAULT || name == SELINUX || name.starts_with("user.")
}

/// Whether `name` could be a user or group name on some server (what a peer may send).
fn plausible_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 256 && !name.contains(['\0', '/', ':', '\n'])
}

impl Attrs {
    /// Checks attributes that came from a peer or a file (a manifest, a bundle): names an
    /// account could have, only extended attributes confsync carries, bounded in number and
    /// size, sorted by name without duplicates. Says what is wrong.
    pub fn check(&self) -> Result<(), String> {
        for name in [&self.user, &self.group].into_iter().flatten() {
            if !plausible_name(name) {
                return Err(format!("{:?} is no user or group name", crate::path::Short(name)));
            }
        }
        if self.xattrs.len() > MAX_XATTRS {
            return Err(format!(
                "{} extended attributes, more than {MAX_XATTRS}",
                self.xattrs.len()
            ));
        }
        for x in &self.xattrs {
            if !carried(&x.name) || x.name.len() > 255 || x.name.contains('\0') {
                return Err(format!(
                    "extended attribute {:?} is not one confsync carries",
                    crate::path::Short(&x.name)
                ));
            }
            if x.value.len() > MAX_XATTR_VALUE {
                return Err(format!(
                    "extended attribute {} holds more than {MAX_XATTR_VALUE} bytes",
                    x.name
                ));
            }
        }
        if self.xattrs.windows(2).any(|w| w[0].name >= w[1].name) {
            return Err("extended attributes not sorted by name, or named twice".into());
        }
        Ok(())
    }

    /// The owner as plans show it: the name, else `#uid`.
    pub fn owner_name(&self) -> String {
        self.user.clone().unwrap_or_else(|| format!("#{}", self.uid))
    }

    pub fn group_name(&self) -> String {
        self.group.clone().unwrap_or_else(|| format!("#{}", self.gid))
    }

    /// Feeds what comparisons cover into a digest: owner and group by name where there is
    /// one (else by number), and the extended attributes; `mask` leaves parts out.
    pub fn hash_into(&self, hasher: &mut blake3::Hasher, mask: Mask) {
        if !mask.owner {
            for (name, id) in [(&self.user, self.uid), (&self.group, self.gid)] {
                match name {
                    Some(name) => hasher.update(name.as_bytes()),
                    None => hasher.update(b"#").update(&id.to_le_bytes()),
                };
                hasher.update(&[0]);
            }
        }
        if !mask.xattrs {
            for x in &self.xattrs {
                hasher.update(x.name.as_bytes());
                hasher.update(&[0]);
                hasher.update(&(x.value.len() as u64).to_le_bytes());
                hasher.update(&x.value);
            }
        }
    }

    /// What differs from `before`, as plans word it: `owner root → nobody`, `ACL`, ...
    pub fn differences(&self, before: &Attrs, mask: Mask) -> Vec<String> {
        let mut out = Vec::new();
        if !mask.owner {
            if !same_id((&self.user, self.uid), (&before.user, before.uid), Id::User) {
                out.push(format!("owner {} → {}", before.owner_name(), self.owner_name()));
            }
            if !same_id((&self.group, self.gid), (&before.group, before.gid), Id::Group) {
                out.push(format!("group {} → {}", before.group_name(), self.group_name()));
            }
        }
        if !mask.xattrs && !self.xattrs_unread && !before.xattrs_unread {
            let acl = |a: &Attrs| -> Vec<Xattr> {
                a.xattrs
                    .iter()
                    .filter(|x| x.name.starts_with("system.posix_acl_"))
                    .cloned()
                    .collect()
            };
            if acl(self) != acl(before) {
                out.push("ACL".to_string());
            }
            if !same_xattrs(self, before, |n| !n.starts_with("system.posix_acl_")) {
                out.push("xattrs".to_string());
            }
        }
        out
    }

    /// Whether the two are equal as comparisons see them, leaving out what `mask` keeps:
    /// owners by name where both have one, else by what this server makes of the name
    /// (a source's `svc` that does not exist here was set by number, and is that number);
    /// extended attributes unless either side does not read them; a label only where both
    /// have one. Allocates nothing in the common case: a plan calls it for every pair of
    /// 100,000 entries.
    pub fn equal(&self, other: &Attrs, mask: Mask) -> bool {
        (mask.owner
            || (same_id((&self.user, self.uid), (&other.user, other.uid), Id::User)
                && same_id((&self.group, self.gid), (&other.group, other.gid), Id::Group)))
            && (mask.xattrs
                || self.xattrs_unread
                || other.xattrs_unread
                || same_xattrs(self, other, |_| true))
    }
}

#[derive(Clone, Copy)]
enum Id {
    User,
    Group,
}

/// One owner (or group) seen from two servers, compared on this one.
fn same_id(a: (&Option<String>, u32), b: (&Option<String>, u32), id: Id) -> bool {
    let here = |name: &str| match id {
        Id::User => names().uid(name),
        Id::Group => names().gid(name),
    };
    match (a.0, b.0) {
        (Some(x), Some(y)) => x == y,
        (None, None) => a.1 == b.1,
        (Some(x), None) => here(x).unwrap_or(a.1) == b.1,
        (None, Some(y)) => here(y).unwrap_or(b.1) == a.1,
    }
}

/// Whether the extended attributes `which` selects are equal; a label counts only where
/// both have one (it cannot be removed, and a server without SELinux has none).
fn same_xattrs(a: &Attrs, b: &Attrs, which: impl Fn(&str) -> bool) -> bool {
    let labelled =
        a.xattrs.iter().any(|x| x.name == SELINUX) && b.xattrs.iter().any(|x| x.name == SELINUX);
    let keep = |x: &&Xattr| which(&x.name) && (labelled || x.name != SELINUX);
    a.xattrs.iter().filter(keep).eq(b.xattrs.iter().filter(keep))
}

/// Parts of [`Attrs`] a comparison leaves out: what a destination keeps as its own, or
/// cannot set.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Mask {
    pub owner: bool,
    pub xattrs: bool,
}

impl Mask {
    /// Leaves out also what `other` leaves out.
    pub fn union(&mut self, other: Mask) {
        self.owner |= other.owner;
        self.xattrs |= other.xattrs;
    }

    /// `attrs` with what this mask leaves out taken from `kept` (the destination's own).
    pub fn keep_from(self, attrs: &Attrs, kept: &Attrs) -> Attrs {
        let mut merged = attrs.clone();
        if self.owner {
            (merged.uid, merged.gid) = (kept.uid, kept.gid);
            (merged.user, merged.group) = (kept.user.clone(), kept.group.clone());
        }
        if self.xattrs {
            merged.xattrs = kept.xattrs.clone();
        }
        merged
    }
}

/// What this server reads and carries (agent.toml's `ids` and `xattrs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Owners by number only (`ids = "numeric"`).
    pub numeric_ids: bool,
    /// Extended attributes and ACLs read and set (`xattrs = true`, the default).
    pub xattrs: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings { numeric_ids: false, xattrs: true }
    }
}

/// One shared copy of each distinct set of attributes: a manifest of 100,000 entries
/// (scanned, received or read from a bundle) holds a handful of sets, not 100,000.
#[derive(Debug, Default)]
pub struct Interner {
    shared: std::collections::HashSet<Arc<Attrs>>,
}

impl Interner {
    pub fn intern(&mut self, attrs: Attrs) -> Arc<Attrs> {
        if let Some(shared) = self.shared.get(&attrs) {
            return Arc::clone(shared);
        }
        let shared = Arc::new(attrs);
        self.shared.insert(Arc::clone(&shared));
        shared
    }

    /// The shared copy of what `attrs` holds.
    pub fn share(&mut self, attrs: &Arc<Attrs>) -> Arc<Attrs> {
        match self.shared.get(attrs.as_ref()) {
            Some(shared) => Arc::clone(shared),
            None => {
                self.shared.insert(Arc::clone(attrs));
                Arc::clone(attrs)
            }
        }
    }
}

/// Reads entries' attributes, sharing one copy of each distinct set (most of a tree has
/// one owner and no extended attributes): a scan of 100,000 entries asks the name service
/// once per owner and builds a handful of sets, not 100,000.
pub struct Reader {
    settings: Settings,
    names: HashMap<(u32, u32), (Option<String>, Option<String>)>,
    shared: Interner,
    /// The last set without extended attributes, by owner: the common case, found without
    /// hashing a set.
    last: Option<(u32, u32, Arc<Attrs>)>,
}

impl Reader {
    pub fn new(settings: Settings) -> Reader {
        Reader { settings, names: HashMap::new(), shared: Interner::default(), last: None }
    }

    /// The attributes of the entry at `full` (never followed), owned by `uid` and `gid`;
    /// `known_bare` when it is known to have no extended attributes (the hash index saw
    /// none under its unchanged stamp), which spares asking. An extended attribute that
    /// cannot be read here (`trusted.*` without privilege) is left out, as rsync does.
    pub fn read(&mut self, full: &Path, uid: u32, gid: u32, known_bare: bool) -> Arc<Attrs> {
        let xattrs =
            if self.settings.xattrs && !known_bare { read_xattrs(full) } else { Vec::new() };
        let xattrs_unread = !self.settings.xattrs;
        if xattrs.is_empty()
            && !xattrs_unread
            && let Some((u, g, attrs)) = &self.last
            && (*u, *g) == (uid, gid)
        {
            return Arc::clone(attrs);
        }
        let numeric = self.settings.numeric_ids;
        let (user, group) = self
            .names
            .entry((uid, gid))
            .or_insert_with(|| {
                if numeric { (None, None) } else { (names().user(uid), names().group(gid)) }
            })
            .clone();
        let shared = self.shared.intern(Attrs { uid, gid, user, group, xattrs, xattrs_unread });
        if shared.xattrs.is_empty() {
            self.last = Some((uid, gid, Arc::clone(&shared)));
        }
        shared
    }
}

/// The carried extended attributes of the entry at `full`, sorted by name.
pub fn read_xattrs(full: &Path) -> Vec<Xattr> {
    let mut list = vec![0u8; 4096];
    let n = loop {
        match rustix::fs::llistxattr(full, &mut list[..]) {
            Ok(n) => break n,
            Err(rustix::io::Errno::RANGE) if list.len() < (1 << 20) => {
                list.resize(list.len() * 4, 0);
            }
            // No support here (some file systems), or gone: nothing to carry.
            Err(_) => return Vec::new(),
        }
    };
    let mut out = Vec::new();
    for name in list[..n].split(|b| *b == 0).filter(|n| !n.is_empty()) {
        let Ok(name) = std::str::from_utf8(name) else { continue };
        if !carried(name) {
            continue;
        }
        let mut value = vec![0u8; 256];
        loop {
            match rustix::fs::lgetxattr(full, name, &mut value[..]) {
                Ok(len) => {
                    value.truncate(len);
                    out.push(Xattr { name: name.to_string(), value });
                    break;
                }
                Err(rustix::io::Errno::RANGE) if value.len() < MAX_XATTR_VALUE => {
                    value.resize(MAX_XATTR_VALUE, 0);
                }
                Err(_) => break,
            }
        }
    }
    out.sort();
    out
}

/// What this agent may set, from its effective capabilities.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Privileges {
    /// `CAP_CHOWN`: any owner and group.
    pub chown: bool,
}

impl Privileges {
    /// Read from `/proc/self/status`; without it, from whether this is root.
    pub fn of_this_process() -> Privileges {
        const CAP_CHOWN: u64 = 1 << 0;
        let effective = std::fs::read_to_string("/proc/self/status").ok().and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("CapEff:"))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        });
        match effective {
            Some(caps) => Privileges { chown: caps & CAP_CHOWN != 0 },
            None => {
                let root = rustix::process::geteuid().is_root();
                Privileges { chown: root }
            }
        }
    }

    /// What a destination with these privileges cannot make equal, and so leaves out of
    /// its comparisons (said once per category in the plan).
    pub fn mask(self) -> Mask {
        Mask { owner: !self.chown, xattrs: false }
    }
}

/// The user and group this server knows by `attrs`' names (numbers where it does not).
pub fn local_ids(attrs: &Attrs) -> (u32, u32) {
    let uid = attrs.user.as_deref().and_then(|n| names().uid(n)).unwrap_or(attrs.uid);
    let gid = attrs.group.as_deref().and_then(|n| names().gid(n)).unwrap_or(attrs.gid);
    (uid, gid)
}

/// Sets owner, group and extended attributes on a file this agent just created (a staged
/// one: it has no extended attributes of its own to remove), leaving out what `mask`
/// keeps. Call before the mode: changing the owner clears setuid bits.
pub fn set_on_new_file(file: &std::fs::File, attrs: &Attrs, mask: Mask) -> std::io::Result<()> {
    if !mask.owner {
        let (uid, gid) = local_ids(attrs);
        // Created by this process: already its own ids unless a setgid folder said else.
        let created = (rustix::process::geteuid().as_raw(), rustix::process::getegid().as_raw());
        if (uid, gid) != created {
            rustix::fs::fchown(file.as_fd(), Some(Uid::from_raw(uid)), Some(Gid::from_raw(gid)))?;
        }
    }
    if !mask.xattrs && !attrs.xattrs_unread {
        for x in &attrs.xattrs {
            rustix::fs::fsetxattr(file.as_fd(), x.name.as_str(), &x.value, XattrFlags::empty())?;
        }
    }
    Ok(())
}

/// Sets owner, group and extended attributes on the entry at `rel` under `dir` (a folder
/// or a symlink, or a file in place), never following a symlink: the parent folder is
/// opened through the handle, so nothing leads outside it, and the last name is never
/// followed. `mask` leaves parts out.
pub fn set_on_path(
    dir: &cap_std::fs::Dir,
    rel: &Path,
    attrs: &Attrs,
    mask: Mask,
) -> std::io::Result<()> {
    let (parent, name) = at_parent(dir, rel)?;
    let stat = rustix::fs::statat(&parent, name, AtFlags::SYMLINK_NOFOLLOW)?;
    let (uid, gid) = local_ids(attrs);
    // Only a change of owner chowns: a chown clears setuid, setgid and capabilities.
    if !mask.owner && (stat.st_uid, stat.st_gid) != (uid, gid) {
        rustix::fs::chownat(
            &parent,
            name,
            Some(Uid::from_raw(uid)),
            Some(Gid::from_raw(gid)),
            AtFlags::SYMLINK_NOFOLLOW,
        )?;
    }
    if !mask.xattrs && !attrs.xattrs_unread {
        // The parent by its descriptor, the name not followed (the l* calls). Only what
        // differs is written: setting an unchanged value may need privileges it does not.
        let full = Path::new("/proc/self/fd").join(parent.as_raw_fd().to_string()).join(name);
        let now = read_xattrs(&full);
        for x in &now {
            // A label is never removed (the kernel refuses it).
            if x.name != SELINUX && !attrs.xattrs.iter().any(|want| want.name == x.name) {
                rustix::fs::lremovexattr(&full, x.name.as_str())?;
            }
        }
        for x in attrs.xattrs.iter().filter(|want| !now.contains(want)) {
            rustix::fs::lsetxattr(&full, x.name.as_str(), &x.value, XattrFlags::empty())?;
        }
    }
    Ok(())
}

/// Sets the modification time of the entry at `rel` under `dir`, never following a
/// symlink (the access time is left alone).
pub fn set_mtime(dir: &cap_std::fs::Dir, rel: &Path, mtime_ns: i64) -> std::io::Result<()> {
    let times = mtime_only(mtime_ns);
    if rel.as_os_str().is_empty() || rel == Path::new(".") {
        return rustix::fs::utimensat(dir, ".", &times, AtFlags::empty()).map_err(Into::into);
    }
    let (parent, name) = at_parent(dir, rel)?;
    rustix::fs::utimensat(&parent, name, &times, AtFlags::SYMLINK_NOFOLLOW).map_err(Into::into)
}

/// The folder holding `rel` (opened through `dir`) and the last name of `rel`.
fn at_parent<'a>(
    dir: &cap_std::fs::Dir,
    rel: &'a Path,
) -> std::io::Result<(cap_std::fs::Dir, &'a Path)> {
    let (parent, name) = crate::path::split(rel)?;
    Ok((crate::path::open_parent(dir, parent)?, name))
}

/// Sets the modification time of an open file.
pub fn set_file_mtime(file: &std::fs::File, mtime_ns: i64) -> std::io::Result<()> {
    rustix::fs::futimens(file.as_fd(), &mtime_only(mtime_ns)).map_err(Into::into)
}

/// A modification time to set, the access time left alone.
fn mtime_only(ns: i64) -> Timestamps {
    Timestamps {
        last_access: Timespec { tv_sec: 0, tv_nsec: UTIME_OMIT },
        last_modification: Timespec {
            tv_sec: ns.div_euclid(1_000_000_000),
            tv_nsec: ns.rem_euclid(1_000_000_000) as _,
        },
    }
}

/// This server's user and group names, looked up once a minute at most: a scan of
/// 100,000 files asks the name service a handful of times, not 100,000.
struct Names {
    cache: Mutex<NameCache>,
}

#[derive(Default)]
struct NameCache {
    users: HashMap<u32, Option<String>>,
    groups: HashMap<u32, Option<String>>,
    uids: HashMap<String, Option<u32>>,
    gids: HashMap<String, Option<u32>>,
    since: Option<Instant>,
}

const NAMES_FOR: Duration = Duration::from_secs(60);

fn names() -> &'static Names {
    static NAMES: OnceLock<Names> = OnceLock::new();
    NAMES.get_or_init(|| Names { cache: Mutex::new(NameCache::default()) })
}

impl Names {
    fn with<T>(&self, f: impl FnOnce(&mut NameCache) -> T) -> T {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if cache.since.is_none_or(|at| at.elapsed() > NAMES_FOR) {
            *cache = NameCache { since: Some(Instant::now()), ..NameCache::default() };
        }
        f(&mut cache)
    }

    fn user(&self, uid: u32) -> Option<String> {
        self.with(|c| {
            c.users
                .entry(uid)
                .or_insert_with(|| {
                    nix::unistd::User::from_uid(uid.into()).ok().flatten().map(|u| u.name)
                })
                .clone()
        })
    }

    fn group(&self, gid: u32) -> Option<String> {
        self.with(|c| {
            c.groups
                .entry(gid)
                .or_insert_with(|| {
                    nix::unistd::Group::from_gid(gid.into()).ok().flatten().map(|g| g.name)
                })
                .clone()
        })
    }

    fn uid(&self, name: &str) -> Option<u32> {
        self.with(|c| {
            *c.uids.entry(name.to_string()).or_insert_with(|| {
                nix::unistd::User::from_name(name).ok().flatten().map(|u| u.uid.as_raw())
            })
        })
    }

    fn gid(&self, name: &str) -> Option<u32> {
        self.with(|c| {
            *c.gids.entry(name.to_string()).or_insert_with(|| {
                nix::unistd::Group::from_name(name).ok().flatten().map(|g| g.gid.as_raw())
            })
        })
    }
}

/// Extended attribute values as hex in JSON records (journals, history, bases).
mod hex_bytes {
    pub(super) fn serialize<S: serde::Serializer>(bytes: &[u8], s: S) -> Result<S::Ok, S::Error> {
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        s.serialize_str(&hex)
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(d)?;
        if text.len() % 2 != 0 {
            return Err(serde::de::Error::custom("odd number of hex digits"));
        }
        (0..text.len())
            .step_by(2)
            .map(|i| {
                text.get(i..i + 2)
                    .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                    .ok_or_else(|| serde::de::Error::custom("not hex"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_compare_by_name_and_fall_back_to_numbers() {
        let a = Attrs { uid: 1000, gid: 1000, user: Some("svc".into()), ..Attrs::default() };
        let b = Attrs { uid: 1001, gid: 1000, user: Some("svc".into()), ..Attrs::default() };
        assert!(a.equal(&b, Mask::default()), "the same name under another number");
        let c = Attrs { user: None, ..b.clone() };
        assert!(!a.equal(&c, Mask::default()));
        assert!(a.equal(&c, Mask { owner: true, xattrs: false }));
        assert_eq!(c.differences(&a, Mask::default()), ["owner svc → #1001"]);
    }

    #[test]
    fn capabilities_and_other_privileges_are_never_carried_and_acls_and_labels_are() {
        assert!(!carried("security.capability"));
        assert!(carried("security.selinux"));
        assert!(carried(ACL_ACCESS) && carried(ACL_DEFAULT) && carried("user.x"));
        for never in
            ["system.nfs4_acl", "security.SMACK64EXEC", "security.ima", "trusted.overlay.redirect"]
        {
            assert!(!carried(never), "{never}");
        }
    }

    #[test]
    fn xattr_values_survive_a_json_record() {
        let x = Xattr { name: "user.k".into(), value: vec![0, 1, 254, 255] };
        let text = serde_json::to_string(&x).expect("json");
        assert!(text.contains("0001feff"), "{text}");
        assert_eq!(serde_json::from_str::<Xattr>(&text).expect("read"), x);
    }

    #[test]
    fn a_user_xattr_is_read_and_set() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("f");
        std::fs::write(&path, b"x").expect("write");
        if rustix::fs::lsetxattr(&path, "user.test", b"v", XattrFlags::empty()).is_err() {
            eprintln!("skipped: this file system takes no user.* attributes");
            return;
        }
        let read = read_xattrs(&path);
        assert_eq!(read, [Xattr { name: "user.test".into(), value: b"v".to_vec() }]);
        let other = tmp.path().join("g");
        let file = std::fs::File::create(&other).expect("create");
        let attrs = Attrs { xattrs: read, ..Attrs::default() };
        set_on_new_file(&file, &attrs, Mask { owner: true, xattrs: false }).expect("set");
        assert_eq!(read_xattrs(&other), attrs.xattrs);
    }
}
