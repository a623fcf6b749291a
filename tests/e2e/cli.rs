//! The command line itself: every command's help teaches (a purpose and an example), the
//! committed shell completions are what the binary generates, the man page renders.

use crate::support::*;

const COMMANDS: &[&str] = &[
    "agent",
    "wizard",
    "diff",
    "sync",
    "servers",
    "auto",
    "history",
    "rollback",
    "hold",
    "release",
    "certs",
    "demo",
    "man",
    "completions",
];

#[test]
fn every_command_has_help_with_an_example() {
    let top = confsync(&["--help"]);
    assert_exit(&top, 0);
    for command in COMMANDS {
        assert!(stdout(&top).contains(command), "top-level help lists {command}");
        let help = confsync(&[command, "--help"]);
        assert_exit(&help, 0);
        let text = stdout(&help);
        assert!(text.contains("Example"), "`confsync {command} --help` has no example:\n{text}");
        assert!(
            text.lines().next().is_some_and(|l| !l.trim().is_empty()),
            "{command}: a purpose line"
        );
    }
}

#[test]
fn committed_completions_are_fresh() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let generated = confsync(&["completions", shell]);
        assert_exit(&generated, 0);
        let path = format!("{}/completions/confsync.{shell}", env!("CARGO_MANIFEST_DIR"));
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == stdout(&generated),
            "{path} is stale: regenerate with `cargo run -- completions {shell} > completions/confsync.{shell}`"
        );
    }
}

#[test]
fn the_man_page_renders() {
    let man = confsync(&["man"]);
    assert_exit(&man, 0);
    let page = stdout(&man);
    assert!(
        page.contains(".TH confsync") && page.contains("wizard") && page.contains("sync"),
        "{page}"
    );
}

#[test]
fn bare_confsync_without_a_terminal_is_a_usage_error() {
    let output = confsync(&[]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("no terminal"), "{}", stderr(&output));
}
