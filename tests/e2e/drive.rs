//! Every operation that changes servers goes through one driver (`cli::drive`): Ctrl-C
//! during the apply of each (one way, both ways, a bundle import, a rollback) stops it,
//! says so, exits 4, and leaves every server as it was.

use std::path::Path;
use std::time::Duration;

use crate::support::*;

/// A destination whose transfers crawl (100 ms after each chunk), so that Ctrl-C lands
/// in the middle of one.
fn slow_agent(root: &Path, name: &str) -> Agent {
    Agent::start_with_env(root, name, &[("CONFSYNC_FAILPOINTS", "transfer-delay-ms=100")])
}

/// Runs `args` (a command with `--json`), presses Ctrl-C once data is being transferred,
/// and checks how it ended: exit 4, a `cancelled` error.
fn interrupted(args: &[&str]) {
    let mut running = Running::spawn(args);
    running.wait_for(Duration::from_secs(60), is_transferring);
    running.interrupt();
    let (status, events, stderr) = running.finish(Duration::from_secs(30));
    assert_eq!(status.code(), Some(4), "{args:?}: {events:#?}\n{stderr}");
    let cancelled = events.iter().any(|e| e["event"] == "error" && e["kinds"][0] == "cancelled");
    assert!(cancelled, "{args:?}: no cancelled error event: {events:#?}");
}

/// The trees under `root` apart from the agent's state folder.
fn trees(root: &Path) -> Tree {
    snapshot(root).into_iter().filter(|(p, _)| !p.starts_with(".confsync")).collect()
}

#[test]
fn ctrl_c_during_a_one_way_apply_leaves_the_destination_as_it_was() {
    let (src, dst) = (tempdir(), tempdir());
    write_noise(src.path(), "firmware/big.img", 32 << 20, 1);
    write(dst.path(), "firmware/old.img", b"old");
    let source = Agent::start(src.path(), "primary");
    let destination = slow_agent(dst.path(), "backup");
    let before = trees(dst.path());
    interrupted(&sync_args(&source.address, &destination.address, &["--json"]));
    assert_same_tree(&before, &trees(dst.path()), "the destination");
}

#[test]
fn ctrl_c_during_a_two_way_apply_leaves_both_servers_as_they_were() {
    let (src, dst) = (tempdir(), tempdir());
    write_noise(src.path(), "firmware/big.img", 32 << 20, 2);
    write(src.path(), "config/app.conf", b"app = 1\n");
    write(dst.path(), "config/app.conf", b"app = 1\n");
    write(dst.path(), "config/local.conf", b"made on the backup\n");
    let source = slow_agent(src.path(), "primary");
    let destination = slow_agent(dst.path(), "backup");
    let before = (trees(src.path()), trees(dst.path()));
    let args = [
        "sync",
        "--two-way",
        "firmware,config",
        "--from",
        &source.address,
        "--to",
        &destination.address,
        "--yes",
        "--json",
    ];
    interrupted(&args);
    assert_same_tree(&before.0, &trees(src.path()), "the source");
    assert_same_tree(&before.1, &trees(dst.path()), "the destination");
}

#[test]
fn ctrl_c_during_an_import_leaves_the_destination_as_it_was() {
    let (src, dst, dir) = (tempdir(), tempdir(), tempdir());
    write_noise(src.path(), "firmware/big.img", 32 << 20, 3);
    write(dst.path(), "firmware/old.img", b"old");
    let source = Agent::start(src.path(), "primary");
    let bundle = dir.path().join("site.bundle");
    let file = bundle.to_str().expect("UTF-8 path");
    assert_exit(&confsync(&["export", "--from", &source.address, "-o", file]), 0);
    let destination = slow_agent(dst.path(), "backup");
    let before = trees(dst.path());
    interrupted(&["import", file, "--to", &destination.address, "--yes", "--json"]);
    assert_same_tree(&before, &trees(dst.path()), "the destination");
}

#[test]
fn ctrl_c_during_a_rollback_leaves_the_server_as_it_was() {
    let (src, dst) = (tempdir(), tempdir());
    write_noise(src.path(), "firmware/big.img", 32 << 20, 4);
    write_noise(dst.path(), "firmware/big.img", 32 << 20, 5);
    let source = Agent::start(src.path(), "primary");
    {
        let destination = Agent::start(dst.path(), "backup");
        sync_ok(&source, &destination, &[]);
    }
    // Generation 1 replaced the backup's own image: rolling it back brings 32 MiB back.
    let destination = slow_agent(dst.path(), "backup");
    let before = trees(dst.path());
    interrupted(&["rollback", "--server", &destination.address, "--yes", "--json"]);
    assert_same_tree(&before, &trees(dst.path()), "the server");
}
