//! What a server says about itself (`Hello`), its hold, and its history.

use confsync_engine::confirm::Pending;
use confsync_engine::entry::Digest;
use confsync_engine::history::{HistoryEntry, Listed};
use confsync_engine::hold::Hold;
use confsync_engine::journal::GenerationRecord;
use confsync_engine::live::{Mismatch, Verification};
use confsync_engine::path::RelPath;
use confsync_engine::rules::{KeyRuleFile, RulesFile};
use confsync_engine::server::{CategorySummary, Inventory, LastGeneration, ServerInfo};
use confsync_proto::v1;

use super::{
    ConvertError, categories_from_proto, categories_to_proto, category_from_proto,
    category_to_proto,
};

pub(crate) fn hold_to_proto(hold: Option<&Hold>) -> v1::HoldState {
    match hold {
        Some(h) => v1::HoldState {
            held: true,
            reason: h.reason.clone(),
            since: h.since,
            held_by: h.held_by.clone(),
        },
        None => v1::HoldState::default(),
    }
}

pub(crate) fn hold_from_proto(raw: &v1::HoldState) -> Option<Hold> {
    raw.held.then(|| Hold {
        reason: raw.reason.clone(),
        since: raw.since,
        held_by: raw.held_by.clone(),
    })
}

pub(crate) fn hello_to_proto(info: &ServerInfo) -> v1::HelloReply {
    let inv = &info.inventory;
    let last = info.last_generation.as_ref();
    v1::HelloReply {
        name: info.name.clone(),
        agent_version: info.agent_version.clone(),
        protocol_version: info.protocol_version,
        hostname: info.hostname.clone(),
        protected: info.protected,
        categories: info
            .categories
            .iter()
            .map(|c| v1::CategorySummary {
                category: category_to_proto(c.category) as i32,
                files: c.files,
                bytes: c.bytes,
                digest: c.digest.0.to_vec(),
                missing_folder: c.missing_folder.clone().unwrap_or_default(),
            })
            .collect(),
        tree_digest: info.tree_digest.0.to_vec(),
        last_generation: last.map_or(0, |g| g.id),
        last_generation_time: last.map_or(0, |g| g.time),
        last_generation_source: last.map(|g| g.source.clone()).unwrap_or_default(),
        instance_id: info.instance_id.clone(),
        inventory: Some(v1::Inventory {
            role: inv.role.clone(),
            serial_number: inv.serial_number.clone(),
            serial_source: inv.serial_source.clone(),
            mac_addresses: inv.mac_addresses.clone(),
            cpu_model: inv.cpu_model.clone(),
            cpu_count: inv.cpu_count,
            memory_bytes: inv.memory_bytes,
            os: inv.os.clone(),
            uptime_seconds: inv.uptime_seconds,
        }),
        hold: Some(hold_to_proto(info.hold.as_ref())),
        device_specific: Some(rules_to_proto(&info.device_specific)),
        pending_confirmation: info.pending_confirmation.as_ref().map(|p| v1::PendingConfirmation {
            generation: p.generation,
            deadline: p.deadline,
            requested_by: p.requested_by.clone(),
        }),
        clock_ms: info.clock_ms,
        applying: info.applying.as_ref().map(|a| v1::Applying {
            source: a.source.clone(),
            requested_by: a.requested_by.clone(),
            started_at: a.started_at,
            bytes_done: a.bytes_done,
            bytes_total: a.bytes_total,
            files_done: a.files_done,
            files_total: a.files_total,
        }),
    }
}

pub(crate) fn drift_to_proto(report: &confsync_engine::server::DriftReport) -> v1::DriftReply {
    v1::DriftReply {
        recorded: report.recorded,
        paths: report
            .paths
            .iter()
            .map(|(category, path, kind)| v1::Drifted {
                category: super::category_to_proto(*category) as i32,
                path: path.to_string(),
                change: kind.name().to_string(),
            })
            .collect(),
        total: report.total,
    }
}

pub(crate) fn drift_from_proto(
    raw: v1::DriftReply,
) -> Result<confsync_engine::server::DriftReport, ConvertError> {
    use confsync_engine::last_sync::DriftKind;
    let mut paths = Vec::with_capacity(raw.paths.len());
    for p in raw.paths {
        let kind = match p.change.as_str() {
            "changed" => DriftKind::Changed,
            "added" => DriftKind::Added,
            "deleted" => DriftKind::Deleted,
            _ => return Err(ConvertError::UnknownValue { what: "drift change", value: -1 }),
        };
        paths.push((super::category_from_proto(p.category)?, RelPath::new(&p.path)?, kind));
    }
    Ok(confsync_engine::server::DriftReport { recorded: raw.recorded, paths, total: raw.total })
}

fn rules_to_proto(rules: &RulesFile) -> v1::DeviceSpecific {
    v1::DeviceSpecific {
        paths: rules.paths.clone(),
        keys: rules
            .keys
            .iter()
            .map(|k| v1::KeyRule {
                path: k.path.clone(),
                keys: k.keys.clone(),
                format: k.format.clone().unwrap_or_default(),
            })
            .collect(),
        attrs: rules
            .attrs
            .iter()
            .map(|a| v1::AttrsRule { paths: a.paths.clone(), keep: a.keep.clone() })
            .collect(),
    }
}

/// A peer's rules as it wrote them; they are validated where they are used.
fn rules_from_proto(raw: v1::DeviceSpecific) -> RulesFile {
    RulesFile {
        paths: raw.paths,
        keys: raw
            .keys
            .into_iter()
            .map(|k| KeyRuleFile {
                path: k.path,
                keys: k.keys,
                format: (!k.format.is_empty()).then_some(k.format),
            })
            .collect(),
        attrs: raw
            .attrs
            .into_iter()
            .map(|a| confsync_engine::rules::AttrsRuleFile { paths: a.paths, keep: a.keep })
            .collect(),
    }
}

/// Validates a `Hello` answer. The protocol version is taken as sent: the client compares
/// it, so that a mismatch is reported as such rather than as a malformed answer.
pub(crate) fn hello_from_proto(raw: v1::HelloReply) -> Result<ServerInfo, ConvertError> {
    let digest = |bytes: &[u8], what: &str| {
        Digest::from_slice(bytes)
            .ok_or(ConvertError::BadDigest { path: what.to_string(), len: bytes.len() })
    };
    let categories = raw
        .categories
        .iter()
        .map(|c| {
            let category = category_from_proto(c.category)?;
            Ok(CategorySummary {
                category,
                files: c.files,
                bytes: c.bytes,
                digest: digest(&c.digest, category.name())?,
                missing_folder: Some(c.missing_folder.clone()).filter(|f| !f.is_empty()),
            })
        })
        .collect::<Result<Vec<_>, ConvertError>>()?;
    let inventory = raw.inventory.map(|i| Inventory {
        role: i.role,
        serial_number: i.serial_number,
        serial_source: i.serial_source,
        mac_addresses: i.mac_addresses,
        cpu_model: i.cpu_model,
        cpu_count: i.cpu_count,
        memory_bytes: i.memory_bytes,
        os: i.os,
        uptime_seconds: i.uptime_seconds,
    });
    Ok(ServerInfo {
        name: raw.name,
        agent_version: raw.agent_version,
        protocol_version: raw.protocol_version,
        hostname: raw.hostname,
        protected: raw.protected,
        categories,
        tree_digest: if raw.tree_digest.is_empty() {
            Digest::ZERO
        } else {
            digest(&raw.tree_digest, "the tree")?
        },
        last_generation: (raw.last_generation > 0).then_some(LastGeneration {
            id: raw.last_generation,
            time: raw.last_generation_time,
            source: raw.last_generation_source,
        }),
        instance_id: raw.instance_id,
        inventory: inventory.unwrap_or_default(),
        hold: raw.hold.as_ref().and_then(hold_from_proto),
        device_specific: raw.device_specific.map(rules_from_proto).unwrap_or_default(),
        pending_confirmation: raw.pending_confirmation.map(|p| Pending {
            generation: p.generation,
            deadline: p.deadline,
            requested_by: p.requested_by,
        }),
        clock_ms: raw.clock_ms,
        applying: raw.applying.map(|a| confsync_engine::server::Applying {
            source: a.source,
            requested_by: a.requested_by,
            started_at: a.started_at,
            bytes_done: a.bytes_done,
            bytes_total: a.bytes_total,
            files_done: a.files_done,
            files_total: a.files_total,
        }),
    })
}

pub(crate) fn listed_to_proto(listed: &Listed) -> v1::Generation {
    let entry = &listed.entry;
    let r = &entry.record;
    v1::Generation {
        id: r.id,
        started_at: r.started_at,
        source: r.source.clone(),
        requested_by: r.requested_by.clone(),
        categories: categories_to_proto(&r.categories),
        files_changed: r.files_changed,
        bytes_received: r.bytes_received,
        bytes_written: r.bytes_written,
        kind: entry.kind(),
        kept: listed.kept,
        result: entry.result.clone(),
        duration_ms: entry.duration_ms,
        rollback_of: r.rollback_of,
        notices: r.notices.iter().map(super::plan::notice_to_proto).collect(),
        hooks: entry.hooks.iter().map(super::plan::hook_to_proto).collect(),
    }
}

pub(crate) fn listed_from_proto(raw: v1::Generation) -> Result<Listed, ConvertError> {
    // An empty list means "all four" only in requests; a record names what it touched.
    let categories = if raw.categories.is_empty() {
        Vec::new()
    } else {
        categories_from_proto(&raw.categories)?
    };
    Ok(Listed {
        entry: HistoryEntry {
            record: GenerationRecord {
                id: raw.id,
                started_at: raw.started_at,
                source: raw.source,
                requested_by: raw.requested_by,
                categories,
                files_changed: raw.files_changed,
                bytes_received: raw.bytes_received,
                bytes_written: raw.bytes_written,
                rollback_of: raw.rollback_of,
                notices: super::plan::notices_from_proto(raw.notices)?,
            },
            result: raw.result,
            duration_ms: raw.duration_ms,
            hooks: raw.hooks.iter().map(super::plan::hook_from_proto).collect(),
        },
        kept: raw.kept,
    })
}

pub(crate) fn verification_to_proto(v: &Verification) -> v1::VerifyReply {
    v1::VerifyReply {
        files: v.files,
        bytes: v.bytes,
        mismatches: v
            .mismatches
            .iter()
            .map(|m| v1::Mismatch {
                category: category_to_proto(m.category) as i32,
                path: m.path.as_str().to_string(),
                recorded: m.recorded.0.to_vec(),
                actual: m.actual.0.to_vec(),
            })
            .collect(),
    }
}

pub(crate) fn verification_from_proto(raw: &v1::VerifyReply) -> Result<Verification, ConvertError> {
    let mut mismatches = Vec::with_capacity(raw.mismatches.len());
    for m in &raw.mismatches {
        mismatches.push(Mismatch {
            category: category_from_proto(m.category)?,
            path: RelPath::new(&m.path)?,
            recorded: digest(&m.path, &m.recorded)?,
            actual: digest(&m.path, &m.actual)?,
        });
    }
    Ok(Verification { files: raw.files, bytes: raw.bytes, mismatches })
}

fn digest(path: &str, raw: &[u8]) -> Result<Digest, ConvertError> {
    Digest::from_slice(raw)
        .ok_or_else(|| ConvertError::BadDigest { path: path.to_string(), len: raw.len() })
}
