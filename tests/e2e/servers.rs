//! The server list: names work wherever a server is asked for, and `servers list` asks
//! every listed agent at once, showing a stopped one as a row with its reason.

use crate::support::*;

fn servers_add(list: &std::path::Path, args: &[&str]) {
    let servers = list.to_str().expect("utf-8 path");
    let mut all = vec!["--servers", servers, "servers", "add"];
    all.extend_from_slice(args);
    assert_exit(&confsync(&all), 0);
}

#[test]
fn list_shows_a_live_agent_and_the_reason_for_a_stopped_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(&dir.path().join("up"), "config/a.conf", b"a");
    let up = Agent::start(&dir.path().join("up"), "primary");
    let mut down = Agent::start_with_args(&dir.path().join("down"), "backup-1", &["--init"]);
    let down_address = down.address.clone();
    down.stop();

    let list = dir.path().join("servers.toml");
    servers_add(&list, &["primary", &up.address, "--role", "primary"]);
    servers_add(&list, &["backup-1", &down_address]);
    let servers = list.to_str().expect("utf-8 path");

    let table = confsync(&["--servers", servers, "servers", "list"]);
    assert_exit(&table, 0);
    let text = stdout(&table);
    let row =
        |name: &str| text.lines().find(|l| l.starts_with(name)).unwrap_or_default().to_string();
    assert!(
        row("primary").contains(env!("CARGO_PKG_VERSION")) && row("primary").contains(" up"),
        "{text}"
    );
    assert!(row("backup-1").contains("unreachable: connection refused"), "{text}");

    let json = confsync(&["--servers", servers, "servers", "list", "--json"]);
    assert_exit(&json, 0);
    let rows: serde_json::Value = serde_json::from_str(&stdout(&json)).expect("list --json parses");
    let rows = rows.as_array().expect("an array of servers");
    assert_eq!(rows.len(), 2);
    let primary = &rows[0];
    assert_eq!(primary["reachable"], true);
    assert!(primary["serial"].as_str().is_some_and(|s| !s.is_empty()), "{primary}");
    assert!(primary["memory_bytes"].as_u64().is_some_and(|m| m > 0), "{primary}");
    assert_eq!(primary["categories"].as_array().map(Vec::len), Some(4));
    assert_eq!(rows[1]["reachable"], false);
    assert!(rows[1]["error"].as_str().is_some_and(|e| e.contains(&down_address)), "{}", rows[1]);

    let filtered = confsync(&["--servers", servers, "servers", "list", "--filter", "BACK"]);
    let filtered = stdout(&filtered);
    assert!(
        filtered.contains("backup-1") && !filtered.lines().any(|l| l.starts_with("primary")),
        "{filtered}"
    );
}

#[test]
fn names_from_the_list_work_for_diff_and_unknown_names_list_the_known_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    write(&dir.path().join("p"), "config/a.conf", b"new");
    write(&dir.path().join("b"), "config/a.conf", b"old");
    let primary = Agent::start(&dir.path().join("p"), "primary");
    let backup = Agent::start(&dir.path().join("b"), "backup-1");
    let list = dir.path().join("servers.toml");
    servers_add(&list, &["primary", &primary.address, "--role", "primary"]);
    servers_add(&list, &["backup-1", &backup.address]);
    let servers = list.to_str().expect("utf-8 path");

    let diff = confsync(&["--servers", servers, "diff", "--from", "primary", "--to", "backup-1"]);
    assert_exit(&diff, 1);
    assert!(stdout(&diff).contains("~ a.conf"), "{}", stdout(&diff));

    let unknown =
        confsync(&["--servers", servers, "diff", "--from", "primary", "--to", "backup-9"]);
    assert_exit(&unknown, 2);
    assert!(stderr(&unknown).contains("known servers: primary, backup-1"), "{}", stderr(&unknown));

    let shown = confsync(&["--servers", servers, "servers", "show", "backup-1", "--json"]);
    assert_exit(&shown, 0);
    let status: serde_json::Value =
        serde_json::from_str(&stdout(&shown)).expect("show --json parses");
    let config = status["categories"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["category"] == "config"))
        .expect("config category");
    assert_eq!(config["matches_primary"], false, "{status}");

    let pki = ["--ca", "/pki/ca.pem", "--cert", "/pki/admin.pem", "--key", "/pki/admin.key"];
    servers_add(&list, &[&["backup-2", "10.0.0.3:7420"][..], &pki[..]].concat());
    let stored = std::fs::read_to_string(&list).expect("list");
    assert!(stored.contains("/pki/admin.pem") && stored.contains("backup-2"), "{stored}");

    assert_exit(&confsync(&["--servers", servers, "servers", "remove", "backup-1"]), 0);
    let after = std::fs::read_to_string(&list).expect("list");
    assert!(!after.contains("backup-1") && after.contains("primary"), "{after}");
}
