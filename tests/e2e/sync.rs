//! End to end: the real `confsync` binary, real agents on `127.0.0.1:0`, real trees in
//! temporary folders. Each test builds its own trees and starts its own agents.

use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::Duration;

use crate::support::fake_source::{FakeSource, file_entry, symlink_entry};
use crate::support::*;

const MIB: u64 = 1 << 20;
const FAILPOINTS: &str = "CONFSYNC_FAILPOINTS";

/// A source tree exercising every kind of entry and mode in every category.
fn populate_source(root: &Path) {
    // firmware: nested folders, a file large enough to be chunked, links, an empty folder.
    write(root, "firmware/v2/image.bin", &noise(300 * 1024, 1));
    write_mode(root, "firmware/v2/notes.txt", b"release notes", 0o600);
    symlink(root, "firmware/current", "v2/image.bin");
    write(root, "firmware/deep/a/b/c/leaf.txt", b"deep leaf");
    write(root, "firmware/kindswap", b"a file here, a folder on the destination");
    mkdir(root, "firmware/empty", 0o750);
    // capdb: changed, read-only and executable files.
    write(root, "capdb/devices.db", b"devices: new");
    write(root, "capdb/empty.db", b"");
    write(root, "capdb/emptied.db", b"");
    write_mode(root, "capdb/readonly.db", b"frozen", 0o444);
    write_mode(root, "capdb/tools/run.sh", b"#!/bin/sh\necho hi\n", 0o750);
    // modules: empty folders (nested), a private folder, a link into a sibling folder.
    write(root, "modules/m1/mod.so", &noise(4096, 2));
    mkdir(root, "modules/empty-a", 0o755);
    mkdir(root, "modules/empty-b/nested-empty", 0o700);
    write_mode(root, "modules/secure/key.pem", b"module key", 0o640);
    set_mode(root, "modules/secure", 0o750);
    symlink(root, "modules/links/rel", "../m1/mod.so");
    write(root, "modules/swap2/f", b"a folder here, a file on the destination");
    // config: secrets, a mode-only change, a link whose target changes.
    write_mode(root, "config/app.conf", b"app = new\n", 0o600);
    write_mode(root, "config/mode-only.conf", b"same bytes\n", 0o600);
    write(root, "config/sub/x.conf", b"x = 1\n");
    symlink(root, "config/link", "sub/x.conf");
    symlink(root, "config/to-folder", "sub");
    symlink(root, "config/dangling", "not-there.conf");
    write(root, "config/with space ü.conf", b"unicode = yes\n");
    // The source's own licenses, which must never travel.
    write(root, "licenses/primary.lic", b"licence of the primary");
}

/// A destination that differs from [`populate_source`] in every way a plan can express.
fn populate_destination(root: &Path) {
    let mut image = noise(300 * 1024, 1);
    image[150 * 1024..160 * 1024].fill(0xAA);
    write(root, "firmware/v2/image.bin", &image);
    write(root, "firmware/v1/old.bin", b"superseded firmware");
    write(root, "firmware/kindswap/inner", b"inside a folder that becomes a file");
    mkdir(root, "firmware/stale-empty", 0o755);
    write(root, "capdb/devices.db", b"devices: old");
    write(root, "capdb/extra.db", b"only on the destination");
    write(root, "capdb/emptied.db", b"not empty yet");
    write(root, "modules/m1/mod.so", b"old module");
    write(root, "modules/swap2", b"a file that becomes a folder");
    write_mode(root, "config/app.conf", b"app = old\n", 0o644);
    write_mode(root, "config/mode-only.conf", b"same bytes\n", 0o644);
    write(root, "config/sub/x.conf", b"x = 1\n");
    symlink(root, "config/link", "app.conf");
    write(root, "licenses/backup.lic", b"licence of the backup");
    write_mode(root, "licenses/keys/site.key", b"site key", 0o600);
}

fn diff(source: &Agent, destination: &Agent, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["diff", "--from", &source.address, "--to", &destination.address];
    args.extend_from_slice(extra);
    confsync(&args)
}

fn result_u64(result: &serde_json::Value, field: &str) -> u64 {
    result[field].as_u64().unwrap_or_else(|| panic!("result has no {field}: {result}"))
}

#[test]
fn sync_makes_every_category_identical_and_leaves_licenses_alone() {
    let site = Pair::with(populate_source, populate_destination);
    let (src, dst, source, destination) = (&site.src, &site.dst, &site.source, &site.destination);
    let source_before = snapshot(src.path());
    let licenses_before = snapshot(&dst.path().join("licenses"));
    assert_exit(&diff(source, destination, &[]), 1);

    sync_ok(source, destination, &[]);

    assert_categories_equal(src.path(), dst.path());
    assert_same_tree(
        &licenses_before,
        &snapshot(&dst.path().join("licenses")),
        "the destination's licenses",
    );
    assert_same_tree(&source_before, &snapshot(src.path()), "the source");
    // The comparison above covers these; naming a few shows the trees hold what matters.
    let after = snapshot(dst.path());
    assert_eq!(after["modules/secure"].mode, 0o750);
    assert_eq!(after["config/app.conf"].mode, 0o600);
    assert_eq!(after["config/link"].content, "sub/x.conf");
    assert_eq!(after["firmware/kindswap"].kind, Kind::File);
    assert_eq!(after["modules/swap2"].kind, Kind::Dir);
    assert!(after.contains_key("modules/empty-b/nested-empty"));
    assert!(!after.contains_key("firmware/v1") && !after.contains_key("capdb/extra.db"));
    assert!(!after.contains_key("licenses/primary.lic"));
    assert_exit(&diff(source, destination, &[]), 0);
}

#[test]
fn only_firmware_changes_only_firmware() {
    let site = Pair::with(populate_source, populate_destination);
    let (src, dst, source, destination) = (&site.src, &site.dst, &site.source, &site.destination);
    let others = ["capdb", "modules", "config", "licenses"];
    let before: Vec<Tree> = others.iter().map(|c| snapshot(&dst.path().join(c))).collect();

    sync_ok(source, destination, &["--only", "firmware"]);

    assert_same_tree(
        &snapshot(&src.path().join("firmware")),
        &snapshot(&dst.path().join("firmware")),
        "firmware",
    );
    for (category, was) in others.iter().zip(&before) {
        assert_same_tree(
            was,
            &snapshot(&dst.path().join(category)),
            &format!("{category} (not selected)"),
        );
    }
    assert_exit(&diff(source, destination, &["--only", "firmware"]), 0);
    assert_exit(&diff(source, destination, &[]), 1);
}

#[test]
fn a_small_change_in_a_large_file_moves_little_data() {
    const SIZE: u64 = 128 * MIB;
    let (src, dst) = (tempdir(), tempdir());
    write_noise(src.path(), "firmware/image.bin", SIZE, 7);
    let source = Agent::start(src.path(), "primary");
    let destination = Agent::start(dst.path(), "backup");

    let first = json_lines(&sync_ok(&source, &destination, &["--json"]));
    assert_eq!(
        result_u64(event(&first, "result"), "bytes_received"),
        SIZE,
        "the first sync is a full copy"
    );
    // Where the time went: every phase is there, and the apply's add up to its duration.
    let result = event(&first, "result");
    let phases = &result["phases"];
    let ms = |name: &str| phases[name].as_u64().unwrap_or_else(|| panic!("{name} in {result}"));
    let applying: u64 = ["transfer_ms", "flush_ms", "check_ms", "commit_ms", "finish_ms"]
        .iter()
        .map(|p| ms(p))
        .sum();
    for planning in ["scan_ms", "exchange_ms", "diff_ms", "revalidate_ms"] {
        ms(planning);
    }
    assert!(ms("transfer_ms") > 0, "copying 128 MiB takes time: {result}");
    assert!(applying <= result_u64(result, "duration_ms"), "{result}");

    patch(src.path(), "firmware/image.bin", SIZE / 2, &noise(MIB as usize, 99));
    let second = json_lines(&sync_ok(&source, &destination, &["--json"]));
    let result = event(&second, "result");
    let received = result_u64(result, "bytes_received");
    println!(
        "bytes_received after changing 1 MiB in the middle of a {} MiB file: {received}",
        SIZE / MIB
    );
    assert!(received >= MIB, "at least the changed MiB must cross the wire: {result}");
    assert!(received < 4 * MIB, "a 1 MiB change moved {received} bytes: {result}");
    assert_eq!(result_u64(result, "files_changed"), 1, "{result}");
    assert_categories_equal(src.path(), dst.path());
}

/// Bytes the process has read through system calls so far (page cache included).
fn bytes_read_by(pid: u32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).expect("read /proc/PID/io");
    io.lines()
        .find_map(|l| l.strip_prefix("rchar: "))
        .and_then(|n| n.trim().parse().ok())
        .expect("rchar in /proc/PID/io")
}

/// Sets a file's modification time an hour back: older than the index's racy window, so
/// what the agents learn about it is kept on disk.
fn age(root: &Path, rel: &str, seconds_ago: u64) {
    let when = std::time::SystemTime::now() - Duration::from_secs(seconds_ago);
    let file = std::fs::OpenOptions::new().write(true).open(root.join(rel)).expect("open");
    file.set_times(std::fs::FileTimes::new().set_modified(when)).expect("set mtime");
}

/// Issue 12, item 5: a large file's chunk list is learned in the read that hashes it and
/// kept in the index on both sides, so a delta reads the changed image once on the source
/// (its scan) instead of twice, and the destination keeps the chunks of what it staged.
#[test]
fn a_delta_reads_the_changed_image_once_on_the_source_and_the_destination_keeps_its_chunks() {
    const SIZE: u64 = 24 * MIB;
    let (src, dst) = (tempdir(), tempdir());
    write_noise(src.path(), "firmware/image.bin", SIZE, 17);
    age(src.path(), "firmware/image.bin", 3600);
    let source = Agent::start(src.path(), "primary");
    let destination = Agent::start(dst.path(), "backup");
    sync_ok(&source, &destination, &[]);

    for round in 1..=2u64 {
        let before = bytes_read_by(source.pid());
        patch(src.path(), "firmware/image.bin", SIZE / 3 * round, &noise(64 << 10, round));
        age(src.path(), "firmware/image.bin", 3600 - round);
        let synced = json_lines(&sync_ok(&source, &destination, &["--json"]));
        let received = result_u64(event(&synced, "result"), "bytes_received");
        assert!(received < 2 * MIB, "round {round}: a 64 KiB change moved {received} bytes");
        let read = bytes_read_by(source.pid()) - before;
        println!("round {round}: the source read {read} bytes for a {SIZE}-byte image");
        assert!(
            read < SIZE + SIZE / 4,
            "round {round}: the source read {read} bytes of a {SIZE}-byte image (twice would be \
             a scan and a chunking pass)"
        );
        assert_categories_equal(src.path(), dst.path());
    }

    let index: serde_json::Value = serde_json::from_slice(
        &std::fs::read(dst.path().join(".confsync/index.json")).expect("destination index"),
    )
    .expect("index is JSON");
    let chunks = index["firmware/image.bin"]["chunks"].as_array().expect("chunks kept");
    let total: u64 = chunks.iter().filter_map(|c| c[0].as_u64()).sum();
    assert_eq!(total, SIZE, "the kept chunks cover the image: {} chunks", chunks.len());
}

#[test]
fn a_second_sync_finds_nothing_to_do() {
    let site = Pair::with(populate_source, populate_destination);
    let (dst, source, destination) = (&site.dst, &site.source, &site.destination);
    sync_ok(source, destination, &[]);
    let after_first = snapshot(dst.path());

    let events = json_lines(&sync_ok(source, destination, &["--json"]));
    let result = event(&events, "result");
    assert_eq!(result["in_sync"], true, "{result}");
    assert!(
        result.get("generation").is_none(),
        "an in-sync destination gets no new generation: {result}"
    );
    assert_exit(&diff(source, destination, &[]), 0);
    assert_same_tree(&after_first, &snapshot(dst.path()), "the destination after a no-op sync");
}

#[test]
fn a_plan_that_changed_since_the_preview_is_refused() {
    let site = Pair::with(populate_source, populate_destination);
    let (src, dst, source, destination) = (&site.src, &site.dst, &site.source, &site.destination);
    let digest_of_preview = || {
        let output = diff(source, destination, &["--json"]);
        assert_exit(&output, 1);
        let doc: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("diff --json prints JSON");
        assert_eq!(doc["in_sync"], false, "{doc}");
        let digest = doc["plan"]["digest"].as_str().expect("the plan has a digest").to_string();
        assert!(
            digest.len() == 64 && digest.chars().all(|c| c.is_ascii_hexdigit()),
            "digest {digest:?}"
        );
        digest
    };
    let reviewed = digest_of_preview();

    write(src.path(), "config/app.conf", b"app = changed after the preview\n");
    let before = snapshot(dst.path());
    let sync_pinned = |digest: &str| {
        confsync(&sync_args(&source.address, &destination.address, &["--plan", digest]))
    };
    let output = sync_pinned(&reviewed);
    assert_exit(&output, 4);
    assert!(stderr(&output).contains("changed since the preview"), "stderr: {}", stderr(&output));
    assert_same_tree(&before, &snapshot(dst.path()), "the destination after a refused apply");

    // The plan reviewed again is applied.
    let output = sync_pinned(&digest_of_preview());
    assert_exit(&output, 0);
    assert_categories_equal(src.path(), dst.path());
}

#[test]
fn killing_the_destination_mid_transfer_leaves_it_as_before() {
    let (src, dst) = (tempdir(), tempdir());
    write_noise(src.path(), "firmware/big.bin", 64 * MIB, 11);
    write(src.path(), "config/app.conf", b"app = new\n");
    write(dst.path(), "config/app.conf", b"app = old\n");
    write(dst.path(), "firmware/old.bin", b"old firmware");
    let before = snapshot(dst.path());
    let source = Agent::start(src.path(), "primary");
    let mut destination =
        Agent::start_with_env(dst.path(), "backup", &[(FAILPOINTS, "transfer-delay-ms=20")]);

    let mut sync = Running::spawn(&sync_args(&source.address, &destination.address, &["--json"]));
    let seen = sync.wait_for(Duration::from_secs(120), is_transferring);
    destination.kill();
    println!("killed the destination at {}", seen["progress"]);
    let (status, events, stderr) = sync.finish(COMMAND_TIMEOUT);
    assert!(
        !status.success(),
        "the sync completed before the kill; events {events:#?}\nstderr {stderr}"
    );
    assert_same_tree(&before, &snapshot(dst.path()), "the destination after SIGKILL");

    let destination = Agent::start(dst.path(), "backup");
    assert_no_staging(dst.path());
    assert_same_tree(&before, &snapshot(dst.path()), "the destination after restart");
    sync_ok(&source, &destination, &[]);
    assert_categories_equal(src.path(), dst.path());
}

/// A plan with ten commit operations: deletions (a file, a folder with its file), a new
/// folder with a file (one rename: it is staged whole), overwrites in two categories, and
/// mode changes.
fn populate_for_commit(src: &Path, dst: &Path) {
    for name in ["a", "b", "c"] {
        write(src, &format!("config/{name}.conf"), format!("{name} = new\n").as_bytes());
        write(dst, &format!("config/{name}.conf"), format!("{name} = old\n").as_bytes());
    }
    write(src, "config/newdir/x.conf", b"x = 1\n");
    // Another name of a.conf: a hard link the commit makes.
    std::fs::hard_link(src.join("config/a.conf"), src.join("config/z-link.conf")).expect("link");
    set_mode(src, "config/newdir", 0o750);
    write_mode(src, "config/mode.conf", b"mode\n", 0o600);
    write_mode(dst, "config/mode.conf", b"mode\n", 0o644);
    write(dst, "config/old.conf", b"deleted by the sync\n");
    write(src, "capdb/db.bin", &noise(64 * 1024, 3));
    write(dst, "capdb/db.bin", &noise(64 * 1024, 4));
    write(dst, "capdb/gone/f", b"deleted with its folder\n");
}

/// Crashes the destination after `after` commit operations, restarts it, and checks that
/// the tree is all old, then that a normal sync makes it all new.
fn crash_during_commit(after: u32) {
    let (src, dst) = (tempdir(), tempdir());
    populate_for_commit(src.path(), dst.path());
    let before = snapshot(dst.path());
    let source = Agent::start(src.path(), "primary");
    let crash = format!("commit-crash-after={after}");
    let mut destination = Agent::start_with_env(dst.path(), "backup", &[(FAILPOINTS, &crash)]);

    let output = confsync(&sync_args(&source.address, &destination.address, &[]));
    assert!(!output.status.success(), "{crash}: the sync succeeded\nstderr: {}", stderr(&output));
    let died = destination.wait_exit(Duration::from_secs(30)).expect("the destination agent died");
    assert_eq!(died.signal(), Some(libc::SIGABRT), "{crash}: agent ended with {died}");
    assert_ne!(before, snapshot(dst.path()), "{crash}: the crash should leave a half-done commit");

    let destination = Agent::start(dst.path(), "backup");
    assert_same_tree(
        &before,
        &snapshot(dst.path()),
        &format!("{crash}: the destination after recovery"),
    );
    assert_no_staging(dst.path());
    sync_ok(&source, &destination, &[]);
    assert_categories_equal(src.path(), dst.path());
}

#[test]
fn a_crash_in_the_middle_of_a_commit_is_undone_at_restart() {
    crash_during_commit(2);
}

#[test]
fn a_crash_after_any_commit_operation_is_undone_at_restart() {
    for after in [1, 3, 4, 5, 6, 7, 8, 9] {
        crash_during_commit(after);
    }
}

#[test]
fn a_second_apply_on_a_busy_destination_is_refused() {
    let (src, dst) = (tempdir(), tempdir());
    write_noise(src.path(), "firmware/big.bin", 128 * MIB, 5);
    let source = Agent::start(src.path(), "primary");
    let destination =
        Agent::start_with_env(dst.path(), "backup", &[(FAILPOINTS, "transfer-delay-ms=20")]);

    let mut first = Running::spawn(&sync_args(&source.address, &destination.address, &["--json"]));
    first.wait_for(Duration::from_secs(120), |e| e["event"] == "progress");
    let second = confsync(&sync_args(&source.address, &destination.address, &[]));
    assert_exit(&second, 4);
    assert!(
        stderr(&second).contains("another apply is already running"),
        "stderr: {}",
        stderr(&second)
    );

    let (status, events, stderr) = first.finish(COMMAND_TIMEOUT);
    assert!(status.success(), "the first sync failed: {events:#?}\nstderr: {stderr}");
    assert!(result_u64(event(&events, "result"), "generation") > 0);
    assert_categories_equal(src.path(), dst.path());
}

#[test]
fn a_source_with_hostile_paths_is_refused_and_nothing_is_written() {
    // The destination's root sits inside `outer`, so anything written beside it shows.
    let outer = tempdir();
    let root = outer.path().join("dst");
    write(&root, "firmware/keep.bin", b"keep me");
    write(&root, "licenses/site.lic", b"licence");
    let passwd_before = std::fs::read("/etc/passwd").ok();
    let destination = Agent::start(&root, "backup");
    let outer_before = snapshot(outer.path());

    let hostile = [
        (file_entry("../escape", b"x"), "../escape"),
        (file_entry("/etc/passwd", b"root::0:0::/root:/bin/sh\n"), "/etc/passwd"),
        (file_entry("a//b", b"x"), "a//b"),
        (file_entry("sub/../../escape", b"x"), "sub/../../escape"),
        // A symlink leading anywhere is carried as a string; one no symlink can hold is not.
        (symlink_entry("empty", ""), "no symlink can hold"),
        (symlink_entry("nul", "a\0b"), "no symlink can hold"),
    ];
    for (entry, named) in hostile {
        let fake = FakeSource { firmware: vec![file_entry("ok.bin", b"fine"), entry] }.serve();
        let only_firmware = ["--only", "firmware"];
        let output = confsync(&sync_args(&fake.address, &destination.address, &only_firmware));
        assert_exit(&output, 3);
        assert!(
            stderr(&output).contains(named),
            "{named}: stderr does not name it: {}",
            stderr(&output)
        );
        assert_same_tree(
            &outer_before,
            &snapshot(outer.path()),
            &format!("after a source offering {named}"),
        );
    }
    assert_eq!(std::fs::read("/etc/passwd").ok(), passwd_before, "/etc/passwd changed");
    for path in ["escape", "outside", "dst/escape", "dst/firmware/link", "dst/firmware/ok.bin"] {
        assert!(outer.path().join(path).symlink_metadata().is_err(), "{path} was written");
    }
}

#[test]
fn licenses_are_refused_and_an_unconfirmed_sync_changes_nothing() {
    let site = Pair::with(populate_source, populate_destination);
    let (dst, source, destination) = (&site.dst, &site.source, &site.destination);
    let before = snapshot(dst.path());

    for only in ["licenses", "firmware,licenses"] {
        for command in ["diff", "sync"] {
            let mut args = vec![
                command,
                "--from",
                &source.address,
                "--to",
                &destination.address,
                "--only",
                only,
            ];
            if command == "sync" {
                args.push("--yes");
            }
            let output = confsync(&args);
            assert_exit(&output, 2);
            assert!(
                stderr(&output).contains("licenses")
                    && stderr(&output).contains("never synchronized"),
                "{command} --only {only}: {}",
                stderr(&output)
            );
        }
    }

    let output = confsync(&["sync", "--from", &source.address, "--to", &destination.address]);
    assert_exit(&output, 4);
    assert!(stderr(&output).contains("--yes"), "stderr: {}", stderr(&output));
    assert_same_tree(&before, &snapshot(dst.path()), "the destination after an unconfirmed sync");
}

#[test]
fn demo_runs_without_a_terminal() {
    let work = tempdir();
    let output = confsync_in(work.path(), &["demo"]);
    assert_exit(&output, 0);
    let out = stdout(&output);
    assert!(out.contains("Differences"), "the demo shows no differences:\n{out}");
    assert!(out.contains("generation"), "the demo shows no result:\n{out}");
}

#[test]
fn sigterm_during_a_transfer_stops_the_agent_and_changes_nothing() {
    let (src, dst) = (tempdir(), tempdir());
    write_noise(src.path(), "firmware/big.bin", 64 * MIB, 13);
    write(dst.path(), "firmware/old.bin", b"old firmware");
    let before = snapshot(dst.path());
    let source = Agent::start(src.path(), "primary");
    let mut destination =
        Agent::start_with_env(dst.path(), "backup", &[(FAILPOINTS, "transfer-delay-ms=20")]);

    let mut sync = Running::spawn(&sync_args(&source.address, &destination.address, &["--json"]));
    sync.wait_for(Duration::from_secs(120), is_transferring);
    let stopped = destination.stop();
    assert!(stopped.success(), "the agent should stop cleanly on SIGTERM: {stopped}");
    let (status, events, stderr) = sync.finish(COMMAND_TIMEOUT);
    assert!(!status.success(), "the sync completed despite SIGTERM: {events:#?}\nstderr {stderr}");
    assert_same_tree(&before, &snapshot(dst.path()), "the destination after SIGTERM");
    assert_no_staging(dst.path());

    let destination = Agent::start(dst.path(), "backup");
    sync_ok(&source, &destination, &[]);
    assert_categories_equal(src.path(), dst.path());
}

#[test]
fn a_pinned_plan_on_a_destination_in_sync_reports_in_sync() {
    let site = Pair::with(populate_source, populate_destination);
    let (source, destination) = (&site.source, &site.destination);
    sync_ok(source, destination, &[]);
    let preview = diff(source, destination, &["--json"]);
    let plan: serde_json::Value = serde_json::from_str(&stdout(&preview)).expect("diff --json");
    let digest = plan["plan"]["digest"].as_str().expect("digest").to_string();

    let events = json_lines(&sync_ok(source, destination, &["--json", "--plan", &digest]));
    let result = event(&events, "result");
    assert_eq!(result["in_sync"], true, "{result}");
    assert!(result.get("generation").is_none(), "no generation for an empty plan: {result}");
}

#[test]
fn naming_one_destination_twice_syncs_it_once() {
    let site = Pair::with(populate_source, populate_destination);
    let (src, dst, source, destination) = (&site.src, &site.dst, &site.source, &site.destination);
    let twice = format!("{0},{0}", destination.address);
    let output = confsync(&["sync", "--from", &source.address, "--to", &twice, "--yes", "--json"]);
    assert_exit(&output, 0);
    let results = json_lines(&output).into_iter().filter(|e| e["event"] == "result").count();
    assert_eq!(results, 1, "{}", stdout(&output));
    assert_categories_equal(src.path(), dst.path());
}

#[test]
fn sync_keys_shows_what_changes_inside_each_file_before_it_applies() {
    let site = Pair::with(
        |p| write(p, "config/app.ini", b"[app]\nsessions = 300\n"),
        |b| write(b, "config/app.ini", b"[app]\nsessions = 250\n"),
    );
    let synced = sync_ok(&site.source, &site.destination, &["--keys"]);
    assert_mentions(&stdout(&synced), &["app.ini", "sessions 250 → 300"]);
    assert_categories_equal(site.src.path(), site.dst.path());
}
