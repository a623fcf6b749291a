//! The two-way parts of requests and plans, and what a side reports of its own changes.

use std::collections::{BTreeMap, BTreeSet};

use confsync_engine::category::Category;
use confsync_engine::pair::SideChanges;
use confsync_engine::path::RelPath;
use confsync_engine::two_way::{
    Choice, Conflict, ConflictPolicy, Decide, How, Role, Side, Take, TwoWay, TwoWayPlan, Version,
};
use confsync_proto::v1;

use super::{
    ConvertError, categories_from_proto, categories_to_proto, category_from_proto,
    category_to_proto, kind_from_proto, kind_to_proto,
};

fn policy_to_proto(policy: ConflictPolicy) -> v1::ConflictPolicy {
    match policy {
        ConflictPolicy::Newest => v1::ConflictPolicy::Newest,
        ConflictPolicy::Source => v1::ConflictPolicy::Source,
        ConflictPolicy::Destination => v1::ConflictPolicy::Destination,
        ConflictPolicy::Ask => v1::ConflictPolicy::Ask,
    }
}

fn policy_from_proto(raw: i32) -> Result<ConflictPolicy, ConvertError> {
    match v1::ConflictPolicy::try_from(raw) {
        Ok(v1::ConflictPolicy::Newest) => Ok(ConflictPolicy::Newest),
        Ok(v1::ConflictPolicy::Source) => Ok(ConflictPolicy::Source),
        Ok(v1::ConflictPolicy::Destination) => Ok(ConflictPolicy::Destination),
        Ok(v1::ConflictPolicy::Ask) => Ok(ConflictPolicy::Ask),
        Err(_) => Err(ConvertError::UnknownValue { what: "conflict policy", value: raw }),
    }
}

fn side_to_proto(side: Option<Side>) -> v1::Side {
    match side {
        None => v1::Side::Unspecified,
        Some(Side::Source) => v1::Side::Source,
        Some(Side::Destination) => v1::Side::Destination,
    }
}

fn side_from_proto(raw: i32) -> Result<Option<Side>, ConvertError> {
    match v1::Side::try_from(raw) {
        Ok(v1::Side::Unspecified) => Ok(None),
        Ok(v1::Side::Source) => Ok(Some(Side::Source)),
        Ok(v1::Side::Destination) => Ok(Some(Side::Destination)),
        Err(_) => Err(ConvertError::UnknownValue { what: "side", value: raw }),
    }
}

fn how_to_proto(how: How) -> v1::conflict::How {
    use v1::conflict::How as P;
    match how {
        How::Newer => P::Newer,
        How::Tie => P::Tie,
        How::OnlyOne => P::OnlyOne,
        How::Policy => P::Policy,
        How::Asked => P::Asked,
        How::ModifiedOverDeleted => P::ModifiedOverDeleted,
        How::FolderKept => P::FolderKept,
        How::ClockSkew => P::ClockSkew,
        How::NotAnswered => P::NotAnswered,
    }
}

fn how_from_proto(raw: i32) -> Result<How, ConvertError> {
    use v1::conflict::How as P;
    Ok(match P::try_from(raw) {
        Ok(P::Newer) => How::Newer,
        Ok(P::Tie) => How::Tie,
        Ok(P::OnlyOne) => How::OnlyOne,
        Ok(P::Policy) => How::Policy,
        Ok(P::Asked) => How::Asked,
        Ok(P::ModifiedOverDeleted) => How::ModifiedOverDeleted,
        Ok(P::FolderKept) => How::FolderKept,
        Ok(P::ClockSkew) => How::ClockSkew,
        Ok(P::NotAnswered) => How::NotAnswered,
        _ => return Err(ConvertError::UnknownValue { what: "conflict outcome", value: raw }),
    })
}

pub(crate) fn path_lists_to_proto(paths: &BTreeMap<Category, Vec<RelPath>>) -> Vec<v1::PathList> {
    paths
        .iter()
        .map(|(category, paths)| v1::PathList {
            category: category_to_proto(*category) as i32,
            paths: paths.iter().map(|p| p.to_string()).collect(),
        })
        .collect()
}

/// Validated: every path canonical, never `licenses`.
pub(crate) fn path_lists_from_proto(
    raw: Vec<v1::PathList>,
) -> Result<BTreeMap<Category, Vec<RelPath>>, ConvertError> {
    let mut out: BTreeMap<Category, Vec<RelPath>> = BTreeMap::new();
    for list in raw {
        let category = category_from_proto(list.category)?;
        let paths = out.entry(category).or_default();
        for path in list.paths {
            paths.push(RelPath::new(&path)?);
        }
    }
    Ok(out)
}

pub(crate) fn two_way_to_proto(two_way: &TwoWay) -> v1::TwoWay {
    match two_way {
        TwoWay::Decide(d) => v1::TwoWay {
            categories: categories_to_proto(&d.categories),
            policy: policy_to_proto(d.policy) as i32,
            choices: d
                .choices
                .iter()
                .map(|c| v1::ConflictChoice {
                    category: category_to_proto(c.category) as i32,
                    path: c.path.to_string(),
                    winner: side_to_proto(Some(c.winner)) as i32,
                })
                .collect(),
            max_clock_skew_ms: d.max_skew_ms,
            run: d.run.clone(),
            takes: false,
            take: Vec::new(),
        },
        TwoWay::Take(t) => v1::TwoWay {
            categories: categories_to_proto(&t.categories),
            run: t.run.clone(),
            takes: true,
            take: path_lists_to_proto(&t.paths),
            ..Default::default()
        },
    }
}

pub(crate) fn two_way_from_proto(raw: Option<v1::TwoWay>) -> Result<Option<TwoWay>, ConvertError> {
    let Some(raw) = raw else { return Ok(None) };
    let categories = categories_from_proto(&raw.categories)?;
    if raw.takes {
        return Ok(Some(TwoWay::Take(Take {
            categories,
            paths: path_lists_from_proto(raw.take)?,
            run: raw.run,
        })));
    }
    let mut choices = Vec::with_capacity(raw.choices.len());
    for c in raw.choices {
        let Some(winner) = side_from_proto(c.winner)? else {
            return Err(ConvertError::UnknownValue { what: "side", value: c.winner });
        };
        choices.push(Choice {
            category: category_from_proto(c.category)?,
            path: RelPath::new(&c.path)?,
            winner,
        });
    }
    Ok(Some(TwoWay::Decide(Decide {
        categories,
        policy: policy_from_proto(raw.policy)?,
        choices,
        max_skew_ms: raw.max_clock_skew_ms,
        run: raw.run,
    })))
}

fn version_to_proto(version: &Option<Version>) -> Option<v1::Version> {
    version.map(|v| v1::Version {
        mtime_ns: v.mtime_ns,
        size: v.size,
        kind: kind_to_proto(v.kind) as i32,
    })
}

fn version_from_proto(
    raw: Option<v1::Version>,
    path: &str,
) -> Result<Option<Version>, ConvertError> {
    raw.map(|v| {
        Ok(Version { mtime_ns: v.mtime_ns, size: v.size, kind: kind_from_proto(v.kind, path)? })
    })
    .transpose()
}

pub(crate) fn plan_to_proto(plan: &TwoWayPlan) -> v1::TwoWayPlan {
    v1::TwoWayPlan {
        takes: plan.role == Role::Takes,
        categories: categories_to_proto(&plan.categories),
        first: plan.first,
        give: path_lists_to_proto(&plan.give),
        conflicts: plan
            .conflicts
            .iter()
            .map(|c| v1::Conflict {
                category: category_to_proto(c.category) as i32,
                path: c.path.to_string(),
                source: version_to_proto(&c.source),
                destination: version_to_proto(&c.destination),
                winner: side_to_proto(c.winner) as i32,
                how: how_to_proto(c.how) as i32,
            })
            .collect(),
        clock_offset_ms: plan.clock_offset_ms,
    }
}

pub(crate) fn plan_from_proto(
    raw: Option<v1::TwoWayPlan>,
) -> Result<Option<TwoWayPlan>, ConvertError> {
    let Some(raw) = raw else { return Ok(None) };
    let mut conflicts = Vec::with_capacity(raw.conflicts.len());
    for c in raw.conflicts {
        conflicts.push(Conflict {
            category: category_from_proto(c.category)?,
            source: version_from_proto(c.source, &c.path)?,
            destination: version_from_proto(c.destination, &c.path)?,
            winner: side_from_proto(c.winner)?,
            how: how_from_proto(c.how)?,
            path: RelPath::new(&c.path)?,
        });
    }
    Ok(Some(TwoWayPlan {
        role: if raw.takes { Role::Takes } else { Role::Decides },
        categories: categories_from_proto(&raw.categories)?,
        first: raw.first,
        give: path_lists_from_proto(raw.give)?,
        conflicts,
        clock_offset_ms: raw.clock_offset_ms,
        run: String::new(),
        peer: String::new(),
    }))
}

pub(crate) fn changes_to_proto(changes: &SideChanges) -> v1::ChangesReply {
    v1::ChangesReply {
        base_run: changes.run.clone().unwrap_or_default(),
        changed: changes
            .paths
            .iter()
            .map(|(category, paths)| v1::PathList {
                category: category_to_proto(*category) as i32,
                paths: paths.iter().map(|p| p.to_string()).collect(),
            })
            .collect(),
        covered: categories_to_proto(&changes.covered.iter().copied().collect::<Vec<_>>()),
    }
}

pub(crate) fn changes_from_proto(raw: v1::ChangesReply) -> Result<SideChanges, ConvertError> {
    let mut paths: BTreeMap<Category, BTreeSet<RelPath>> = BTreeMap::new();
    for (category, list) in path_lists_from_proto(raw.changed)? {
        paths.entry(category).or_default().extend(list);
    }
    // An empty list is "none" here, not "all four" as in requests.
    let covered = raw.covered.iter().map(|c| category_from_proto(*c)).collect::<Result<_, _>>()?;
    Ok(SideChanges { run: Some(raw.base_run).filter(|r| !r.is_empty()), paths, covered })
}
