//! The live manifest's trust (issue 12, item 1): a plan on an unchanged tree comes from
//! memory, and every way a tree can change without the memory knowing is caught.
//!
//! Each test lets the tree go quiet first ([`settle`]): a scan of entries changed less than
//! two seconds before is never trusted, so without the wait every plan would scan and
//! the tests would show nothing about the memory.

use std::path::Path;
use std::thread::sleep;
use std::time::Duration;

use crate::support::tree::{pin_times, write};
use crate::support::{Agent, assert_exit, confsync, stdout, tempdir};

/// Longer than the live manifest's quiet time.
const SETTLE: Duration = Duration::from_millis(2600);

fn settle() {
    sleep(SETTLE);
}

fn tree(root: &Path) {
    write(root, "config/a.conf", b"a = 1\n");
    write(root, "config/site/b.conf", b"b = 1\n");
    write(root, "firmware/image.bin", b"firmware v1");
    pin_times(root);
}

/// What `diff` lists between the two agents; empty when they are in sync.
fn differences(source: &Agent, destination: &Agent) -> String {
    let diff = confsync(&["diff", "--from", &source.address, "--to", &destination.address]);
    match diff.status.code() {
        Some(0) => String::new(),
        _ => {
            assert_exit(&diff, 1);
            stdout(&diff)
        }
    }
}

/// Two agents over equal trees, the source with `env` (failpoints) and `args`.
fn pair(
    args: &[&str],
    env: &[(&str, &str)],
) -> (tempfile::TempDir, tempfile::TempDir, Agent, Agent) {
    let (src, dst) = (tempdir(), tempdir());
    tree(src.path());
    tree(dst.path());
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let source = Agent::start_full(src.path(), "primary", "127.0.0.1:0", &args, env);
    let destination = Agent::start(dst.path(), "backup");
    settle();
    assert_eq!(differences(&source, &destination), "", "equal trees are in sync");
    (src, dst, source, destination)
}

#[test]
fn a_change_made_while_the_agent_was_stopped_is_seen_at_start() {
    let (src, _dst, mut source, destination) = pair(&[], &[]);
    source.stop();
    write(src.path(), "config/a.conf", b"a = 2, edited while the agent was down\n");
    let source = Agent::start(src.path(), "primary");
    assert!(differences(&source, &destination).contains("a.conf"));
}

#[test]
fn an_edit_right_after_a_no_op_plan_is_seen_by_the_next_plan_on_either_side() {
    let (src, dst, source, destination) = pair(&[], &[]);
    write(src.path(), "config/a.conf", b"a = 2\n");
    assert!(differences(&source, &destination).contains("a.conf"), "a source edit");
    write(dst.path(), "config/a.conf", b"a = 2\n");
    let mtime = std::fs::metadata(src.path().join("config/a.conf")).and_then(|m| m.modified());
    std::fs::File::options()
        .write(true)
        .open(dst.path().join("config/a.conf"))
        .and_then(|f| f.set_modified(mtime?))
        .expect("the same mtime as the source's");
    assert_eq!(differences(&source, &destination), "", "the destination caught up");
    settle();
    assert_eq!(differences(&source, &destination), "");
    write(dst.path(), "config/site/b.conf", b"b = edited on the backup\n");
    assert!(differences(&source, &destination).contains("b.conf"), "a destination edit");
}

#[test]
fn a_plan_on_a_quiet_tree_walks_nothing_and_the_periodic_rescan_finds_a_missed_change() {
    // The watcher drops every event: only memory or the periodic rescan can answer.
    let (src, _dst, source, destination) =
        pair(&["--rescan-every", "6s"], &[("CONFSYNC_FAILPOINTS", "watch-ignore-events")]);
    write(src.path(), "config/a.conf", b"a = 2, unseen by the watcher\n");
    assert_eq!(
        differences(&source, &destination),
        "",
        "a plan on a trusted tree comes from memory: a change no watcher reported is not seen"
    );
    sleep(Duration::from_secs(6));
    assert!(
        differences(&source, &destination).contains("a.conf"),
        "the periodic rescan finds what the watcher missed"
    );
}

#[test]
fn lost_events_lead_to_a_rescan() {
    // Every event arrives as a queue overflow: the change itself is never told.
    let (src, _dst, source, destination) = pair(&[], &[("CONFSYNC_FAILPOINTS", "watch-overflow")]);
    write(src.path(), "config/site/b.conf", b"b = 2\n");
    assert!(differences(&source, &destination).contains("b.conf"));
    assert!(source.log().contains("file watcher lost events"), "{}", source.log());
}

#[test]
fn a_file_rewritten_during_a_scan_is_not_trusted() {
    let (src, _dst, source, destination) =
        pair(&[], &[("CONFSYNC_FAILPOINTS", "scan-delay-ms=2000")]);
    // A removal at the category's top leaves no young entry behind: the scan it causes
    // would be trusted, were it not for the rewrite that happens while it runs.
    std::fs::remove_file(src.path().join("config/a.conf")).expect("remove");
    sleep(Duration::from_millis(300));
    let (from, to) = (source.address.clone(), destination.address.clone());
    let during =
        std::thread::spawn(move || stdout(&confsync(&["diff", "--from", &from, "--to", &to])));
    sleep(Duration::from_millis(800));
    write(src.path(), "config/site/b.conf", b"b = rewritten while the scan ran\n");
    let shown = during.join().expect("diff during the scan");
    assert!(shown.contains("a.conf"), "the scan saw the removal:\n{shown}");
    let next = differences(&source, &destination);
    assert!(next.contains("b.conf"), "the rewrite is seen by the next plan:\n{next}");
}

#[test]
fn a_directory_renamed_under_the_watcher_is_rescanned() {
    let (src, _dst, source, destination) = pair(&[], &[]);
    std::fs::rename(src.path().join("config/site"), src.path().join("config/moved"))
        .expect("rename");
    let shown = differences(&source, &destination);
    assert!(shown.contains("moved/") && shown.contains("site/"), "{shown}");
    settle();
    // The watch follows the folder to its new name: an edit inside it is seen.
    write(src.path(), "config/moved/b.conf", b"b = edited after the move\n");
    write(src.path(), "config/moved/new.conf", b"new\n");
    let shown = differences(&source, &destination);
    assert!(shown.contains("new.conf"), "{shown}");
}

#[test]
fn only_the_difference_of_a_manifest_travels() {
    let (src, dst) = (tempdir(), tempdir());
    for root in [src.path(), dst.path()] {
        for i in 0..300 {
            write(
                root,
                &format!("config/site{}/item{i:03}.conf", i % 10),
                format!("item {i}\n").as_bytes(),
            );
        }
        pin_times(root);
    }
    let source = Agent::start(src.path(), "primary");
    let destination =
        Agent::start_with_env(dst.path(), "backup", &[("RUST_LOG", "confsync_wire=debug")]);
    write(src.path(), "config/site3/item013.conf", b"item 13, edited\n");
    write(src.path(), "config/site4/new.conf", b"new\n");
    let shown = differences(&source, &destination);
    assert!(shown.contains("item013.conf") && shown.contains("new.conf"), "{shown}");
    let log = destination.log();
    let line = log
        .lines()
        .find(|l| l.contains("manifest of the source"))
        .unwrap_or_else(|| panic!("no manifest line in the log:\n{log}"));
    // 310 entries (300 files, 10 folders) on each side: the edited file, the new one and
    // the folder it was added to (its mtime moved) travel, the other 308 of the source's
    // 311 are ours.
    assert!(line.contains("sent=3") && line.contains("reused=308"), "{line}");
}

#[test]
fn an_edit_the_watcher_missed_is_not_overwritten_by_the_reviewed_plan() {
    let (src, dst) = (tempdir(), tempdir());
    tree(src.path());
    tree(dst.path());
    write(src.path(), "config/a.conf", b"a = 2, from the primary\n");
    let source = Agent::start(src.path(), "primary");
    // The destination's watcher drops every event: its memory cannot know of the edit.
    let destination = Agent::start_with_env(
        dst.path(),
        "backup",
        &[("CONFSYNC_FAILPOINTS", "watch-ignore-events")],
    );
    settle();
    let diff =
        confsync(&["diff", "--from", &source.address, "--to", &destination.address, "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&diff)).expect("diff --json");
    let digest = doc["plan"]["digest"].as_str().expect("digest").to_string();
    write(dst.path(), "config/a.conf", b"a = 3, edited on the backup\n");
    let pinned = confsync(&crate::support::sync_args(
        &source.address,
        &destination.address,
        &["--plan", &digest],
    ));
    assert_exit(&pinned, 4);
    assert_eq!(
        std::fs::read(dst.path().join("config/a.conf")).expect("read"),
        b"a = 3, edited on the backup\n",
        "the edit stays"
    );
}

/// An agent started with a relative `--root` (from the folder above it) still follows
/// edits as a source: its layout is made absolute, as the watcher reports absolute paths
/// (a relative root once left the source's live manifest stale).
#[test]
fn an_agent_with_a_relative_root_sees_edits_made_after_it_started() {
    let dir = tempdir();
    let (p, b) = (dir.path().join("primary"), dir.path().join("backup"));
    write(&p, "config/app.conf", b"app = 1\n");
    write(&b, "config/app.conf", b"app = 1\n");
    pin_times(&p);
    pin_times(&b);
    let destination = Agent::start(&b, "backup");
    let mut command = std::process::Command::new(crate::support::BIN);
    command.current_dir(dir.path()).args([
        "agent",
        "--root",
        "primary",
        "--listen",
        "127.0.0.1:0",
        "--name",
        "primary",
    ]);
    let spawned = crate::support::spawn_agent_command(command, "primary");
    let _child = crate::support::KillOnDrop(spawned.child);
    let diff = || confsync(&["diff", "--from", &spawned.address, "--to", &destination.address]);
    assert_exit(&diff(), 0);
    // Once the watcher vouches for the tree (a moment after the first scan).
    sleep(Duration::from_secs(2));
    assert_exit(&diff(), 0);
    write(&p, "config/app.conf", b"app = 2, edited on the primary\n");
    let started = std::time::Instant::now();
    while diff().status.code() != Some(1) {
        assert!(started.elapsed() < Duration::from_secs(10), "the edit was never seen");
        sleep(Duration::from_millis(200));
    }
    assert!(stdout(&diff()).contains("app.conf"));
}

/// The watcher crate's note for each folder a commit removes ("unable to remove watch
/// descriptor") is not the agent's business at its info level (issue 28, item 7): a sync
/// that removes folders leaves no such line in the destination's log.
#[test]
fn folders_a_sync_removes_leave_no_watcher_noise_in_the_log() {
    let (src, dst) = (tempdir(), tempdir());
    for i in 0..20 {
        write(src.path(), &format!("config/d{i}/inner/f.conf"), b"x\n");
    }
    let source = Agent::start(src.path(), "primary");
    let destination = Agent::start(dst.path(), "backup");
    let sync =
        || confsync(&["sync", "--from", &source.address, "--to", &destination.address, "--yes"]);
    assert_exit(&sync(), 0);
    for i in 0..10 {
        std::fs::remove_dir_all(src.path().join(format!("config/d{i}"))).expect("remove");
    }
    assert_exit(&sync(), 0);
    sleep(Duration::from_millis(500));
    let log = destination.log();
    assert!(!log.contains("unable to remove watch descriptor"), "{log}");
    assert!(log.contains("INFO"), "the agent logs at info: {log}");
}
