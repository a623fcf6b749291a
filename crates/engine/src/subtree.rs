//! Where a plan's entries are staged, and which arrive as whole subtrees.
//!
//! A folder the destination does not have (nor any folder above it in the plan) is a
//! *new subtree*: it is built whole under the generation's staging folder, as
//! `tree.<step>/…`, and the commit moves it into place with one rename (journaled and
//! undone like any other operation), so an initial sync of 100,000 files is not 100,000
//! renames. Large files inside one are the exception: they are staged on their own, under
//! their digest, so a cut transfer can resume them (see [`resume`](crate::resume)), and
//! put into the moved subtree one by one. Everything else is staged flat, under
//! [`staged_name`].

use std::collections::HashMap;

use crate::category::Category;
use crate::chunk::WHOLE_FILE_LIMIT;
use crate::entry::EntryKind;
use crate::path::RelPath;
use crate::plan::{Action, Plan, Step};
use crate::resume::staged_name;

/// The new subtrees of one plan, by root, with the step index that names each.
#[derive(Debug, Default)]
pub struct Subtrees {
    roots: HashMap<(Category, String), usize>,
}

/// Where one step's entry is staged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Staged {
    /// On its own, under this name; put into place by its own operation.
    Alone(String),
    /// Inside a new subtree, at this path under the staging folder; it arrives with it.
    InTree(String),
}

impl Staged {
    pub fn path(&self) -> &str {
        match self {
            Staged::Alone(name) | Staged::InTree(name) => name,
        }
    }
}

impl Subtrees {
    pub fn of(plan: &Plan) -> Subtrees {
        let new_dirs: std::collections::HashSet<(Category, &str)> = plan
            .steps()
            .filter(|(_, s)| s.action == Action::Create && s.kind() == EntryKind::Dir)
            .map(|(c, s)| (c, s.path.as_str()))
            .collect();
        let roots = plan
            .steps()
            .enumerate()
            .filter(|(_, (c, s))| {
                new_dirs.contains(&(*c, s.path.as_str()))
                    && !s.path.parent().is_some_and(|p| new_dirs.contains(&(*c, p.as_str())))
            })
            .map(|(i, (c, s))| ((c, s.path.as_str().to_string()), i))
            .collect();
        Subtrees { roots }
    }

    /// The staging name of the subtree rooted at `path`, when it is the root of one.
    pub fn root_name(&self, category: Category, path: &RelPath) -> Option<String> {
        self.roots.get(&(category, path.as_str().to_string())).map(|i| format!("tree.{i}"))
    }

    /// The subtree `path` is in or is the root of: its staging name and `path` within it.
    fn containing<'p>(
        &self,
        category: Category,
        path: &'p RelPath,
    ) -> Option<(String, Option<&'p str>)> {
        let text = path.as_str();
        if let Some(name) = self.root_name(category, path) {
            return Some((name, None));
        }
        text.match_indices('/').find_map(|(at, _)| {
            let index = self.roots.get(&(category, text[..at].to_string()))?;
            Some((format!("tree.{index}"), Some(&text[at + 1..])))
        })
    }

    /// Where the entry of step `index` (a file or symlink the plan brings) is staged.
    pub fn location(&self, index: usize, category: Category, step: &Step) -> Staged {
        let Some(entry) = step.source.as_ref() else {
            return Staged::Alone(String::new());
        };
        let alone = Staged::Alone(staged_name(index, &entry.digest));
        let large = entry.kind == EntryKind::File && entry.size > WHOLE_FILE_LIMIT;
        if step.action != Action::Create || large {
            return alone;
        }
        match self.containing(category, &step.path) {
            Some((tree, Some(inside))) => Staged::InTree(format!("{tree}/{inside}")),
            _ => alone,
        }
    }

    /// Whether the folder `path` is made by a subtree's move rather than on its own.
    pub fn makes(&self, category: Category, path: &RelPath) -> bool {
        self.containing(category, path).is_some()
    }

    /// The folders to create under the staging folder before staging, parents first.
    pub fn folders(&self, plan: &Plan) -> Vec<String> {
        let mut folders: Vec<String> = plan
            .steps()
            .filter(|(_, s)| s.action == Action::Create && s.kind() == EntryKind::Dir)
            .filter_map(|(c, s)| match self.containing(c, &s.path)? {
                (tree, None) => Some(tree),
                (tree, Some(inside)) => Some(format!("{tree}/{inside}")),
            })
            .collect();
        folders.sort();
        folders
    }
}
