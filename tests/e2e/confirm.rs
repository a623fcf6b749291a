//! Commit-confirmed (issue 13, item 4): `sync --confirm-within` leaves a deadline on the
//! destination, kept in its state folder; unless `confsync confirm` arrives in time, the
//! destination rolls the generation back itself, also across a restart.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::*;

fn trees(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let (p, b) = (dir.join("primary"), dir.join("backup"));
    write(&p, "config/app.conf", b"app = 2\n");
    write(&p, "firmware/image.bin", b"firmware v2");
    write(&b, "config/app.conf", b"app = 1\n");
    write(&b, "config/old.conf", b"old\n");
    write(&b, "firmware/image.bin", b"firmware v1");
    write(&b, "licenses/backup.lic", b"backup license");
    (p, b)
}

fn categories(root: &Path) -> Vec<Tree> {
    ["config", "firmware", "licenses"].iter().map(|c| snapshot(&root.join(c))).collect()
}

/// Waits until `root`'s categories are `expected` again.
fn wait_until_as(root: &Path, expected: &[Tree], within: Duration) {
    let started = Instant::now();
    while categories(root) != expected {
        assert!(started.elapsed() < within, "{} did not return to its state", root.display());
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn sync_confirmed(primary: &Agent, backup: &Agent, within: &str) -> std::process::Output {
    confsync(&[
        "sync",
        "--from",
        &primary.address,
        "--to",
        &backup.address,
        "--yes",
        "--confirm-within",
        within,
    ])
}

#[test]
fn an_unconfirmed_sync_rolls_back_at_its_deadline_and_says_so() {
    let dir = tempdir();
    let (p, b) = trees(dir.path());
    let primary = Agent::start(&p, "primary");
    let backup = Agent::start(&b, "backup-1");
    let before = categories(&b);
    let synced = sync_confirmed(&primary, &backup, "3s");
    assert_exit(&synced, 0);
    assert_mentions(&stdout(&synced), &["awaiting confirmation", "confsync confirm --server"]);
    assert_categories_equal(&p, &b);

    let mut list = ServerFile::new(dir.path());
    list.add("backup-1", &backup.address, "backup");
    let shown =
        confsync(&["--servers", &list.path.display().to_string(), "servers", "show", "backup-1"]);
    assert_mentions(
        &stdout(&shown),
        &["generation 1 rolls back at", "confsync confirm --server backup-1"],
    );
    let listed = confsync(&["--servers", &list.path.display().to_string(), "servers", "list"]);
    assert_mentions(&stdout(&listed), &["awaiting confirmation of 1"]);
    // A deadline still ahead reads as one (issue 23, item 9), and as data it is an object
    // with an RFC 3339 time, like every time in confsync's JSON.
    std::fs::create_dir_all(dir.path().join("with-primary")).expect("a folder for the list");
    let mut with_primary = ServerFile::new(&dir.path().join("with-primary"));
    with_primary.add("primary", &primary.address, "primary");
    with_primary.add("backup-1", &backup.address, "backup");
    let servers = with_primary.path.display().to_string();
    let status = stdout(&confsync(&["--servers", &servers, "status"]));
    assert_mentions(
        &status,
        &["awaiting confirmation of generation 1 (rolls back at", "unless confirmed"],
    );
    let listed = confsync(&["--servers", &servers, "servers", "list", "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&stdout(&listed)).expect("list JSON");
    let awaiting = &rows[1]["awaiting_confirmation"];
    assert_eq!(awaiting["generation"], 1, "{rows:#}");
    assert!(
        awaiting["deadline"].as_str().is_some_and(|d| d.starts_with("20") && d.ends_with('Z')),
        "{rows:#}"
    );

    // Another apply meanwhile is refused: it would pile onto what is about to be undone.
    write(&p, "config/more.conf", b"more\n");
    let again = confsync(&["sync", "--from", &primary.address, "--to", &backup.address, "--yes"]);
    assert_exit(&again, 4);
    assert_mentions(
        &(stdout(&again) + &stderr(&again)),
        &["awaits the confirmation of generation 1"],
    );

    wait_until_as(&b, &before, Duration::from_secs(30));
    let history: serde_json::Value = serde_json::from_str(&stdout(&confsync(&[
        "history",
        "--server",
        &backup.address,
        "--json",
    ])))
    .expect("history JSON");
    let newest = &history["generations"][0];
    assert_eq!(newest["kind"], "rollback of 1", "{history}");
    assert!(
        newest["requested_by"].as_str().is_some_and(|r| r.contains("not confirmed")),
        "{history}"
    );
}

#[test]
fn the_deadline_survives_a_restart_of_the_destination() {
    let dir = tempdir();
    let (p, b) = trees(dir.path());
    let primary = Agent::start(&p, "primary");
    let mut backup = Agent::start(&b, "backup-1");
    let before = categories(&b);
    assert_exit(&sync_confirmed(&primary, &backup, "3s"), 0);
    backup.stop();
    // Down past its deadline: the agent acts on it when it starts again.
    std::thread::sleep(Duration::from_secs(4));
    assert_categories_equal(&p, &b);
    let _backup = Agent::start(&b, "backup-1");
    wait_until_as(&b, &before, Duration::from_secs(30));
}

#[test]
fn a_confirmed_sync_stays() {
    let dir = tempdir();
    let (p, b) = trees(dir.path());
    let primary = Agent::start(&p, "primary");
    let backup = Agent::start(&b, "backup-1");
    assert_exit(&sync_confirmed(&primary, &backup, "3s"), 0);
    let confirmed = confsync(&["confirm", "--server", &backup.address]);
    assert_exit(&confirmed, 0);
    assert_mentions(&stdout(&confirmed), &["generation 1 is confirmed"]);
    std::thread::sleep(Duration::from_secs(5));
    assert_categories_equal(&p, &b);
    assert_exit(&confsync(&["confirm", "--server", &backup.address]), 1);
    // Confirmed, the destination accepts applies again.
    write(&p, "config/more.conf", b"more\n");
    assert_exit(
        &confsync(&["sync", "--from", &primary.address, "--to", &backup.address, "--yes"]),
        0,
    );
}

#[test]
fn the_wizard_applies_commit_confirmed_when_asked() {
    let dir = tempdir();
    let (p, b) = trees(dir.path());
    let primary = Agent::start(&p, "primary");
    let backup = Agent::start(&b, "backup-1");
    let mut list = ServerFile::new(dir.path());
    list.add("primary", &primary.address, "primary").add("backup-1", &backup.address, "backup");
    let mut session = wizard_session_with(&list.path, &["--confirm-within", "1h"]);
    accept_the_defaults_through_categories(&mut session);
    session.exp_string("Show what changes inside the files").expect("key-level offer");
    press(&mut session, "n");
    session.exp_string("Overwrite backup-1 with primary?").expect("confirmation");
    press(&mut session, "y");
    session
        .exp_string("Awaiting confirmation: backup-1 rolls generation 1 back at")
        .expect("the deadline said");
    session.exp_eof().expect("the wizard ends");
    assert_exit(&confsync(&["confirm", "--server", &backup.address]), 0);
}
