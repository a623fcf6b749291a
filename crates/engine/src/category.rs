//! The categories of a server's tree.
//!
//! Only the four synchronized categories are values of [`Category`]: `licenses` is bound
//! to each machine, so it has no variant and cannot reach a scan, a plan or an apply by
//! construction. Naming it is a parse error that explains why.

use std::fmt;
use std::str::FromStr;

/// A synchronized category. `licenses` is deliberately absent (see the module doc).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    Firmware,
    Capdb,
    Modules,
    Config,
}

/// The folder name of the category that is never synchronized.
pub const LICENSES: &str = "licenses";

/// Why licenses are refused, worded for an administrator.
pub const LICENSES_REFUSAL: &str = "licenses are bound to each machine and are never synchronized; \
     choose among firmware, capdb, modules, config";

impl Category {
    pub const ALL: [Category; 4] =
        [Category::Firmware, Category::Capdb, Category::Modules, Category::Config];

    /// The folder name under a `--root` and the name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Category::Firmware => "firmware",
            Category::Capdb => "capdb",
            Category::Modules => "modules",
            Category::Config => "config",
        }
    }

    /// The name an administrator reads in summaries.
    pub fn title(self) -> &'static str {
        match self {
            Category::Firmware => "Firmware",
            Category::Capdb => "Capability database",
            Category::Modules => "Modules",
            Category::Config => "Configuration",
        }
    }
}

impl fmt::Display for Category {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a category name was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CategoryError {
    #[error("{LICENSES_REFUSAL}")]
    Licenses,
    #[error("unknown category {0:?}; choose among firmware, capdb, modules, config")]
    Unknown(String),
}

impl FromStr for Category {
    type Err = CategoryError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        if lower == LICENSES || lower == "license" {
            return Err(CategoryError::Licenses);
        }
        Category::ALL
            .into_iter()
            .find(|c| c.name() == lower)
            .ok_or_else(|| CategoryError::Unknown(s.to_string()))
    }
}

/// Parses a comma-separated list such as `firmware,config`; empty means all.
pub fn parse_list(list: &str) -> Result<Vec<Category>, CategoryError> {
    let mut out: Vec<Category> = Vec::new();
    for part in list.split(',').filter(|p| !p.trim().is_empty()) {
        let category: Category = part.parse()?;
        if !out.contains(&category) {
            out.push(category);
        }
    }
    if out.is_empty() {
        out = Category::ALL.to_vec();
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn licenses_in_any_case_is_refused_with_the_reason() {
        for name in ["licenses", "LICENSES", "Licenses", " license "] {
            let err = name.parse::<Category>().expect_err(name);
            assert!(err.to_string().contains("never synchronized"), "{err}");
        }
        assert!(parse_list("firmware,licenses").is_err());
    }

    #[test]
    fn list_parsing_dedups_sorts_and_defaults_to_all() {
        assert_eq!(
            parse_list("config,firmware,config").expect("valid"),
            vec![Category::Firmware, Category::Config]
        );
        assert_eq!(parse_list("").expect("valid"), Category::ALL.to_vec());
        assert!(matches!(parse_list("kernel"), Err(CategoryError::Unknown(_))));
    }
}
