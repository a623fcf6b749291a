//! Effect notices: what a change means for the server that receives it. The destination's
//! administrator says, per category or per path pattern, when a change there takes effect
//! ("after the next startup", "immediately"); every plan and every apply that changes
//! something there says so, per destination, and history keeps it:
//!
//! > New firmware was deployed to backup-1. It becomes effective after the next startup.
//!
//! The rules are the destination's own (its `agent.toml`): the same firmware can take
//! effect differently on two servers.

use crate::category::Category;
use crate::entry::EntryKind;
use crate::plan::Plan;
use crate::scope::Scope;

/// One `[[effect]]` of `agent.toml`: a category or path patterns, and when a change there
/// becomes effective.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EffectFile {
    /// A whole category: `firmware`, `capdb`, `modules` or `config`.
    pub category: Option<String>,
    /// Path patterns in `category/glob` form, as device-specific paths are written.
    #[serde(default)]
    pub paths: Vec<String>,
    /// Completes "It becomes effective …": `after the next startup`, `immediately`.
    pub effective: String,
}

/// What one plan or apply means for its destination.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Notice {
    pub category: Category,
    /// The rule's patterns when it names paths rather than the whole category.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paths: Option<String>,
    /// Completes "It becomes effective …".
    pub effective: String,
    /// Files (and symlinks) the change touches under the rule.
    pub files: u64,
}

impl Notice {
    /// What is deployed: "New firmware", "New configuration (config/network/*.conf)".
    pub fn subject(&self) -> String {
        let what = match self.category {
            Category::Firmware => "New firmware",
            Category::Capdb => "A new capability database",
            Category::Modules => "New modules",
            Category::Config => "New configuration",
        };
        match &self.paths {
            Some(paths) => format!("{what} ({paths})"),
            None => what.to_string(),
        }
    }

    /// After the apply: "New firmware was deployed to backup-1. It becomes effective after
    /// the next startup."
    pub fn deployed(&self, server: &str) -> String {
        format!(
            "{} was deployed to {server}. It becomes effective {}.",
            self.subject(),
            self.effective.trim_end_matches('.')
        )
    }

    /// Before it: "New firmware for backup-1 becomes effective after the next startup."
    pub fn pending(&self, server: &str) -> String {
        format!(
            "{} for {server} becomes effective {}.",
            self.subject(),
            self.effective.trim_end_matches('.')
        )
    }
}

/// A rule that does not make sense, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[[effect]] {rule}: {reason}")]
pub struct EffectError {
    pub rule: String,
    pub reason: String,
}

/// The destination's effect rules, checked and compiled.
#[derive(Debug, Clone, Default)]
pub struct Effects {
    rules: Vec<Rule>,
}

#[derive(Debug, Clone)]
struct Rule {
    scope: Scope,
    /// The rule names paths, not a whole category: notices say which.
    names_paths: bool,
    effective: String,
}

impl Effects {
    pub fn parse(files: &[EffectFile]) -> Result<Effects, EffectError> {
        let mut rules = Vec::new();
        for file in files {
            let name = file
                .category
                .clone()
                .unwrap_or_else(|| file.paths.first().cloned().unwrap_or_default());
            let bad = |reason: String| EffectError { rule: name.clone(), reason };
            if file.effective.trim().is_empty() {
                return Err(bad("effective is empty; say when a change takes effect, for example \"after the next startup\"".into()));
            }
            if file.category.is_some() != file.paths.is_empty() {
                return Err(bad("give either category or paths, not both and not neither".into()));
            }
            let scope = Scope::parse(file.category.as_deref(), &file.paths).map_err(bad)?;
            rules.push(Rule {
                scope,
                names_paths: file.category.is_none(),
                effective: file.effective.trim().to_string(),
            });
        }
        Ok(Effects { rules })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The notices `plan` earns here: one per rule and category whose scope it changes,
    /// in rule order.
    pub fn notices(&self, plan: &Plan) -> Vec<Notice> {
        let mut out = Vec::new();
        for rule in &self.rules {
            for category in rule.scope.categories() {
                let Some(category_plan) = plan.categories.iter().find(|c| c.category == category)
                else {
                    continue;
                };
                let files = category_plan
                    .steps
                    .iter()
                    .filter(|s| s.kind() != EntryKind::Dir && rule.scope.matches(category, &s.path))
                    .count() as u64;
                if files > 0 {
                    out.push(Notice {
                        category,
                        paths: rule.names_paths.then(|| rule.scope.describe().to_string()),
                        effective: rule.effective.clone(),
                        files,
                    });
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::{Digest, Entry};
    use crate::manifest::{CategoryManifest, Manifest};
    use crate::path::RelPath;
    use crate::plan::{Guards, plan_with};
    use crate::rules::Rules;

    fn file(path: &str) -> Entry {
        Entry {
            path: RelPath::new(path).expect("valid"),
            kind: EntryKind::File,
            size: 1,
            mode: 0o644,
            mtime_ns: 0,
            digest: Digest::of(path.as_bytes()),
            symlink_target: None,
            attrs: None,
            hardlink: None,
        }
    }

    fn manifest(entries: &[(Category, &str)]) -> Manifest {
        let mut m = Manifest::default();
        for category in Category::ALL {
            let files = entries.iter().filter(|(c, _)| *c == category).map(|(_, p)| file(p));
            m.insert(CategoryManifest::new(category, files.collect()));
        }
        m
    }

    #[test]
    fn a_plan_earns_the_notices_of_the_scopes_it_changes() {
        let effects = Effects::parse(&[
            EffectFile {
                category: Some("firmware".into()),
                effective: "after the next startup".into(),
                ..EffectFile::default()
            },
            EffectFile {
                paths: vec!["config/network/*.conf".into()],
                effective: "immediately".into(),
                ..EffectFile::default()
            },
            EffectFile {
                category: Some("modules".into()),
                effective: "after a reboot".into(),
                ..EffectFile::default()
            },
        ])
        .expect("valid");
        let source = manifest(&[
            (Category::Firmware, "tc.img"),
            (Category::Config, "network/eth0.conf"),
            (Category::Config, "other.conf"),
        ]);
        let plan = plan_with(&source, &Manifest::default(), &Guards::default(), &Rules::default());
        let notices = effects.notices(&plan);
        assert_eq!(notices.len(), 2, "{notices:?}");
        assert_eq!(
            notices[0].deployed("backup-1"),
            "New firmware was deployed to backup-1. It becomes effective after the next startup."
        );
        assert_eq!(
            notices[1].pending("backup-1"),
            "New configuration (config/network/*.conf) for backup-1 becomes effective immediately."
        );
        assert_eq!(notices[1].files, 1);
    }

    #[test]
    fn bad_rules_are_named() {
        let parse = |f: EffectFile| Effects::parse(&[f]).expect_err("invalid").to_string();
        let empty = parse(EffectFile { category: Some("firmware".into()), ..Default::default() });
        assert!(empty.contains("effective is empty"), "{empty}");
        let both = parse(EffectFile {
            category: Some("firmware".into()),
            paths: vec!["config/a".into()],
            effective: "now".into(),
        });
        assert!(both.contains("either category or paths"), "{both}");
        let licenses = parse(EffectFile {
            paths: vec!["licenses/x".into()],
            effective: "now".into(),
            ..Default::default()
        });
        assert!(licenses.contains("licenses/x"), "{licenses}");
    }
}
