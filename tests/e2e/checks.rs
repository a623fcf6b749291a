//! Checks before the commit (issue 13, item 2): the destination's `[[check]]` commands run
//! on the staged tree; one that fails or hangs refuses the apply with its output, and the
//! tree stays byte for byte as it was.

use std::path::Path;

use crate::support::*;

/// A primary whose new `config/server.conf` has lost its port, and a backup whose
/// agent.toml is `config`.
fn site(dir: &Path, config: &str) -> (Agent, Agent) {
    let (p, b) = (dir.join("primary"), dir.join("backup"));
    write(&p, "config/server.conf", b"name=tm\n");
    write(&p, "config/site/new.conf", b"new = 1\n");
    write(&p, "firmware/image.bin", b"firmware v2");
    write(&b, "config/server.conf", b"name=tm\nport=2031\n");
    write(&b, "config/stale.conf", b"left over\n");
    write(&b, "firmware/image.bin", b"firmware v1");
    write(&b, "licenses/backup.lic", b"backup license");
    let primary = Agent::start(&p, "primary");
    let backup = Agent::start_configured(&b, "backup-1", config);
    (primary, backup)
}

fn categories(root: &Path) -> Vec<(String, Tree)> {
    ["config", "firmware", "licenses"]
        .iter()
        .map(|c| (c.to_string(), snapshot(&root.join(c))))
        .collect()
}

fn all_output(output: &std::process::Output) -> String {
    stdout(output) + &stderr(output)
}

const LINT: &str = r#"
[[check]]
category = "config"
command = ["sh", "-c", "grep -q port= \"$CONFSYNC_TREE_CONFIG/server.conf\" || { echo 'server.conf: no port set' >&2; exit 1; }"]
"#;

#[test]
fn a_failing_check_refuses_with_its_output_and_leaves_the_tree_as_it_was() {
    let dir = tempdir();
    let (primary, backup) = site(dir.path(), LINT);
    let before = categories(&backup.root);
    let synced = confsync(&["sync", "--from", &primary.address, "--to", &backup.address, "--yes"]);
    assert_exit(&synced, 4);
    assert_mentions(
        &all_output(&synced),
        &["server.conf: no port set", "exited with 1", "nothing was changed"],
    );
    for ((name, was), (_, now)) in before.iter().zip(categories(&backup.root)) {
        assert_same_tree(was, &now, name);
    }
    let history = stdout(&confsync(&["history", "--server", &backup.address]));
    assert_mentions(&history, &["no port set"]);
    let left =
        std::fs::read_dir(backup.root.join(".confsync/check")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(left, 0, "the preview is removed");

    // Fixed on the source, the same check passes and the apply goes through.
    write(&primary.root, "config/server.conf", b"name=tm\nport=2040\n");
    let synced = confsync(&["sync", "--from", &primary.address, "--to", &backup.address, "--yes"]);
    assert_exit(&synced, 0);
    assert_categories_equal(&primary.root, &backup.root);
}

#[test]
fn a_check_reads_the_tree_as_the_commit_will_leave_it() {
    let dir = tempdir();
    let seen = dir.path().join("seen.txt");
    let config = format!(
        "[[check]]\ncategory = \"config\"\ncommand = [\"sh\", \"-c\", \"cd {{tree}}/config && find . | sort > {0}; cat server.conf >> {0}; cat \\\"$CONFSYNC_CHANGED_FILE\\\" >> {0}\"]\n",
        seen.display()
    );
    let (primary, backup) = site(dir.path(), &config);
    write(&primary.root, "config/server.conf", b"name=tm\nport=2040\n");
    let synced = confsync(&["sync", "--from", &primary.address, "--to", &backup.address, "--yes"]);
    assert_exit(&synced, 0);
    let seen = std::fs::read_to_string(&seen).expect("the check ran");
    assert_mentions(&seen, &["./site/new.conf", "port=2040", "config/stale.conf"]);
    assert!(
        !seen.contains("./stale.conf"),
        "a file the commit deletes is not in the preview:\n{seen}"
    );
    assert_categories_equal(&primary.root, &backup.root);
}

#[test]
fn a_check_that_hangs_is_killed_at_its_timeout_and_refuses() {
    let dir = tempdir();
    let config = "[[check]]\ntimeout = \"1s\"\ncommand = [\"sleep\", \"293\"]\n";
    let (primary, backup) = site(dir.path(), config);
    let before = categories(&backup.root);
    let synced = confsync(&["sync", "--from", &primary.address, "--to", &backup.address, "--yes"]);
    assert_exit(&synced, 4);
    assert_mentions(&all_output(&synced), &["was killed at its timeout"]);
    for ((name, was), (_, now)) in before.iter().zip(categories(&backup.root)) {
        assert_same_tree(was, &now, name);
    }
}
