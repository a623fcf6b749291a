//! Effect notices (issue 13, item 1): the destination's `[[effect]]` rules say when a
//! change takes effect there, and `diff`, `sync`, the wizard, `--json` and history say it.

use std::path::Path;

use crate::support::*;

const RULES: &str = r#"
[[effect]]
category = "firmware"
effective = "after the next startup"

[[effect]]
paths = ["config/network/*.conf"]
effective = "immediately"
"#;

/// A backup whose agent.toml holds `RULES`, and a primary with new firmware and a new
/// network file for it.
fn site(dir: &Path) -> (Agent, Agent) {
    let (p, b) = (dir.join("primary"), dir.join("backup"));
    write(&p, "firmware/image.bin", b"firmware v2");
    write(&b, "firmware/image.bin", b"firmware v1");
    write(&p, "config/network/eth0.conf", b"dhcp = true\n");
    write(&p, "config/app.conf", b"app = 2\n");
    let primary = Agent::start(&p, "primary");
    let backup = Agent::start_configured(&b, "backup-1", RULES);
    (primary, backup)
}

const FIRMWARE_PENDING: &str =
    "New firmware for backup-1 becomes effective after the next startup.";
const FIRMWARE_DONE: &str =
    "New firmware was deployed to backup-1. It becomes effective after the next startup.";
const NETWORK_DONE: &str = "New configuration (config/network/*.conf) was deployed to backup-1. \
                            It becomes effective immediately.";

#[test]
fn the_notice_is_in_diff_sync_json_and_history() {
    let dir = tempdir();
    let (primary, backup) = site(dir.path());
    let (from, to) = (primary.address.as_str(), backup.address.as_str());

    let diff = confsync(&["diff", "--from", from, "--to", to]);
    assert_exit(&diff, 1);
    assert_mentions(&stdout(&diff), &[&format!("Effect: {FIRMWARE_PENDING}")]);

    let json: serde_json::Value =
        serde_json::from_str(&stdout(&confsync(&["diff", "--from", from, "--to", to, "--json"])))
            .expect("diff JSON");
    let notices = &json["plan"]["notices"];
    assert_eq!(notices[0]["category"], "firmware", "{notices}");
    assert_eq!(notices[0]["effective"], "after the next startup", "{notices}");
    assert_eq!(notices[1]["paths"], "config/network/*.conf", "{notices}");
    assert_eq!(notices[1]["files"], 1, "only the file under the pattern counts: {notices}");

    let synced = confsync(&["sync", "--from", from, "--to", to, "--yes"]);
    assert_exit(&synced, 0);
    assert_mentions(&stdout(&synced), &[FIRMWARE_DONE, NETWORK_DONE]);

    let history = confsync(&["history", "--server", to]);
    assert_mentions(&stdout(&history), &["It becomes effective after the next startup."]);
    let history: serde_json::Value =
        serde_json::from_str(&stdout(&confsync(&["history", "--server", to, "--json"])))
            .expect("history JSON");
    let recorded = &history["generations"][0]["notices"];
    assert_eq!(recorded.as_array().map(Vec::len), Some(2), "{history}");

    // A change outside every rule's scope earns no notice; --json says so by leaving it out.
    write(&primary.root, "config/app.conf", b"app = 3\n");
    let json = json_lines(&confsync(&["sync", "--from", from, "--to", to, "--yes", "--json"]));
    let result = event(&json, "result");
    assert!(result.get("notices").is_none(), "no rule covers config/app.conf: {result}");
    write(&primary.root, "firmware/image.bin", b"firmware v3");
    let json = json_lines(&confsync(&["sync", "--from", from, "--to", to, "--yes", "--json"]));
    let result = event(&json, "result");
    assert_eq!(result["notices"][0]["category"], "firmware", "{result}");
}

#[test]
fn the_wizard_says_what_the_change_means_before_and_after() {
    let dir = tempdir();
    let (primary, backup) = site(dir.path());
    let mut list = ServerFile::new(dir.path());
    list.add("primary", &primary.address, "primary").add("backup-1", &backup.address, "backup");
    let mut session = wizard_session(&list.path);
    accept_the_defaults_through_categories(&mut session);
    let shown = session.exp_string("Show what changes inside the files").expect("key-level offer");
    press(&mut session, "n");
    let shown =
        shown + &session.exp_string("Overwrite backup-1 with primary?").expect("confirmation");
    assert!(shown.contains(FIRMWARE_PENDING), "the plan should say it:\n{shown}");
    press(&mut session, "y");
    session.exp_string("Done: backup-1 now equals primary").expect("result");
    session.exp_string(FIRMWARE_DONE).expect("the notice after the apply");
    session.exp_eof().expect("the wizard ends");
}

#[test]
fn an_effect_rule_that_makes_no_sense_stops_the_agent_naming_it() {
    let dir = tempdir();
    let config = dir.path().join("agent.toml");
    std::fs::write(&config, "[[effect]]\npaths = [\"licenses/a.lic\"]\neffective = \"now\"\n")
        .expect("write agent.toml");
    let started = confsync(&[
        "agent",
        "--root",
        &dir.path().display().to_string(),
        "--init",
        "--listen",
        "127.0.0.1:0",
        "--config",
        &config.display().to_string(),
    ]);
    assert_exit(&started, 3);
    assert_mentions(&stderr(&started), &["[[effect]] licenses/a.lic", "agent.toml"]);
}
