//! Where one server keeps each category, its licenses and its own state.
//!
//! The state directory (`.confsync/` by default) holds the hash index, staging, the
//! journal and the kept generations. It must sit on the same filesystem as every category
//! root, so that committing a staged file is a rename, never a copy.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::Dir;

use crate::category::{Category, LICENSES};
use crate::error::{EngineError, Result};

/// The name of the state directory under a `--root`.
pub const STATE_DIR_NAME: &str = ".confsync";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    roots: BTreeMap<Category, PathBuf>,
    licenses: PathBuf,
    state_dir: PathBuf,
}

impl Layout {
    /// The built-in layout: `root/{firmware,capdb,modules,config,licenses}` and
    /// `root/.confsync`.
    pub fn under_root(root: &Path) -> Layout {
        Layout {
            roots: Category::ALL.into_iter().map(|c| (c, root.join(c.name()))).collect(),
            licenses: root.join(LICENSES),
            state_dir: root.join(STATE_DIR_NAME),
        }
    }

    /// A layout with every path given explicitly (from `agent.toml`).
    pub fn explicit(
        roots: BTreeMap<Category, PathBuf>,
        licenses: PathBuf,
        state_dir: PathBuf,
    ) -> Result<Layout> {
        for category in Category::ALL {
            if !roots.contains_key(&category) {
                return Err(EngineError::Config(format!("no path is set for category {category}")));
            }
        }
        Ok(Layout { roots, licenses, state_dir })
    }

    pub fn root(&self, category: Category) -> &Path {
        // Every category has a root: both constructors guarantee it.
        self.roots.get(&category).map_or(self.state_dir.as_path(), PathBuf::as_path)
    }

    pub fn licenses(&self) -> &Path {
        &self.licenses
    }

    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    pub fn index_path(&self) -> PathBuf {
        self.state_dir.join("index.json")
    }

    pub fn staging_dir(&self) -> PathBuf {
        self.state_dir.join("staging")
    }

    pub fn generations_dir(&self) -> PathBuf {
        self.state_dir.join("generations")
    }

    pub fn journal_path(&self) -> PathBuf {
        self.state_dir.join("journal.json")
    }

    /// Opens a category root, or `None` when the folder does not exist (an empty category).
    pub fn open_category(&self, category: Category) -> Result<Option<Dir>> {
        let root = self.root(category);
        match Dir::open_ambient_dir(root, ambient_authority()) {
            Ok(dir) => Ok(Some(dir)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(EngineError::io("open category folder", root)(e)),
        }
    }

    /// Opens a category root, creating it first when missing.
    pub fn create_category(&self, category: Category) -> Result<Dir> {
        let root = self.root(category);
        std::fs::create_dir_all(root).map_err(EngineError::io("create category folder", root))?;
        Dir::open_ambient_dir(root, ambient_authority())
            .map_err(EngineError::io("open category folder", root))
    }

    /// Creates the state directory and checks the layout is sound: no category inside
    /// another or inside the state directory, licenses apart from every category, and the
    /// state directory on the filesystem of each existing category root.
    pub fn prepare(&self) -> Result<()> {
        std::fs::create_dir_all(&self.state_dir)
            .map_err(EngineError::io("create state folder", &self.state_dir))?;
        let state = absolute(&self.state_dir);
        let licenses = absolute(&self.licenses);
        let state_dev = std::fs::metadata(&self.state_dir)
            .map_err(EngineError::io("inspect state folder", &self.state_dir))?
            .dev();
        for (category, root) in &self.roots {
            let root_abs = absolute(root);
            if overlaps(&root_abs, &state) {
                return Err(EngineError::Config(format!(
                    "category {category} at {} overlaps the state folder {}; give them separate folders",
                    root.display(),
                    self.state_dir.display()
                )));
            }
            if overlaps(&root_abs, &licenses) {
                return Err(EngineError::Config(format!(
                    "category {category} at {} overlaps the licenses folder {}; licenses must stay apart",
                    root.display(),
                    self.licenses.display()
                )));
            }
            for (other, other_root) in &self.roots {
                if other != category && overlaps(&root_abs, &absolute(other_root)) {
                    return Err(EngineError::Config(format!(
                        "categories {category} and {other} overlap ({} and {})",
                        root.display(),
                        other_root.display()
                    )));
                }
            }
            if let Ok(meta) = std::fs::metadata(root)
                && meta.dev() != state_dev
            {
                return Err(EngineError::Config(format!(
                    "category {category} at {} is on another filesystem than the state folder {}; \
                     set state_dir in agent.toml to a folder on the same filesystem",
                    root.display(),
                    self.state_dir.display()
                )));
            }
        }
        Ok(())
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

fn overlaps(a: &Path, b: &Path) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_layouts_are_refused() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let mut roots: BTreeMap<Category, PathBuf> =
            Category::ALL.into_iter().map(|c| (c, tmp.path().join(c.name()))).collect();
        roots.insert(Category::Config, tmp.path().join("licenses/config"));
        let layout = Layout::explicit(roots, tmp.path().join("licenses"), tmp.path().join("state"))
            .expect("complete");
        let err = layout.prepare().expect_err("overlap");
        assert!(err.to_string().contains("licenses"), "{err}");
        Layout::under_root(tmp.path()).prepare().expect("built-in layout is sound");
    }
}
