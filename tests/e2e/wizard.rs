//! The wizard driven through a real pseudo-terminal against two real agents: arrow keys
//! to pick, the differences it shows checked against the trees, then yes or no.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::support::*;
use rexpect::session::PtySession;

/// A primary and a lagging backup, listed after a backup that is down: the wizard starts
/// on the primary as source and on the first backup (the one that is down) as
/// destination, so picking backup-1 takes an arrow key.
struct Site {
    _dir: tempfile::TempDir,
    primary: Agent,
    backup: Agent,
    servers: PathBuf,
}

fn pair() -> Site {
    pair_with(&[], |_| {})
}

/// [`pair`], with `backup_env` for the backup's agent and `more` written into the
/// primary's tree.
fn pair_with(backup_env: &[(&str, &str)], more: impl FnOnce(&Path)) -> Site {
    let dir = tempfile::tempdir().expect("tempdir");
    let (p, b) = (dir.path().join("primary"), dir.path().join("backup"));
    more(&p);
    write(&p, "firmware/image.bin", b"firmware v2");
    write(&b, "firmware/image.bin", b"firmware v1");
    write(&p, "modules/new.mod", b"a module only the primary has");
    write(&p, "config/server.conf", b"port=2031\n");
    write(&b, "config/server.conf", b"port=2031\n");
    write(&b, "config/stale.conf", b"left over");
    write(&p, "licenses/primary.lic", b"primary license");
    write(&b, "licenses/backup.lic", b"backup license");
    // server.conf is the same on both, times included.
    pin_times(&p);
    pin_times(&b);
    let primary = Agent::start(&p, "primary");
    let backup = Agent::start_with_env(&b, "backup-1", backup_env);
    let mut list = ServerFile::new(dir.path());
    list.add("backup-2", "127.0.0.1:1", "backup").add("backup-1", &backup.address, "backup").add(
        "primary",
        &primary.address,
        "primary",
    );
    Site { _dir: dir, primary, backup, servers: list.path }
}

/// Keeps the primary as source, picks backup-1 (one arrow down) as destination, keeps the
/// default categories, and returns what was shown up to the confirmation.
fn answer_until_confirmation(session: &mut PtySession) -> String {
    // Keys typed before a menu has put the terminal in raw mode are lost: wait for each
    // menu's last row, not only its prompt.
    session.exp_string("Source, the server to copy from").expect("source prompt");
    session.exp_string("Type an address").expect("source menu");
    press(session, "\r");
    session.exp_string("Destination, the server to overwrite").expect("destination prompt");
    session.exp_string("Type an address").expect("destination menu");
    press(session, "\x1b[B");
    press(session, "\r");
    one_way(session);
    session.exp_string("never synchronized").expect("licenses note");
    session.exp_string("Categories to synchronize").expect("categories prompt");
    session.exp_string("Configuration").expect("categories menu");
    press(session, "\r");
    let shown = session.exp_string("Show what changes inside the files").expect("key-level offer");
    press(session, "n");
    let confirmation =
        session.exp_string("Overwrite backup-1 with primary?").expect("confirmation");
    shown + &confirmation
}

#[test]
fn the_wizard_shows_the_differences_and_applies_them_on_yes() {
    let pair = pair();
    let licenses = snapshot(&pair.backup.root.join("licenses"));
    let mut session = wizard_session(&pair.servers);
    let shown = answer_until_confirmation(&mut session);
    for line in ["~ image.bin", "+ new.mod", "- stale.conf", "Licenses"] {
        assert!(shown.contains(line), "the differences should show {line:?}:\n{shown}");
    }
    assert!(!shown.contains("server.conf"), "an equal file is no difference:\n{shown}");
    press(&mut session, "y");
    session.exp_string("Done: backup-1 now equals primary").expect("result");
    session.exp_string("confsync rollback --server backup-1").expect("how to roll back");
    session.exp_eof().expect("the wizard ends");

    assert_categories_equal(&pair.primary.root, &pair.backup.root);
    assert_same_tree(&licenses, &snapshot(&pair.backup.root.join("licenses")), "backup licenses");
}

#[test]
fn answering_no_leaves_the_destination_unchanged() {
    let pair = pair();
    let before = snapshot(&pair.backup.root);
    let mut session = wizard_session(&pair.servers);
    answer_until_confirmation(&mut session);
    press(&mut session, "n");
    session.exp_string("Nothing was changed").expect("refusal");
    session.exp_eof().expect("the wizard ends");
    let status = session.process().wait().expect("exit status");
    assert!(matches!(status, rexpect::process::WaitStatus::Exited(_, 4)), "{status:?}");
    assert_same_tree(&before, &snapshot(&pair.backup.root), "backup after answering no");
}

#[test]
fn ctrl_c_during_the_transfer_leaves_the_destination_as_it_was() {
    // A slowed transfer of a large image, so that Ctrl-C lands in the middle of it.
    let pair = pair_with(&[("CONFSYNC_FAILPOINTS", "transfer-delay-ms=100")], |p| {
        write_noise(p, "firmware/big.img", 32 << 20, 7);
    });
    let before = snapshot(&pair.backup.root);
    let mut session = wizard_session(&pair.servers);
    answer_until_confirmation(&mut session);
    press(&mut session, "y");
    let staging = pair.backup.root.join(".confsync/staging");
    let staged = || {
        std::fs::read_dir(&staging).into_iter().flatten().flatten().any(|generation| {
            std::fs::read_dir(generation.path()).is_ok_and(|mut files| files.next().is_some())
        })
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !staged() {
        assert!(Instant::now() < deadline, "the transfer never started staging");
        std::thread::sleep(Duration::from_millis(50));
    }
    session.send_control('c').expect("Ctrl-C");
    session.exp_string("Cancelled").expect("the wizard says it cancelled");
    session.exp_string("as it was").expect("and that the destination is unchanged");
    session.exp_eof().expect("the wizard ends");
    let status = session.process().wait().expect("exit status");
    assert!(matches!(status, rexpect::process::WaitStatus::Exited(_, 4)), "{status:?}");

    // The agent notices the client went away at its next piece and discards the staging.
    let deadline = Instant::now() + Duration::from_secs(20);
    while staging.read_dir().is_ok_and(|mut e| e.next().is_some()) {
        assert!(Instant::now() < deadline, "staging was not discarded");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_same_tree(&before, &snapshot(&pair.backup.root), "backup after Ctrl-C");
}

#[test]
fn overwriting_the_primary_needs_an_extra_yes() {
    let pair = pair();
    let before = snapshot(&pair.primary.root);
    let mut session = wizard_session(&pair.servers);
    session.exp_string("Type an address").expect("source menu");
    press(&mut session, "\x1b[A"); // from the primary up to backup-1
    press(&mut session, "\r");
    session.exp_string("Type an address").expect("destination menu");
    press(&mut session, "\x1b[B"); // from backup-2 down to the primary
    press(&mut session, "\r");
    one_way(&mut session);
    session.exp_string("primary is listed as the primary").expect("extra confirmation");
    press(&mut session, "n");
    session.exp_string("Nothing was changed").expect("refusal");
    session.exp_eof().expect("the wizard ends");
    let status = session.process().wait().expect("exit status");
    assert!(matches!(status, rexpect::process::WaitStatus::Exited(_, 4)), "{status:?}");
    assert_same_tree(&before, &snapshot(&pair.primary.root), "primary after answering no");
}

#[test]
fn without_a_terminal_the_wizard_points_to_sync_yes() {
    let output = confsync(&["wizard"]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("sync --from SRC --to DST --yes"), "{}", stderr(&output));
}

#[test]
fn both_ways_the_wizard_shows_each_direction_and_asks_per_conflict() {
    let site = pair();
    let (p, b) = (&site.primary.root, &site.backup.root);
    write(p, "config/shared.conf", b"edit = primary\n");
    write(b, "config/shared.conf", b"edit = backup\n");
    let mut session = wizard_session(&site.servers);
    session.exp_string("Type an address").expect("source menu");
    press(&mut session, "\r");
    session.exp_string("Type an address").expect("destination menu");
    press(&mut session, "\x1b[B");
    press(&mut session, "\r");
    session.exp_string("Both ways").expect("direction menu");
    press(&mut session, "\x1b[B");
    press(&mut session, "\r");
    session.exp_string("Categories to synchronize").expect("categories prompt");
    session.exp_string("Configuration").expect("categories menu");
    press(&mut session, "\r");
    session.exp_string("both ways (the others go one way)").expect("two-way categories");
    session.exp_string("Configuration").expect("two-way categories menu");
    press(&mut session, "\r");
    session.exp_string("ask me for each file").expect("conflict policy menu");
    press(&mut session, "\x1b[B\x1b[B\x1b[B");
    press(&mut session, "\r");
    let shown =
        session.exp_string("config/shared.conf changed on both servers").expect("the question");
    // (The pty is read as Latin-1: the arrows themselves are checked in tests/e2e/two_way.rs.)
    assert_mentions(
        &shown,
        &["backup-1 takes from primary", "primary takes from backup-1", "+ stale.conf"],
    );
    assert_mentions(&shown, &["First two-way sync", "config/shared.conf: changed on both"]);
    session.exp_string("keep backup-1's version").expect("conflict menu");
    press(&mut session, "\x1b[B");
    press(&mut session, "\r");
    // As one way does, it offers what changes inside the files (issue 23, item 7).
    session.exp_string("Show what changes inside the files").expect("key-level offer");
    press(&mut session, "y");
    session.exp_string("edit primary").expect("the key-level change of shared.conf");
    session.exp_string("Apply both ways?").expect("confirmation");
    press(&mut session, "y");
    session.exp_string("Done: both servers committed").expect("result");
    session.exp_eof().expect("the wizard ends");
    assert_eq!(std::fs::read(p.join("config/shared.conf")).expect("read"), b"edit = backup\n");
    assert_eq!(std::fs::read(p.join("config/stale.conf")).expect("read"), b"left over");
    assert_eq!(std::fs::read(b.join("firmware/image.bin")).expect("read"), b"firmware v2");
    assert_eq!(std::fs::read(p.join("licenses/primary.lic")).expect("read"), b"primary license");
    assert!(!p.join("licenses/backup.lic").exists());
}

#[test]
fn a_bundle_file_is_a_source_the_wizard_offers() {
    let site = pair();
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = dir.path().join("site.bundle");
    let file = bundle.display().to_string();
    assert_exit(&confsync(&["export", "--from", &site.primary.address, "-o", &file]), 0);
    let mut session = wizard_session(&site.servers);
    session.exp_string("A bundle file").expect("source menu");
    press(&mut session, "\x1b[B\x1b[B");
    press(&mut session, "\r");
    session.exp_string("Bundle file").expect("path prompt");
    press(&mut session, &format!("{file}\r"));
    session.exp_string("Type an address").expect("destination menu");
    press(&mut session, "\x1b[B");
    press(&mut session, "\r");
    session.exp_string("of primary (exported").expect("the plan names the bundle's origin");
    session.exp_string("Overwrite backup-1 with").expect("confirmation");
    press(&mut session, "y");
    session.exp_string("generation 1").expect("result");
    session.exp_eof().expect("the wizard ends");
    for category in ["firmware", "modules", "config"] {
        assert_eq!(
            snapshot(&site.primary.root.join(category)),
            snapshot(&site.backup.root.join(category)),
            "{category}"
        );
    }
    assert!(site.backup.root.join("licenses/backup.lic").exists());
}
