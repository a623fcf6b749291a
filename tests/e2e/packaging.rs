//! Installing it like a service (issue 16, item 3): the systemd units in
//! `contrib/systemd/` pass `systemd-analyze verify` (their man pages found where the
//! package puts them), and the sample `/etc/confsync/agent.toml` starts an agent as it is.
//! The package itself is built and its file list checked by `contrib/package.sh`, which
//! `.ci/run` runs.

use std::path::Path;
use std::process::Command;

use crate::support::*;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn the_systemd_units_pass_systemd_analyze_verify() {
    let dir = tempdir();
    let man = dir.path().join("man/man1");
    std::fs::create_dir_all(&man).expect("man folder");
    assert_exit(&confsync(&["man", "--dir", &man.display().to_string()]), 0);
    let units = Path::new(ROOT).join("contrib/systemd");
    let mut verified = Vec::new();
    for unit in ["confsync-agent.service", "confsync-auto.service"] {
        let text = std::fs::read_to_string(units.join(unit)).expect("read the unit");
        assert!(
            text.contains("NoNewPrivileges=yes") && text.contains("ProtectSystem=strict"),
            "{unit}"
        );
        assert!(text.contains("StateDirectory=confsync"), "{unit}");
        // The unit as installed, but pointing at the binary built here.
        let here = text.replace("/usr/bin/confsync", BIN);
        let copy = dir.path().join(unit);
        std::fs::write(&copy, here).expect("write the unit");
        verified.push(copy);
    }
    let analyzed = Command::new("systemd-analyze")
        .arg("verify")
        .args(&verified)
        .env("MANPATH", dir.path().join("man"))
        .output()
        .expect("systemd-analyze (Debian's systemd package) runs");
    assert!(
        analyzed.status.success() && analyzed.stderr.is_empty(),
        "systemd-analyze verify:\n{}{}",
        String::from_utf8_lossy(&analyzed.stdout),
        String::from_utf8_lossy(&analyzed.stderr)
    );
}

#[test]
fn the_sample_agent_toml_starts_an_agent() {
    let dir = tempdir();
    let sample = Path::new(ROOT).join("contrib/agent.toml").display().to_string();
    let agent = Agent::start_with_args(dir.path(), "sample", &["--config", &sample]);
    let hello = confsync(&["servers", "show", &agent.address, "--json"]);
    assert_exit(&hello, 0);
}
