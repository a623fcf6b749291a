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
    "export",
    "import",
    "manifest",
    "confirm",
    "verify",
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
fn every_command_has_its_own_manual_page() {
    let dir = tempdir();
    let written = confsync(&["man", "--dir", &dir.path().display().to_string()]);
    assert_exit(&written, 0);
    for command in COMMANDS {
        let page = dir.path().join(format!("confsync-{command}.1"));
        let text =
            std::fs::read_to_string(&page).unwrap_or_else(|e| panic!("{}: {e}", page.display()));
        assert!(text.contains(&format!(".TH confsync-{command}")), "{text}");
    }
    assert!(dir.path().join("confsync-servers-add.1").exists(), "nested commands too");
    // The top page's SEE ALSO names pages that now exist.
    let top = std::fs::read_to_string(dir.path().join("confsync.1")).expect("confsync.1");
    assert!(top.contains("confsync\\-sync(1)"), "{top}");
    let sync = confsync(&["man", "sync"]);
    assert_exit(&sync, 0);
    assert!(stdout(&sync).contains(".TH confsync-sync"));
    assert_exit(&confsync(&["man", "nonsense"]), 2);
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

/// On a terminal, `confsync man sync` is a page to read, formatted by the real `man`, not
/// roff source (issue 23, item 11). The pager is `cat`, so that the test reads it whole.
#[test]
fn on_a_terminal_the_man_page_is_shown_formatted() {
    let mut command = std::process::Command::new(BIN);
    command.args(["man", "sync"]).env("TERM", "xterm-256color").env("MANPAGER", "cat");
    command.env("PAGER", "cat").env("MANWIDTH", "80");
    let mut session =
        rexpect::session::spawn_command(command, Some(30_000)).expect("spawn in a pty");
    let page = session.exp_eof().expect("the page, to its end");
    assert!(page.contains("NAME") && page.contains("confsync-sync"), "{page}");
    assert!(!page.contains(".TH") && !page.contains(".SH"), "no roff on a terminal:\n{page}");
}

/// A reader that stops early (`| head`) is no error: exit 0, nothing on stderr, whether
/// the command writes with `write_all` (man, completions) or `println!` (servers list).
#[test]
fn a_closed_pipe_is_not_an_error() {
    let dir = tempdir();
    let mut list = ServerFile::new(dir.path());
    for i in 0..200 {
        list.add(&format!("backup-{i}"), &format!("127.0.0.1:{}", 1 + i), "backup");
    }
    let servers = list.path.display().to_string();
    for args in [
        vec!["man"],
        vec!["completions", "bash"],
        vec!["--servers", servers.as_str(), "servers", "list", "--json"],
    ] {
        let mut child = std::process::Command::new(BIN)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn confsync");
        // Nobody reads: every write finds the pipe closed.
        drop(child.stdout.take());
        let output = child.wait_with_output().expect("wait");
        assert_eq!(output.status.code(), Some(0), "{args:?}: {}", stderr(&output));
        assert_eq!(stderr(&output), "", "{args:?}");
    }
}

/// The examples in `--help` (and so in the manual pages) name servers as an administrator
/// does, from the server list, rather than by address.
#[test]
fn the_examples_use_server_names() {
    for command in ["diff", "sync", "auto", "history", "rollback", "verify", "hold", "release"] {
        let help = stdout(&confsync(&[command, "--help"]));
        let examples = help.split("Example").nth(1).unwrap_or_default();
        assert!(
            examples.contains("backup-1") && !examples.contains(":7420"),
            "{command}: {examples}"
        );
    }
}

#[test]
fn bare_confsync_without_a_terminal_is_a_usage_error() {
    let output = confsync(&[]);
    assert_exit(&output, 2);
    assert!(stderr(&output).contains("no terminal"), "{}", stderr(&output));
}

#[test]
fn a_listen_address_without_a_port_is_named_as_such() {
    let root = tempdir();
    let output =
        confsync(&["agent", "--root", &root.path().display().to_string(), "--listen", "127.0.0.9"]);
    assert!(!output.status.success());
    let said = stderr(&output);
    assert_mentions(&said, &["127.0.0.9", "has no port", "127.0.0.9:7420"]);
    assert!(!said.contains("another agent"), "{said}");
}
