//! Three-way merges of one file's data for two-way sync: the base both servers last
//! agreed on, and the two servers' copies now. What is merged is a piece of data, not
//! the file: a key (TOML, JSON, INI), a record (CSV or JSON lines keyed by a column), or
//! a run of lines (plain text).
//!
//! Per key (or record): changed on one side only, that side's value; added on one side,
//! added; deleted on one side and untouched on the other, deleted; changed on both to the
//! same value, no conflict; changed on both to different values, a **conflict**, settled
//! by the caller (the pair's policy) for that key alone. Device-specific keys are never
//! merged nor in conflict: `ours` keeps its own.
//!
//! The result is `ours` edited in place, so its comments and layout stay (TOML through
//! `toml_edit`, INI line by line, JSON with its key order). Plain text goes through
//! `diffy`'s line merge; overlapping edits are one conflict for the whole file, settled
//! the same way. Conflict markers are never written.
//!
//! Pure: no file system, no clock. The caller reads the three copies and writes the
//! result.

use std::collections::{BTreeMap, BTreeSet};

use super::{Format, MergeError};

/// What a file is merged as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Keys of a structured file.
    Keys(Format),
    /// Records of a table, each identified by the value of `key`.
    Records { format: Records, key: String },
    /// Lines of plain text.
    Text,
}

/// How a table's records are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Records {
    /// CSV with a header line.
    Csv,
    /// One JSON object per line.
    JsonLines,
}

/// Which copy wins a conflict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Winner {
    Ours,
    Theirs,
}

/// Decides a conflict: given the key and the two values (`None`: deleted there), which
/// side wins (the pair's policy, or the administrator's answer).
pub type Settle<'a> = &'a mut dyn FnMut(&str, Option<&str>, Option<&str>) -> Winner;

/// A piece of data changed on both sides to different values (`None`: deleted there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The dotted key, the record's key value, or `(lines)` for text.
    pub key: String,
    pub ours: Option<String>,
    pub theirs: Option<String>,
    pub winner: Winner,
}

/// A merge's result and what went into it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    pub bytes: Vec<u8>,
    /// Keys (or records) whose value came from each side's change.
    pub from_ours: Vec<String>,
    pub from_theirs: Vec<String>,
    pub conflicts: Vec<Conflict>,
}

/// Merges `ours` and `theirs` against `base` as `kind`, leaving `kept` keys as `ours` has
/// them; `settle` decides each conflict. An error means the file cannot be merged this
/// way (it does not parse as `kind`): the caller decides it whole, as before.
pub fn merge(
    kind: &Kind,
    base: &[u8],
    ours: &[u8],
    theirs: &[u8],
    kept: &[String],
    settle: Settle<'_>,
) -> Result<Merged, MergeError> {
    match kind {
        Kind::Keys(format) => {
            let flat = |bytes, side| super::flatten(*format, bytes, side);
            let (b, o, t) =
                (flat(base, "base")?, flat(ours, "destination")?, flat(theirs, "source")?);
            let decided = decide(&b, &o, &t, kept, settle);
            let bytes = match format {
                Format::Toml => toml::apply(ours, theirs, &decided.take)?,
                Format::Json => json::apply(ours, theirs, &decided.take)?,
                Format::Ini => ini::apply(ours, theirs, &decided.take)?,
            };
            Ok(decided.into_merged(bytes))
        }
        Kind::Records { format, key } => {
            let read = |bytes, side| records::read(*format, key, bytes, side);
            let (b, o, t) =
                (read(base, "base")?, read(ours, "destination")?, read(theirs, "source")?);
            if o.header != t.header {
                return Err(MergeError::Parse {
                    side: "source",
                    format: records::name(*format),
                    detail: "its columns differ from the destination's".into(),
                });
            }
            let decided = decide(&b.rows, &o.rows, &t.rows, &[], settle);
            let bytes = records::write(*format, &o, &t, &decided.take);
            Ok(decided.into_merged(bytes))
        }
        Kind::Text => text(base, ours, theirs, settle),
    }
}

/// Per key, which side's change the merge takes.
struct Decided {
    /// Keys to take from `theirs` (its value, or its deletion).
    take: BTreeSet<String>,
    from_ours: Vec<String>,
    conflicts: Vec<Conflict>,
}

impl Decided {
    fn into_merged(self, bytes: Vec<u8>) -> Merged {
        let from_theirs = self
            .take
            .iter()
            .filter(|k| !self.conflicts.iter().any(|c| &c.key == *k))
            .cloned()
            .collect();
        Merged { bytes, from_ours: self.from_ours, from_theirs, conflicts: self.conflicts }
    }
}

fn decide(
    base: &BTreeMap<String, String>,
    ours: &BTreeMap<String, String>,
    theirs: &BTreeMap<String, String>,
    kept: &[String],
    settle: Settle<'_>,
) -> Decided {
    let is_kept = |key: &str| {
        kept.iter()
            .any(|k| key == k || key.strip_prefix(k.as_str()).is_some_and(|r| r.starts_with('.')))
    };
    let keys: BTreeSet<&String> = base.keys().chain(ours.keys()).chain(theirs.keys()).collect();
    let mut decided =
        Decided { take: BTreeSet::new(), from_ours: Vec::new(), conflicts: Vec::new() };
    for key in keys {
        if is_kept(key) {
            continue;
        }
        let (b, o, t) = (base.get(key), ours.get(key), theirs.get(key));
        if o == t {
            continue;
        }
        if o == b {
            decided.take.insert(key.clone());
        } else if t == b {
            decided.from_ours.push(key.clone());
        } else {
            let (o, t) = (o.map(String::as_str), t.map(String::as_str));
            let winner = settle(key, o, t);
            if winner == Winner::Theirs {
                decided.take.insert(key.clone());
            }
            decided.conflicts.push(Conflict {
                key: key.clone(),
                ours: o.map(str::to_string),
                theirs: t.map(str::to_string),
                winner,
            });
        }
    }
    decided
}

/// Lines of plain text, through `diffy`'s three-way merge; overlapping edits are one
/// conflict, and the winner's whole file is the result (never markers).
fn text(base: &[u8], ours: &[u8], theirs: &[u8], settle: Settle<'_>) -> Result<Merged, MergeError> {
    let as_text = |bytes, side| super::text(bytes, side, "text");
    let (b, o, t) =
        (as_text(base, "base")?, as_text(ours, "destination")?, as_text(theirs, "source")?);
    let mut merged = Merged {
        bytes: Vec::new(),
        from_ours: Vec::new(),
        from_theirs: Vec::new(),
        conflicts: Vec::new(),
    };
    if o != b {
        merged.from_ours.push("(lines)".into());
    }
    if t != b {
        merged.from_theirs.push("(lines)".into());
    }
    match diffy::merge(b, o, t) {
        Ok(text) => merged.bytes = text.into_bytes(),
        Err(_) => {
            let winner = settle("(lines)", Some(o), Some(t));
            merged.bytes = if winner == Winner::Ours { o } else { t }.as_bytes().to_vec();
            merged.from_ours.clear();
            merged.from_theirs.clear();
            merged.conflicts.push(Conflict {
                key: "(lines)".into(),
                ours: Some(o.to_string()),
                theirs: Some(t.to_string()),
                winner,
            });
        }
    }
    Ok(merged)
}

mod toml {
    use std::collections::BTreeSet;

    use toml_edit::{DocumentMut, Item, Table};

    use super::MergeError;

    fn parse(bytes: &[u8], side: &'static str) -> Result<DocumentMut, MergeError> {
        let text = super::super::text(bytes, side, "toml")?;
        text.parse::<DocumentMut>().map_err(|e| MergeError::Parse {
            side,
            format: "toml",
            detail: e.to_string(),
        })
    }

    fn get<'a>(table: &'a Table, parts: &[&str]) -> Option<&'a Item> {
        let (first, rest) = parts.split_first()?;
        let item = table.get(first)?;
        if rest.is_empty() {
            return Some(item);
        }
        get(item.as_table()?, rest)
    }

    /// Sets (or removes, `None`) the item at `parts` in `table`, making the tables on the
    /// way; `false` where the path crosses something that is no table here.
    fn put(table: &mut Table, parts: &[&str], item: Option<&Item>) -> bool {
        let Some((first, rest)) = parts.split_first() else { return false };
        if rest.is_empty() {
            match item {
                Some(item) => {
                    table.insert(first, item.clone());
                }
                None => {
                    table.remove(first);
                }
            }
            return true;
        }
        if !table.contains_key(first) {
            if item.is_none() {
                return true;
            }
            table.insert(first, Item::Table(Table::new()));
        }
        match table.get_mut(first).and_then(Item::as_table_mut) {
            Some(next) => put(next, rest, item),
            None => false,
        }
    }

    /// `ours` with the value (or the absence) `theirs` has at each key of `take`.
    pub(super) fn apply(
        ours: &[u8],
        theirs: &[u8],
        take: &BTreeSet<String>,
    ) -> Result<Vec<u8>, MergeError> {
        let mut doc = parse(ours, "destination")?;
        let other = parse(theirs, "source")?;
        for key in take {
            let parts: Vec<&str> = key.split('.').collect();
            if !put(doc.as_table_mut(), &parts, get(other.as_table(), &parts)) {
                return Err(MergeError::Parse {
                    side: "destination",
                    format: "toml",
                    detail: format!("{key} lies inside an inline table or an array here"),
                });
            }
        }
        Ok(doc.to_string().into_bytes())
    }
}

mod json {
    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::MergeError;

    fn parse(bytes: &[u8], side: &'static str) -> Result<Value, MergeError> {
        serde_json::from_slice(bytes).map_err(|e| MergeError::Parse {
            side,
            format: "json",
            detail: e.to_string(),
        })
    }

    fn get<'a>(value: &'a Value, parts: &[&str]) -> Option<&'a Value> {
        parts.iter().try_fold(value, |at, part| at.as_object()?.get(*part))
    }

    /// Sets (or removes) the value at `parts`, making the objects on the way; `false`
    /// where the path crosses something that is no object here.
    fn put(at: &mut Value, parts: &[&str], value: Option<&Value>) -> bool {
        let Some((first, rest)) = parts.split_first() else { return false };
        let Some(object) = at.as_object_mut() else { return false };
        if rest.is_empty() {
            match value {
                Some(value) => {
                    object.insert(first.to_string(), value.clone());
                }
                None => {
                    object.shift_remove(*first);
                }
            }
            return true;
        }
        if !object.contains_key(*first) {
            if value.is_none() {
                return true;
            }
            object.insert(first.to_string(), Value::Object(Default::default()));
        }
        match object.get_mut(*first) {
            Some(next) => put(next, rest, value),
            None => false,
        }
    }

    pub(super) fn apply(
        ours: &[u8],
        theirs: &[u8],
        take: &BTreeSet<String>,
    ) -> Result<Vec<u8>, MergeError> {
        let mut doc = parse(ours, "destination")?;
        let other = parse(theirs, "source")?;
        for key in take {
            let parts: Vec<&str> = key.split('.').collect();
            if !put(&mut doc, &parts, get(&other, &parts)) {
                return Err(MergeError::Parse {
                    side: "destination",
                    format: "json",
                    detail: format!("{key} lies inside an array or a value here"),
                });
            }
        }
        let mut text = serde_json::to_string_pretty(&doc).map_err(|e| MergeError::Parse {
            side: "destination",
            format: "json",
            detail: e.to_string(),
        })?;
        text.push('\n');
        Ok(text.into_bytes())
    }
}

mod ini {
    use std::collections::{BTreeMap, BTreeSet};

    use super::super::ini::{Line, parse, split, values};
    use super::MergeError;

    /// `ours` with `theirs`' value (or its absence) at each key of `take`, edited line
    /// by line: a changed value in place, a new key at the end of its section (or a new
    /// section at the end), a removed key's line dropped.
    pub(super) fn apply(
        ours: &[u8],
        theirs: &[u8],
        take: &BTreeSet<String>,
    ) -> Result<Vec<u8>, MergeError> {
        let ours_text = super::super::text(ours, "destination", "ini")?;
        let lines = parse(ours_text, "destination")?;
        let other = values(&parse(super::super::text(theirs, "source", "ini")?, "source")?);
        let wanted: BTreeMap<(String, String), Option<&str>> = take
            .iter()
            .map(|k| {
                let (section, key) = split(k);
                let id = (section.to_string(), key.to_string());
                let value = other.get(&id).copied();
                (id, value)
            })
            .collect();
        let mut out: Vec<String> = Vec::new();
        let mut placed: BTreeSet<(String, String)> = BTreeSet::new();
        let mut section = String::new();
        let mut ends: BTreeMap<String, usize> = BTreeMap::new();
        for line in &lines {
            match line {
                Line::Section(name) => {
                    section = (*name).to_string();
                    out.push(format!("[{name}]"));
                }
                Line::Pair { head, key, value } => {
                    let id = (section.clone(), (*key).to_string());
                    match wanted.get(&id) {
                        Some(Some(new)) => out.push(format!("{head}{new}")),
                        Some(None) => {}
                        None => out.push(format!("{head}{value}")),
                    }
                    placed.insert(id);
                }
                Line::Other(raw) => out.push((*raw).to_string()),
            }
            if !matches!(line, Line::Other(_)) {
                ends.insert(section.clone(), out.len());
            }
        }
        let mut added: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for ((section, key), value) in &wanted {
            if let (Some(value), false) = (value, placed.contains(&(section.clone(), key.clone())))
            {
                added.entry(section.clone()).or_default().push(format!("{key} = {value}"));
            }
        }
        // Into existing sections from the last one up, so earlier positions stay right.
        let mut existing: Vec<(usize, Vec<String>)> = Vec::new();
        let mut new_sections: Vec<(String, Vec<String>)> = Vec::new();
        for (section, keys) in added {
            match ends.get(&section) {
                Some(end) => existing.push((*end, keys)),
                None if section.is_empty() => existing.push((0, keys)),
                None => new_sections.push((section, keys)),
            }
        }
        existing.sort_by_key(|e| std::cmp::Reverse(e.0));
        for (end, keys) in existing {
            for (i, key) in keys.into_iter().enumerate() {
                out.insert(end + i, key);
            }
        }
        for (section, keys) in new_sections {
            if out.last().is_some_and(|l| !l.trim().is_empty()) {
                out.push(String::new());
            }
            out.push(format!("[{section}]"));
            out.extend(keys);
        }
        let mut merged = out.join("\n");
        if ours_text.ends_with('\n') || ours_text.is_empty() {
            merged.push('\n');
        }
        Ok(merged.into_bytes())
    }
}

mod records {
    use std::collections::{BTreeMap, BTreeSet};

    use super::{MergeError, Records};

    pub(super) fn name(format: Records) -> &'static str {
        match format {
            Records::Csv => "csv",
            Records::JsonLines => "json lines",
        }
    }

    /// A table read: its header (CSV), its records in order by key, and each record's
    /// text as written.
    pub(super) struct Table {
        pub(super) header: Option<String>,
        pub(super) order: Vec<String>,
        pub(super) rows: BTreeMap<String, String>,
    }

    pub(super) fn read(
        format: Records,
        key: &str,
        bytes: &[u8],
        side: &'static str,
    ) -> Result<Table, MergeError> {
        let text = super::super::text(bytes, side, name(format))?;
        let bad = |detail: String| MergeError::Parse { side, format: name(format), detail };
        let mut table = Table { header: None, order: Vec::new(), rows: BTreeMap::new() };
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let column = match format {
            Records::Csv => {
                let header = lines.next().ok_or_else(|| bad("no header line".into()))?;
                let names = fields(header);
                let at = names
                    .iter()
                    .position(|n| n == key)
                    .ok_or_else(|| bad(format!("no column {key:?}")))?;
                table.header = Some(header.to_string());
                Some(at)
            }
            Records::JsonLines => None,
        };
        for line in lines {
            let id = match column {
                Some(at) => fields(line)
                    .get(at)
                    .cloned()
                    .ok_or_else(|| bad(format!("a record without {key:?}: {line:?}")))?,
                None => {
                    let value: serde_json::Value =
                        serde_json::from_str(line).map_err(|e| bad(e.to_string()))?;
                    match value.get(key) {
                        Some(serde_json::Value::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                        None => return Err(bad(format!("a record without {key:?}: {line:?}"))),
                    }
                }
            };
            if table.rows.insert(id.clone(), line.to_string()).is_some() {
                return Err(bad(format!("two records with {key} = {id:?}")));
            }
            table.order.push(id);
        }
        Ok(table)
    }

    /// The fields of one CSV line, unquoted.
    fn fields(line: &str) -> Vec<String> {
        let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(line.as_bytes());
        reader
            .records()
            .next()
            .and_then(Result::ok)
            .map(|r| r.iter().map(str::to_string).collect())
            .unwrap_or_default()
    }

    /// `ours`' records in its order, with `theirs`' version (or its deletion) of each
    /// record of `take`, and the records only `theirs` has after them, in its order.
    pub(super) fn write(
        _format: Records,
        ours: &Table,
        theirs: &Table,
        take: &BTreeSet<String>,
    ) -> Vec<u8> {
        let mut out: Vec<&str> = Vec::new();
        if let Some(header) = &ours.header {
            out.push(header);
        }
        for id in &ours.order {
            let row = if take.contains(id) { theirs.rows.get(id) } else { ours.rows.get(id) };
            out.extend(row.map(String::as_str));
        }
        for id in
            theirs.order.iter().filter(|id| take.contains(*id) && !ours.rows.contains_key(*id))
        {
            out.extend(theirs.rows.get(id).map(String::as_str));
        }
        let mut text = out.join("\n");
        text.push('\n');
        text.into_bytes()
    }
}

#[cfg(test)]
mod tests;
