//! Merging a shared structured file that holds a few device-specific values: the result
//! is the source's file with the destination's own values for the kept keys. A kept key
//! that the destination lacks is left out; one only the destination has is kept.
//!
//! - TOML through `toml_edit`, so the source's comments and layout arrive intact.
//! - JSON through `serde_json` (key order kept; the layout is rewritten, two-space indent).
//! - INI sections or plain `key = value` lines, edited line by line, so that comments and
//!   layout stay: the INI crates read into maps and lose both, which here would rewrite an
//!   administrator's file.
//!
//! Files over [`MAX_STRUCTURED_BYTES`] and files that do not parse are refused, with the
//! reason; nothing is ever guessed.

use std::collections::BTreeMap;

use crate::rules::Format;

/// Largest file merged or compared key by key.
pub mod three_way;

pub const MAX_STRUCTURED_BYTES: usize = 4 << 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MergeError {
    #[error("the {side}'s copy is {size} bytes, over the {} MiB merged key by key", MAX_STRUCTURED_BYTES >> 20)]
    TooLarge { side: &'static str, size: usize },
    #[error("the {side}'s copy cannot be read as {format}: {detail}")]
    Parse { side: &'static str, format: &'static str, detail: String },
}

/// The source's file with the destination's values for `keys`.
pub fn merge(
    format: Format,
    source: &[u8],
    destination: &[u8],
    keys: &[String],
) -> Result<Vec<u8>, MergeError> {
    for (side, bytes) in [("source", source), ("destination", destination)] {
        if bytes.len() > MAX_STRUCTURED_BYTES {
            return Err(MergeError::TooLarge { side, size: bytes.len() });
        }
    }
    match format {
        Format::Toml => toml::merge(source, destination, keys),
        Format::Json => json::merge(source, destination, keys),
        Format::Ini => ini::merge(source, destination, keys),
    }
}

/// Every leaf of a structured file by dotted key, its value as text (for semantic diffs).
pub fn flatten(
    format: Format,
    bytes: &[u8],
    side: &'static str,
) -> Result<BTreeMap<String, String>, MergeError> {
    if bytes.len() > MAX_STRUCTURED_BYTES {
        return Err(MergeError::TooLarge { side, size: bytes.len() });
    }
    match format {
        Format::Toml => toml::flatten(bytes, side),
        Format::Json => json::flatten(bytes, side),
        Format::Ini => ini::flatten(bytes, side),
    }
}

/// The digest of a structured file's data without the values of `keys` (nor anything
/// beneath them): two copies of a merged file that differ only in their device-specific
/// values, or in layout and comments, have the same one. What "changed here" compares for
/// a merged file, so that a server's own value edited there is no drift.
pub fn masked_digest(
    format: Format,
    bytes: &[u8],
    keys: &[String],
) -> Result<crate::entry::Digest, MergeError> {
    let kept = |key: &str| {
        keys.iter().any(|k| {
            key == k || key.strip_prefix(k.as_str()).is_some_and(|rest| rest.starts_with('.'))
        })
    };
    let mut hasher = blake3::Hasher::new();
    for (key, value) in flatten(format, bytes, "destination")? {
        if !kept(&key) {
            // Lengths first, so that no key and value can be read as another pair.
            hasher.update(&(key.len() as u64).to_le_bytes());
            hasher.update(key.as_bytes());
            hasher.update(&(value.len() as u64).to_le_bytes());
            hasher.update(value.as_bytes());
        }
    }
    Ok(crate::entry::Digest(*hasher.finalize().as_bytes()))
}

fn text<'a>(
    bytes: &'a [u8],
    side: &'static str,
    format: &'static str,
) -> Result<&'a str, MergeError> {
    std::str::from_utf8(bytes).map_err(|e| MergeError::Parse {
        side,
        format,
        detail: format!("not UTF-8 text ({e})"),
    })
}

mod toml {
    use std::collections::BTreeMap;

    use toml_edit::{DocumentMut, Item, Table};

    use super::{MergeError, text};

    fn parse(bytes: &[u8], side: &'static str) -> Result<DocumentMut, MergeError> {
        text(bytes, side, "toml")?.parse::<DocumentMut>().map_err(|e| MergeError::Parse {
            side,
            format: "toml",
            detail: e.to_string().trim().to_string(),
        })
    }

    fn get<'a>(mut item: &'a Item, parts: &[&str]) -> Option<&'a Item> {
        for part in parts {
            item = item.as_table_like()?.get(part)?;
        }
        Some(item)
    }

    pub(super) fn merge(
        source: &[u8],
        destination: &[u8],
        keys: &[String],
    ) -> Result<Vec<u8>, MergeError> {
        let mut merged = parse(source, "source")?;
        let own = parse(destination, "destination")?;
        for key in keys {
            let parts: Vec<&str> = key.split('.').collect();
            let Some((last, parents)) = parts.split_last() else { continue };
            match get(own.as_item(), &parts) {
                Some(value) => {
                    let parent = parents.iter().try_fold(merged.as_item_mut(), |item, part| {
                        let like = item.as_table_like_mut()?;
                        if like.get(part).is_none() {
                            like.insert(part, Item::Table(Table::new()));
                        }
                        like.get_mut(part)
                    });
                    if let Some(like) = parent.and_then(Item::as_table_like_mut) {
                        // The source's spacing and trailing comment stay with its line.
                        let mut value = value.clone();
                        if let (Some(old), Some(new)) =
                            (like.get(last).and_then(Item::as_value), value.as_value_mut())
                        {
                            *new.decor_mut() = old.decor().clone();
                        }
                        like.insert(last, value);
                    }
                }
                None => {
                    let parent = parents.iter().try_fold(merged.as_item_mut(), |item, part| {
                        item.as_table_like_mut()?.get_mut(part)
                    });
                    if let Some(like) = parent.and_then(Item::as_table_like_mut) {
                        like.remove(last);
                    }
                }
            }
        }
        Ok(merged.to_string().into_bytes())
    }

    pub(super) fn flatten(
        bytes: &[u8],
        side: &'static str,
    ) -> Result<BTreeMap<String, String>, MergeError> {
        fn walk(prefix: &str, item: &Item, out: &mut BTreeMap<String, String>) {
            match item.as_table_like() {
                Some(table) => {
                    for (key, value) in table.iter() {
                        let path = if prefix.is_empty() {
                            key.to_string()
                        } else {
                            format!("{prefix}.{key}")
                        };
                        walk(&path, value, out);
                    }
                }
                None => {
                    let text = item.to_string();
                    out.insert(prefix.to_string(), text.trim().to_string());
                }
            }
        }
        let doc = parse(bytes, side)?;
        let mut out = BTreeMap::new();
        walk("", doc.as_item(), &mut out);
        Ok(out)
    }
}

mod json {
    use std::collections::BTreeMap;

    use serde_json::Value;

    use super::{MergeError, text};

    fn parse(bytes: &[u8], side: &'static str) -> Result<Value, MergeError> {
        serde_json::from_str(text(bytes, side, "json")?).map_err(|e| MergeError::Parse {
            side,
            format: "json",
            detail: e.to_string(),
        })
    }

    fn get<'a>(mut value: &'a Value, parts: &[&str]) -> Option<&'a Value> {
        for part in parts {
            value = value.as_object()?.get(*part)?;
        }
        Some(value)
    }

    pub(super) fn merge(
        source: &[u8],
        destination: &[u8],
        keys: &[String],
    ) -> Result<Vec<u8>, MergeError> {
        let mut merged = parse(source, "source")?;
        let own = parse(destination, "destination")?;
        for key in keys {
            let parts: Vec<&str> = key.split('.').collect();
            let Some((last, parents)) = parts.split_last() else { continue };
            match get(&own, &parts) {
                Some(value) => {
                    let parent = parents.iter().try_fold(&mut merged, |object, part| {
                        let map = object.as_object_mut()?;
                        Some(map.entry(*part).or_insert_with(|| Value::Object(Default::default())))
                    });
                    if let Some(map) = parent.and_then(Value::as_object_mut) {
                        map.insert((*last).to_string(), value.clone());
                    }
                }
                None => {
                    let parent = parents
                        .iter()
                        .try_fold(&mut merged, |value, part| value.as_object_mut()?.get_mut(*part));
                    if let Some(map) = parent.and_then(Value::as_object_mut) {
                        map.shift_remove(*last);
                    }
                }
            }
        }
        let mut out = serde_json::to_vec_pretty(&merged).map_err(|e| MergeError::Parse {
            side: "merged",
            format: "json",
            detail: e.to_string(),
        })?;
        out.push(b'\n');
        Ok(out)
    }

    pub(super) fn flatten(
        bytes: &[u8],
        side: &'static str,
    ) -> Result<BTreeMap<String, String>, MergeError> {
        fn walk(prefix: &str, value: &Value, out: &mut BTreeMap<String, String>) {
            match value {
                Value::Object(map) if !map.is_empty() => {
                    for (key, value) in map {
                        let path =
                            if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
                        walk(&path, value, out);
                    }
                }
                Value::String(s) => {
                    out.insert(prefix.to_string(), s.clone());
                }
                other => {
                    out.insert(prefix.to_string(), other.to_string());
                }
            }
        }
        let mut out = BTreeMap::new();
        walk("", &parse(bytes, side)?, &mut out);
        Ok(out)
    }
}

mod ini {
    use std::collections::BTreeMap;

    use super::{MergeError, text};

    /// One line of an INI file, as written.
    pub(super) enum Line<'a> {
        Section(&'a str),
        /// `key = value`: the text up to the value, the key, the value.
        Pair {
            head: &'a str,
            key: &'a str,
            value: &'a str,
        },
        Other(&'a str),
    }

    pub(super) fn parse<'a>(
        text: &'a str,
        side: &'static str,
    ) -> Result<Vec<Line<'a>>, MergeError> {
        let mut lines = Vec::new();
        for (n, raw) in text.lines().enumerate() {
            let trimmed = raw.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
                lines.push(Line::Other(raw));
            } else if let Some(name) = trimmed.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
                lines.push(Line::Section(name.trim()));
            } else if let Some(at) = raw.find(['=', ':']) {
                let key = raw[..at].trim();
                if key.is_empty() {
                    return Err(bad(side, n, raw));
                }
                let value_start = at + 1 + (raw[at + 1..].len() - raw[at + 1..].trim_start().len());
                lines.push(Line::Pair {
                    head: &raw[..value_start],
                    key,
                    value: raw[value_start..].trim_end(),
                });
            } else {
                return Err(bad(side, n, raw));
            }
        }
        Ok(lines)
    }

    fn bad(side: &'static str, n: usize, raw: &str) -> MergeError {
        let shown: String = raw.chars().take(60).collect();
        MergeError::Parse {
            side,
            format: "ini",
            detail: format!(
                "line {} is neither a [section], a key = value nor a comment: {shown:?}",
                n + 1
            ),
        }
    }

    /// `section.key` → (section, key); a key with no dot is outside any section.
    pub(super) fn split(key: &str) -> (&str, &str) {
        key.rsplit_once('.').unwrap_or(("", key))
    }

    pub(super) fn values<'a>(lines: &[Line<'a>]) -> BTreeMap<(String, String), &'a str> {
        let mut section = "";
        let mut out = BTreeMap::new();
        for line in lines {
            match line {
                Line::Section(name) => section = name,
                Line::Pair { key, value, .. } => {
                    out.insert((section.to_string(), (*key).to_string()), *value);
                }
                Line::Other(_) => {}
            }
        }
        out
    }

    pub(super) fn merge(
        source: &[u8],
        destination: &[u8],
        keys: &[String],
    ) -> Result<Vec<u8>, MergeError> {
        let source_text = text(source, "source", "ini")?;
        let lines = parse(source_text, "source")?;
        let own = values(&parse(text(destination, "destination", "ini")?, "destination")?);
        let kept: Vec<(String, String)> =
            keys.iter().map(|k| split(k)).map(|(s, k)| (s.to_string(), k.to_string())).collect();
        let mut out: Vec<String> = Vec::new();
        let mut placed: Vec<(String, String)> = Vec::new();
        let mut section = String::new();
        // Where each section ends in `out`, to add keys only the destination has.
        let mut ends: BTreeMap<String, usize> = BTreeMap::new();
        for line in &lines {
            match line {
                Line::Section(name) => {
                    section = (*name).to_string();
                    out.push(format!("[{name}]"));
                }
                Line::Pair { head, key, value } => {
                    let id = (section.clone(), (*key).to_string());
                    if kept.contains(&id) {
                        placed.push(id.clone());
                        if let Some(own_value) = own.get(&id) {
                            out.push(format!("{head}{own_value}"));
                        }
                    } else {
                        out.push(format!("{head}{value}"));
                    }
                }
                Line::Other(raw) => out.push((*raw).to_string()),
            }
            if !matches!(line, Line::Other(_)) {
                ends.insert(section.clone(), out.len());
            }
        }
        // Kept keys the source does not have at all: the destination's stay.
        let mut shift = 0;
        for id in kept.iter().filter(|id| !placed.contains(id)) {
            let Some(value) = own.get(id) else { continue };
            let line = format!("{} = {value}", id.1);
            match ends.get(&id.0) {
                Some(end) => {
                    out.insert(end + shift, line);
                    shift += 1;
                }
                None if id.0.is_empty() => {
                    out.insert(shift, line);
                    shift += 1;
                }
                None => {
                    out.push(format!("[{}]", id.0));
                    out.push(line);
                }
            }
        }
        let mut merged = out.join("\n");
        if source_text.ends_with('\n') || source_text.is_empty() {
            merged.push('\n');
        }
        Ok(merged.into_bytes())
    }

    pub(super) fn flatten(
        bytes: &[u8],
        side: &'static str,
    ) -> Result<BTreeMap<String, String>, MergeError> {
        let text = text(bytes, side, "ini")?;
        let lines = parse(text, side)?;
        Ok(values(&lines)
            .into_iter()
            .map(|((section, key), value)| {
                let id = if section.is_empty() { key } else { format!("{section}.{key}") };
                (id, value.to_string())
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(k: &[&str]) -> Vec<String> {
        k.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_masked_digest_leaves_out_kept_values_and_layout_but_not_shared_values() {
        let kept = keys(&["server.name", "network"]);
        let of = |text: &str| masked_digest(Format::Toml, text.as_bytes(), &kept).expect("TOML");
        let base = of("[server]\nname = \"a\"\nport = 1\n[network]\naddress = \"x\"\n");
        let own = of("# mine\n[server]\nname = \"b\"\nport = 1\n\n[network]\naddress = \"y\"\n");
        assert_eq!(base, own, "only kept values and layout differ");
        let shared = of("[server]\nname = \"a\"\nport = 2\n[network]\naddress = \"x\"\n");
        assert_ne!(base, shared, "a shared value differs");
        let prefix = of("[server]\nname = \"a\"\nnamed = 3\nport = 1\n");
        assert_ne!(of("[server]\nname = \"a\"\nport = 1\n"), prefix, "server.named is shared");
    }

    #[test]
    fn toml_keeps_the_destinations_values_and_the_sources_comments() {
        let source = b"# the primary's settings\n[server]\nname = \"primary\" # who\nport = 2031\n\n[network]\naddress = \"10.0.0.1\"\nmtu = 9000\n";
        let own = b"[server]\nname = \"backup-1\"\nport = 1\n[network]\naddress = \"10.0.0.2\"\n";
        let merged = merge(
            Format::Toml,
            source,
            own,
            &keys(&["network.address", "server.name", "server.extra"]),
        )
        .expect("merge");
        let text = String::from_utf8(merged).expect("utf-8");
        assert!(text.contains("# the primary's settings"), "{text}");
        assert!(text.contains("name = \"backup-1\" # who"), "{text}");
        assert!(text.contains("address = \"10.0.0.2\""), "{text}");
        assert!(text.contains("port = 2031") && text.contains("mtu = 9000"), "{text}");
        assert!(!text.contains("primary\"") && !text.contains("10.0.0.1"), "{text}");
    }

    #[test]
    fn a_kept_key_missing_on_the_destination_stays_missing_and_one_only_there_stays() {
        let merged = merge(
            Format::Json,
            br#"{"a": {"x": 1, "y": 2}, "b": 3}"#,
            br#"{"a": {"z": 9}}"#,
            &keys(&["a.y", "a.z"]),
        )
        .expect("merge");
        let value: serde_json::Value = serde_json::from_slice(&merged).expect("json");
        assert_eq!(value, serde_json::json!({"a": {"x": 1, "z": 9}, "b": 3}));
    }

    #[test]
    fn ini_lines_keep_their_layout() {
        let source = b"; display settings\n[screen]\nresolution = 1920x1080\nname=primary\n\n[audio]\nvolume: 7\n";
        let own = b"[screen]\nname = backup-1\n[audio]\nvolume: 3\nlocal = yes\n";
        let merged =
            merge(Format::Ini, source, own, &keys(&["screen.name", "audio.local"])).expect("merge");
        assert_eq!(
            String::from_utf8(merged).expect("utf-8"),
            "; display settings\n[screen]\nresolution = 1920x1080\nname=backup-1\n\n[audio]\nvolume: 7\nlocal = yes\n"
        );
    }

    #[test]
    fn what_does_not_parse_or_is_too_large_is_refused() {
        let err = merge(Format::Toml, b"[a\nb = 1", b"", &keys(&["a.b"])).expect_err("bad toml");
        assert!(err.to_string().contains("source's copy cannot be read as toml"), "{err}");
        let err =
            merge(Format::Ini, b"a = 1\n", b"just words\n", &keys(&["a"])).expect_err("bad ini");
        assert!(err.to_string().contains("line 1"), "{err}");
        let deep = "[".repeat(100_000);
        assert!(merge(Format::Json, deep.as_bytes(), b"{}", &keys(&["a"])).is_err());
        assert!(merge(Format::Toml, format!("a = {deep}").as_bytes(), b"", &keys(&["a"])).is_err());
        let huge = vec![b' '; MAX_STRUCTURED_BYTES + 1];
        assert!(matches!(
            merge(Format::Json, &huge, b"{}", &keys(&["a"])),
            Err(MergeError::TooLarge { .. })
        ));
    }
}
