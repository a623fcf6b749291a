//! `confsync status` (issue 16, item 1): one row per server against the primary, each
//! state with the command that fixes it, `--json` as data, exit codes for monitoring.

use std::path::Path;

use crate::support::*;

fn tree(root: &Path) {
    write(root, "config/app.conf", b"app = 1\n");
    write(root, "firmware/image.bin", b"firmware v1");
}

fn state_of<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["servers"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["name"] == name))
        .unwrap_or_else(|| panic!("no row for {name} in {doc:#}"))
}

#[test]
fn status_names_each_state_with_the_command_that_fixes_it() {
    let dir = tempdir();
    let roots: Vec<_> = ["primary", "synced", "pending", "edited", "held", "fresh"]
        .iter()
        .map(|n| dir.path().join(n))
        .collect();
    for root in &roots[..5] {
        tree(root);
    }
    // The backups start older, so that their first sync commits a generation.
    for root in &roots[1..5] {
        write(root, "firmware/image.bin", b"firmware v0");
    }
    write(&roots[5], "config/other.conf", b"not yet synced\n");
    let agents: Vec<Agent> = ["primary", "synced", "pending", "edited", "held", "fresh"]
        .iter()
        .zip(&roots)
        .map(|(name, root)| Agent::start(root, name))
        .collect();
    let mut list = ServerFile::new(dir.path());
    list.add("primary", &agents[0].address, "primary");
    for (agent, name) in agents[1..].iter().zip(["synced", "pending", "edited", "held", "fresh"]) {
        list.add(name, &agent.address, "backup");
    }
    list.add("gone", "127.0.0.1:1", "backup");
    for agent in &agents[1..5] {
        sync_ok(&agents[0], agent, &[]);
    }
    let servers = list.path.display().to_string();
    let status = || confsync(&["--servers", &servers, "status", "--json"]);
    // The primary changes: pending for those that do not follow; one backup is edited by
    // hand, one is held.
    write(&roots[0], "config/app.conf", b"app = 2\n");
    sync_ok(&agents[0], &agents[1], &[]);
    write(&roots[3], "config/hand.conf", b"edited here\n");
    assert_exit(
        &confsync(&["--servers", &servers, "hold", "--server", "held", "--reason", "OS upgrade"]),
        0,
    );
    let wait = std::time::Instant::now();
    let doc = loop {
        let out = status();
        let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("status --json");
        if state_of(&doc, "pending")["state"] == "changes_pending"
            && state_of(&doc, "edited")["state"] == "edited_locally"
        {
            assert_exit(&out, 3);
            break doc;
        }
        assert!(wait.elapsed() < std::time::Duration::from_secs(10), "{doc:#}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let expect = |name: &str, state: &str, command: Option<&str>| {
        let row = state_of(&doc, name);
        assert_eq!(row["state"], state, "{row:#}");
        match command {
            Some(text) => assert!(
                row["command"].as_str().is_some_and(|c| c.contains(text)),
                "{name}: {row:#}"
            ),
            None => assert!(row["command"].is_null(), "{name}: {row:#}"),
        }
    };
    expect("primary", "primary", None);
    expect("synced", "in_sync", None);
    expect("pending", "changes_pending", Some("confsync sync --from primary --to pending"));
    expect("edited", "edited_locally", Some("confsync diff --from primary --to edited"));
    expect("held", "on_hold", Some("confsync release --server held"));
    expect("fresh", "awaiting_initial_sync", Some("confsync sync --from primary --to fresh"));
    expect("gone", "unreachable", Some("check the agent on gone"));
    assert_eq!(state_of(&doc, "pending")["files"], 1);
    let edited = state_of(&doc, "edited");
    assert!(edited["paths"].to_string().contains("config/hand.conf"), "{edited:#}");
    assert_eq!(state_of(&doc, "held")["reason"], "OS upgrade");
    let since = &state_of(&doc, "held")["since"];
    assert!(since.as_str().is_some_and(|s| s.ends_with('Z')), "RFC 3339, as elsewhere: {since}");

    // The same as text, one row each with its command; exit codes by the worst row.
    let text = confsync(&["--servers", &servers, "status"]);
    assert_exit(&text, 3);
    assert_mentions(
        &stdout(&text),
        &[
            "changes pending: 1 file",
            "edited locally",
            "config/hand.conf (added)",
            "on hold: OS upgrade",
            "awaiting initial sync",
            "unreachable",
            "→ confsync release --server held",
        ],
    );
    let mut reachable = ServerFile::new(&dir.path().join("two"));
    std::fs::create_dir_all(dir.path().join("two")).expect("folder");
    reachable.add("primary", &agents[0].address, "primary").add(
        "pending",
        &agents[2].address,
        "backup",
    );
    let two = reachable.path.display().to_string();
    assert_exit(&confsync(&["--servers", &two, "status"]), 1);
    sync_ok(&agents[0], &agents[2], &[]);
    assert_exit(&confsync(&["--servers", &two, "status"]), 0);
}

/// With the primary down (issue 23, item 5), its row says the source is down and nothing
/// can be compared, and the backups, which are up, say "not compared" (not unreachable).
#[test]
fn with_the_primary_down_its_row_says_so_and_the_backups_are_not_compared() {
    let dir = tempdir();
    let (p, b) = (dir.path().join("primary"), dir.path().join("backup-1"));
    tree(&p);
    tree(&b);
    let mut primary = Agent::start(&p, "primary");
    let backup = Agent::start(&b, "backup-1");
    let mut list = ServerFile::new(dir.path());
    list.add("primary", &primary.address, "primary").add("backup-1", &backup.address, "backup");
    let servers = list.path.display().to_string();
    primary.stop();

    let json = confsync(&["--servers", &servers, "status", "--json"]);
    assert_exit(&json, 3);
    let doc: serde_json::Value = serde_json::from_slice(&json.stdout).expect("status --json");
    assert_eq!(state_of(&doc, "primary")["state"], "source_down", "{doc:#}");
    assert_eq!(state_of(&doc, "backup-1")["state"], "not_compared", "{doc:#}");
    let text = stdout(&confsync(&["--servers", &servers, "status"]));
    let row = |name: &str| {
        text.lines().find(|l| l.trim_start().starts_with(name)).unwrap_or_default().to_string()
    };
    assert!(row("primary").contains("source down, cannot compare"), "{text}");
    assert!(row("backup-1").contains("not compared: primary is down"), "{text}");
    assert!(!row("backup-1").contains("unreachable"), "{text}");
}

#[test]
fn status_watch_redraws_when_a_tree_changes() {
    let dir = tempdir();
    let (p, b) = (dir.path().join("primary"), dir.path().join("backup"));
    tree(&p);
    tree(&b);
    write(&b, "firmware/image.bin", b"firmware v0");
    let (primary, backup) = (Agent::start(&p, "primary"), Agent::start(&b, "backup"));
    sync_ok(&primary, &backup, &[]);
    let mut list = ServerFile::new(dir.path());
    list.add("primary", &primary.address, "primary").add("backup", &backup.address, "backup");
    let servers = list.path.display().to_string();
    let mut watching =
        Running::spawn(&["--servers", &servers, "status", "--watch", "--json", "--every", "1h"]);
    let in_sync = |doc: &serde_json::Value| {
        doc["servers"].as_array().is_some_and(|r| r.iter().any(|s| s["state"] == "in_sync"))
    };
    watching.wait_for(std::time::Duration::from_secs(20), in_sync);
    // Not the hour: the primary's change stream brings the next document.
    write(&p, "config/app.conf", b"app = 2\n");
    watching.wait_for(std::time::Duration::from_secs(20), |doc| {
        doc["servers"].as_array().is_some_and(|r| r.iter().any(|s| s["state"] == "changes_pending"))
    });
}
