//! The README's "Using it" and "Securing" sections, run as written: every `sh` line on the
//! administrator's side through `sh -c` (with the built binary first on `PATH` and a
//! home folder of its own), every `agent.toml` written on each server, every agent
//! started with the README's own command line.
//!
//! What cannot be the same on one machine is substituted, and only that: the servers'
//! addresses (`10.0.0.1` and `10.0.0.2` become two loopback addresses, as loopback is
//! all a test may listen on) and each server's `/etc` and `/srv` (a folder per server). The
//! copy of certificates to each server, which the README says in words, the test does.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use crate::support::*;

const README: &str = include_str!("../../README.md");

/// The README's addresses and the loopback addresses that stand for them here.
const ADDRESSES: [(&str, &str); 3] =
    [("10.0.0.1", "127.0.0.11"), ("10.0.0.2", "127.0.0.12"), ("10.0.0.3", "127.0.0.13")];

/// The fenced blocks (`(language, body)`) of the section titled `title`.
fn blocks(title: &str) -> Vec<(String, String)> {
    let heading = format!("\n## {title}\n");
    let start = README.find(&heading).unwrap_or_else(|| panic!("README has no {heading:?}"));
    let rest = &README[start + heading.len()..];
    let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    let mut found = Vec::new();
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        if let Some(lang) = line.strip_prefix("```").filter(|l| !l.is_empty()) {
            let body: Vec<&str> = lines.by_ref().take_while(|l| !l.starts_with("```")).collect();
            found.push((lang.to_string(), body.join("\n") + "\n"));
        }
    }
    found
}

/// The commands of a shell block: continuation lines joined, comment lines dropped.
fn commands(block: &str) -> Vec<String> {
    block
        .replace("\\\n", " ")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(String::from)
        .collect()
}

fn loopback(text: &str) -> String {
    ADDRESSES.iter().fold(text.to_string(), |t, (readme, here)| t.replace(readme, here))
}

/// The administrator's machine: a home folder and the variables exported so far.
struct Admin {
    home: tempfile::TempDir,
    env: BTreeMap<String, String>,
}

impl Admin {
    fn new() -> Admin {
        Admin { home: tempdir(), env: BTreeMap::new() }
    }

    fn pki(&self) -> PathBuf {
        self.home.path().join("pki")
    }

    /// Runs one README command line as written (addresses aside), and checks its exit
    /// code against what the README says of it.
    fn run(&mut self, line: &str) -> Output {
        if let Some(assignments) = line.strip_prefix("export ") {
            for assignment in assignments.split_whitespace() {
                let (name, value) = assignment.split_once('=').expect("NAME=VALUE");
                let home = self.home.path().display().to_string();
                self.env.insert(name.to_string(), value.replacen('~', &home, 1));
            }
            return Command::new("true").output().expect("run true");
        }
        let bin_dir = Path::new(BIN).parent().expect("the binary's folder");
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(loopback(line))
            .env_clear()
            .env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()))
            .env("HOME", self.home.path())
            .envs(&self.env)
            .stdin(Stdio::null());
        let output = command.output().expect("run sh");
        let code = output.status.code();
        let asks = line.starts_with("confsync sync")
            && !line.contains("--yes")
            && !line.contains("--dry-run");
        let expected: &[i32] = if line.starts_with("confsync diff") {
            &[0, 1]
        } else if asks {
            &[4]
        } else {
            &[0]
        };
        assert!(
            code.is_some_and(|c| expected.contains(&c)),
            "README line {line:?} exited {:?} (expected {expected:?})\nstdout:\n{}\nstderr:\n{}",
            code,
            stdout(&output),
            stderr(&output)
        );
        if asks {
            assert_mentions(&stderr(&output), &["--yes"]);
        }
        output
    }
}

/// One server: a folder standing for its `/`, and its address here.
struct Server {
    name: &'static str,
    address: &'static str,
    slash: tempfile::TempDir,
}

impl Server {
    fn new(name: &'static str, readme_address: &'static str) -> Server {
        Server { name, address: readme_address, slash: tempdir() }
    }

    /// `/etc/...` and `/srv/...` of this server.
    fn path(&self, text: &str) -> String {
        let slash = self.slash.path().display();
        loopback(text)
            .replace("\"/etc/", &format!("\"{slash}/etc/"))
            .replace("\"/srv/", &format!("\"{slash}/srv/"))
    }

    fn file(&self, absolute: &str) -> PathBuf {
        self.slash.path().join(absolute.trim_start_matches('/'))
    }

    /// The README's agent.toml, for this server ("likewise on the primary").
    fn write_agent_toml(&self, readme_toml: &str) {
        let own = readme_toml.replace("backup-1", self.name).replace("10.0.0.2", self.address);
        let path = self.file("/etc/confsync/agent.toml");
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("create /etc/confsync");
        std::fs::write(&path, self.path(&own)).expect("write agent.toml");
    }

    /// "Copy ca.pem, NAME.pem and NAME.key to /etc/confsync/pki/".
    fn copy_certificates(&self, pki: &Path) {
        let to = self.file("/etc/confsync/pki");
        std::fs::create_dir_all(&to).expect("create /etc/confsync/pki");
        for file in
            ["ca.pem".to_string(), format!("{}.pem", self.name), format!("{}.key", self.name)]
        {
            std::fs::copy(pki.join(&file), to.join(&file)).expect("copy a certificate");
        }
    }

    /// Runs the README's agent command line on this server.
    fn start_agent(&self, line: &str) -> Started {
        let args: Vec<String> = line
            .strip_prefix("confsync ")
            .expect("a confsync command")
            .split_whitespace()
            .map(|a| if a.starts_with('/') { self.file(a).display().to_string() } else { a.into() })
            .collect();
        let mut command = Command::new(BIN);
        command.args(&args).env_clear().env("PATH", "/usr/bin:/bin");
        Started(spawn_agent_command(command, self.name))
    }
}

/// An agent stopped (and its log shown) when the test ends.
struct Started(Spawned);

impl Drop for Started {
    fn drop(&mut self) {
        let _ = self.0.child.kill();
        let _ = self.0.child.wait();
        if std::thread::panicking() {
            let log = std::fs::read_to_string(self.0.log.path()).unwrap_or_default();
            eprintln!("---- log of the agent at {} ----\n{log}", self.0.address);
        }
    }
}

#[test]
fn the_readme_walkthrough_runs_as_written() {
    let using = blocks("Using it");
    let [certs, agent_toml, agent_line, paths_toml, admin_lines] = using.as_slice() else {
        panic!(
            "Using it: expected certificates, agent.toml, the agent command, [paths], the admin commands; found {using:#?}"
        );
    };
    assert_eq!(
        [&certs.0, &agent_toml.0, &agent_line.0, &paths_toml.0, &admin_lines.0],
        ["sh", "toml", "sh", "toml", "sh"]
    );
    let mut admin = Admin::new();
    for line in commands(&certs.1) {
        admin.run(&line);
    }

    let primary = Server::new("primary", "10.0.0.1");
    let backup = Server::new("backup-1", "10.0.0.2");
    let root = "/srv/thinmanager";
    write(&primary.file(root), "firmware/image.bin", b"firmware v2");
    write(&primary.file(root), "config/server.conf", b"port=2031\n");
    write(&primary.file(root), "licenses/primary.lic", b"primary license");
    write(&backup.file(root), "config/server.conf", b"port=2030\n");
    write(&backup.file(root), "licenses/backup.lic", b"backup license");
    let [agent_command] = commands(&agent_line.1).try_into().expect("one agent command line");
    let mut agents = Vec::new();
    for server in [&primary, &backup] {
        server.write_agent_toml(&agent_toml.1);
        server.copy_certificates(&admin.pki());
        agents.push(server.start_agent(&agent_command));
    }
    let licenses = snapshot(&backup.file("/srv/thinmanager/licenses"));

    for line in commands(&admin_lines.1) {
        admin.run(&line);
    }
    assert_categories_equal(&primary.file(root), &backup.file(root));
    assert_same_tree(&licenses, &snapshot(&backup.file("/srv/thinmanager/licenses")), "licenses");

    // The other layout: every folder it names exists, and an agent starts over it.
    let other = Server::new("paths", "127.0.0.1");
    let toml = other.path(&paths_toml.1);
    for line in toml.lines().filter_map(|l| l.split_once(" = ")) {
        std::fs::create_dir_all(line.1.trim_matches('"')).expect("create a [paths] folder");
    }
    let config = other.file("/etc/confsync/agent.toml");
    std::fs::create_dir_all(config.parent().expect("a folder")).expect("create /etc/confsync");
    std::fs::write(&config, toml).expect("write the [paths] agent.toml");
    let mut command = Command::new(BIN);
    command.env_clear().arg("agent").arg("--config").arg(&config).args([
        "--listen",
        "127.0.0.1:0",
        "--name",
        "paths",
    ]);
    drop(Started(spawn_agent_command(command, "paths")));

    // Securing: another certificate, and the CLI's own flags instead of the variables.
    admin.env.clear();
    let securing = blocks("Securing a primary and a backup");
    let [(lang, body)] = securing.as_slice() else { panic!("Securing: one sh block") };
    assert_eq!(lang, "sh");
    for line in commands(body) {
        let output = admin.run(&line);
        if line.contains(" diff ") {
            assert_exit(&output, 0);
        }
    }
    assert!(admin.pki().join("backup-2.pem").is_file());
    drop(agents);
}

/// Every `toml` block of the README with the line it starts at.
fn toml_blocks() -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut lines = README.lines().enumerate();
    while let Some((at, line)) = lines.next() {
        if line.trim_end() == "```toml" {
            let body: Vec<&str> =
                lines.by_ref().map(|(_, l)| l).take_while(|l| !l.starts_with("```")).collect();
            found.push((at + 1, body.join("\n") + "\n"));
        }
    }
    found
}

#[test]
fn every_agent_toml_example_in_the_readme_is_read_by_the_agent() {
    let mut read = 0;
    let mut refused = Vec::new();
    for (line, body) in toml_blocks() {
        // The server list is another file (`servers.toml`), read by the CLI.
        if body.contains("[[server]]") {
            continue;
        }
        match toml::from_str::<confsync::config::AgentFile>(&body) {
            Ok(_) => read += 1,
            Err(e) => refused.push(format!("README.md line {line}: {e}")),
        }
    }
    assert!(refused.is_empty(), "agent.toml examples the agent refuses:\n{}", refused.join("\n"));
    assert!(read >= 5, "only {read} agent.toml examples found");
}
