//! Helpers for the end-to-end tests: real agents on `127.0.0.1:0` and the real CLI
//! (here), trees and snapshots ([`tree`]), a site of agents with their trees
//! ([`fixture`]), certificates and TLS agents ([`pki`]), hostile sources speaking the
//! protocol ([`fake_source`]) or raw HTTP/2 ([`raw_grpc`]).
//!
//! Every wait is bounded: a hang fails the test with what the processes printed, instead
//! of blocking CI.

pub(crate) mod fake_source;
pub(crate) mod fixture;
pub(crate) mod pki;
pub(crate) mod raw_grpc;
pub(crate) mod tree;

pub(crate) use fixture::*;
pub(crate) use tree::*;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub(crate) const BIN: &str = env!("CARGO_BIN_EXE_confsync");

/// Longest any one CLI command may take; large-file tests stay well under it.
pub(crate) const COMMAND_TIMEOUT: Duration = Duration::from_secs(300);

/// Longest an agent may take to print its address.
const START_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) const FAILPOINTS: &str = "CONFSYNC_FAILPOINTS";

// ---------------------------------------------------------------------------------------
// Small things every area needs

/// A temporary folder, removed when dropped.
pub(crate) fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("create a temporary folder")
}

/// Fails unless `text` contains every one of `needles`.
pub(crate) fn assert_mentions(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "expected {needle:?} in:\n{text}");
    }
}

/// A runtime for the tests that call agents in-process (raw clients, fake sources).
pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("start a tokio runtime")
}

/// The peak resident memory of a process so far (VmHWM), in MiB.
pub(crate) fn peak_rss_mib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read /proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kib| kib / 1024)
}

// ---------------------------------------------------------------------------------------
// Agents

/// A real `confsync agent` process. Killed when dropped; its log (stderr) is printed when
/// the test is failing, since that is usually where the reason is.
pub(crate) struct Agent {
    child: Child,
    pub address: String,
    pub root: PathBuf,
    pub name: String,
    log: tempfile::NamedTempFile,
}

impl Agent {
    pub(crate) fn start(root: &Path, name: &str) -> Agent {
        Agent::start_with_env(root, name, &[])
    }

    /// Starts an agent serving `root`, with extra environment (failpoints), and waits for
    /// the line that gives its address.
    pub(crate) fn start_with_env(root: &Path, name: &str, env: &[(&str, &str)]) -> Agent {
        Agent::start_at(root, name, "127.0.0.1:0", env)
    }

    /// Starts an agent on a fixed `listen` address, for restarting one where its clients
    /// expect it.
    pub(crate) fn start_at(root: &Path, name: &str, listen: &str, env: &[(&str, &str)]) -> Agent {
        Agent::start_full(root, name, listen, &[], env)
    }

    /// Starts an agent whose agent.toml (written into `root`) is `config`.
    pub(crate) fn start_configured(root: &Path, name: &str, config: &str) -> Agent {
        std::fs::create_dir_all(root).expect("create the root");
        let file = root.join("agent.toml");
        std::fs::write(&file, config).expect("write agent.toml");
        Agent::start_with_args(root, name, &["--config", &file.display().to_string()])
    }

    /// Starts an agent with extra command-line arguments (`--protected`, ...).
    pub(crate) fn start_with_args(root: &Path, name: &str, extra: &[&str]) -> Agent {
        let extra: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
        Agent::start_full(root, name, "127.0.0.1:0", &extra, &[])
    }

    pub(crate) fn start_full(
        root: &Path,
        name: &str,
        listen: &str,
        extra: &[String],
        env: &[(&str, &str)],
    ) -> Agent {
        let Spawned { child, address, log } = spawn_agent(root, name, listen, extra, env);
        let agent = Agent { child, address, root: root.to_path_buf(), name: name.to_string(), log };
        assert!(agent.address.starts_with("127.0.0.1:"), "address {:?}", agent.address);
        agent.wait_until_serving();
        agent
    }

    /// Starts an agent through `wrapper` (a program that runs the rest of its arguments,
    /// as `setpriv` does), serving `root` as `name`.
    pub(crate) fn start_wrapped(
        root: &Path,
        name: &str,
        wrapper: &[&str],
        extra: &[&str],
    ) -> Agent {
        let mut command = Command::new(wrapper[0]);
        command
            .args(&wrapper[1..])
            .arg(BIN)
            .args(["agent", "--root"])
            .arg(root)
            .args(["--listen", "127.0.0.1:0", "--name", name])
            .args(extra)
            .env_remove(FAILPOINTS);
        let Spawned { child, address, log } = spawn_agent_command(command, name);
        let agent = Agent { child, address, root: root.to_path_buf(), name: name.to_string(), log };
        agent.wait_until_serving();
        agent
    }

    /// The address line comes before start-up recovery (undoing an unfinished commit,
    /// clearing staging); the first answered call comes after it.
    fn wait_until_serving(&self) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("start a tokio runtime");
        let address = self.address.clone();
        // The standard health service, so this does not depend on the agent's own API.
        let check = async move {
            use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
            let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{address}"))
                .map_err(|e| e.to_string())?;
            let channel = endpoint.connect().await.map_err(|e| e.to_string())?;
            let request = HealthCheckRequest { service: String::new() };
            HealthClient::new(channel).check(request).await.map_err(|e| e.to_string())
        };
        // The timer needs the runtime: build the timeout inside it.
        let answered = runtime.block_on(async { tokio::time::timeout(START_TIMEOUT, check).await });
        match answered {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("agent {} does not answer: {e}; log:\n{}", self.name, self.log()),
            Err(_) => panic!(
                "agent {} did not answer within {START_TIMEOUT:?}; log:\n{}",
                self.name,
                self.log()
            ),
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the agent logged so far.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }

    /// SIGKILL, then reap, so the tree's lock is free when this returns.
    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for a clean exit.
    pub(crate) fn stop(&mut self) -> ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill -TERM");
        assert!(sent.success(), "kill -TERM {} failed", self.child.id());
        match self.wait_exit(Duration::from_secs(40)) {
            Some(status) => status,
            None => {
                self.kill();
                panic!("agent {} did not stop on SIGTERM; log:\n{}", self.name, self.log());
            }
        }
    }

    /// Waits for the agent to exit on its own (for example after a crash failpoint).
    pub(crate) fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll agent") {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- log of agent {} ({}) ----\n{}", self.name, self.address, self.log());
        }
        self.kill();
    }
}

/// Sends the first stdout line (None at end of file) and keeps draining the rest, so the
/// agent can never block on a full pipe.
/// A `confsync agent` process whose address line has been read.
pub(crate) struct Spawned {
    pub child: Child,
    pub address: String,
    /// Where its stderr (the log) goes.
    pub log: tempfile::NamedTempFile,
}

/// A child process killed (and reaped) when dropped.
pub(crate) struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `confsync agent --root ROOT --listen LISTEN --name NAME EXTRA` with `env` added
/// (and no inherited failpoints or TERM), and waits for the line that gives its address,
/// not for it to answer. Fails the test, with the agent's log, when no such line comes.
pub(crate) fn spawn_agent(
    root: &Path,
    name: &str,
    listen: &str,
    extra: &[String],
    env: &[(&str, &str)],
) -> Spawned {
    let mut command = Command::new(BIN);
    command
        .args(["agent", "--root"])
        .arg(root)
        .args(["--listen", listen, "--name", name])
        .args(extra)
        .env_remove(FAILPOINTS);
    for (key, value) in env {
        command.env(key, value);
    }
    spawn_agent_command(command, name)
}

/// Spawns an agent `command` (`confsync agent ...`, with the environment the caller
/// gave it) without TERM, and waits for the line that gives its address.
pub(crate) fn spawn_agent_command(mut command: Command, name: &str) -> Spawned {
    let log = tempfile::NamedTempFile::new().expect("create agent log file");
    let stderr = log.as_file().try_clone().expect("clone agent log handle");
    command
        .env_remove("TERM")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr));
    let mut child = command.spawn().expect("spawn confsync agent");
    let stdout = child.stdout.take().expect("agent stdout is piped");
    let (first_line, _drain) = read_first_line(stdout);
    let logged = || std::fs::read_to_string(log.path()).unwrap_or_default();
    let line = match first_line.recv_timeout(START_TIMEOUT) {
        Ok(Some(line)) => line,
        Ok(None) => panic!("agent {name} exited before printing its address; log:\n{}", logged()),
        Err(_) => {
            panic!("agent {name} printed no address within {START_TIMEOUT:?}; log:\n{}", logged())
        }
    };
    let expected_prefix = format!("confsync agent {name:?} listening on ");
    let address = line
        .strip_prefix(&expected_prefix)
        .unwrap_or_else(|| panic!("unexpected first line from agent {name}: {line:?}"))
        .trim()
        .to_string();
    Spawned { child, address, log }
}

fn read_first_line(stdout: ChildStdout) -> (Receiver<Option<String>>, JoinHandle<()>) {
    let (tx, rx) = mpsc::channel();
    let drain = std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        let first = match reader.read_line(&mut line) {
            Ok(0) | Err(_) => None,
            Ok(_) => Some(line.trim_end().to_string()),
        };
        let _ = tx.send(first);
        let _ = std::io::copy(&mut reader, &mut std::io::sink());
    });
    (rx, drain)
}

// ---------------------------------------------------------------------------------------
// The CLI

/// The wizard in a real pty over the server list `servers`.
pub(crate) fn wizard_session(servers: &Path) -> rexpect::session::PtySession {
    wizard_session_with(servers, &[])
}

/// [`wizard_session`] with more arguments for the wizard (`--confirm-within 1h`).
pub(crate) fn wizard_session_with(servers: &Path, extra: &[&str]) -> rexpect::session::PtySession {
    let mut command = Command::new(BIN);
    command.arg("wizard").args(extra).arg("--servers").arg(servers).env("TERM", "xterm-256color");
    command.env_remove(FAILPOINTS).env(MAX_DELETE_ENV, "100");
    rexpect::session::spawn_command(command, Some(30_000)).expect("spawn the wizard in a pty")
}

/// Keeps the wizard's default source, destination and categories (each menu waited for
/// to its last row: keys typed before a menu is in raw mode are lost).
pub(crate) fn accept_the_defaults_through_categories(session: &mut rexpect::session::PtySession) {
    session.exp_string("Source, the server to copy from").expect("source prompt");
    session.exp_string("Type an address").expect("source menu");
    press(session, "\r");
    session.exp_string("Destination, the server to overwrite").expect("destination prompt");
    session.exp_string("Type an address").expect("destination menu");
    press(session, "\r");
    one_way(session);
    session.exp_string("Categories to synchronize").expect("categories prompt");
    session.exp_string("Configuration").expect("categories menu");
    press(session, "\r");
}

/// Answers the wizard's direction question with its default, one way.
pub(crate) fn one_way(session: &mut rexpect::session::PtySession) {
    session.exp_string("Direction").expect("direction prompt");
    session.exp_string("Both ways").expect("direction menu");
    press(session, "\r");
}

/// Types `keys` once the menu has had a moment to switch the terminal to raw mode.
pub(crate) fn press(session: &mut rexpect::session::PtySession, keys: &str) {
    std::thread::sleep(std::time::Duration::from_millis(150));
    session.send(keys).expect("type into the wizard");
    session.flush().expect("flush the pty");
}

/// `auto --once --json --from SRC --to DST` plus `extra`.
pub(crate) fn auto_once(source: &Agent, destination: &Agent, extra: &[&str]) -> Output {
    let mut args =
        vec!["auto", "--once", "--json", "--from", &source.address, "--to", &destination.address];
    args.extend_from_slice(extra);
    confsync_guarded(&args)
}

/// The log line of `auto`'s run (the one with an outcome).
pub(crate) fn run_line(output: &Output) -> serde_json::Value {
    json_lines(output)
        .into_iter()
        .find(|l| l["outcome"].is_string())
        .unwrap_or_else(|| panic!("no run line in {}", stdout(output)))
}

/// The delete guard the tests run with. They are about what a sync does to trees that
/// differ a lot on purpose; the guard itself (25 % by default) has tests of its own, which
/// run without this ([`confsync_guarded`]).
const MAX_DELETE_ENV: &str = "CONFSYNC_MAX_DELETE";

fn cli(args: &[&str]) -> Command {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_remove("TERM")
        .env_remove(FAILPOINTS)
        .env(MAX_DELETE_ENV, "100")
        .stdin(Stdio::null());
    command
}

/// [`confsync`] with the default delete guard, as an administrator runs it.
pub(crate) fn confsync_guarded(args: &[&str]) -> Output {
    let mut command = cli(args);
    command.env_remove(MAX_DELETE_ENV);
    run(command, args)
}

/// Runs the CLI without a terminal (stdin null, no TERM) and returns its output; fails the
/// test when it takes longer than [`COMMAND_TIMEOUT`].
pub(crate) fn confsync(args: &[&str]) -> Output {
    run(cli(args), args)
}

/// [`confsync`] with `dir` as the working folder, for commands that might write there.
pub(crate) fn confsync_in(dir: &Path, args: &[&str]) -> Output {
    let mut command = cli(args);
    command.current_dir(dir);
    run(command, args)
}

fn run(mut command: Command, args: &[&str]) -> Output {
    let mut child =
        command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn confsync");
    let stdout = read_to_end(child.stdout.take().expect("piped stdout"));
    let stderr = read_to_end(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + COMMAND_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll confsync") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "confsync {args:?} did not finish within {COMMAND_TIMEOUT:?}\nstdout:\n{}\nstderr:\n{}",
                text(stdout.join().expect("stdout reader")),
                text(stderr.join().expect("stderr reader"))
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Output {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
    }
}

fn read_to_end(mut pipe: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = pipe.read_to_end(&mut out);
        out
    })
}

fn text(bytes: Vec<u8>) -> String {
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The exit code, with both streams in the message when it is not `expected`.
pub(crate) fn assert_exit(output: &Output, expected: i32) {
    assert_eq!(
        output.status.code(),
        Some(expected),
        "unexpected exit status {}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        stdout(output),
        stderr(output)
    );
}

pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Parses every stdout line as one JSON document (`sync --json`).
pub(crate) fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    stdout(output)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l:?}")))
        .collect()
}

/// The single event of this kind among `events`.
pub(crate) fn event<'a>(events: &'a [serde_json::Value], kind: &str) -> &'a serde_json::Value {
    let found: Vec<&serde_json::Value> = events.iter().filter(|e| e["event"] == kind).collect();
    assert_eq!(found.len(), 1, "expected one {kind:?} event in {events:#?}");
    found[0]
}

/// `sync --from FROM --to TO --yes` plus `extra`.
pub(crate) fn sync_args<'a>(from: &'a str, to: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["sync", "--from", from, "--to", to, "--yes"];
    args.extend_from_slice(extra);
    args
}

/// `sync --from SRC --to DST --yes` plus `extra`, expected to succeed.
pub(crate) fn sync_ok(source: &Agent, destination: &Agent, extra: &[&str]) -> Output {
    let output = confsync(&sync_args(&source.address, &destination.address, extra));
    assert_exit(&output, 0);
    output
}

/// A CLI process whose stdout JSON lines are read as they come.
/// JSON lines read from a child's stdout on a thread of their own. Everything read is kept
/// in `seen`, for the message of a failing test.
pub(crate) struct JsonLines {
    lines: Receiver<serde_json::Value>,
    pub seen: Vec<serde_json::Value>,
}

impl JsonLines {
    /// Reads `stdout` line by line; a line that is not JSON is kept as `{"unparsed": ...}`.
    pub(crate) fn read(stdout: ChildStdout) -> JsonLines {
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                let value = serde_json::from_str(&line).unwrap_or_else(
                    |e| serde_json::json!({ "unparsed": line, "error": e.to_string() }),
                );
                if tx.send(value).is_err() {
                    return;
                }
            }
        });
        JsonLines { lines, seen: Vec::new() }
    }

    /// The first line from now on matching `wanted`, or why none came within `timeout`
    /// (the time ran out, or the output ended).
    pub(crate) fn wait_for(
        &mut self,
        timeout: Duration,
        wanted: impl Fn(&serde_json::Value) -> bool,
    ) -> Result<serde_json::Value, mpsc::RecvTimeoutError> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.lines.recv_timeout(left)?;
            self.seen.push(line.clone());
            if wanted(&line) {
                return Ok(line);
            }
        }
    }

    /// Keeps every line that comes until none has come for `quiet`.
    pub(crate) fn drain(&mut self, quiet: Duration) {
        while let Ok(line) = self.lines.recv_timeout(quiet) {
            self.seen.push(line);
        }
    }
}

pub(crate) struct Running {
    child: Child,
    events: JsonLines,
    stderr: Option<JoinHandle<Vec<u8>>>,
}

impl Running {
    pub(crate) fn spawn(args: &[&str]) -> Running {
        let mut child = cli(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn confsync");
        let events = JsonLines::read(child.stdout.take().expect("piped stdout"));
        let stderr = read_to_end(child.stderr.take().expect("piped stderr"));
        Running { child, events, stderr: Some(stderr) }
    }

    /// Waits for the first event matching `wanted`; fails the test on timeout or when the
    /// process ends first.
    pub(crate) fn wait_for(
        &mut self,
        timeout: Duration,
        wanted: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        match self.events.wait_for(timeout, wanted) {
            Ok(value) => value,
            Err(e) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                let stderr = self.stderr.take().map(|h| text(h.join().expect("stderr reader")));
                panic!(
                    "no awaited event ({e}); events so far: {:#?}\nstderr:\n{}",
                    self.events.seen,
                    stderr.unwrap_or_default()
                );
            }
        }
    }

    /// Sends SIGINT, as Ctrl-C on a terminal does.
    pub(crate) fn interrupt(&self) {
        // kill(1) rather than kill(2): the tests forbid unsafe code.
        let sent = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "send SIGINT to confsync");
    }

    /// Waits for the process to end; returns its status, every event and its stderr.
    pub(crate) fn finish(
        mut self,
        timeout: Duration,
    ) -> (ExitStatus, Vec<serde_json::Value>, String) {
        let deadline = Instant::now() + timeout;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("poll confsync") {
                break status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!(
                    "confsync did not finish within {timeout:?}; events: {:#?}",
                    self.events.seen
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // The reader thread ends at end of file, which follows the exit.
        self.events.drain(Duration::from_secs(5));
        let stderr =
            self.stderr.take().map(|h| text(h.join().expect("stderr reader"))).unwrap_or_default();
        (status, std::mem::take(&mut self.events.seen), stderr)
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A progress event showing that file data has started to arrive.
pub(crate) fn is_transferring(event: &serde_json::Value) -> bool {
    event["event"] == "progress"
        && event["progress"]["phase"] == "transferring"
        && event["progress"]["bytes_done"].as_u64().is_some_and(|n| n > 0)
}

/// `GET /metrics` on `address`, the body.
pub(crate) fn scrape(address: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(address).expect("connect to the metrics");
    stream.write_all(b"GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n").expect("ask");
    let mut reply = String::new();
    stream.read_to_string(&mut reply).expect("read the reply");
    let (head, body) = reply.split_once("\r\n\r\n").expect("an HTTP reply");
    assert!(head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"), "{head}");
    body.to_string()
}

/// The address an agent started with `--metrics 127.0.0.1:0` serves its metrics at.
pub(crate) fn metrics_address(agent: &Agent) -> String {
    agent
        .log()
        .lines()
        .find_map(|l| l.split("metrics at http://").nth(1)?.split('/').next().map(str::to_string))
        .unwrap_or_else(|| panic!("no metrics address in the log:\n{}", agent.log()))
}
