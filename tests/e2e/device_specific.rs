//! Device-specific items end to end: path rules and key rules from the destination and
//! from the source, kept through `sync`, the wizard and `auto`, shown in every plan,
//! pinned by the plan's digest, and rolled back byte for byte.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::support::*;

/// An agent over `root` with `rules` as the `[device_specific]` of its agent.toml.
fn agent_with_rules(root: &Path, name: &str, rules: &str) -> (Agent, PathBuf) {
    let config = root.join("agent.toml");
    std::fs::create_dir_all(root).expect("create the root");
    std::fs::write(&config, format!("[device_specific]\n{rules}")).expect("write agent.toml");
    let agent = Agent::start_with_args(root, name, &["--config", &config.display().to_string()]);
    (agent, config)
}

fn read(root: &Path, rel: &str) -> Vec<u8> {
    std::fs::read(root.join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

fn primary_tree(root: &Path) {
    write(root, "config/network.conf", b"hostname = \"primary\"\naddress = \"10.0.0.1\"\n");
    write(root, "config/app.conf", b"app = v2\n");
    write(root, "licenses/primary.lic", b"primary's licence");
}

fn backup_tree(root: &Path) {
    write(root, "config/network.conf", b"hostname = \"backup-1\"\naddress = \"10.0.0.2\"\n");
    write(root, "config/app.conf", b"app = v1\n");
    write(root, "config/local/only-here.conf", b"mine\n");
    write(root, "licenses/backup.lic", b"backup's licence");
}

#[test]
fn a_destinations_path_rule_survives_sync_the_wizard_and_auto_and_shows_as_kept() {
    let (src, dst) = (tempdir(), tempdir());
    primary_tree(src.path());
    backup_tree(dst.path());
    let source = Agent::start(src.path(), "primary");
    let rules = "paths = [\"config/network.conf\", \"config/local\"]\n";
    let (destination, _) = agent_with_rules(dst.path(), "backup", rules);
    let own_network = read(dst.path(), "config/network.conf");

    let diff = confsync(&["diff", "--from", &source.address, "--to", &destination.address]);
    assert_exit(&diff, 1);
    let shown = stdout(&diff);
    assert!(
        shown.contains("= network.conf")
            && shown.contains("device-specific: config/network.conf, destination rule"),
        "{shown}"
    );
    assert!(shown.contains("= local/"), "a kept folder is listed, not deleted:\n{shown}");
    let json =
        confsync(&["diff", "--from", &source.address, "--to", &destination.address, "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&json)).expect("diff JSON");
    let config = doc["plan"]["categories"]
        .as_array()
        .expect("categories")
        .iter()
        .find(|c| c["category"] == "config")
        .expect("config")
        .clone();
    let kept: Vec<&str> = config["kept"]
        .as_array()
        .expect("kept")
        .iter()
        .filter_map(|k| k["path"].as_str())
        .collect();
    assert!(kept.contains(&"network.conf"), "{config}");
    assert_eq!(config["kept"][0]["origin"], "destination", "{config}");

    sync_ok(&source, &destination, &[]);
    assert_eq!(
        read(dst.path(), "config/network.conf"),
        own_network,
        "sync kept the backup's own network.conf"
    );
    assert_eq!(read(dst.path(), "config/app.conf"), b"app = v2\n", "the rest arrived");
    assert_eq!(
        read(dst.path(), "config/local/only-here.conf"),
        b"mine\n",
        "not deleted although the source lacks it"
    );

    // The wizard and auto plan the same way: nothing more to do, the kept items stay.
    write(src.path(), "config/app.conf", b"app = v3\n");
    let list = tempdir();
    let mut servers = ServerFile::new(list.path());
    servers.add("primary", &source.address, "primary").add(
        "backup",
        &destination.address,
        "backup",
    );
    let mut session = wizard_session(&servers.path);
    session.exp_string("Type an address").expect("source menu");
    press(&mut session, "\r");
    session.exp_string("Type an address").expect("destination menu");
    press(&mut session, "\r");
    one_way(&mut session);
    session.exp_string("Configuration").expect("categories menu");
    press(&mut session, "\r");
    session.exp_string("= network.conf").expect("the wizard lists the kept item");
    session.exp_string("Show what changes inside the files").expect("key-level offer");
    press(&mut session, "n");
    session.exp_string("Overwrite backup with primary?").expect("confirmation");
    press(&mut session, "y");
    session.exp_string("Done").expect("applied");
    session.exp_eof().expect("the wizard ends");
    assert_eq!(read(dst.path(), "config/network.conf"), own_network, "the wizard kept it");

    write(src.path(), "config/app.conf", b"app = v4\n");
    std::fs::remove_file(src.path().join("config/network.conf")).expect("the source drops its own");
    assert_exit(&auto_once(&source, &destination, &[]), 0);
    assert_eq!(read(dst.path(), "config/app.conf"), b"app = v4\n");
    assert_eq!(
        read(dst.path(), "config/network.conf"),
        own_network,
        "auto kept it, and did not delete it"
    );
}

#[test]
fn a_sources_rule_applies_to_every_destination_and_a_destination_can_only_add() {
    let src = tempdir();
    primary_tree(src.path());
    write(src.path(), "config/hostname", b"primary\n");
    let (source, _) = agent_with_rules(src.path(), "primary", "paths = [\"config/hostname\"]\n");
    let (b1, b2) = (tempdir(), tempdir());
    for (root, name) in [(&b1, "backup-1"), (&b2, "backup-2")] {
        backup_tree(root.path());
        write(root.path(), "config/hostname", format!("{name}\n").as_bytes());
    }
    let first = Agent::start(b1.path(), "backup-1");
    // The second adds a rule of its own; it has no way to switch the source's off.
    let (second, _) =
        agent_with_rules(b2.path(), "backup-2", "paths = [\"config/network.conf\"]\n");
    let to = format!("{},{}", first.address, second.address);
    assert_exit(&confsync(&["sync", "--from", &source.address, "--to", &to, "--yes"]), 0);
    assert_eq!(
        read(b1.path(), "config/hostname"),
        b"backup-1\n",
        "the source's rule kept it on backup-1"
    );
    assert_eq!(read(b2.path(), "config/hostname"), b"backup-2\n", "and on backup-2");
    assert_eq!(
        read(b1.path(), "config/network.conf"),
        read(src.path(), "config/network.conf"),
        "no rule there"
    );
    assert_eq!(
        read(b2.path(), "config/network.conf"),
        b"hostname = \"backup-1\"\naddress = \"10.0.0.2\"\n",
        "backup-2's own rule"
    );
    let diff = confsync(&["diff", "--from", &source.address, "--to", &second.address]);
    assert!(
        stdout(&diff).contains("source rule") && stdout(&diff).contains("destination rule"),
        "{}",
        stdout(&diff)
    );
}

const SERVER_TOML: &str = "# the primary's settings\n[server]\nname = \"primary\" # shown to clients\nport = 2031\n\n[network]\naddress = \"10.0.0.1\"\nmtu = 9000\n";
const BACKUP_TOML: &str =
    "[server]\nname = \"backup-1\"\nport = 1\n\n[network]\naddress = \"10.0.0.2\"\nmtu = 1500\n";

#[test]
fn key_rules_merge_toml_json_and_ini_and_a_rollback_restores_the_file_exactly() {
    let (src, dst) = (tempdir(), tempdir());
    write(src.path(), "config/server.toml", SERVER_TOML.as_bytes());
    write(dst.path(), "config/server.toml", BACKUP_TOML.as_bytes());
    write(
        src.path(),
        "config/panel.json",
        br#"{"title": "Site A", "node": {"id": "primary", "color": "blue"}}"#,
    );
    write(
        dst.path(),
        "config/panel.json",
        br#"{"title": "old", "node": {"id": "backup-1", "color": "red"}}"#,
    );
    write(
        src.path(),
        "config/display.ini",
        b"; screens\n[screen]\nresolution = 1920x1080\nname = primary\n",
    );
    write(dst.path(), "config/display.ini", b"[screen]\nresolution = 800x600\nname = backup-1\n");
    let source = Agent::start(src.path(), "primary");
    let rules = "[[device_specific.keys]]\npath = \"config/server.toml\"\nkeys = [\"network.address\", \"server.name\"]\n\
                 [[device_specific.keys]]\npath = \"config/panel.json\"\nkeys = [\"node.id\"]\n\
                 [[device_specific.keys]]\npath = \"config/display.ini\"\nkeys = [\"screen.name\"]\n";
    let (destination, _) = agent_with_rules(dst.path(), "backup", rules);
    let before = snapshot(&dst.path().join("config"));

    let diff = confsync(&["diff", "--from", &source.address, "--to", &destination.address]);
    assert!(
        stdout(&diff).contains("~ server.toml")
            && stdout(&diff).contains("(2 keys kept: network.address, server.name)"),
        "{}",
        stdout(&diff)
    );
    sync_ok(&source, &destination, &[]);

    let merged = String::from_utf8(read(dst.path(), "config/server.toml")).expect("utf-8");
    assert!(
        merged.contains("# the primary's settings") && merged.contains("# shown to clients"),
        "comments arrive:\n{merged}"
    );
    assert!(
        merged.contains("name = \"backup-1\"") && merged.contains("address = \"10.0.0.2\""),
        "own values stay:\n{merged}"
    );
    assert!(
        merged.contains("port = 2031") && merged.contains("mtu = 9000"),
        "every other key arrives:\n{merged}"
    );
    let panel: serde_json::Value =
        serde_json::from_slice(&read(dst.path(), "config/panel.json")).expect("json");
    assert_eq!(
        panel,
        serde_json::json!({"title": "Site A", "node": {"id": "backup-1", "color": "blue"}})
    );
    assert_eq!(
        read(dst.path(), "config/display.ini"),
        b"; screens\n[screen]\nresolution = 1920x1080\nname = backup-1\n"
    );
    // Merged once, in sync after: the kept values are no difference.
    let again = confsync(&["diff", "--from", &source.address, "--to", &destination.address]);
    assert_exit(&again, 0);

    assert_exit(&confsync(&["rollback", "--server", &destination.address, "--yes"]), 0);
    assert_same_tree(
        &before,
        &snapshot(&dst.path().join("config")),
        "the destination after the rollback",
    );
}

#[test]
fn a_file_under_a_key_rule_that_does_not_parse_is_refused_and_left_alone() {
    let (src, dst) = (tempdir(), tempdir());
    write(src.path(), "config/server.toml", SERVER_TOML.as_bytes());
    write(dst.path(), "config/server.toml", b"[server\nname = broken\n");
    write(src.path(), "config/app.conf", b"app = v2\n");
    write(dst.path(), "config/app.conf", b"app = v1\n");
    let source = Agent::start(src.path(), "primary");
    let rules =
        "[[device_specific.keys]]\npath = \"config/server.toml\"\nkeys = [\"server.name\"]\n";
    let (destination, _) = agent_with_rules(dst.path(), "backup", rules);
    let refused = confsync(&sync_args(&source.address, &destination.address, &[]));
    assert_exit(&refused, 4);
    let said = format!("{}{}", stdout(&refused), stderr(&refused));
    assert_mentions(
        &said,
        &["config/server.toml", "destination's copy cannot be read as toml", "--allow-unmergeable"],
    );
    assert_eq!(read(dst.path(), "config/app.conf"), b"app = v1\n", "nothing was applied");
    // The plan shows it as what it is, not as a merge that keeps a key (issue 23, item 9).
    let line = stdout(&refused)
        .lines()
        .find(|l| l.contains("server.toml"))
        .unwrap_or_default()
        .to_string();
    assert!(!line.contains("kept"), "{}", stdout(&refused));
    assert_mentions(&stdout(&refused), &["cannot be merged: refused, see below"]);

    // Accepting the refusal leaves that file alone and applies the rest.
    sync_ok(&source, &destination, &["--allow-unmergeable"]);
    assert_eq!(read(dst.path(), "config/server.toml"), b"[server\nname = broken\n");
    assert_eq!(read(dst.path(), "config/app.conf"), b"app = v2\n");
}

#[test]
fn a_rule_edited_after_the_preview_makes_the_pinned_apply_refuse() {
    let (src, dst) = (tempdir(), tempdir());
    primary_tree(src.path());
    backup_tree(dst.path());
    let source = Agent::start(src.path(), "primary");
    let (destination, config) =
        agent_with_rules(dst.path(), "backup", "paths = [\"config/network.conf\"]\n");
    let preview =
        confsync(&["diff", "--from", &source.address, "--to", &destination.address, "--json"]);
    let doc: serde_json::Value = serde_json::from_str(&stdout(&preview)).expect("diff JSON");
    let digest = doc["plan"]["digest"].as_str().expect("a digest").to_string();
    // The rule is lifted between the preview and the apply.
    std::fs::write(&config, "[device_specific]\npaths = []\n").expect("edit agent.toml");
    let pinned = confsync(&sync_args(&source.address, &destination.address, &["--plan", &digest]));
    assert_exit(&pinned, 4);
    assert_mentions(&stderr(&pinned), &["changed since the preview"]);
    assert_eq!(
        read(dst.path(), "config/network.conf"),
        b"hostname = \"backup-1\"\naddress = \"10.0.0.2\"\n"
    );
    // The next plan follows the edited rule: the file is an ordinary difference now.
    let diff = confsync(&["diff", "--from", &source.address, "--to", &destination.address]);
    assert!(stdout(&diff).contains("~ network.conf"), "{}", stdout(&diff));
}

#[test]
fn with_confined_symlinks_a_destination_symlink_leading_outside_is_never_replaced_or_lost() {
    let (src, dst) = (tempdir(), tempdir());
    write(src.path(), "config/site.link", b"a regular file on the primary");
    write(src.path(), "config/app.conf", b"app = v2\n");
    write(dst.path(), "config/app.conf", b"app = v1\n");
    symlink(dst.path(), "config/site.link", "../../outside/site.conf");
    let source = Agent::start(src.path(), "primary");
    // By default every symlink is carried (and a replaced one kept in its generation);
    // `symlinks = "confined"` is what leaves those leading out as they are.
    let destination = Agent::start_configured(dst.path(), "backup", "symlinks = \"confined\"\n");
    let diff = confsync(&["diff", "--from", &source.address, "--to", &destination.address]);
    assert!(
        stdout(&diff).contains("= site.link") && stdout(&diff).contains("does not manage"),
        "{}",
        stdout(&diff)
    );
    sync_ok(&source, &destination, &[]);
    let link = std::fs::read_link(dst.path().join("config/site.link")).expect("still a symlink");
    assert_eq!(link, Path::new("../../outside/site.conf"));
    assert_eq!(read(dst.path(), "config/app.conf"), b"app = v2\n");
}

#[test]
fn diff_keys_shows_keys_records_and_versions() {
    let (src, dst) = (tempdir(), tempdir());
    write(src.path(), "config/server.toml", SERVER_TOML.as_bytes());
    write(dst.path(), "config/server.toml", BACKUP_TOML.as_bytes());
    write(src.path(), "config/display.ini", b"[screen]\nresolution = 1920x1080\naudio = on\n");
    write(dst.path(), "config/display.ini", b"[screen]\nresolution = 1024x768\nlegacy = 1\n");
    write(src.path(), "config/panel.json", br#"{"node": {"color": "blue"}}"#);
    write(dst.path(), "config/panel.json", br#"{"node": {"color": "red"}}"#);
    write(src.path(), "capdb/models.jsonl", b"{\"model\":\"TC-00042\",\"res\":\"1024x768\"}\n{\"model\":\"TC-00043\",\"res\":\"1x1\"}\n");
    write(
        dst.path(),
        "capdb/models.jsonl",
        b"{\"model\":\"TC-00042\",\"res\":\"800x600\"}\n{\"model\":\"TC-00001\",\"res\":\"2x2\"}\n",
    );
    write(src.path(), "firmware/VERSION", b"4.3.0\n");
    write(dst.path(), "firmware/VERSION", b"4.2.1\n");
    let source = Agent::start(src.path(), "primary");
    let destination = Agent::start(dst.path(), "backup");
    let diff =
        confsync(&["diff", "--from", &source.address, "--to", &destination.address, "--keys"]);
    assert_exit(&diff, 1);
    let shown = stdout(&diff);
    for line in [
        "server.name \"backup-1\" → \"primary\"",
        "network.mtu 1500 → 9000",
        "[screen] resolution 1024x768 → 1920x1080",
        "+ [screen] audio = on",
        "- [screen] legacy",
        "node.color red → blue",
        "+1 record, ~1 (TC-00042: res 800x600 → 1024x768), -1 by model",
        "4.2.1 → 4.3.0 (upgrade)",
    ] {
        assert!(shown.contains(line), "{line:?} is not shown:\n{shown}");
    }
    let json = confsync(&[
        "diff",
        "--from",
        &source.address,
        "--to",
        &destination.address,
        "--keys",
        "--json",
    ]);
    assert!(stdout(&json).contains("\"semantic\""), "--json carries them");
    // Without --keys, the plan is the same one (the same digest).
    let plain =
        confsync(&["diff", "--from", &source.address, "--to", &destination.address, "--json"]);
    let digest = |o: &std::process::Output| -> String {
        let doc: serde_json::Value = serde_json::from_str(&stdout(o)).expect("JSON");
        doc["plan"]["digest"].as_str().expect("digest").to_string()
    };
    assert_eq!(digest(&json), digest(&plain));
}

#[test]
fn rules_that_reach_outside_or_files_too_deep_are_refused_clearly() {
    for (rules, needle) in [
        ("paths = [\"../x\"]\n", "\"../x\""),
        ("paths = [\"/etc/*\"]\n", "/etc/*"),
        ("paths = [\"config/.confsync/index.json\"]\n", "state folder"),
        ("[[device_specific.keys]]\npath = \"licenses/site.toml\"\nkeys = [\"a.b\"]\n", "licenses"),
    ] {
        let root = tempdir();
        write(root.path(), "config/a.conf", b"a");
        let config = root.path().join("agent.toml");
        std::fs::write(&config, format!("[device_specific]\n{rules}")).expect("write agent.toml");
        let started = confsync(&[
            "agent",
            "--root",
            &root.path().display().to_string(),
            "--config",
            &config.display().to_string(),
            "--listen",
            "127.0.0.1:0",
        ]);
        assert_exit(&started, 3);
        assert_mentions(&stderr(&started), &[needle, "[device_specific]"]);
    }
    // A huge, deeply nested file under a key rule: refused in bounded time, not parsed forever.
    let (src, dst) = (tempdir(), tempdir());
    let deep = format!("a = {}", "[".repeat(200_000));
    write(src.path(), "config/deep.toml", deep.as_bytes());
    write(dst.path(), "config/deep.toml", b"a = 1\n");
    let source = Agent::start(src.path(), "primary");
    let (destination, _) = agent_with_rules(
        dst.path(),
        "backup",
        "[[device_specific.keys]]\npath = \"config/deep.toml\"\nkeys = [\"a\"]\n",
    );
    let started = std::time::Instant::now();
    let refused = confsync(&sync_args(&source.address, &destination.address, &[]));
    assert_exit(&refused, 4);
    assert_mentions(&stderr(&refused), &["config/deep.toml", "cannot be read as toml"]);
    assert!(started.elapsed() < Duration::from_secs(60), "took {:?}", started.elapsed());
}
