//! Differences an administrator reads, rather than "overwritten, 182 B": key by key for
//! structured files, record by record for a capability database of JSON lines or CSV
//! with a key column, and upgrade or downgrade for a file that holds a version string.
//! Everything here is for showing; the plan and its digest never depend on it.

use std::collections::BTreeMap;

use crate::merge::{self, MAX_STRUCTURED_BYTES};
use crate::rules::Format;

/// Changes shown per file before folding into "and N more".
const SHOWN: usize = 6;
/// Longest value quoted.
const VALUE_CHARS: usize = 60;

/// What changes when the destination's `current` becomes the source's `incoming`, in a
/// few lines; `None` when the file is of no format known here (or too large to read).
pub fn describe(
    path: &str,
    current: &[u8],
    incoming: &[u8],
    key_column: Option<&str>,
) -> Option<Vec<String>> {
    if current.len() > MAX_STRUCTURED_BYTES || incoming.len() > MAX_STRUCTURED_BYTES {
        return None;
    }
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    let ext = name.rsplit_once('.').map(|(_, e)| e.to_string()).unwrap_or_default();
    if let Some(line) = version_change(&name, current, incoming) {
        return Some(vec![line]);
    }
    match ext.as_str() {
        "jsonl" | "ndjson" => records(jsonl(current)?, jsonl(incoming)?, key_column),
        "csv" => records(csv(current)?, csv(incoming)?, key_column),
        _ => {
            let format = Format::of(path)?;
            let before = merge::flatten(format, current, "destination").ok()?;
            let after = merge::flatten(format, incoming, "source").ok()?;
            Some(keys(&before, &after, format))
        }
    }
}

/// `4.2.1 → 4.3.0 (upgrade)` for a file holding nothing but a version.
fn version_change(name: &str, current: &[u8], incoming: &[u8]) -> Option<String> {
    let looks_like_version = |bytes: &[u8]| -> Option<String> {
        let text = std::str::from_utf8(bytes).ok()?.trim();
        let single = !text.is_empty() && !text.contains('\n') && text.len() <= 64;
        let versionish = text.chars().next()?.is_ascii_digit()
            && text.chars().all(|c| c.is_ascii_alphanumeric() || ".-+_".contains(c));
        (single && versionish).then(|| text.to_string())
    };
    let named = name == "version" || name.ends_with(".version") || name.starts_with("version.");
    let (old, new) = (looks_like_version(current)?, looks_like_version(incoming)?);
    if !(named || old.contains('.') && new.contains('.')) {
        return None;
    }
    let order = match version_compare::compare(&old, &new) {
        Ok(version_compare::Cmp::Lt) => "upgrade",
        Ok(version_compare::Cmp::Gt) => "downgrade",
        Ok(_) => "the same version",
        Err(()) => return None,
    };
    Some(format!("{old} → {new} ({order})"))
}

fn quote(value: &str) -> String {
    if value.chars().count() <= VALUE_CHARS {
        value.to_string()
    } else {
        format!("{}…", value.chars().take(VALUE_CHARS).collect::<String>())
    }
}

/// `[screen] resolution 1024x768 → 1920x1080`, `+ audio = on`, `- legacy`.
fn keys(
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
    format: Format,
) -> Vec<String> {
    let name = |key: &str| match (format, key.rsplit_once('.')) {
        (Format::Ini, Some((section, key))) => format!("[{section}] {key}"),
        _ => key.to_string(),
    };
    let mut lines = Vec::new();
    for (key, new) in after {
        match before.get(key) {
            Some(old) if old != new => {
                lines.push(format!("{} {} → {}", name(key), quote(old), quote(new)))
            }
            Some(_) => {}
            None => lines.push(format!("+ {} = {}", name(key), quote(new))),
        }
    }
    lines.extend(
        before.keys().filter(|k| !after.contains_key(*k)).map(|k| format!("- {}", name(k))),
    );
    fold(lines)
}

fn fold(mut lines: Vec<String>) -> Vec<String> {
    if lines.len() > SHOWN {
        let more = lines.len() - SHOWN;
        lines.truncate(SHOWN);
        lines.push(format!("… and {more} more"));
    }
    lines
}

/// Records as field name → value, in file order.
type Records = Vec<BTreeMap<String, String>>;

fn jsonl(bytes: &[u8]) -> Option<Records> {
    let text = std::str::from_utf8(bytes).ok()?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).ok()?;
            let object = value.as_object()?;
            Some(
                object
                    .iter()
                    .map(|(k, v)| {
                        (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_string))
                    })
                    .collect(),
            )
        })
        .collect()
}

fn csv(bytes: &[u8]) -> Option<Records> {
    let mut reader = ::csv::ReaderBuilder::new().flexible(false).from_reader(bytes);
    let headers = reader.headers().ok()?.clone();
    reader
        .records()
        .map(|record| {
            let record = record.ok()?;
            Some(
                headers
                    .iter()
                    .zip(record.iter())
                    .map(|(h, v)| (h.to_string(), v.to_string()))
                    .collect(),
            )
        })
        .collect()
}

/// `+12 records, ~3 (TC-00042: res 800x600 → 1024x768), -1`, keyed by `key_column` (or
/// `model`, or the first column).
fn records(before: Records, after: Records, key_column: Option<&str>) -> Option<Vec<String>> {
    let first = after.first().or(before.first())?;
    let column = key_column
        .filter(|k| first.contains_key(*k))
        .or_else(|| first.contains_key("model").then_some("model"))
        .or_else(|| first.keys().next().map(String::as_str))?
        .to_string();
    let index = |records: Records| -> BTreeMap<String, BTreeMap<String, String>> {
        records.into_iter().filter_map(|r| Some((r.get(&column)?.clone(), r))).collect()
    };
    let (before, after) = (index(before), index(after));
    let added = after.keys().filter(|k| !before.contains_key(*k)).count();
    let removed = before.keys().filter(|k| !after.contains_key(*k)).count();
    let changed: Vec<String> = after
        .iter()
        .filter_map(|(key, new)| {
            let old = before.get(key)?;
            let fields: Vec<String> = new
                .iter()
                .filter(|(field, value)| old.get(*field) != Some(*value))
                .map(|(field, value)| {
                    format!(
                        "{field} {} → {}",
                        quote(old.get(field).map_or("", String::as_str)),
                        quote(value)
                    )
                })
                .collect();
            (!fields.is_empty()).then(|| format!("{key}: {}", fields.join(", ")))
        })
        .collect();
    let mut parts = Vec::new();
    if added > 0 {
        parts.push(format!("+{added} {}", if added == 1 { "record" } else { "records" }));
    }
    if !changed.is_empty() {
        let examples: Vec<&str> = changed.iter().take(2).map(String::as_str).collect();
        parts.push(format!("~{} ({})", changed.len(), examples.join("; ")));
    }
    if removed > 0 {
        parts.push(format!("-{removed}"));
    }
    Some(if parts.is_empty() {
        Vec::new()
    } else {
        vec![format!("{} by {column}", parts.join(", "))]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_by_key_for_ini_toml_and_json() {
        let lines = describe(
            "config/display.ini",
            b"[screen]\nresolution = 1024x768\nlegacy = 1\n",
            b"[screen]\nresolution = 1920x1080\n[audio]\naudio = on\n",
            None,
        )
        .expect("ini");
        assert_eq!(
            lines,
            [
                "+ [audio] audio = on",
                "[screen] resolution 1024x768 → 1920x1080",
                "- [screen] legacy"
            ]
        );
        let toml =
            describe("config/a.toml", b"[n]\nport = 1\n", b"[n]\nport = 2\n", None).expect("toml");
        assert_eq!(toml, ["n.port 1 → 2"]);
        let json =
            describe("config/a.json", br#"{"a":{"b":"x"}}"#, br#"{"a":{"b":"y","c":true}}"#, None)
                .expect("json");
        assert_eq!(json, ["a.b x → y", "+ a.c = true"]);
    }

    #[test]
    fn record_by_record_for_a_capability_database() {
        let old =
            b"{\"model\":\"TC-1\",\"res\":\"800x600\"}\n{\"model\":\"TC-2\",\"res\":\"640x480\"}\n";
        let new =
            b"{\"model\":\"TC-1\",\"res\":\"1024x768\"}\n{\"model\":\"TC-3\",\"res\":\"1x1\"}\n";
        let lines = describe("capdb/models.jsonl", old, new, None).expect("jsonl");
        assert_eq!(lines, ["+1 record, ~1 (TC-1: res 800x600 → 1024x768), -1 by model"]);
        let csv = describe("capdb/m.csv", b"id,res\na,1\n", b"id,res\na,2\nb,3\n", Some("id"))
            .expect("csv");
        assert_eq!(csv, ["+1 record, ~1 (a: res 1 → 2) by id"]);
    }

    #[test]
    fn versions_are_compared_as_versions() {
        assert_eq!(
            describe("firmware/VERSION", b"4.2.1\n", b"4.3.0\n", None).expect("v"),
            ["4.2.1 → 4.3.0 (upgrade)"]
        );
        assert_eq!(
            describe("firmware/VERSION", b"4.10.0\n", b"4.9.2\n", None).expect("v"),
            ["4.10.0 → 4.9.2 (downgrade)"]
        );
        assert!(describe("firmware/image.bin", b"\x00\x01", b"\x02", None).is_none());
    }
}
