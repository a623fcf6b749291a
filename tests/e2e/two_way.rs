//! Two-way synchronization (issue 14): each side's changes since the pair's base go to
//! the other, a file changed on both is a conflict decided by the policy (the loser kept
//! and restorable on its side), a modification wins over a deletion, clocks too far apart
//! refuse to decide by time, an interruption between the two commits converges, and
//! categories outside `--two-way` go one way only.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::support::*;

/// Both servers' trees: the same configuration and firmware, each its own license.
fn common(root: &Path, license: &[u8]) {
    write(root, "config/app.conf", b"app = 1\n");
    write(root, "config/net/dns.conf", b"dns = 1\n");
    write(root, "config/notes.txt", b"notes\n");
    write(root, "firmware/image.bin", b"firmware v1");
    write(root, "licenses/this-machine.lic", license);
    // The same times on both: the trees agree as a sync means it.
    pin_times(root);
}

fn pair() -> Pair {
    Pair::with(|p| common(p, b"primary license"), |b| common(b, b"backup license"))
}

/// `sync --two-way config --from SRC --to DST --yes` plus `extra`, for a pair.
fn two_way(site: &Pair, extra: &[&str]) -> std::process::Output {
    two_way_between(&site.source, &site.destination, extra)
}

/// `sync --two-way config --from SOURCE --to DESTINATION --yes` plus `extra`.
fn two_way_between(source: &Agent, destination: &Agent, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        "sync",
        "--two-way",
        "config",
        "--from",
        &source.address,
        "--to",
        &destination.address,
    ];
    args.push("--yes");
    args.extend_from_slice(extra);
    confsync(&args)
}

fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

/// Sets a file's modification time `secs_ago` seconds in the past.
fn aged(root: &Path, rel: &str, secs_ago: u64) {
    let file = std::fs::File::options().write(true).open(root.join(rel)).expect("open");
    file.set_modified(SystemTime::now() - Duration::from_secs(secs_ago)).expect("set mtime");
}

/// The first run of a pair whose trees agree records their common base.
fn with_base(site: &Pair) {
    let first = two_way(site, &[]);
    assert_exit(&first, 0);
    assert_mentions(&stdout(&first), &["already agree"]);
}

#[test]
fn edits_on_each_side_merge_and_additions_arrive_on_the_other_licenses_untouched() {
    let site = pair();
    with_base(&site);
    let (p, b) = (site.src.path(), site.dst.path());
    write(p, "config/app.conf", b"app = 2 (edited on the primary)\n");
    write(b, "config/net/dns.conf", b"dns = 2 (edited on the backup)\n");
    write(p, "config/added-on-primary.conf", b"a\n");
    write(b, "config/new/added-on-backup.conf", b"b\n");
    // Firmware goes one way only: the backup's edit is not sent to the primary.
    write(b, "firmware/image.bin", b"firmware edited on the backup");

    let planned = confsync(&[
        "sync",
        "--two-way",
        "config",
        "--from",
        &site.source.address,
        "--to",
        &site.destination.address,
        "--dry-run",
        "--json",
    ]);
    assert_exit(&planned, 0);
    let events = json_lines(&planned);
    let plan = event(&events, "two_way_plan");
    let give = &plan["decides"]["two_way"]["give"]["config"];
    let given: Vec<&str> =
        give.as_array().expect("give").iter().filter_map(|p| p.as_str()).collect();
    assert_eq!(given, ["net/dns.conf", "new", "new/added-on-backup.conf"], "{plan:#}");
    assert_eq!(plan["files_changed"], 5, "{plan:#}");

    let synced = two_way(&site, &[]);
    assert_exit(&synced, 0);
    let text = stdout(&synced);
    assert_mentions(&text, &["→", "←", "common base is this run's"]);
    for root in [p, b] {
        assert_eq!(read(root, "config/app.conf"), "app = 2 (edited on the primary)\n");
        assert_eq!(read(root, "config/net/dns.conf"), "dns = 2 (edited on the backup)\n");
        assert_eq!(read(root, "config/added-on-primary.conf"), "a\n");
        assert_eq!(read(root, "config/new/added-on-backup.conf"), "b\n");
    }
    assert_eq!(read(p, "firmware/image.bin"), "firmware v1");
    assert_eq!(read(b, "firmware/image.bin"), "firmware v1");
    assert_eq!(read(p, "licenses/this-machine.lic"), "primary license");
    assert_eq!(read(b, "licenses/this-machine.lic"), "backup license");

    let again = two_way(&site, &[]);
    assert_exit(&again, 0);
    assert_mentions(&stdout(&again), &["already agree"]);
}

#[test]
fn the_newer_edit_wins_and_the_loser_is_restored_by_a_rollback_on_its_side() {
    let site = pair();
    with_base(&site);
    let (p, b) = (site.src.path(), site.dst.path());
    write(p, "config/app.conf", b"primary's edit, older\n");
    aged(p, "config/app.conf", 120);
    write(b, "config/app.conf", b"backup's edit, newer\n");
    // Taken by the primary in the same generation as the conflict's winner.
    write(b, "config/from-backup.conf", b"b\n");

    let synced = two_way(&site, &[]);
    assert_exit(&synced, 0);
    let text = stdout(&synced);
    assert_mentions(&text, &["config/app.conf: changed on both", "backup's version wins (newer)"]);
    assert_eq!(read(p, "config/app.conf"), "backup's edit, newer\n");
    assert_eq!(read(b, "config/app.conf"), "backup's edit, newer\n");

    // The primary's version is kept in the primary's generation: the line says how to
    // bring it back, and that command brings back that file alone.
    let restore = text
        .lines()
        .find(|l| l.contains("confsync rollback") && l.contains("config/app.conf"))
        .unwrap_or_else(|| panic!("no restore command in:\n{text}"));
    let command = restore.split("there: confsync ").nth(1).expect("the command");
    let mut args: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(args[..3], ["rollback", "--server", site.source.address.as_str()]);
    args.push("--yes");
    let restored = confsync(&args);
    assert_exit(&restored, 0);
    assert_eq!(read(p, "config/app.conf"), "primary's edit, older\n");
    // Only that file: the rest of the generation stands.
    assert_eq!(read(p, "config/from-backup.conf"), "b\n");
    assert_eq!(read(p, "config/notes.txt"), "notes\n");
}

#[test]
fn a_modification_wins_over_a_deletion_and_an_untouched_deletion_deletes_on_both() {
    let site = pair();
    with_base(&site);
    let (p, b) = (site.src.path(), site.dst.path());
    // Deleted on the primary, edited on the backup: the edit stays, everywhere.
    std::fs::remove_file(p.join("config/app.conf")).expect("delete");
    write(b, "config/app.conf", b"edited on the backup\n");
    // Deleted on the backup, untouched on the primary: gone from both.
    std::fs::remove_file(b.join("config/notes.txt")).expect("delete");

    let synced = two_way(&site, &[]);
    assert_exit(&synced, 0);
    assert_mentions(&stdout(&synced), &["deleted on", "the modification is kept"]);
    for root in [p, b] {
        assert_eq!(read(root, "config/app.conf"), "edited on the backup\n");
        assert!(
            !root.join("config/notes.txt").exists(),
            "notes.txt is still in {}",
            root.display()
        );
        assert_eq!(read(root, "config/net/dns.conf"), "dns = 1\n");
    }
}

#[test]
fn clocks_too_far_apart_refuse_to_decide_a_conflict_by_time() {
    let dir = tempdir();
    let (p, b) = (dir.path().join("primary"), dir.path().join("backup"));
    common(&p, b"primary license");
    common(&b, b"backup license");
    // The primary tells a clock two minutes ahead.
    let source = Agent::start_with_env(&p, "primary", &[(FAILPOINTS, "clock-ahead-ms=120000")]);
    let destination = Agent::start(&b, "backup");
    let run = |extra: &[&str]| two_way_between(&source, &destination, extra);
    assert_exit(&run(&[]), 0);
    write(&p, "config/app.conf", b"primary's edit\n");
    write(&b, "config/app.conf", b"backup's edit\n");
    let before = (snapshot(&p.join("config")), snapshot(&b.join("config")));

    let refused = run(&["--json"]);
    assert_exit(&refused, 4);
    let events = json_lines(&refused);
    assert!(
        events
            .iter()
            .any(|e| e["kinds"].as_array().is_some_and(|k| k.iter().any(|k| k == "clock_skew"))),
        "{events:#?}\n{}",
        stderr(&refused)
    );
    let text = stderr(&refused) + &stdout(&refused);
    assert_mentions(&text, &["clocks differ by", "--conflict source|destination"]);
    assert_eq!((snapshot(&p.join("config")), snapshot(&b.join("config"))), before);

    // A policy that needs no clock decides.
    assert_exit(&run(&["--conflict", "source"]), 0);
    assert_eq!(read(&b, "config/app.conf"), "primary's edit\n");
}

#[test]
fn killing_an_agent_between_the_two_commits_converges_on_the_next_run() {
    let dir = tempdir();
    let (p, b) = (dir.path().join("primary"), dir.path().join("backup"));
    common(&p, b"primary license");
    common(&b, b"backup license");
    let mut source = Agent::start(&p, "primary");
    let destination = Agent::start(&b, "backup");
    let site = |source: &Agent| two_way_between(source, &destination, &[]);
    assert_exit(&site(&source), 0);
    let bases = || (base_run(&p), base_run(&b));
    let first = bases();
    assert!(first.0.is_some() && first.0 == first.1, "{first:?}");
    write(&p, "config/app.conf", b"primary's edit\n");
    write(&b, "config/net/dns.conf", b"backup's edit\n");
    write(&b, "config/added-on-backup.conf", b"b\n");

    // The primary commits second: it dies in the middle of its commit.
    let address = source.address.clone();
    source.kill();
    let crashing =
        Agent::start_at(&p, "primary", &address, &[(FAILPOINTS, "commit-crash-after=1")]);
    let interrupted = site(&crashing);
    assert_ne!(interrupted.status.code(), Some(0), "{}", stdout(&interrupted));
    // The backup committed its part: it has the primary's edit; neither base moved.
    assert_eq!(read(&b, "config/app.conf"), "primary's edit\n");
    assert_eq!(bases(), first);
    drop(crashing);

    // Restarted, the primary undoes its half-made commit, and the next run finishes.
    let source = Agent::start_at(&p, "primary", &address, &[]);
    assert_eq!(read(&p, "config/net/dns.conf"), "dns = 1\n");
    let finished = site(&source);
    assert_exit(&finished, 0);
    for root in [&p, &b] {
        assert_eq!(read(root, "config/app.conf"), "primary's edit\n");
        assert_eq!(read(root, "config/net/dns.conf"), "backup's edit\n");
        assert_eq!(read(root, "config/added-on-backup.conf"), "b\n");
    }
    assert_mentions(&stdout(&site(&source)), &["already agree"]);
    let last = bases();
    assert!(last.0 != first.0 && last.0 == last.1, "{last:?}");
}

/// The run of a server's base with its one peer, as its state folder keeps it.
fn base_run(root: &Path) -> Option<String> {
    let folder = root.join(".confsync/pairs");
    let base = std::fs::read_dir(folder).ok()?.flatten().map(|e| e.path()).find(|p| {
        p.to_string_lossy().ends_with(".json") && !p.to_string_lossy().contains("candidate")
    })?;
    let doc: serde_json::Value = serde_json::from_slice(&std::fs::read(base).ok()?).ok()?;
    doc["run"].as_str().map(str::to_string)
}

#[test]
fn auto_follows_the_server_list_s_two_way_categories() {
    let site = pair();
    let dir = tempdir();
    let list = dir.path().join("servers.toml").display().to_string();
    let (p, b) = (&site.source.address, &site.destination.address);
    assert_exit(
        &confsync(&["--servers", &list, "servers", "add", "primary", p, "--role", "primary"]),
        0,
    );
    let add = ["--servers", &list, "servers", "add", "backup-1", b, "--two-way", "config"];
    assert_exit(&confsync(&add), 0);
    let text = std::fs::read_to_string(&list).expect("the list");
    assert!(text.contains("two_way = [\"config\"]"), "{text}");
    let auto = || {
        confsync(&[
            "--servers",
            &list,
            "auto",
            "--once",
            "--json",
            "--from",
            "primary",
            "--to",
            "backup-1",
        ])
    };
    assert_exit(&auto(), 0);
    write(site.dst.path(), "config/app.conf", b"edited on the backup\n");
    write(site.dst.path(), "firmware/image.bin", b"firmware edited on the backup");
    let ran = auto();
    assert_exit(&ran, 0);
    assert_eq!(run_line(&ran)["outcome"], "applied", "{}", stdout(&ran));
    assert_eq!(read(site.src.path(), "config/app.conf"), "edited on the backup\n");
    assert_eq!(read(site.src.path(), "firmware/image.bin"), "firmware v1");
    assert_eq!(read(site.dst.path(), "firmware/image.bin"), "firmware v1");
}

#[test]
fn the_reviewed_plan_pins_both_directions() {
    let site = pair();
    with_base(&site);
    let (p, b) = (site.src.path(), site.dst.path());
    write(p, "config/app.conf", b"primary's edit\n");
    write(b, "config/notes.txt", b"backup's edit\n");
    let (from, to) = (&site.source.address, &site.destination.address);
    let diff = confsync(&["diff", "--two-way", "config", "--from", from, "--to", to, "--json"]);
    assert_exit(&diff, 1);
    let doc: serde_json::Value = serde_json::from_slice(&diff.stdout).expect("JSON");
    let digest = doc["digest"].as_str().expect("a digest").to_string();
    // The backup's side changes after the review: the part the primary takes differs.
    write(b, "config/notes.txt", b"backup's second edit\n");
    let before = (snapshot(&p.join("config")), snapshot(&b.join("config")));
    let pinned = two_way(&site, &["--plan", &digest]);
    assert_exit(&pinned, 4);
    assert_mentions(&stderr(&pinned), &["changed since the preview"]);
    assert_eq!((snapshot(&p.join("config")), snapshot(&b.join("config"))), before);
    // Unchanged since the review, the same digest applies.
    let diff = confsync(&["diff", "--two-way", "config", "--from", from, "--to", to, "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&diff.stdout).expect("JSON");
    let digest = doc["digest"].as_str().expect("a digest").to_string();
    assert_exit(&two_way(&site, &["--plan", &digest]), 0);
    assert_eq!(read(p, "config/notes.txt"), "backup's second edit\n");
}

#[test]
fn device_specific_items_stay_on_each_side_and_destination_policy_wins_conflicts() {
    let dir = tempdir();
    let (p, b) = (dir.path().join("primary"), dir.path().join("backup"));
    common(&p, b"primary license");
    common(&b, b"backup license");
    write(&p, "config/host.conf", b"host = primary\n");
    write(&b, "config/host.conf", b"host = backup\n");
    let rules = "[device_specific]\npaths = [\"config/host.conf\"]\n";
    let source = Agent::start_configured(&p, "primary", rules);
    let destination = Agent::start_configured(&b, "backup", rules);
    let run = |extra: &[&str]| two_way_between(&source, &destination, extra);
    assert_exit(&run(&[]), 0);
    write(&p, "config/host.conf", b"host = primary, edited\n");
    write(&p, "config/app.conf", b"primary's edit\n");
    write(&b, "config/app.conf", b"backup's edit\n");
    let synced = run(&["--conflict", "destination"]);
    assert_exit(&synced, 0);
    assert_mentions(&stdout(&synced), &["backup's version wins (by --conflict)"]);
    assert_eq!(read(&p, "config/app.conf"), "backup's edit\n");
    assert_eq!(read(&p, "config/host.conf"), "host = primary, edited\n");
    assert_eq!(read(&b, "config/host.conf"), "host = backup\n");
}

/// A base keeps the content of its small text files on both sides (issue 25, item 1), so
/// that a file changed on both can later be merged against what both agreed on; binary
/// files are left to digests.
#[test]
fn a_base_keeps_the_content_of_its_text_files_on_both_sides() {
    let site = pair();
    with_base(&site);
    let stored = |root: &Path, content: &[u8]| {
        root.join(".confsync/pairs/content").join(blake3::hash(content).to_hex().as_str()).is_file()
    };
    for root in [site.src.path(), site.dst.path()] {
        assert!(stored(root, b"app = 1\n"), "{}: app.conf's content", root.display());
        assert!(stored(root, b"notes\n"), "{}: notes.txt's content", root.display());
    }
}
