//! History and rollback end to end: real agents, the real binary, whole trees compared.

use std::path::Path;

use crate::support::*;

/// Every category and the licenses of `root`, for comparing whole states.
fn state(root: &Path) -> Vec<Tree> {
    ["firmware", "capdb", "modules", "config", "licenses"]
        .iter()
        .map(|c| snapshot(&root.join(c)))
        .collect()
}

fn history(destination: &Agent) -> Vec<serde_json::Value> {
    let output = confsync(&["history", "--server", &destination.address, "--json"]);
    assert_exit(&output, 0);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("history JSON");
    doc["generations"].as_array().expect("a list of generations").clone()
}

fn rollback(destination: &Agent, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["rollback", "--server", &destination.address];
    args.extend_from_slice(extra);
    confsync(&args)
}

#[test]
fn history_lists_applies_and_rollback_restores_the_previous_content_exactly() {
    let (src, dst) = (tempdir(), tempdir());
    // The destination's own state before any sync: some files differ, some go, and its
    // licenses are its own.
    write(dst.path(), "config/app.conf", b"local = 0\n");
    write_mode(dst.path(), "config/secret.conf", b"secret\n", 0o600);
    write(dst.path(), "capdb/stale.db", b"only here");
    mkdir(dst.path(), "modules/empty", 0o750);
    write(dst.path(), "licenses/backup.lic", b"the backup's licence");
    write_noise(dst.path(), "firmware/image.bin", 600 * 1024, 1);
    let original = state(dst.path());

    write(src.path(), "config/app.conf", b"version = 1\n");
    write_mode(src.path(), "config/secret.conf", b"secret\n", 0o640);
    write(src.path(), "config/sub/new.conf", b"new\n");
    symlink(src.path(), "config/link", "sub/new.conf");
    write_noise(src.path(), "firmware/image.bin", 600 * 1024, 2);
    write(src.path(), "capdb/devices.db", b"devices\n");
    write(src.path(), "modules/m0.so", b"module 0\n");
    write(src.path(), "licenses/primary.lic", b"the primary's licence");
    let site = Pair::start(src, dst);
    let (src, dst, source, destination) = (&site.src, &site.dst, &site.source, &site.destination);

    sync_ok(source, destination, &[]);
    let after_first = state(dst.path());
    write(src.path(), "config/app.conf", b"version = 2\n");
    std::fs::remove_file(src.path().join("config/sub/new.conf")).expect("remove");
    std::fs::remove_file(src.path().join("config/link")).expect("remove");
    write(src.path(), "modules/m1.so", b"module\n");
    sync_ok(source, destination, &[]);

    let listed = history(destination);
    assert_eq!(listed.len(), 2, "{listed:#?}");
    assert_eq!(listed[0]["generation"], 2, "newest first: {listed:#?}");
    assert_eq!(listed[1]["generation"], 1);
    for entry in &listed {
        assert_eq!(entry["kind"], "applied");
        assert_eq!(entry["result"], "ok");
        assert_eq!(entry["kept"], true);
        let from = entry["source"].as_str().expect("source");
        assert!(from.contains("primary") && from.contains(&source.address), "{entry}");
        assert!(entry["requested_by"].as_str().is_some_and(|r| r.starts_with("127.0.0.1:")));
        assert!(entry["files_changed"].as_u64().is_some_and(|n| n > 0), "{entry}");
        assert!(entry["time"].as_str().is_some_and(|t| t.ends_with('Z')), "{entry}");
    }
    assert!(listed[1]["bytes_received"].as_u64().is_some_and(|n| n > 0));
    assert!(listed[1]["categories"].as_array().is_some_and(|c| c.len() == 4));

    // Undo the newest generation: exactly the state after the first sync.
    let undone = rollback(destination, &["--yes"]);
    assert_exit(&undone, 0);
    assert!(stdout(&undone).contains("generation 3"), "{}", stdout(&undone));
    assert_eq!(state(dst.path()), after_first, "after rolling back generation 2");
    assert_no_staging(dst.path());

    // Back to before everything: the original tree, licenses untouched all along.
    assert_exit(&rollback(destination, &["--generation", "1", "--yes"]), 0);
    let now = state(dst.path());
    for (expected, actual) in original.iter().zip(&now) {
        assert_same_tree(
            expected,
            actual,
            "the destination after rolling back to before generation 1",
        );
    }

    let listed = history(destination);
    assert_eq!(listed[0]["kind"], "rollback of 1", "{listed:#?}");
    assert_eq!(listed[1]["kind"], "rollback of 2", "{listed:#?}");
    assert_eq!(listed[0]["generation"], 4);
    let table = confsync(&["history", "--server", &destination.address]);
    assert_exit(&table, 0);
    assert!(stdout(&table).contains("rollback of 2"), "{}", stdout(&table));
}

#[test]
fn rollback_previews_and_refuses_what_it_should() {
    let (src, dst) = (tempdir(), tempdir());
    write(dst.path(), "config/app.conf", b"old\n");
    write(src.path(), "config/app.conf", b"new\n");
    let site = Pair::start(src, dst);
    let (dst, source, destination) = (&site.dst, &site.source, &site.destination);

    let nothing = rollback(destination, &["--yes"]);
    assert_exit(&nothing, 4);
    assert!(stderr(&nothing).contains("keeps no generation"), "{}", stderr(&nothing));

    sync_ok(source, destination, &[]);
    let synced = state(dst.path());

    // Without a terminal and without --yes, nothing happens.
    let unconfirmed = rollback(destination, &[]);
    assert_exit(&unconfirmed, 4);
    assert!(stdout(&unconfirmed).contains("app.conf"), "the plan is shown first");
    assert!(stderr(&unconfirmed).contains("--yes"), "{}", stderr(&unconfirmed));
    let dry = rollback(destination, &["--dry-run"]);
    assert_exit(&dry, 0);
    assert_eq!(state(dst.path()), synced);

    let absent = rollback(destination, &["--generation", "9", "--yes"]);
    assert_exit(&absent, 4);
    assert!(stderr(&absent).contains("no generation 9"), "{}", stderr(&absent));

    // A change made by hand after the generation: refused, unless forced.
    write(dst.path(), "config/app.conf", b"edited by hand\n");
    let conflict = rollback(destination, &["--yes"]);
    assert_exit(&conflict, 4);
    assert!(stderr(&conflict).contains("--force"), "{}", stderr(&conflict));
    assert!(
        std::fs::read(dst.path().join("config/app.conf")).is_ok_and(|c| c == b"edited by hand\n")
    );

    // A held server refuses rollbacks too.
    assert_exit(&confsync(&["hold", "--server", &destination.address, "--reason", "audit"]), 0);
    let held = rollback(destination, &["--yes", "--force"]);
    assert_exit(&held, 4);
    assert!(stderr(&held).contains("audit"), "{}", stderr(&held));
    assert_exit(&confsync(&["release", "--server", &destination.address]), 0);

    assert_exit(&rollback(destination, &["--yes", "--force"]), 0);
    assert!(std::fs::read(dst.path().join("config/app.conf")).is_ok_and(|c| c == b"old\n"));
}

#[test]
fn a_failed_apply_is_recorded_with_its_result() {
    let (src, dst) = (tempdir(), tempdir());
    write_noise(src.path(), "firmware/big.bin", 16 << 20, 21);
    let mut source = Agent::start(src.path(), "primary");
    let destination = Agent::start_with_env(
        dst.path(),
        "backup",
        &[("CONFSYNC_FAILPOINTS", "transfer-delay-ms=50")],
    );
    let mut sync = Running::spawn(&sync_args(&source.address, &destination.address, &["--json"]));
    sync.wait_for(std::time::Duration::from_secs(30), is_transferring);
    source.kill();
    let (status, _, _) = sync.finish(std::time::Duration::from_secs(60));
    assert_eq!(status.code(), Some(3), "the sync fails when its source goes away");

    let listed = history(&destination);
    assert_eq!(listed.len(), 1, "{listed:#?}");
    let failed = &listed[0];
    assert_eq!(failed["generation"], 0, "nothing was committed: {failed}");
    assert_eq!(failed["kept"], false);
    assert!(failed["result"].as_str().is_some_and(|r| r.contains("source")), "{failed}");
    assert!(failed["source"].as_str().is_some_and(|s| s.contains(&source.address)), "{failed}");
    assert!(!dst.path().join("firmware/big.bin").exists(), "nothing was applied");
}

#[test]
fn every_generation_history_shows_as_kept_can_be_walked_back_one_step_at_a_time() {
    let (src, dst) = (tempdir(), tempdir());
    let source = Agent::start(src.path(), "primary");
    let destination = Agent::start_with_args(dst.path(), "backup", &["--keep-generations", "5"]);
    let version = |n: u32| format!("version = {n}\n").into_bytes();
    for n in 1..=8 {
        write(src.path(), "config/version.conf", &version(n));
        sync_ok(&source, &destination, &[]);
    }
    let kept = |list: &[serde_json::Value]| -> Vec<u64> {
        list.iter().filter(|g| g["kept"] == true).filter_map(|g| g["generation"].as_u64()).collect()
    };
    let applied_kept: Vec<u64> = kept(&history(&destination));
    assert_eq!(applied_kept, [8, 7, 6, 5, 4], "five generations kept");

    // Back through every kept generation, newest first: each rollback is a generation of
    // its own, and none of them may push out one still to be walked back through.
    for generation in (4..=8u32).rev() {
        let output = rollback(&destination, &["--generation", &generation.to_string(), "--yes"]);
        assert_exit(&output, 0);
        assert_eq!(
            std::fs::read(dst.path().join("config/version.conf")).expect("read"),
            version(generation - 1),
            "rolled back to before generation {generation}"
        );
        let still = kept(&history(&destination));
        for wanted in 4..generation {
            assert!(
                still.contains(&u64::from(wanted)),
                "generation {wanted} is no longer kept: {still:?}"
            );
        }
    }
}
