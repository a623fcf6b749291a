//! What a destination's part of a two-way sync decided, as its plan carries it (and its
//! digest covers it): the role, what it gives to the other side, the conflicts and how each
//! went. Kept apart from the decision itself ([`super`]) so that the plan can carry it
//! without the plan and the decision importing each other.

use std::collections::BTreeMap;

use crate::category::Category;
use crate::entry::{Entry, EntryKind};
use crate::path::RelPath;

/// One of the two servers of a two-way sync, as the request names them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The `--from` server: the other side of the deciding destination.
    Source,
    /// The `--to` server, which decides.
    Destination,
}

impl Side {
    pub fn other(self) -> Side {
        match self {
            Side::Source => Side::Destination,
            Side::Destination => Side::Source,
        }
    }
}

/// What the two-way part of a plan decided, as the plan carries it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TwoWayPlan {
    /// `decides` (the destination of the request) or `takes` (the other side's part).
    pub role: Role,
    pub categories: Vec<Category>,
    /// The two sides share no base: only additions flow, differing files are conflicts.
    pub first: bool,
    /// What the other side takes from this one (for `decides`).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub give: BTreeMap<Category, Vec<RelPath>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub conflicts: Vec<Conflict>,
    /// How far the source's clock is ahead of this one's, in milliseconds, when measured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clock_offset_ms: Option<i64>,
    #[serde(skip)]
    pub run: String,
    /// The other side's instance identifier (whose base this run advances).
    #[serde(skip)]
    pub peer: String,
}

impl TwoWayPlan {
    /// What the plan digest covers of it: the role, the categories, what is given and how
    /// each conflict went (not the run: a plan reviewed by `diff` is applied by another).
    pub fn hash_into(&self, hasher: &mut blake3::Hasher) {
        hasher.update(match self.role {
            Role::Decides => b"two-way decides\0",
            Role::Takes => b"two-way takes\0\0\0",
        });
        for category in &self.categories {
            hasher.update(category.name().as_bytes());
            hasher.update(&[0]);
        }
        hasher.update(&[u8::from(self.first)]);
        for (category, paths) in &self.give {
            hasher.update(b"give\0");
            hasher.update(category.name().as_bytes());
            for path in paths {
                hasher.update(&[0]);
                hasher.update(path.as_str().as_bytes());
            }
        }
        for conflict in &self.conflicts {
            hasher.update(b"conflict\0");
            hasher.update(conflict.path.as_str().as_bytes());
            hasher.update(&[match conflict.winner {
                None => 0,
                Some(Side::Source) => 1,
                Some(Side::Destination) => 2,
            }]);
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Decides,
    Takes,
}

/// A path changed on both sides (or a folder kept for what it holds), and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Conflict {
    pub category: Category,
    pub path: RelPath,
    /// Each side's entry there (none: deleted there), by modification time and size.
    pub source: Option<Version>,
    pub destination: Option<Version>,
    /// The side whose version both end with; none: undecided, nothing happens there.
    pub winner: Option<Side>,
    pub how: How,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Version {
    pub mtime_ns: i64,
    pub size: u64,
    pub kind: EntryKind,
}

impl Version {
    pub(super) fn of(entry: &Entry) -> Version {
        Version { mtime_ns: entry.mtime_ns, size: entry.size, kind: entry.kind }
    }
}

/// How a conflict was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum How {
    /// The winner's modification is the more recent.
    Newer,
    /// Both were modified at the same instant: the source's version, by rule.
    Tie,
    /// Only the winner still has the entry, and no modification time can be compared.
    OnlyOne,
    /// By `--conflict source|destination`.
    Policy,
    /// By the administrator's answer.
    Asked,
    /// Modified on one side, deleted on the other: the modification is kept.
    ModifiedOverDeleted,
    /// A folder deleted on one side stays, because entries inside it stay.
    FolderKept,
    /// Not decided: the clocks disagree by more than the limit.
    ClockSkew,
    /// Not decided: policy `ask`, and no answer was given.
    NotAnswered,
}

impl Conflict {
    /// "config/app.conf: the source's version (newer) wins".
    pub fn describe(&self, source: &str, destination: &str) -> String {
        let name = |side: Side| match side {
            Side::Source => source,
            Side::Destination => destination,
        };
        let what = format!("{}/{}", self.category, self.path);
        match (self.winner, self.how) {
            (Some(w), How::ModifiedOverDeleted) => format!(
                "{what}: modified on {} and deleted on {}: the modification is kept",
                name(w),
                name(w.other())
            ),
            (Some(w), How::FolderKept) => format!(
                "{what}: deleted on {} but kept, because entries inside it stay",
                name(w.other())
            ),
            (Some(w), how) => {
                let why = match how {
                    How::Newer => "newer",
                    How::Tie => "modified at the same instant; the source's by rule",
                    How::OnlyOne => "the only one left",
                    How::Policy => "by --conflict",
                    _ => "as answered",
                };
                format!("{what}: changed on both; {}'s version wins ({why})", name(w))
            }
            (None, How::ClockSkew) => format!(
                "{what}: changed on both; not decided, the clocks disagree too much to tell \
                 the newer"
            ),
            (None, _) => format!("{what}: changed on both; not decided"),
        }
    }
}
