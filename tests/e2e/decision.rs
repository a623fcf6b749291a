//! One decision on a plan for every command, and refusals told apart by their kind: a
//! held server that already equals its source reads the same (exit code and sentence) in
//! the wizard, `sync` and `auto --once`; and `auto` reports each refusal's kind from its
//! type, with the behaviour that kind calls for.

use std::time::Duration;

use crate::support::*;

/// The same configuration and firmware on both sides; each its own licence.
fn same_tree(root: &std::path::Path) {
    write(root, "config/app.conf", b"version = 1\n");
    write(root, "firmware/image.bin", b"firmware v1");
    write(root, "licenses/own.lic", root.display().to_string().as_bytes());
}

#[test]
fn a_held_server_in_sync_reads_the_same_in_the_wizard_sync_and_auto() {
    let site = Pair::with(same_tree, same_tree);
    let (source, destination) = (&site.source, &site.destination);
    let held = confsync(&["hold", "--server", &destination.address, "--reason", "maintenance"]);
    assert_exit(&held, 0);
    let sentence_start =
        "backup already equals primary (firmware, capdb, modules, config): nothing to do";

    let synced = confsync(&sync_args(&source.address, &destination.address, &[]));
    assert_exit(&synced, 0);
    let from_sync = stdout(&synced)
        .lines()
        .find(|l| l.starts_with(sentence_start))
        .unwrap_or_else(|| panic!("sync says nothing of it:\n{}", stdout(&synced)))
        .to_string();
    assert!(from_sync.contains("on hold") && from_sync.contains("maintenance"), "{from_sync}");

    let followed = auto_once(source, destination, &[]);
    assert_exit(&followed, 0);
    let line = run_line(&followed);
    assert_eq!(line["outcome"], "in_sync", "{line}");
    assert_eq!(line["message"].as_str(), Some(from_sync.as_str()), "{line}");

    let dir = tempdir();
    let mut list = ServerFile::new(dir.path());
    list.add("primary", &source.address, "primary").add("backup", &destination.address, "backup");
    let mut session = wizard_session(&list.path);
    accept_the_defaults_through_categories(&mut session);
    session.exp_string(&from_sync).expect("the wizard says the same");
    session.exp_eof().expect("the wizard ends");
    let status = session.process().wait().expect("exit status");
    assert!(matches!(status, rexpect::process::WaitStatus::Exited(_, 0)), "{status:?}");
}

/// The kind `auto --once` names for a run, with its outcome and exit code.
fn refused_run(source: &Agent, destination: &Agent, extra: &[&str]) -> (i32, String, String) {
    let output = auto_once(source, destination, extra);
    let line = run_line(&output);
    (
        output.status.code().unwrap_or(-1),
        line["outcome"].as_str().unwrap_or_default().to_string(),
        line["refusal"].as_str().unwrap_or_default().to_string(),
    )
}

#[test]
fn auto_tells_every_refusal_kind_from_its_type() {
    let (src, dst) = (tempdir(), tempdir());
    for i in 0..8 {
        write(src.path(), &format!("modules/m{i}.so"), format!("module {i}").as_bytes());
    }
    write(src.path(), "config/app.conf", b"version = 2\n");
    let source = Agent::start(src.path(), "primary");
    let destination = Agent::start_with_args(dst.path(), "backup", &["--protected"]);

    // Protected: refused, and the override lets it through.
    assert_eq!(refused_run(&source, &destination, &[]), (4, "refused".into(), "protected".into()));
    assert_exit(&auto_once(&source, &destination, &["--allow-protected"]), 0);

    // A wiped category, and mass deletion: each guard by its own kind.
    std::fs::remove_dir_all(src.path().join("config")).expect("empty config");
    std::fs::create_dir(src.path().join("config")).expect("recreate config");
    let guard = refused_run(&source, &destination, &["--allow-protected"]);
    assert_eq!(guard, (4, "refused".into(), "empty_source".into()));
    write(src.path(), "config/app.conf", b"version = 2\n");
    for i in 0..3 {
        std::fs::remove_file(src.path().join(format!("modules/m{i}.so"))).expect("remove");
    }
    let guard = refused_run(&source, &destination, &["--allow-protected"]);
    assert_eq!(guard, (4, "refused".into(), "max_delete".into()));

    // On hold.
    assert_exit(&confsync(&["hold", "--server", &destination.address, "--reason", "x"]), 0);
    let held = refused_run(&source, &destination, &["--allow-protected", "--max-delete", "100"]);
    assert_eq!(held, (4, "refused".into(), "hold".into()));
    assert_exit(&confsync(&["release", "--server", &destination.address]), 0);

    // The same server under another name.
    let port = source.address.rsplit(':').next().expect("a port");
    let other_name = format!("localhost:{port}");
    let output =
        confsync(&["auto", "--once", "--json", "--from", &source.address, "--to", &other_name]);
    let line = run_line(&output);
    assert_eq!(
        (output.status.code(), line["outcome"].as_str(), line["refusal"].as_str()),
        (Some(4), Some("refused"), Some("same_server")),
        "{line}"
    );
}

#[test]
fn a_busy_destination_is_a_failure_to_retry_named_busy() {
    let (src, dst) = (tempdir(), tempdir());
    write_noise(src.path(), "firmware/big.img", 8 << 20, 3);
    let source = Agent::start(src.path(), "primary");
    let destination = Agent::start_with_env(
        dst.path(),
        "backup",
        &[("CONFSYNC_FAILPOINTS", "transfer-delay-ms=50")],
    );
    let mut slow = Running::spawn(&sync_args(&source.address, &destination.address, &["--json"]));
    slow.wait_for(Duration::from_secs(60), is_transferring);

    let (code, outcome, kind) = refused_run(&source, &destination, &[]);
    assert_eq!((code, outcome.as_str(), kind.as_str()), (3, "failed", "busy"));
    drop(slow);
}
