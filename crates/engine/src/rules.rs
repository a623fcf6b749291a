//! Device-specific items: what belongs to one server and is never synchronized, beside
//! the licenses (which are no category at all and need no rule).
//!
//! - **Path rules** (`config/network/*.conf`, `config/**/hostname`): glob patterns, each
//!   prefixed by its category; a matching entry (or anything inside a matching folder) is
//!   never overwritten, deleted, or created on a destination that lacks it.
//! - **Key rules**: a shared structured file (TOML, JSON, INI or `key = value`) in which
//!   some keys are the server's own; the destination takes the source's file with its own
//!   values for those keys (see [`crate::merge`]).
//! - **Attribute rules** (`[[device_specific.attrs]]`): entries whose content is shared but
//!   whose owner (and group) or extended attributes (ACLs, SELinux labels) are the
//!   server's own: a sync carries the content and leaves those as they are.
//!
//! Rules come from both sides and are merged: the source's (the policy every destination
//! of that source applies) and the destination's own (extra items it keeps). A
//! destination can only add protection, never remove the source's. A rule can never name
//! licenses, the state folder, or anything outside a category: it only ever narrows what
//! is written.

use std::fmt;

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::category::{Category, LICENSES};
use crate::layout::STATE_DIR_NAME;
use crate::path::RelPath;

/// Where a rule was written.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// The source's agent.toml: the policy for all of its destinations.
    Source,
    /// The destination's own agent.toml.
    Destination,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Origin::Source => "source",
            Origin::Destination => "destination",
        })
    }
}

/// The structured formats key rules understand.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Toml,
    Json,
    /// INI sections, or plain `key = value` lines.
    Ini,
}

impl Format {
    pub fn name(self) -> &'static str {
        match self {
            Format::Toml => "toml",
            Format::Json => "json",
            Format::Ini => "ini",
        }
    }

    /// The format a file's name suggests.
    pub fn of(path: &str) -> Option<Format> {
        let ext = path.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase())?;
        match ext.as_str() {
            "toml" => Some(Format::Toml),
            "json" => Some(Format::Json),
            "ini" | "conf" | "cfg" | "cnf" | "properties" | "env" => Some(Format::Ini),
            _ => None,
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Format, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "toml" => Ok(Format::Toml),
            "json" => Ok(Format::Json),
            "ini" | "conf" | "kv" => Ok(Format::Ini),
            other => Err(format!("unknown format {other:?}; choose toml, json or ini")),
        }
    }
}

/// `[device_specific]` as written in agent.toml (and carried from a source in `Hello`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesFile {
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub keys: Vec<KeyRuleFile>,
    /// What of some entries' metadata stays the server's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attrs: Vec<AttrsRuleFile>,
}

/// `[[device_specific.attrs]]`: path patterns, as path rules are written, and what of the
/// matching entries' metadata each server keeps: `owner` (owner and group), `xattrs`
/// (extended attributes, ACLs and labels among them).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttrsRuleFile {
    pub paths: Vec<String>,
    pub keep: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRuleFile {
    pub path: String,
    pub keys: Vec<String>,
    /// Overrides the format the file's extension suggests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
}

/// One validated path rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathRule {
    /// As written, category prefix included (what plans show).
    pub pattern: String,
    pub category: Category,
    pub origin: Origin,
}

/// One validated key rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyRule {
    pub category: Category,
    pub path: RelPath,
    /// Dotted key paths: `table.key` (TOML, JSON), `section.key` (INI).
    pub keys: Vec<String>,
    pub format: Format,
    pub origin: Origin,
}

/// One validated attribute rule: a pattern and what it keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttrsRule {
    /// As written, category prefix included.
    pub pattern: String,
    pub category: Category,
    pub keep: crate::attrs::Mask,
    pub origin: Origin,
}

/// Why a rule was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("device-specific rule {rule:?} ({origin}): {reason}")]
pub struct RuleError {
    pub rule: String,
    pub origin: Origin,
    pub reason: String,
}

/// Every rule that applies to one destination, compiled for matching.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub paths: Vec<PathRule>,
    pub keys: Vec<KeyRule>,
    sets: Vec<(Category, GlobSet, Vec<usize>)>,
    pub attrs: Vec<AttrsRule>,
    attr_sets: Vec<(Category, GlobSet, Vec<usize>)>,
    /// What of the entries' attributes the destination leaves as they are.
    pub mask: crate::attrs::Mask,
    /// The agent's own user id where it cannot set owners (not root, no CAP_CHOWN): what
    /// it creates is owned by it.
    pub unprivileged: Option<u32>,
    /// The destination keeps symlinks confined (`symlinks = "confined"`): it writes none
    /// that leads out of its category.
    pub confined_symlinks: bool,
}

/// What a path rule matched: the rule, and whether it matched a folder above the entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match<'a> {
    pub rule: &'a PathRule,
}

impl Rules {
    /// The rules of one side, validated.
    pub fn parse(file: &RulesFile, origin: Origin) -> Result<Rules, RuleError> {
        let mut paths = Vec::new();
        for pattern in &file.paths {
            let (category, _) = split(pattern, origin)?;
            paths.push(PathRule { pattern: pattern.trim().to_string(), category, origin });
        }
        let mut keys = Vec::new();
        for rule in &file.keys {
            let (category, rest) = split(&rule.path, origin)?;
            let bad = |reason: String| RuleError { rule: rule.path.clone(), origin, reason };
            if rest.contains(['*', '?', '[', '{']) {
                return Err(bad(
                    "a key rule names one file; glob patterns are for path rules".into()
                ));
            }
            let path = RelPath::new(rest).map_err(|e| bad(e.to_string()))?;
            let format = match &rule.format {
                Some(f) => f.parse::<Format>().map_err(bad)?,
                None => Format::of(rest).ok_or_else(|| {
                    bad("the file's extension names no format; add format = \"toml\", \"json\" or \"ini\"".into())
                })?,
            };
            if rule.keys.is_empty() {
                return Err(bad("it names no keys".into()));
            }
            for key in &rule.keys {
                if key.trim().is_empty() || key.split('.').any(|part| part.trim().is_empty()) {
                    return Err(bad(format!("{key:?} is not a dotted key path (table.key)")));
                }
            }
            let keys_kept = rule.keys.iter().map(|k| k.trim().to_string()).collect();
            keys.push(KeyRule { category, path, keys: keys_kept, format, origin });
        }
        let mut attrs = Vec::new();
        for rule in &file.attrs {
            let written = rule.paths.join(", ");
            let bad = |reason: String| RuleError { rule: written.clone(), origin, reason };
            let mut keep = crate::attrs::Mask::default();
            for what in &rule.keep {
                match what.trim() {
                    "owner" => keep.owner = true,
                    "xattrs" => keep.xattrs = true,
                    other => {
                        return Err(bad(format!(
                            "keep = [{other:?}]: an attribute rule keeps \"owner\" (owner and \
                             group) or \"xattrs\" (extended attributes, ACLs, labels)"
                        )));
                    }
                }
            }
            if keep == crate::attrs::Mask::default() || rule.paths.is_empty() {
                return Err(bad(
                    "it keeps nothing: give paths and keep = [\"owner\", \"xattrs\"]".into()
                ));
            }
            for pattern in &rule.paths {
                let (category, _) = split(pattern, origin)?;
                attrs.push(AttrsRule {
                    pattern: pattern.trim().to_string(),
                    category,
                    keep,
                    origin,
                });
            }
        }
        let mut rules = Rules::compiled(paths, keys)?;
        rules.attr_sets = compile_attrs(&attrs)?;
        rules.attrs = attrs;
        Ok(rules)
    }

    /// The source's rules and the destination's together: every rule of both applies.
    pub fn combine(source: Rules, destination: Rules) -> Result<Rules, RuleError> {
        let (mask, unprivileged, confined) =
            (destination.mask, destination.unprivileged, destination.confined_symlinks);
        let mut attrs = source.attrs;
        attrs.extend(destination.attrs);
        let mut paths = source.paths;
        paths.extend(destination.paths);
        let mut keys = source.keys;
        for rule in destination.keys {
            // Keys of one file from both sides: both sets are kept.
            match keys.iter_mut().find(|k| k.category == rule.category && k.path == rule.path) {
                Some(existing) => {
                    for key in rule.keys {
                        if !existing.keys.contains(&key) {
                            existing.keys.push(key);
                        }
                    }
                }
                None => keys.push(rule),
            }
        }
        let mut combined = Rules::compiled(paths, keys)?;
        (combined.mask, combined.unprivileged) = (mask, unprivileged);
        combined.confined_symlinks = confined;
        combined.attr_sets = compile_attrs(&attrs)?;
        combined.attrs = attrs;
        Ok(combined)
    }

    /// These rules for a destination whose agent has `privileges`: what it cannot set is
    /// neither compared nor set, and the plan says so.
    pub fn for_agent(
        mut self,
        privileges: crate::attrs::Privileges,
        mask: crate::attrs::Mask,
    ) -> Rules {
        let cannot = privileges.mask();
        self.mask = crate::attrs::Mask {
            owner: mask.owner || cannot.owner,
            xattrs: mask.xattrs || cannot.xattrs,
        };
        self.unprivileged = (!privileges.chown).then(|| rustix::process::geteuid().as_raw());
        self
    }

    fn compiled(paths: Vec<PathRule>, keys: Vec<KeyRule>) -> Result<Rules, RuleError> {
        let patterns: Vec<(Category, &str, Origin)> =
            paths.iter().map(|r| (r.category, r.pattern.as_str(), r.origin)).collect();
        let sets = glob_sets(&patterns)?;
        Ok(Rules {
            paths,
            keys,
            sets,
            attrs: Vec::new(),
            attr_sets: Vec::new(),
            mask: Default::default(),
            unprivileged: None,
            confined_symlinks: false,
        })
    }

    /// What attribute rules keep of `category/path` (or of a folder above it).
    pub fn kept_attrs(&self, category: Category, path: &RelPath) -> crate::attrs::Mask {
        let mut keep = crate::attrs::Mask::default();
        let Some((_, set, index)) = self.attr_sets.iter().find(|(c, _, _)| *c == category) else {
            return keep;
        };
        let mut candidate = Some(path.clone());
        while let Some(p) = candidate {
            for i in set.matches(p.as_str()) {
                keep.union(self.attrs[index[i]].keep);
            }
            candidate = p.parent();
        }
        keep
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty() && self.keys.is_empty() && self.attrs.is_empty()
    }

    /// The path rule keeping `category/path`: one matching it or a folder above it.
    pub fn keeps(&self, category: Category, path: &RelPath) -> Option<Match<'_>> {
        let (_, set, index) = self.sets.iter().find(|(c, _, _)| *c == category)?;
        let mut candidate = Some(path.clone());
        while let Some(p) = candidate {
            if let Some(i) = set.matches(p.as_str()).first() {
                return Some(Match { rule: &self.paths[index[*i]] });
            }
            candidate = p.parent();
        }
        None
    }

    /// The key rule of `category/path`, if any.
    pub fn key_rule(&self, category: Category, path: &RelPath) -> Option<&KeyRule> {
        self.keys.iter().find(|k| k.category == category && &k.path == path)
    }

    /// Everything the rules say, in a stable order, for the plan's digest: a rule edited
    /// after the preview changes the digest.
    pub fn fingerprint(&self) -> String {
        let mut lines: Vec<String> = self
            .paths
            .iter()
            .map(|r| format!("path {} {}", r.origin, r.pattern))
            .chain(self.keys.iter().map(|k| {
                format!(
                    "keys {} {}/{} {} {}",
                    k.origin,
                    k.category,
                    k.path,
                    k.format.name(),
                    k.keys.join(",")
                )
            }))
            .collect();
        for rule in &self.attrs {
            lines.push(format!(
                "attrs {} {} owner={} xattrs={}",
                rule.origin, rule.pattern, rule.keep.owner, rule.keep.xattrs
            ));
        }
        if self.mask != crate::attrs::Mask::default() {
            lines.push(format!("mask owner={} xattrs={}", self.mask.owner, self.mask.xattrs));
        }
        lines.sort();
        lines.join("\n")
    }

    /// The rules of one side as written, for `Hello`.
    pub fn file(&self, origin: Origin) -> RulesFile {
        let attrs = self
            .attrs
            .iter()
            .filter(|r| r.origin == origin)
            .map(|r| AttrsRuleFile {
                paths: vec![r.pattern.clone()],
                keep: [("owner", r.keep.owner), ("xattrs", r.keep.xattrs)]
                    .into_iter()
                    .filter(|(_, on)| *on)
                    .map(|(name, _)| name.to_string())
                    .collect(),
            })
            .collect();
        RulesFile {
            attrs,
            paths: self
                .paths
                .iter()
                .filter(|r| r.origin == origin)
                .map(|r| r.pattern.clone())
                .collect(),
            keys: self
                .keys
                .iter()
                .filter(|k| k.origin == origin)
                .map(|k| KeyRuleFile {
                    path: format!("{}/{}", k.category, k.path),
                    keys: k.keys.clone(),
                    format: Some(k.format.name().to_string()),
                })
                .collect(),
        }
    }
}

/// One glob set per category over the attribute rules' patterns.
fn compile_attrs(rules: &[AttrsRule]) -> Result<Vec<(Category, GlobSet, Vec<usize>)>, RuleError> {
    let patterns: Vec<(Category, &str, Origin)> =
        rules.iter().map(|r| (r.category, r.pattern.as_str(), r.origin)).collect();
    glob_sets(&patterns)
}

/// One glob set per category over `patterns` (as written, category prefix included), with
/// the index in `patterns` of each glob of a set.
fn glob_sets(
    patterns: &[(Category, &str, Origin)],
) -> Result<Vec<(Category, GlobSet, Vec<usize>)>, RuleError> {
    let mut sets = Vec::new();
    for category in Category::ALL {
        let mut builder = GlobSetBuilder::new();
        let mut index = Vec::new();
        for (i, (_, pattern, origin)) in
            patterns.iter().enumerate().filter(|(_, (c, _, _))| *c == category)
        {
            let (_, rest) = split(pattern, *origin)?;
            let glob = Glob::new(rest).map_err(|e| RuleError {
                rule: pattern.to_string(),
                origin: *origin,
                reason: format!("not a glob pattern: {e}"),
            })?;
            builder.add(glob);
            index.push(i);
        }
        if !index.is_empty() {
            let set = builder.build().map_err(|e| RuleError {
                rule: category.name().into(),
                origin: Origin::Destination,
                reason: e.to_string(),
            })?;
            sets.push((category, set, index));
        }
    }
    Ok(sets)
}

/// `config/network/*.conf` → (config, `network/*.conf`), refusing what would reach
/// outside a category.
fn split(pattern: &str, origin: Origin) -> Result<(Category, &str), RuleError> {
    let bad =
        |reason: &str| RuleError { rule: pattern.to_string(), origin, reason: reason.to_string() };
    let pattern = pattern.trim();
    if pattern.starts_with('/') {
        return Err(bad("rules are relative to a category (config/..., not an absolute path)"));
    }
    let (first, rest) = pattern.split_once('/').ok_or_else(|| {
        bad("start with a category and a slash, for example config/network/*.conf")
    })?;
    if first == LICENSES || first.eq_ignore_ascii_case("license") {
        return Err(bad("licenses are bound to each machine already; no rule can name them"));
    }
    let category: Category = first
        .parse()
        .map_err(|_| bad("start with a category: firmware/, capdb/, modules/ or config/"))?;
    if rest.is_empty() {
        return Err(bad("name something inside the category"));
    }
    for segment in rest.split('/') {
        if segment == ".." || segment == "." {
            return Err(bad("'.' and '..' are not allowed: a rule stays inside its category"));
        }
        if segment == STATE_DIR_NAME {
            return Err(bad("the agent's state folder is no synchronized entry"));
        }
        if segment.is_empty() {
            return Err(bad("an empty segment (//) is not allowed"));
        }
    }
    if rest.contains('\0') || rest.contains('\\') {
        return Err(bad("NUL and backslash are not allowed"));
    }
    Ok((category, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(paths: &[&str]) -> Rules {
        let file = RulesFile {
            paths: paths.iter().map(|p| p.to_string()).collect(),
            ..RulesFile::default()
        };
        Rules::parse(&file, Origin::Destination).expect("valid rules")
    }

    #[test]
    fn paths_match_in_their_category_and_below_a_matching_folder() {
        let r = rules(&[
            "config/network/*.conf",
            "config/**/hostname",
            "capdb/local-*.csv",
            "config/certs",
        ]);
        let p = |s: &str| RelPath::new(s).expect("valid");
        assert!(r.keeps(Category::Config, &p("network/eth0.conf")).is_some());
        assert!(r.keeps(Category::Config, &p("a/b/hostname")).is_some());
        assert!(r.keeps(Category::Config, &p("hostname")).is_some());
        assert!(r.keeps(Category::Config, &p("certs/site.pem")).is_some(), "inside a kept folder");
        assert!(r.keeps(Category::Capdb, &p("local-x.csv")).is_some());
        assert!(r.keeps(Category::Config, &p("network/eth0.conf.bak")).is_none());
        assert!(r.keeps(Category::Firmware, &p("network/eth0.conf")).is_none(), "another category");
    }

    #[test]
    fn rules_that_would_reach_outside_are_refused() {
        for bad in [
            "../x",
            "/etc/*",
            "licenses/*.lic",
            "config/../licenses/a",
            "config/.confsync/index.json",
            "kernel/x",
            "config",
            "config//a",
        ] {
            let file = RulesFile { paths: vec![bad.into()], ..RulesFile::default() };
            let err = Rules::parse(&file, Origin::Source).expect_err(bad);
            assert!(err.to_string().contains(bad), "{err}");
        }
        let key = |path: &str| RulesFile {
            paths: vec![],
            keys: vec![KeyRuleFile { path: path.into(), keys: vec!["a.b".into()], format: None }],
            attrs: vec![],
        };
        assert!(Rules::parse(&key("licenses/site.toml"), Origin::Source).is_err());
        assert!(Rules::parse(&key("config/x.unknown"), Origin::Source).is_err());
        assert!(Rules::parse(&key("config/*.toml"), Origin::Source).is_err());
        assert!(Rules::parse(&key("config/server.toml"), Origin::Source).is_ok());
    }

    #[test]
    fn a_destination_adds_to_the_sources_rules_and_cannot_remove_them() {
        let source = Rules::parse(
            &RulesFile {
                paths: vec!["config/hostname".into()],
                keys: vec![KeyRuleFile {
                    path: "config/server.toml".into(),
                    keys: vec!["server.name".into()],
                    format: None,
                }],
                attrs: vec![AttrsRuleFile {
                    paths: vec!["config/ssl/**".into()],
                    keep: vec!["owner".into()],
                }],
            },
            Origin::Source,
        )
        .expect("valid");
        let destination = Rules::parse(
            &RulesFile {
                paths: vec!["config/local/*".into()],
                keys: vec![KeyRuleFile {
                    path: "config/server.toml".into(),
                    keys: vec!["network.address".into()],
                    format: None,
                }],
                attrs: vec![AttrsRuleFile {
                    paths: vec!["config/ssl/private/*".into()],
                    keep: vec!["xattrs".into()],
                }],
            },
            Origin::Destination,
        )
        .expect("valid");
        let all = Rules::combine(source, destination).expect("combined");
        let p = |s: &str| RelPath::new(s).expect("valid");
        // Attribute rules of both sides add up, for the path or a folder above it.
        let kept = all.kept_attrs(Category::Config, &p("ssl/private/key.pem"));
        assert_eq!(kept, crate::attrs::Mask { owner: true, xattrs: true });
        assert_eq!(all.kept_attrs(Category::Config, &p("app.conf")), crate::attrs::Mask::default());
        let bad = RulesFile {
            attrs: vec![AttrsRuleFile {
                paths: vec!["config/x".into()],
                keep: vec!["mode".into()],
            }],
            ..RulesFile::default()
        };
        let err = Rules::parse(&bad, Origin::Destination).expect_err("keeps an unknown part");
        assert!(err.to_string().contains("\"owner\""), "{err}");
        assert_eq!(
            all.keeps(Category::Config, &p("hostname")).map(|m| m.rule.origin),
            Some(Origin::Source)
        );
        assert_eq!(
            all.keeps(Category::Config, &p("local/x")).map(|m| m.rule.origin),
            Some(Origin::Destination)
        );
        let keys = &all.key_rule(Category::Config, &p("server.toml")).expect("a key rule").keys;
        assert_eq!(keys, &["server.name", "network.address"]);
    }
}
