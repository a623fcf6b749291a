//! Post-apply hooks (issue 13, item 3): commands in the destination's agent.toml run after
//! a durable commit, with the changed paths; a failure is "applied, hook failed" (exit 3)
//! and recorded, and with `on_hook_failure = "rollback"` the tree returns to what it was.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::*;

/// A primary with a new configuration and new firmware, and a backup whose agent.toml is
/// `config`.
fn site(dir: &Path, config: &str) -> (Agent, Agent) {
    let (p, b) = (dir.join("primary"), dir.join("backup"));
    write(&p, "config/app.conf", b"app = 2\n");
    write(&p, "config/site/db.conf", b"db = 2\n");
    write(&p, "firmware/image.bin", b"firmware v2");
    write(&b, "config/app.conf", b"app = 1\n");
    write(&b, "firmware/image.bin", b"firmware v1");
    write(&b, "licenses/backup.lic", b"backup license");
    let primary = Agent::start(&p, "primary");
    let backup = Agent::start_configured(&b, "backup-1", config);
    (primary, backup)
}

fn history(backup: &Agent) -> serde_json::Value {
    serde_json::from_str(&stdout(&confsync(&["history", "--server", &backup.address, "--json"])))
        .expect("history JSON")
}

#[test]
fn a_hook_receives_the_changed_paths_of_its_scope() {
    let dir = tempdir();
    let seen = dir.path().join("seen.txt");
    let config = format!(
        "[[hook]]\ncategory = \"config\"\ncommand = [\"sh\", \"-c\", \"cp \\\"$CONFSYNC_CHANGED_FILE\\\" {}; echo reloaded for $CONFSYNC_SERVER\"]\n",
        seen.display()
    );
    let (primary, backup) = site(dir.path(), &config);
    let synced = confsync(&["sync", "--from", &primary.address, "--to", &backup.address, "--yes"]);
    assert_exit(&synced, 0);
    assert_mentions(&stdout(&synced), &["hook sh -c", "succeeded"]);
    let listed = std::fs::read_to_string(&seen).expect("the hook ran and copied the list");
    let mut lines: Vec<&str> = listed.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["config/app.conf", "config/site/db.conf"], "only its scope: {listed}");

    let recorded = &history(&backup)["generations"][0]["hooks"][0];
    assert_eq!(recorded["status"], 0, "{recorded}");
    assert!(recorded["output"].as_str().is_some_and(|o| o.contains("reloaded for backup-1")));
}

const FAILING: &str = "[[hook]]\ncommand = [\"sh\", \"-c\", \"echo broken config >&2; exit 1\"]\n";

#[test]
fn a_failing_hook_is_exit_3_and_recorded_and_the_commit_stands() {
    let dir = tempdir();
    let (primary, backup) = site(dir.path(), FAILING);
    let synced = confsync(&["sync", "--from", &primary.address, "--to", &backup.address, "--yes"]);
    assert_exit(&synced, 3);
    assert_mentions(&stdout(&synced), &["applied, but: hook", "exited with 1: broken config"]);
    assert_categories_equal(&primary.root, &backup.root);
    let recorded = &history(&backup)["generations"][0];
    assert_eq!(recorded["hooks"][0]["status"], 1, "{recorded}");
    assert_eq!(recorded["result"], "ok", "the commit stands: {recorded}");
}

#[test]
fn with_on_hook_failure_rollback_the_tree_returns_to_the_previous_generation() {
    let dir = tempdir();
    let config = format!("on_hook_failure = \"rollback\"\n{FAILING}");
    let (primary, backup) = site(dir.path(), &config);
    let before = snapshot(&backup.root);
    let synced = confsync(&["sync", "--from", &primary.address, "--to", &backup.address, "--yes"]);
    assert_exit(&synced, 3);
    assert_mentions(&stdout(&synced), &["rolled generation 1 back (generation 2)"]);
    let after = snapshot(&backup.root);
    for category in ["config", "firmware", "licenses"] {
        let pick = |t: &Tree| -> Tree {
            t.iter()
                .filter(|(p, _)| p.starts_with(category))
                .map(|(p, e)| (p.clone(), e.clone()))
                .collect()
        };
        assert_same_tree(&pick(&before), &pick(&after), category);
    }
    let generations = &history(&backup)["generations"];
    assert_eq!(generations[0]["kind"], "rollback of 1", "{generations}");
    assert!(
        generations[0]["requested_by"].as_str().is_some_and(|r| r.contains("a hook failed")),
        "{generations}"
    );
}

#[test]
fn a_hook_that_hangs_is_killed_at_its_timeout_and_the_agent_keeps_serving() {
    let dir = tempdir();
    let config =
        "[[hook]]\ntimeout = \"2s\"\ncommand = [\"sh\", \"-c\", \"sleep 287 & sleep 287\"]\n";
    let (primary, backup) = site(dir.path(), config);
    let (from, to) = (primary.address.clone(), backup.address.clone());
    let started = Instant::now();
    let sync =
        std::thread::spawn(move || confsync(&["sync", "--from", &from, "--to", &to, "--yes"]));
    std::thread::sleep(Duration::from_millis(800));
    // While the hook hangs the agent answers (the history is an RPC of its own).
    let asked = confsync(&["history", "--server", &backup.address]);
    assert_exit(&asked, 0);
    let synced = sync.join().expect("the sync thread");
    assert_exit(&synced, 3);
    assert_mentions(&stdout(&synced), &["was killed at its timeout"]);
    assert!(started.elapsed() < Duration::from_secs(60), "{:?}", started.elapsed());
    let left =
        std::process::Command::new("pgrep").args(["-f", "sleep 287"]).output().expect("pgrep");
    assert!(left.stdout.is_empty(), "the hook's processes were killed: {}", stdout(&left));
}

/// The generations a marker hook saw, in order.
fn marks(marker: &Path) -> Vec<String> {
    std::fs::read_to_string(marker).unwrap_or_default().lines().map(str::to_string).collect()
}

/// A rollback is an apply (issue 23, item 2): the hooks of its scope run after a manual
/// rollback and after a commit-confirmed deadline's, and a hold does not stop the deadline
/// rollback (the safety net a hold must not disable).
#[test]
fn a_rollback_runs_the_hooks_of_its_scope_and_a_hold_does_not_stop_the_deadline() {
    let dir = tempdir();
    let marker = dir.path().join("reloads.txt");
    let config = format!(
        "[[hook]]\ncategory = \"config\"\ncommand = [\"sh\", \"-c\", \"echo $CONFSYNC_GENERATION >> {}\"]\n",
        marker.display()
    );
    let (primary, backup) = site(dir.path(), &config);
    let before = snapshot(&backup.root);
    assert_exit(
        &confsync(&["sync", "--from", &primary.address, "--to", &backup.address, "--yes"]),
        0,
    );
    assert_eq!(marks(&marker), ["1"], "the sync's hook");

    let rolled = confsync(&["rollback", "--server", &backup.address, "--yes"]);
    assert_exit(&rolled, 0);
    assert_eq!(marks(&marker), ["1", "2"], "the manual rollback's hook: {}", stdout(&rolled));
    assert_mentions(&stdout(&rolled), &["hook sh -c", "succeeded"]);
    assert_eq!(history(&backup)["generations"][0]["hooks"][0]["status"], 0);

    let synced = confsync(&[
        "sync",
        "--from",
        &primary.address,
        "--to",
        &backup.address,
        "--yes",
        "--confirm-within",
        "3s",
    ]);
    assert_exit(&synced, 0);
    assert_eq!(marks(&marker), ["1", "2", "3"]);
    assert_exit(
        &confsync(&["hold", "--server", &backup.address, "--reason", "maintenance window"]),
        0,
    );
    let started = Instant::now();
    while marks(&marker).len() < 4 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no deadline rollback on a held server; log:\n{}",
            backup.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(marks(&marker), ["1", "2", "3", "4"], "the deadline rollback's hook");
    let after = snapshot(&backup.root);
    let config = |t: &Tree| -> Tree {
        t.iter()
            .filter(|(p, _)| p.starts_with("config"))
            .map(|(p, e)| (p.clone(), e.clone()))
            .collect()
    };
    assert_same_tree(&config(&before), &config(&after), "config after the deadline");
    let newest = &history(&backup)["generations"][0];
    assert_eq!(newest["kind"], "rollback of 3", "{newest}");
    assert!(
        stdout(&confsync(&["servers", "show", &backup.address])).contains("maintenance window"),
        "the hold stands after the safety net acted"
    );
}

/// A check that fails on the tree a rollback would restore refuses the rollback, in the
/// rollback's words, and changes nothing; `--force` rolls back anyway.
#[test]
fn a_failing_check_refuses_a_rollback_unless_forced() {
    let dir = tempdir();
    // The old configuration (app = 1) is what this check rejects.
    let config = "[[check]]\ncategory = \"config\"\ncommand = [\"sh\", \"-c\", \"! grep -q 'app = 1' \\\"$CONFSYNC_TREE/config/app.conf\\\" || { echo app = 1 is retired >&2; exit 1; }\"]\n";
    let (primary, backup) = site(dir.path(), config);
    assert_exit(
        &confsync(&["sync", "--from", &primary.address, "--to", &backup.address, "--yes"]),
        0,
    );
    let synced = snapshot(&backup.root);

    let refused = confsync(&["rollback", "--server", &backup.address, "--yes"]);
    assert_exit(&refused, 4);
    assert_mentions(
        &stderr(&refused),
        &["app = 1 is retired", "the rollback was refused and nothing was changed", "--force"],
    );
    assert_same_tree(&synced, &snapshot(&backup.root), "a refused rollback changes nothing");

    let forced = confsync(&["rollback", "--server", &backup.address, "--yes", "--force"]);
    assert_exit(&forced, 0);
    let app = std::fs::read(backup.root.join("config/app.conf")).expect("app.conf");
    assert_eq!(app, b"app = 1\n", "rolled back anyway");
}
