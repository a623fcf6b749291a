//! One meaning of "in sync" (issue 23, item 1): after a sync with device-specific paths
//! (the source's and the destination's) and keys, every view of the same pair says the
//! same thing: `diff`, `status`, `servers list` and `servers show`, the plan's local-edit
//! marks (and `--refuse-local-edits`), `auto`'s status file and the metrics' drift gauge.
//! Then the server's own values change (still in sync everywhere), and then a shared file
//! is edited there (drifted everywhere, and only that file).

use std::path::Path;

use crate::support::*;

const PRIMARY_SERVER: &str = "# shared settings\n[server]\nname = \"primary\"\nport = 2031\n\n[network]\naddress = \"10.0.0.1\"\n";
const BACKUP_SERVER: &str =
    "[server]\nname = \"backup-1\"\nport = 1\n\n[network]\naddress = \"10.0.0.2\"\n";

fn primary_tree(root: &Path) {
    write(root, "config/server.toml", PRIMARY_SERVER.as_bytes());
    write(root, "config/network.toml", b"gateway = \"10.0.0.254\"\n");
    write(root, "config/tls/server.pem", b"primary's certificate\n");
    write(root, "config/app.conf", b"app = 2\n");
    write(root, "firmware/image.bin", b"firmware v2");
    write(root, "licenses/primary.lic", b"primary's licence");
}

fn backup_tree(root: &Path) {
    write(root, "config/server.toml", BACKUP_SERVER.as_bytes());
    write(root, "config/network.toml", b"gateway = \"10.0.1.254\"\n");
    write(root, "config/tls/server.pem", b"backup's certificate\n");
    write(root, "config/app.conf", b"app = 1\n");
    write(root, "firmware/image.bin", b"firmware v1");
    write(root, "licenses/backup.lic", b"backup's licence");
}

fn agent_with(root: &Path, name: &str, rules: &str, extra: &[&str]) -> Agent {
    let config = root.join("agent.toml");
    std::fs::write(&config, format!("[device_specific]\n{rules}")).expect("write agent.toml");
    let mut args = vec!["--config", config.to_str().expect("UTF-8 path")];
    args.extend_from_slice(extra);
    Agent::start_with_args(root, name, &args)
}

/// What each view says of backup-1.
#[derive(Debug)]
struct Views {
    diff_exit: i32,
    status_state: String,
    status_paths: Vec<String>,
    servers_list: Vec<(String, bool)>,
    servers_show: String,
    drift_gauge: f64,
}

fn views(servers: &str, metrics: &str) -> Views {
    let diff = confsync(&["--servers", servers, "diff", "--from", "primary", "--to", "backup-1"]);
    let status = confsync(&["--servers", servers, "status", "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&status)).expect("status JSON");
    let row = doc["servers"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["name"] == "backup-1"))
        .cloned()
        .unwrap_or_else(|| panic!("no backup-1 row: {doc:#}"));
    let list = confsync(&["--servers", servers, "servers", "list", "--json"]);
    let rows: serde_json::Value = serde_json::from_str(&stdout(&list)).expect("list JSON");
    let backup = rows
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["name"] == "backup-1"))
        .cloned()
        .unwrap_or_else(|| panic!("no backup-1 in the list: {rows:#}"));
    let servers_list = backup["categories"]
        .as_array()
        .expect("categories")
        .iter()
        .map(|c| {
            let category = c["category"].as_str().unwrap_or_default().to_string();
            let matches = c["matches_primary"]
                .as_bool()
                .unwrap_or_else(|| panic!("{category} not compared: {backup:#}"));
            (category, matches)
        })
        .collect();
    let show = confsync(&["--servers", servers, "servers", "show", "backup-1"]);
    let scraped = scrape(metrics);
    let drift_gauge = scraped
        .lines()
        .find_map(|l| l.strip_prefix("confsync_drift_entries ").and_then(|v| v.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no drift gauge in:\n{scraped}"));
    Views {
        diff_exit: diff.status.code().unwrap_or(-1),
        status_state: row["state"].as_str().unwrap_or_default().to_string(),
        status_paths: row["paths"]
            .as_array()
            .map(|p| p.iter().filter_map(|p| p.as_str().map(str::to_string)).collect())
            .unwrap_or_default(),
        servers_list,
        servers_show: stdout(&show),
        drift_gauge,
    }
}

fn assert_in_sync_everywhere(views: &Views, when: &str) {
    assert_eq!(views.diff_exit, 0, "{when}: diff says in sync: {views:#?}");
    assert_eq!(views.status_state, "in_sync", "{when}: status agrees: {views:#?}");
    assert!(
        views.servers_list.iter().all(|(_, matches)| *matches),
        "{when}: servers list agrees: {views:#?}"
    );
    assert!(
        views.servers_show.contains("in sync with the primary")
            && !views.servers_show.contains("differs"),
        "{when}: servers show agrees: {views:#?}"
    );
    assert_eq!(views.drift_gauge, 0.0, "{when}: the drift gauge agrees: {views:#?}");
}

#[test]
fn after_a_sync_with_device_specific_paths_and_keys_every_view_agrees() {
    let dir = tempdir();
    let (p, b) = (dir.path().join("primary"), dir.path().join("backup-1"));
    primary_tree(&p);
    backup_tree(&b);
    let primary = agent_with(&p, "primary", "paths = [\"config/tls\"]\n", &[]);
    let backup = agent_with(
        &b,
        "backup-1",
        "paths = [\"config/network.toml\"]\n[[device_specific.keys]]\npath = \"config/server.toml\"\nkeys = [\"server.name\", \"network.address\"]\n",
        &["--metrics", "127.0.0.1:0"],
    );
    let metrics = metrics_address(&backup);
    let mut list = ServerFile::new(dir.path());
    list.add("primary", &primary.address, "primary");
    list.add("backup-1", &backup.address, "backup");
    let servers = list.path.display().to_string();

    let before = views(&servers, &metrics);
    assert_eq!(before.diff_exit, 1, "they differ before the sync: {before:#?}");
    assert!(before.servers_list.iter().any(|(c, m)| c == "firmware" && !m), "{before:#?}");
    assert_exit(
        &confsync(&[
            "--servers",
            &servers,
            "sync",
            "--from",
            "primary",
            "--to",
            "backup-1",
            "--yes",
        ]),
        0,
    );
    let merged = std::fs::read_to_string(b.join("config/server.toml")).expect("server.toml");
    assert!(merged.contains("name = \"backup-1\"") && merged.contains("port = 2031"), "{merged}");

    assert_in_sync_everywhere(&views(&servers, &metrics), "right after the sync");
    let status = confsync(&["--servers", &servers, "status"]);
    assert_exit(&status, 0);
    assert!(!stdout(&status).contains("edited locally"), "{}", stdout(&status));
    let table = stdout(&confsync(&["--servers", &servers, "servers", "list"]));
    assert!(table.contains("all match") && !table.contains("differs"), "{table}");

    // auto agrees, and its status file says so.
    let status_file = dir.path().join("auto-status.json");
    let auto = auto_once(
        &primary,
        &backup,
        &["--refuse-local-edits", "--status-file", status_file.to_str().expect("UTF-8")],
    );
    assert_exit(&auto, 0);
    let board: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&status_file).expect("status file")).expect("JSON");
    let entry = board["destinations"]
        .as_object()
        .and_then(|d| d.values().next())
        .cloned()
        .unwrap_or_else(|| panic!("no destination in {board:#}"));
    assert_eq!(entry["last_outcome"], "in_sync", "{board:#}");

    // The primary changes a shared key of the merged file: the plan merges it again, with
    // no "changed here" mark, and a sync refusing local edits goes through.
    write(&p, "config/server.toml", PRIMARY_SERVER.replace("2031", "2032").as_bytes());
    let diff = confsync(&["--servers", &servers, "diff", "--from", "primary", "--to", "backup-1"]);
    assert_exit(&diff, 1);
    assert!(
        stdout(&diff).contains("server.toml") && !stdout(&diff).contains("changed here"),
        "{}",
        stdout(&diff)
    );
    let strict = confsync(&[
        "--servers",
        &servers,
        "sync",
        "--from",
        "primary",
        "--to",
        "backup-1",
        "--refuse-local-edits",
        "--yes",
    ]);
    assert_exit(&strict, 0);
    assert_in_sync_everywhere(&views(&servers, &metrics), "after a merged file's second sync");

    // The server's own items change there: still its own, still in sync everywhere.
    let own = std::fs::read_to_string(b.join("config/server.toml"))
        .expect("server.toml")
        .replace("name = \"backup-1\"", "name = \"backup-one\"");
    write(&b, "config/server.toml", own.as_bytes());
    write(&b, "config/network.toml", b"gateway = \"10.0.1.1\"\n");
    write(&b, "config/tls/server.pem", b"backup's renewed certificate\n");
    assert_in_sync_everywhere(&views(&servers, &metrics), "after its own items changed");

    // A shared file edited there: drifted in every view, and only that file.
    write(&b, "config/app.conf", b"app = edited here\n");
    let edited = views(&servers, &metrics);
    assert_eq!(edited.diff_exit, 1, "{edited:#?}");
    assert_eq!(edited.status_state, "edited_locally", "{edited:#?}");
    assert_eq!(edited.status_paths, vec!["config/app.conf (changed)".to_string()], "{edited:#?}");
    assert_eq!(
        edited.servers_list.iter().filter(|(_, m)| !m).map(|(c, _)| c.as_str()).collect::<Vec<_>>(),
        vec!["config"],
        "{edited:#?}"
    );
    assert!(edited.servers_show.contains("edited here"), "{edited:#?}");
    assert_eq!(edited.drift_gauge, 1.0, "{edited:#?}");
}
