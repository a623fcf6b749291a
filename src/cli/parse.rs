//! Typed values from the command line, parsed once where clap reads them: durations,
//! category lists. A command receives them typed and never parses a string again.

use std::time::Duration;

use confsync_engine::category::{self, Category};

/// Reads `30s`, `5m`, `1h`, `1h30m`, `500ms` (humantime's units: ms, s, m, h, d and
/// their long forms); zero is refused, since it would mean syncing without pause.
pub fn duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let hint = "give a number and a unit, for example 30s, 5m, 1h or 1h30m";
    // Whole numbers only: "1.5h" reads differently to different people; "1h30m" does not.
    if text.contains(['.', ',']) {
        return Err(format!("{text:?} has a fraction; {hint}"));
    }
    match humantime::parse_duration(text) {
        Ok(d) if d.is_zero() => Err(format!("{text:?} is no time at all; {hint}")),
        Ok(d) => Ok(d),
        Err(e) => Err(format!("{text:?} is not a duration ({e}); {hint}")),
    }
}

/// `--only firmware,config`: the categories named, in order, each once; empty means all.
/// `licenses` is refused with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Categories(pub Vec<Category>);

impl Default for Categories {
    fn default() -> Self {
        Categories(Category::ALL.to_vec())
    }
}

impl std::ops::Deref for Categories {
    type Target = [Category];

    fn deref(&self) -> &[Category] {
        &self.0
    }
}

/// The value parser of `--only`.
pub fn categories(list: &str) -> Result<Categories, String> {
    category::parse_list(list).map(Categories).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_an_administrator_writes_them() {
        assert_eq!(duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(duration("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        for bad in ["", "30", "m", "5x", "0s", "-1s", "1.5h"] {
            let err = duration(bad).expect_err(bad);
            assert!(err.contains("30s, 5m"), "{bad}: {err}");
        }
    }

    #[test]
    fn categories_are_typed_once_and_licenses_refused() {
        assert_eq!(categories("").expect("all").0, Category::ALL.to_vec());
        assert_eq!(categories("config,firmware,config").expect("two").len(), 2);
        assert!(categories("licenses").expect_err("refused").contains("never synchronized"));
    }
}
