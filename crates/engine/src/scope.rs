//! What a rule of `agent.toml` is about: a whole category, path patterns inside
//! categories (`config/network/*.conf`, written as device-specific paths are), or, when it
//! names neither, every category.

use globset::{Glob, GlobSet, GlobSetBuilder};

use crate::category::Category;
use crate::entry::EntryKind;
use crate::path::RelPath;
use crate::plan::Plan;

#[derive(Debug, Clone)]
pub struct Scope {
    /// Empty: everything.
    parts: Vec<(Category, Option<GlobSet>)>,
    described: String,
}

impl Scope {
    /// `category` (a category's name) or `paths` (`category/glob` patterns), not both;
    /// neither is everything.
    pub fn parse(category: Option<&str>, paths: &[String]) -> Result<Scope, String> {
        match (category, paths.is_empty()) {
            (None, true) => Ok(Scope { parts: Vec::new(), described: "every category".into() }),
            (Some(name), true) => {
                let category = name.parse::<Category>().map_err(|_| {
                    format!("category {name:?} is none of firmware, capdb, modules and config")
                })?;
                Ok(Scope { parts: vec![(category, None)], described: category.name().into() })
            }
            (None, false) => {
                let mut builders: Vec<(Category, GlobSetBuilder)> = Vec::new();
                for pattern in paths {
                    let (category, rest) =
                        split(pattern).map_err(|r| format!("{pattern:?}: {r}"))?;
                    let glob = Glob::new(rest)
                        .map_err(|e| format!("{pattern:?} is not a glob pattern: {e}"))?;
                    match builders.iter_mut().find(|(c, _)| *c == category) {
                        Some((_, builder)) => {
                            builder.add(glob);
                        }
                        None => {
                            let mut builder = GlobSetBuilder::new();
                            builder.add(glob);
                            builders.push((category, builder));
                        }
                    }
                }
                let mut parts = Vec::new();
                for (category, builder) in builders {
                    parts.push((category, Some(builder.build().map_err(|e| e.to_string())?)));
                }
                let described = paths.iter().map(|p| p.trim()).collect::<Vec<_>>().join(", ");
                Ok(Scope { parts, described })
            }
            (Some(_), false) => Err("give category or paths, not both".into()),
        }
    }

    pub fn matches(&self, category: Category, path: &RelPath) -> bool {
        self.parts.is_empty()
            || self.parts.iter().any(|(c, set)| {
                *c == category && set.as_ref().is_none_or(|s| s.is_match(path.as_str()))
            })
    }

    /// The files and symlinks `plan` changes in this scope, as `category/path`.
    pub fn changed(&self, plan: &Plan) -> Vec<String> {
        plan.steps()
            .filter(|(c, s)| s.kind() != EntryKind::Dir && self.matches(*c, &s.path))
            .map(|(c, s)| format!("{c}/{}", s.path))
            .collect()
    }

    /// The categories it can match.
    pub fn categories(&self) -> Vec<Category> {
        if self.parts.is_empty() {
            return Category::ALL.to_vec();
        }
        self.parts.iter().map(|(c, _)| *c).collect()
    }

    /// As the rule wrote it: `config`, `config/network/*.conf`, `every category`.
    pub fn describe(&self) -> &str {
        &self.described
    }
}

/// `config/network/*.conf` → (config, `network/*.conf`).
fn split(pattern: &str) -> Result<(Category, &str), &'static str> {
    let (first, rest) = pattern
        .trim()
        .split_once('/')
        .ok_or("start with a category and a slash, for example config/network/*.conf")?;
    let category = first
        .parse::<Category>()
        .map_err(|_| "start with firmware/, capdb/, modules/ or config/")?;
    if rest.is_empty() {
        return Err("name something inside the category");
    }
    Ok((category, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_is_a_category_patterns_or_everything() {
        let path = |p: &str| RelPath::new(p).expect("valid");
        let all = Scope::parse(None, &[]).expect("valid");
        assert!(all.matches(Category::Firmware, &path("a.img")));
        let config = Scope::parse(Some("config"), &[]).expect("valid");
        assert!(config.matches(Category::Config, &path("x/y.conf")));
        assert!(!config.matches(Category::Modules, &path("x/y.conf")));
        let net = Scope::parse(None, &["config/network/*.conf".into()]).expect("valid");
        assert!(net.matches(Category::Config, &path("network/eth0.conf")));
        assert!(!net.matches(Category::Config, &path("app.conf")));
        assert!(Scope::parse(None, &["licenses/a".into()]).is_err());
        assert!(Scope::parse(Some("config"), &["config/a".into()]).is_err());
    }
}
