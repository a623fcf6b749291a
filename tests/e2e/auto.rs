//! `confsync auto` end to end: real agents on loopback, the real binary following them,
//! its JSON log lines read as they come. Every wait is bounded.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::support::*;

const FAILPOINTS: &str = "CONFSYNC_FAILPOINTS";

/// A running `confsync auto --json`, its stdout read line by line as JSON.
struct Auto {
    child: Child,
    lines: JsonLines,
}

impl Auto {
    fn spawn(from: &Agent, to: &[&Agent], extra: &[&str]) -> Auto {
        let to: Vec<&str> = to.iter().map(|a| a.address.as_str()).collect();
        let to = to.join(",");
        let mut command = Command::new(BIN);
        command
            .args(["auto", "--json", "--from", &from.address, "--to", &to])
            .args(extra)
            .env_remove("TERM")
            .env_remove(FAILPOINTS)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        let mut child = command.spawn().expect("spawn confsync auto");
        let lines = JsonLines::read(child.stdout.take().expect("piped stdout"));
        Auto { child, lines }
    }

    /// The first log line from now on matching `wanted`.
    fn wait_for(
        &mut self,
        what: &str,
        timeout: Duration,
        wanted: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        self.lines.wait_for(timeout, wanted).unwrap_or_else(|e| {
            panic!("auto logged no {what} within {timeout:?} ({e}); lines so far:\n{}", self.dump())
        })
    }

    /// The next run of `destination` (a log line with an outcome).
    fn next_run(&mut self, destination: &Agent, timeout: Duration) -> serde_json::Value {
        let address = destination.address.clone();
        self.wait_for("run line", timeout, move |l| {
            l["destination"] == address.as_str()
                && l["outcome"].is_string()
                && l["outcome"] != "recovered"
        })
    }

    fn dump(&self) -> String {
        self.lines.seen.iter().map(|l| format!("  {l}\n")).collect()
    }

    fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("poll auto").is_none()
    }

    /// SIGTERM, then the exit status within `timeout`.
    fn terminate(&mut self, timeout: Duration) -> ExitStatus {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success());
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll auto") {
                return status;
            }
            assert!(Instant::now() < deadline, "auto did not stop on SIGTERM:\n{}", self.dump());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Auto {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("---- auto's log lines ----\n{}", self.dump());
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `condition` every 50 ms until it holds; fails with `what` after `timeout`.
fn eventually(what: &str, timeout: Duration, condition: impl Fn() -> bool) -> Duration {
    let started = Instant::now();
    while !condition() {
        assert!(started.elapsed() < timeout, "{what}: not within {timeout:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    started.elapsed()
}

fn file_is(root: &Path, rel: &str, content: &[u8]) -> bool {
    std::fs::read(root.join(rel)).is_ok_and(|c| c == content)
}

fn populate(root: &Path) {
    write(root, "firmware/image.bin", &noise(64 * 1024, 3));
    write(root, "config/app.conf", b"version = 1\n");
    write(root, "capdb/devices.db", b"devices\n");
    write(root, "licenses/own.lic", b"this machine's licence");
}

#[test]
fn every_second_a_source_change_reaches_the_destination() {
    let (src, dst) = (tempdir(), tempdir());
    populate(src.path());
    write(dst.path(), "licenses/backup.lic", b"the backup's licence");
    let licenses = snapshot(&dst.path().join("licenses"));
    let site = Pair::start(src, dst);
    let (src, dst, source, destination) = (&site.src, &site.dst, &site.source, &site.destination);
    let mut auto = Auto::spawn(source, &[destination], &["--every", "1s"]);

    let first = auto.next_run(destination, Duration::from_secs(30));
    assert_eq!(first["outcome"], "applied", "{first}");
    assert!(first["files"].as_u64().is_some_and(|n| n >= 3), "{first}");
    assert!(first["bytes"].as_u64().is_some_and(|n| n >= 64 * 1024), "{first}");
    assert!(first["duration_ms"].is_u64(), "{first}");
    assert_categories_equal(src.path(), dst.path());

    let quiet = auto.next_run(destination, Duration::from_secs(10));
    assert_eq!(quiet["outcome"], "in_sync", "a second run finds nothing to do: {quiet}");

    write(src.path(), "config/app.conf", b"version = 2\n");
    eventually("the change on the destination", Duration::from_secs(20), || {
        file_is(dst.path(), "config/app.conf", b"version = 2\n")
    });
    assert_categories_equal(src.path(), dst.path());
    assert_same_tree(&licenses, &snapshot(&dst.path().join("licenses")), "licenses");

    let status = auto.terminate(Duration::from_secs(10));
    assert!(status.success(), "auto exits 0 on SIGTERM: {status}");
}

#[test]
fn on_change_alone_syncs_within_seconds_of_a_change() {
    let (src, dst) = (tempdir(), tempdir());
    populate(src.path());
    let site = Pair::start(src, dst);
    let (src, dst, source, destination) = (&site.src, &site.dst, &site.source, &site.destination);
    let mut auto = Auto::spawn(source, &[destination], &["--on-change"]);
    auto.wait_for("subscription", Duration::from_secs(30), |l| l["watch"] == "subscribed");
    eventually("the first sync", Duration::from_secs(30), || {
        file_is(dst.path(), "config/app.conf", b"version = 1\n")
    });

    write(src.path(), "config/new.conf", b"added on the primary\n");
    let took = eventually("the new file on the destination", Duration::from_secs(15), || {
        file_is(dst.path(), "config/new.conf", b"added on the primary\n")
    });
    assert!(took < Duration::from_secs(10), "on-change took {took:?}");
    // A change in a folder that did not exist yet is seen too.
    write(src.path(), "modules/m1/mod.so", b"a new module\n");
    eventually("the new module on the destination", Duration::from_secs(15), || {
        file_is(dst.path(), "modules/m1/mod.so", b"a new module\n")
    });
    assert_categories_equal(src.path(), dst.path());
}

#[test]
fn a_stopped_source_is_retried_with_backoff_and_synced_when_it_returns() {
    let (src, dst, state) = (tempdir(), tempdir(), tempdir());
    populate(src.path());
    let status_file = state.path().join("status.json");
    let mut source = Agent::start(src.path(), "primary");
    let address = source.address.clone();
    let destination = Agent::start(dst.path(), "backup");
    let mut auto = Auto::spawn(
        &source,
        &[&destination],
        &["--every", "1s", "--status-file", status_file.to_str().expect("UTF-8 path")],
    );
    assert_eq!(auto.next_run(&destination, Duration::from_secs(30))["outcome"], "applied");

    source.kill();
    write(src.path(), "config/app.conf", b"changed while the primary was down\n");
    let first = auto.wait_for("failure", Duration::from_secs(20), |l| l["outcome"] == "failed");
    assert!(first["error"].as_str().is_some_and(|e| e.contains(&address)), "{first}");
    let second =
        auto.wait_for("second failure", Duration::from_secs(20), |l| l["outcome"] == "failed");
    assert_eq!(second["failures"], 2, "{second}");
    assert!(second["retry_in_s"].as_u64().is_some_and(|s| s >= 2), "backoff grows: {second}");
    let status: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&status_file).expect("status file")).expect("JSON");
    let entry = &status["destinations"][destination.address.as_str()];
    assert!(entry["consecutive_failures"].as_u64().is_some_and(|n| n >= 2), "{status}");
    assert!(entry["last_error"].as_str().is_some_and(|e| e.contains(&address)), "{status}");
    assert!(entry["last_success"].is_string(), "{status}");
    assert!(auto.is_running(), "auto never exits on its own");

    let _source = Agent::start_at(src.path(), "primary", &address, &[]);
    let recovered =
        auto.wait_for("recovery", Duration::from_secs(30), |l| l["outcome"] == "recovered");
    assert!(recovered["after_failures"].as_u64().is_some_and(|n| n >= 2), "{recovered}");
    assert!(file_is(dst.path(), "config/app.conf", b"changed while the primary was down\n"));
    assert_categories_equal(src.path(), dst.path());
    let status: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&status_file).expect("status file")).expect("JSON");
    let entry = &status["destinations"][destination.address.as_str()];
    assert_eq!(entry["consecutive_failures"], 0, "{status}");
    assert_eq!(entry["last_outcome"], "applied", "{status}");
}

/// `auto --on-change` says when its source is down (issue 23, item 4): SIGTERM to the
/// primary's agent is followed at once by a failed run naming the source, one line per
/// retry, the status file saying the source is unreachable, and the metrics' source gauge
/// at 0; when the source returns, all of it clears.
#[test]
fn on_change_alone_says_when_the_source_is_down_in_the_log_the_status_file_and_metrics() {
    let (src, dst, state) = (tempdir(), tempdir(), tempdir());
    populate(src.path());
    let status_file = state.path().join("status.json");
    let mut source = Agent::start(src.path(), "primary");
    let address = source.address.clone();
    let destination = Agent::start(dst.path(), "backup");
    let mut auto = Auto::spawn(
        &source,
        &[&destination],
        &[
            "--on-change",
            "--status-file",
            status_file.to_str().expect("UTF-8 path"),
            "--metrics",
            "127.0.0.1:0",
        ],
    );
    let metrics = auto.wait_for("metrics address", Duration::from_secs(30), |l| {
        l["message"].as_str().is_some_and(|m| m.starts_with("metrics at"))
    })["address"]
        .as_str()
        .expect("the metrics address")
        .to_string();
    assert_eq!(auto.next_run(&destination, Duration::from_secs(30))["outcome"], "applied");
    assert!(auto.lines.seen.iter().any(|l| l["watch"] == "subscribed"), "{}", auto.dump());
    let gauge = |text: &str| {
        text.lines()
            .find_map(|l| {
                l.strip_prefix("confsync_auto_source_up ").map(str::trim).map(str::to_string)
            })
            .unwrap_or_else(|| panic!("no source gauge in:\n{text}"))
    };
    assert_eq!(gauge(&scrape(&metrics)), "1");

    source.stop();
    // Within seconds, not at the next heartbeat or schedule (there is none).
    let failed = auto.wait_for("a failed run", Duration::from_secs(15), |l| {
        l["destination"] == destination.address.as_str() && l["outcome"] == "failed"
    });
    assert!(failed["error"].as_str().is_some_and(|e| e.contains(&address)), "{failed}");
    let retried = auto.wait_for("a line for a retry", Duration::from_secs(15), |l| {
        l["message"].as_str().is_some_and(|m| m.contains("still unreachable"))
            || (l["destination"] == destination.address.as_str() && l["outcome"] == "failed")
    });
    assert!(retried["level"] == "WARN" || retried["outcome"] == "failed", "{retried}");
    let board: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&status_file).expect("status file")).expect("JSON");
    assert_eq!(board["source_reachable"], false, "{board:#}");
    assert!(
        board["source_error"].is_string() && board["source_lost_since"].is_string(),
        "{board:#}"
    );
    let entry = &board["destinations"][destination.address.as_str()];
    assert_ne!(entry["last_outcome"], "in_sync", "{board:#}");
    assert!(entry["consecutive_failures"].as_u64().is_some_and(|n| n >= 1), "{board:#}");
    assert_eq!(gauge(&scrape(&metrics)), "0");

    let _source = Agent::start_at(src.path(), "primary", &address, &[]);
    auto.wait_for("the stream again", Duration::from_secs(40), |l| l["watch"] == "subscribed");
    let board: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&status_file).expect("status file")).expect("JSON");
    assert_eq!(board["source_reachable"], true, "{board:#}");
    assert_eq!(gauge(&scrape(&metrics)), "1");
}

#[test]
fn one_failing_destination_does_not_hold_back_the_others() {
    let (src, good_dst, bad_dst) = (tempdir(), tempdir(), tempdir());
    populate(src.path());
    let source = Agent::start(src.path(), "primary");
    let good = Agent::start(good_dst.path(), "good");
    let mut bad = Agent::start(bad_dst.path(), "bad");
    bad.kill();
    let mut auto = Auto::spawn(&source, &[&bad, &good], &["--every", "1s"]);
    auto.wait_for("the failing one", Duration::from_secs(30), |l| {
        l["destination"] == bad.address.as_str() && l["outcome"] == "failed"
    });
    assert_eq!(auto.next_run(&good, Duration::from_secs(30))["outcome"], "applied");
    write(src.path(), "config/app.conf", b"version = 3\n");
    eventually("the change on the good destination", Duration::from_secs(20), || {
        file_is(good_dst.path(), "config/app.conf", b"version = 3\n")
    });
}

#[test]
fn guards_refuse_an_emptied_category_and_mass_deletion_and_name_the_override() {
    let (src, dst) = (tempdir(), tempdir());
    populate(src.path());
    for i in 0..8 {
        write(src.path(), &format!("modules/m{i}.so"), format!("module {i}").as_bytes());
    }
    let site = Pair::start(src, dst);
    let (src, dst, source, destination) = (&site.src, &site.dst, &site.source, &site.destination);
    let synced = auto_once(source, destination, &[]);
    assert_exit(&synced, 0);
    assert_eq!(run_line(&synced)["outcome"], "applied");
    let before = snapshot(dst.path());

    // A wiped category on the primary must not wipe its backups.
    std::fs::remove_dir_all(src.path().join("config")).expect("empty config");
    std::fs::create_dir(src.path().join("config")).expect("recreate config");
    let refused = auto_once(source, destination, &[]);
    assert_exit(&refused, 4);
    let line = run_line(&refused);
    assert_eq!(line["outcome"], "refused", "{line}");
    assert!(line["reason"].as_str().is_some_and(|r| r.contains("--allow-empty-source")), "{line}");
    assert_same_tree(&before, &snapshot(dst.path()), "the destination after the refusal");

    // Deleting 3 of 8 modules (37%) is over the default limit of 25%.
    write(src.path(), "config/app.conf", b"version = 1\n");
    for i in 0..3 {
        std::fs::remove_file(src.path().join(format!("modules/m{i}.so"))).expect("remove");
    }
    let refused = auto_once(source, destination, &[]);
    assert_exit(&refused, 4);
    let line = run_line(&refused);
    assert!(line["reason"].as_str().is_some_and(|r| r.contains("--max-delete")), "{line}");
    assert_same_tree(&before, &snapshot(dst.path()), "the destination after the refusal");

    // The named override lets it through.
    let allowed = auto_once(source, destination, &["--max-delete", "50"]);
    assert_exit(&allowed, 0);
    assert_categories_equal(src.path(), dst.path());
}

#[test]
fn sigterm_during_a_large_apply_leaves_the_destination_entirely_old_or_entirely_new() {
    let (src, dst) = (tempdir(), tempdir());
    // Old images of the same size: the destination pulls them chunk by chunk (64 KiB),
    // each slowed down, so the apply takes seconds and SIGTERM lands in the middle.
    for i in 0..4 {
        write_noise(src.path(), &format!("firmware/image-{i}.bin"), 2 << 20, 10 + i);
        write_noise(dst.path(), &format!("firmware/image-{i}.bin"), 2 << 20, 100 + i);
    }
    write(dst.path(), "firmware/old-only.bin", b"only on the old side");
    let old = snapshot(&dst.path().join("firmware"));
    let source = Agent::start(src.path(), "primary");
    let destination =
        Agent::start_with_env(dst.path(), "backup", &[(FAILPOINTS, "transfer-delay-ms=150")]);
    let mut auto = Auto::spawn(&source, &[&destination], &["--every", "1s"]);

    let staging = dst.path().join(".confsync/staging");
    let staged_bytes = || -> u64 {
        walkdir::WalkDir::new(&staging)
            .into_iter()
            .filter_map(Result::ok)
            .filter_map(|e| e.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum()
    };
    eventually("the transfer to start", Duration::from_secs(30), || staged_bytes() > 0);
    let status = auto.terminate(Duration::from_secs(10));
    assert!(status.success(), "{status}");

    // The destination notices its client left, stops and drops what it staged.
    eventually("the destination to settle", Duration::from_secs(30), || {
        !staging.exists() || std::fs::read_dir(&staging).is_ok_and(|mut d| d.next().is_none())
    });
    let now = snapshot(&dst.path().join("firmware"));
    let new = snapshot(&src.path().join("firmware"));
    assert!(now == old || now == new, "the destination is half old, half new: {now:#?}");
    assert_no_staging(dst.path());
}

#[test]
fn a_held_destination_refuses_sync_and_auto_until_released() {
    let (src, dst) = (tempdir(), tempdir());
    populate(src.path());
    let source = Agent::start(src.path(), "primary");
    let mut destination = Agent::start(dst.path(), "backup");
    let address = destination.address.clone();

    let held = confsync(&["hold", "--server", &address, "--reason", "OS upgrade"]);
    assert_exit(&held, 0);
    assert!(stdout(&held).contains("OS upgrade"), "{}", stdout(&held));

    let refused = confsync(&sync_args(&source.address, &address, &[]));
    assert_exit(&refused, 4);
    let said = format!("{}{}", stdout(&refused), stderr(&refused));
    assert!(said.contains("OS upgrade") && said.contains("confsync release"), "{said}");
    assert!(!dst.path().join("config").exists(), "nothing was applied");

    // The hold survives a restart of the agent, and shows in Hello.
    destination.stop();
    destination = Agent::start_at(dst.path(), "backup", &address, &[]);
    let hold = hello(&address).hold.expect("Hello carries the hold state");
    assert!(hold.held && hold.reason == "OS upgrade", "{hold:?}");
    assert_exit(&confsync(&sync_args(&source.address, &address, &[])), 4);

    let mut auto = Auto::spawn(&source, &[&destination], &["--every", "1s"]);
    let skipped = auto.next_run(&destination, Duration::from_secs(30));
    assert_eq!(skipped["outcome"], "refused", "{skipped}");
    assert!(skipped["reason"].as_str().is_some_and(|r| r.contains("OS upgrade")), "{skipped}");
    assert!(!dst.path().join("config").exists(), "nothing was applied");

    let released = confsync(&["release", "--server", &address]);
    assert_exit(&released, 0);
    assert_mentions(
        &stdout(&released),
        &["Released", "is lifted", "accepts applies again", "within a minute with --on-change"],
    );
    let again = confsync(&["release", "--server", &address]);
    assert_exit(&again, 0);
    assert_mentions(&stdout(&again), &["was not on hold: nothing to release"]);
    auto.wait_for("the sync after the release", Duration::from_secs(20), |l| {
        l["outcome"] == "applied"
    });
    assert_categories_equal(src.path(), dst.path());
    assert!(!hello(&address).hold.is_some_and(|h| h.held));
}

fn hello(address: &str) -> confsync_proto::v1::HelloReply {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("start a tokio runtime");
    runtime.block_on(async {
        let mut client = crate::support::raw_grpc::plain_client(address).await;
        client.hello(confsync_proto::v1::HelloRequest {}).await.expect("hello").into_inner()
    })
}
