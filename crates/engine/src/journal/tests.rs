//! Crash at every point of a commit, recover, and check the tree is exactly as before;
//! let the commit run through, and check it is exactly the source.

use std::collections::BTreeMap;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::Path;

use super::*;
use crate::apply::commit_ops;
use crate::live::{DEFAULT_RESCAN_EVERY, LiveTree};
use crate::plan::{Action, Guards, plan};
use crate::subtree::Subtrees;

fn write(root: &Path, rel: &str, bytes: &[u8], mode: u32) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
    std::fs::write(&path, bytes).expect("write");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Source and destination differing in every way a plan knows.
fn trees(tmp: &Path) -> (Layout, Layout) {
    let (src, dst) = (tmp.join("src"), tmp.join("dst"));
    write(&src, "config/same", b"same", 0o644);
    write(&dst, "config/same", b"same", 0o644);
    write(&src, "config/changed", b"new", 0o644);
    write(&dst, "config/changed", b"old", 0o644);
    write(&src, "config/mode", b"m", 0o700);
    write(&dst, "config/mode", b"m", 0o644);
    write(&src, "config/new/deep/file", b"fresh", 0o600);
    write(&dst, "config/gone/inner", b"bye", 0o644);
    write(&dst, "config/kind", b"a file that becomes a folder", 0o644);
    write(&src, "config/kind/child", b"child", 0o644);
    symlink("same", src.join("config/link")).expect("symlink");
    symlink("changed", dst.join("config/link")).expect("symlink");
    write(&dst, "licenses/mine.lic", b"destination license", 0o600);
    (Layout::under_root(&src), Layout::under_root(&dst))
}

fn snapshot(root: &Path) -> BTreeMap<String, String> {
    walkdir::WalkDir::new(root)
        .min_depth(1)
        .into_iter()
        .map(|e| e.expect("walk"))
        .filter(|e| !e.path().starts_with(root.join(".confsync")))
        .map(|e| {
            let rel = e.path().strip_prefix(root).expect("inside").display().to_string();
            let meta = e.path().symlink_metadata().expect("stat");
            let what = if meta.is_symlink() {
                format!("link {}", std::fs::read_link(e.path()).expect("readlink").display())
            } else if meta.is_dir() {
                format!("dir {:o}", meta.permissions().mode() & 0o7777)
            } else {
                let content = std::fs::read(e.path()).expect("read");
                format!(
                    "file {:o} {}",
                    meta.permissions().mode() & 0o7777,
                    String::from_utf8_lossy(&content)
                )
            };
            (rel, what)
        })
        .collect()
}

/// Plans, stages (by copying from the source, as a transfer would) and writes the journal.
fn prepare(src: &Layout, dst: &Layout) -> Journal {
    dst.prepare().expect("layout");
    let categories = [Category::Config];
    let source = LiveTree::new(src.clone(), DEFAULT_RESCAN_EVERY).scan(&categories).expect("scan");
    let destination =
        LiveTree::new(dst.clone(), DEFAULT_RESCAN_EVERY).scan(&categories).expect("scan");
    let plan = plan(&source, &destination, &Guards::default());
    let staging = staging_dir(dst, 1);
    std::fs::create_dir_all(&staging).expect("staging");
    // New folders are staged whole, as the apply stages them (see `subtree`).
    let subtrees = Subtrees::of(&plan);
    for folder in subtrees.folders(&plan) {
        std::fs::create_dir_all(staging.join(folder)).expect("staging folder");
    }
    for (i, (category, step)) in plan.steps().enumerate() {
        let Some(entry) = step
            .source
            .as_ref()
            .filter(|_| matches!(step.action, Action::Create | Action::Overwrite))
        else {
            continue;
        };
        let from = src.root(category).join(&entry.path);
        let staged = staging.join(subtrees.location(i, category, step).path());
        match entry.kind {
            crate::EntryKind::File => {
                std::fs::copy(&from, &staged).expect("stage");
            }
            crate::EntryKind::Symlink => {
                symlink(std::fs::read_link(&from).expect("readlink"), &staged).expect("stage");
            }
            crate::EntryKind::Dir => {}
        }
    }
    let record = GenerationRecord {
        id: 1,
        started_at: 0,
        source: "test".into(),
        requested_by: "test".into(),
        categories: categories.to_vec(),
        files_changed: 0,
        bytes_received: 0,
        bytes_written: 0,
        rollback_of: None,
        notices: Vec::new(),
    };
    let journal = Journal {
        state: JournalState::Committing,
        record,
        ops: commit_ops(&plan, &Default::default()),
        changes: Vec::new(),
    };
    journal.write(dst).expect("journal");
    journal
}

#[test]
fn a_crash_anywhere_in_a_commit_is_undone_at_start() {
    let probe = tempfile::tempdir().expect("tempdir");
    let (src, dst) = trees(probe.path());
    let ops = prepare(&src, &dst).ops;
    let op_count = ops.len();
    assert!(op_count >= 8, "the plan should exercise every kind of operation, has {op_count}");
    assert!(
        ops.iter().any(|op| matches!(op, Op::PutTree { .. })),
        "the new folders arrive as subtrees: {ops:?}"
    );
    crash_after_every_operation(trees);
}

#[test]
fn a_crash_anywhere_in_a_commit_with_a_large_file_in_a_new_folder_is_undone_at_start() {
    // A large file is staged on its own (resumable) and put into its moved subtree.
    let with_large = |tmp: &Path| {
        let (src, dst) = trees(tmp);
        let big = vec![7u8; crate::chunk::WHOLE_FILE_LIMIT as usize + 1];
        write(src.root(Category::Config), "new/deep/big.img", &big, 0o644);
        (src, dst)
    };
    let probe = tempfile::tempdir().expect("tempdir");
    let (src, dst) = with_large(probe.path());
    let ops = prepare(&src, &dst).ops;
    let tree_then_put = ops
        .iter()
        .position(|op| matches!(op, Op::PutTree { path, .. } if path.as_str() == "new"))
        .zip(ops.iter().position(
            |op| matches!(op, Op::Put { path, .. } if path.as_str() == "new/deep/big.img"),
        ));
    assert!(tree_then_put.is_some_and(|(tree, put)| tree < put), "{ops:?}");
    crash_after_every_operation(with_large);
}

fn crash_after_every_operation(trees: impl Fn(&Path) -> (Layout, Layout)) {
    let probe = tempfile::tempdir().expect("tempdir");
    let (src, dst) = trees(probe.path());
    let op_count = prepare(&src, &dst).ops.len();
    for crash_after in 0..=op_count {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (src, dst) = trees(tmp.path());
        let root = tmp.path().join("dst");
        let before = snapshot(&root);
        let journal = prepare(&src, &dst);
        commit_first(&dst, &journal, crash_after).expect("partial commit");

        assert!(matches!(recover(&dst).expect("recover"), Recovery::Undone(1)));
        assert_eq!(snapshot(&root), before, "after a crash following {crash_after} operations");
        assert!(!dst.journal_path().exists() && !dst.staging_dir().exists());
    }
}

#[test]
fn a_full_commit_equals_the_source_and_keeps_what_it_replaced() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (src, dst) = trees(tmp.path());
    let licenses = snapshot(&tmp.path().join("dst/licenses"));
    let journal = prepare(&src, &dst);
    commit(&dst, &journal).expect("commit");
    finish(&dst, &journal).expect("finish");

    let strip = |m: BTreeMap<String, String>| -> BTreeMap<String, String> {
        m.into_iter().filter(|(k, _)| k.starts_with("config")).collect()
    };
    assert_eq!(strip(snapshot(&tmp.path().join("dst"))), strip(snapshot(&tmp.path().join("src"))));
    assert_eq!(snapshot(&tmp.path().join("dst/licenses")), licenses);
    let backup = generation_dir(&dst, 1).join("backup/config");
    assert_eq!(std::fs::read(backup.join("changed")).expect("kept"), b"old");
    assert_eq!(std::fs::read(backup.join("gone/inner")).expect("kept"), b"bye");
    assert_eq!(generations(&dst).expect("records")[0].id, 1);
    assert_eq!(recover(&dst).expect("recover"), Recovery::Clean);
}

/// Every file content under `dir`, wherever it sits (to show none was lost).
fn contents(dir: &Path) -> std::collections::BTreeSet<Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter(|e| !e.path().to_string_lossy().contains("/staging/"))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .collect()
}

fn config_only(m: BTreeMap<String, String>) -> BTreeMap<String, String> {
    m.into_iter().filter(|(k, _)| k.starts_with("config")).collect()
}

#[test]
fn an_io_error_anywhere_in_a_commit_leaves_the_old_or_the_new_tree_and_loses_nothing() {
    use crate::fault::{Plan, inject};
    for persistent in [false, true] {
        let mut at = 1;
        loop {
            let tmp = tempfile::tempdir().expect("tempdir");
            let (src, dst) = trees(tmp.path());
            let root = tmp.path().join("dst");
            let before = snapshot(&root);
            let old_contents = contents(&root);
            let new = config_only(snapshot(&tmp.path().join("src")));
            let journal = prepare(&src, &dst);
            let plan = Plan { at, persistent, enospc: at % 2 == 0 };
            let (result, checked) = inject(plan, || commit(&dst, &journal));
            let case = format!("an I/O error at operation {at} (persistent: {persistent})");
            match &result {
                Ok(_) => assert_eq!(config_only(snapshot(&root)), new, "{case}: applied"),
                Err(CommitError::Undone(_)) => {
                    assert_eq!(snapshot(&root), before, "{case}: undone")
                }
                Err(CommitError::Stuck { .. }) => {
                    assert!(persistent, "{case}: a single fault must be undone");
                    let kept = contents(&root);
                    let lost: Vec<_> = old_contents.difference(&kept).collect();
                    assert!(
                        lost.is_empty(),
                        "{case}: content lost while the undo is pending: {lost:?}"
                    );
                    assert!(dst.journal_path().exists(), "{case}: the journal must stay");
                }
            }
            // The agent starts again, the disk healthy: the same decision, every time.
            recover(&dst).unwrap_or_else(|e| panic!("{case}: recovery failed: {e}"));
            match &result {
                Ok(_) => {
                    assert_eq!(config_only(snapshot(&root)), new, "{case}: after a restart");
                    assert_eq!(generations(&dst).expect("records").len(), 1, "{case}");
                }
                Err(_) => {
                    assert_eq!(snapshot(&root), before, "{case}: after a restart");
                    assert!(generations(&dst).expect("records").is_empty(), "{case}");
                }
            }
            assert!(!dst.journal_path().exists() && !dst.staging_dir().exists(), "{case}");
            if checked < at {
                assert!(result.is_ok(), "{case}: no fault was injected, yet {result:?}");
                break;
            }
            at += 1;
        }
        assert!(at > 20, "the sweep should cross every operation of the commit, crossed {at}");
    }
}
