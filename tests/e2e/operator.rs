//! What a new administrator tripped over (issue 11), each as the mistake they made: a
//! typo'd path, a near-empty source, a Ctrl-C, a digest prefix, a name with a port, a
//! relative certificate path, a broken server list, and the messages that misled them.

use std::process::Output;
use std::time::{Duration, Instant};

use crate::support::*;

fn agent_fails_to_start(args: &[&str]) -> Output {
    let output = confsync(args);
    assert!(!output.status.success(), "the agent must not start: {}", stdout(&output));
    output
}

// 1 -------------------------------------------------------------------------------------

#[test]
fn a_root_that_does_not_exist_stops_the_agent_and_is_named() {
    let dir = tempdir();
    let typo = dir.path().join("srv/thinmanagr");
    let typo_text = typo.display().to_string();
    let output = agent_fails_to_start(&["agent", "--root", &typo_text, "--listen", "127.0.0.1:0"]);
    assert_mentions(&stderr(&output), &[&typo_text, "does not exist", "--init"]);
    assert!(!typo.exists(), "nothing is created for a typo");

    // A configured category path is checked the same way, named by its key.
    let config = dir.path().join("agent.toml");
    let root = dir.path().join("tree");
    std::fs::create_dir_all(&root).expect("create root");
    std::fs::write(&config, "root = \"tree\"\n[paths]\nconfig = \"etc-typo\"\n")
        .expect("write agent.toml");
    let output = agent_fails_to_start(&[
        "agent",
        "--config",
        &config.display().to_string(),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert_mentions(&stderr(&output), &["etc-typo", "paths.config", "does not exist"]);
    assert!(!dir.path().join("etc-typo").exists());
}

#[test]
fn init_creates_a_missing_root_and_its_categories() {
    let dir = tempdir();
    let root = dir.path().join("new-server");
    let mut agent = Agent::start_with_args(&root, "fresh", &["--init"]);
    for category in ["firmware", "capdb", "modules", "config"] {
        assert!(root.join(category).is_dir(), "--init creates {category}");
    }
    agent.stop();
}

#[test]
fn a_category_folder_missing_under_a_real_root_is_reported_at_start_and_in_servers_show() {
    let root = tempdir();
    write(root.path(), "config/server.conf", b"port=2031\n");
    let agent = Agent::start(root.path(), "partial");
    let firmware = root.path().join("firmware").display().to_string();
    let log = agent.log();
    assert_mentions(&log, &["category folder does not exist", &firmware]);
    assert_eq!(log.matches("category folder does not exist").count(), 3, "once each:\n{log}");

    let shown = confsync(&["servers", "show", &agent.address]);
    assert_exit(&shown, 0);
    let text = stdout(&shown);
    assert_mentions(&text, &[&format!("no folder: {firmware} does not exist")]);
    assert!(!text.contains(&format!("{}/config does not", root.path().display())), "{text}");

    let shown = confsync(&["servers", "show", &agent.address, "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&shown.stdout).expect("JSON");
    let missing: Vec<&str> = doc["categories"]
        .as_array()
        .expect("categories")
        .iter()
        .filter(|c| c["missing_folder"].is_string())
        .map(|c| c["category"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(missing, ["firmware", "capdb", "modules"], "{doc:#}");
}

// 2 -------------------------------------------------------------------------------------

#[test]
fn sync_has_the_same_default_delete_guard_as_auto_and_says_how_to_override_it() {
    let site = Pair::with(
        |src| write(src, "config/kept.conf", b"1"),
        |dst| {
            for i in 0..8 {
                write(dst, &format!("config/file-{i}.conf"), b"x");
            }
            write(dst, "config/kept.conf", b"1");
        },
    );
    let before = snapshot(site.dst.path());
    let refused =
        confsync_guarded(&sync_args(&site.source.address, &site.destination.address, &[]));
    assert_exit(&refused, 4);
    assert_mentions(&stderr(&refused), &["25%", "--max-delete 100"]);
    assert_same_tree(&before, &snapshot(site.dst.path()), "destination after the guard");

    let allowed = confsync_guarded(&sync_args(
        &site.source.address,
        &site.destination.address,
        &["--max-delete", "100"],
    ));
    assert_exit(&allowed, 0);
    assert_categories_equal(site.src.path(), site.dst.path());
}

// 3 -------------------------------------------------------------------------------------

fn set_mtime(root: &std::path::Path, rel: &str, seconds_ago: u64) {
    let file = std::fs::File::options().write(true).open(root.join(rel)).expect("open");
    let when = std::time::SystemTime::now() - Duration::from_secs(seconds_ago);
    file.set_modified(when).expect("set mtime");
}

#[test]
fn a_hand_edit_on_the_backup_is_told_from_an_older_source_and_either_can_be_refused() {
    let site = Pair::with(
        |src| {
            write(src, "config/server.conf", b"port=2031\n");
            write(src, "firmware/VERSION", b"4.10.0\n");
        },
        |_| {},
    );
    set_mtime(site.src.path(), "firmware/VERSION", 3600);
    sync_ok(&site.source, &site.destination, &[]);

    // On the backup, a hand edit; on the primary, an older VERSION put back.
    write(site.dst.path(), "config/server.conf", b"port=9999\n");
    write(site.src.path(), "firmware/VERSION", b"4.9.2\n");
    set_mtime(site.src.path(), "firmware/VERSION", 7200);

    let diff =
        confsync(&["diff", "--from", &site.source.address, "--to", &site.destination.address]);
    assert_exit(&diff, 1);
    let text = stdout(&diff);
    let line = |path: &str| text.lines().find(|l| l.contains(path)).unwrap_or_default().to_string();
    assert_mentions(&line("server.conf"), &["changed here since the last sync"]);
    assert!(!line("server.conf").contains("downgrade"), "{text}");
    assert_mentions(&line("VERSION"), &["downgrade"]);
    assert_mentions(&text, &["1 file in config changed on the destination since its last sync"]);

    let before = snapshot(site.dst.path());
    for (flag, kind) in
        [("--refuse-local-edits", "local_edits"), ("--refuse-downgrade", "downgrade")]
    {
        let refused = confsync(&sync_args(
            &site.source.address,
            &site.destination.address,
            &[flag, "--json"],
        ));
        assert_exit(&refused, 4);
        let events = json_lines(&refused);
        assert_eq!(event(&events, "error")["kinds"][0], kind, "{events:#?}");
        assert_same_tree(&before, &snapshot(site.dst.path()), "destination after a refusal");
    }
    sync_ok(&site.source, &site.destination, &[]);
    assert_categories_equal(site.src.path(), site.dst.path());
    // Synchronized again: nothing is a local edit any more.
    write(site.src.path(), "config/server.conf", b"port=2032\n");
    let diff =
        confsync(&["diff", "--from", &site.source.address, "--to", &site.destination.address]);
    assert!(!stdout(&diff).contains("changed here"), "{}", stdout(&diff));
}

// 4 -------------------------------------------------------------------------------------

/// A sync of `firmware/big.img` (`size` bytes of noise) into a destination slowed down,
/// cut by SIGKILL of the source once `at_least` bytes have arrived. Both agents are gone
/// afterwards; the source's address is kept for its restart.
struct Cut {
    src: tempfile::TempDir,
    dst: tempfile::TempDir,
    address: String,
    /// Bytes that had arrived when the source was killed.
    at: u64,
}

impl Cut {
    fn run(size: u64, seed: u64, at_least: u64) -> Cut {
        let (src, dst) = (tempdir(), tempdir());
        write_noise(src.path(), "firmware/big.img", size, seed);
        write(src.path(), "config/a.conf", b"1");
        write(dst.path(), "config/a.conf", b"1");
        let mut cut = Cut { src, dst, address: "127.0.0.1:0".into(), at: 0 };
        cut.again(at_least);
        cut
    }

    /// Cuts another sync over the same trees (and the source's address, once it has one).
    fn again(&mut self, at_least: u64) {
        let mut source = Agent::start_at(self.src.path(), "primary", &self.address, &[]);
        let destination = Agent::start_with_env(
            self.dst.path(),
            "backup",
            &[("CONFSYNC_FAILPOINTS", "transfer-delay-ms=100")],
        );
        self.address = source.address.clone();
        let mut sync = Running::spawn(&sync_args(&self.address, &destination.address, &["--json"]));
        let arrived = |e: &serde_json::Value| e["progress"]["bytes_done"].as_u64().unwrap_or(0);
        self.at =
            arrived(&sync.wait_for(Duration::from_secs(60), |e| {
                is_transferring(e) && arrived(e) >= at_least
            }));
        source.kill();
        let (status, events, _) = sync.finish(Duration::from_secs(60));
        assert_eq!(status.code(), Some(3), "the cut fails the sync: {events:#?}");
        assert!(!self.dst.path().join("firmware/big.img").exists(), "nothing half-written");
    }

    /// The names of the pieces kept for a retry.
    fn pieces(&self) -> Vec<String> {
        std::fs::read_dir(self.dst.path().join(".confsync/resume"))
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default()
    }

    /// Both agents started again (the destination at full speed), the source where it was.
    fn restart(&self) -> (Agent, Agent) {
        let source = Agent::start_at(self.src.path(), "primary", &self.address, &[]);
        (source, Agent::start(self.dst.path(), "backup"))
    }
}

#[test]
fn a_transfer_cut_by_the_source_dying_resumes_where_it_stopped() {
    const SIZE: u64 = 32 << 20;
    let cut = Cut::run(SIZE, 11, 12 << 20);
    assert_eq!(cut.pieces().len(), 1, "what was staged is kept");

    // After a restart of both, the retry fetches only what had not arrived.
    let (source, destination) = cut.restart();
    let retry = sync_ok(&source, &destination, &["--json"]);
    let events = json_lines(&retry);
    let received = event(&events, "result")["bytes_received"].as_u64().expect("bytes received");
    assert!(
        received <= SIZE - cut.at + (2 << 20),
        "the retry received {received} bytes of {SIZE}, though {} had arrived before the cut",
        cut.at
    );
    assert_categories_equal(cut.src.path(), cut.dst.path());
    assert_eq!(cut.pieces(), Vec::<String>::new(), "a commit clears what was kept");
}

#[test]
fn what_a_cut_transfer_kept_is_dropped_when_the_plan_changes() {
    let digest_of = |root: &std::path::Path| {
        blake3::hash(&std::fs::read(root.join("firmware/big.img")).expect("read"))
            .to_hex()
            .to_string()
    };
    let mut cut = Cut::run(16 << 20, 12, 1);
    assert_eq!(cut.pieces(), [digest_of(cut.src.path())]);
    // Another image on the source, and another cut: the old image's piece is gone.
    write_noise(cut.src.path(), "firmware/big.img", 16 << 20, 13);
    cut.again(1);
    assert_eq!(cut.pieces(), [digest_of(cut.src.path())]);
    let (source, destination) = cut.restart();
    sync_ok(&source, &destination, &[]);
    assert_categories_equal(cut.src.path(), cut.dst.path());
}

// 5 -------------------------------------------------------------------------------------

#[test]
fn a_partial_sync_says_which_categories_it_compared() {
    let site = Pair::with(
        |src| {
            write(src, "config/a.conf", b"new");
            write(src, "firmware/image.bin", b"v2");
        },
        |dst| {
            write(dst, "config/a.conf", b"old");
            write(dst, "firmware/image.bin", b"v1");
        },
    );
    let synced = sync_ok(&site.source, &site.destination, &["--only", "config"]);
    assert_mentions(&stdout(&synced), &["in config (firmware, capdb, modules not compared)"]);
    let again = sync_ok(&site.source, &site.destination, &["--only", "config"]);
    assert_mentions(
        &stdout(&again),
        &["already equals primary (config)", "firmware, capdb, modules not compared"],
    );
}

// 6, 7 ----------------------------------------------------------------------------------

#[test]
fn ctrl_c_in_sync_says_cancelled_exits_4_and_history_says_not_committed() {
    let src = tempdir();
    let dst = tempdir();
    write_noise(src.path(), "firmware/big.img", 32 << 20, 3);
    write(dst.path(), "firmware/old.img", b"old");
    let source = Agent::start(src.path(), "primary");
    let destination = Agent::start_with_env(
        dst.path(),
        "backup",
        &[("CONFSYNC_FAILPOINTS", "transfer-delay-ms=100")],
    );
    let before = snapshot(dst.path());
    let mut sync = Running::spawn(&sync_args(&source.address, &destination.address, &["--json"]));
    sync.wait_for(Duration::from_secs(60), is_transferring);
    sync.interrupt();
    let (status, events, _) = sync.finish(Duration::from_secs(30));
    assert_eq!(status.code(), Some(4), "{events:#?}");
    let error = event(&events, "error");
    assert_eq!(error["kinds"][0], "cancelled", "{error}");
    assert_mentions(error["message"].as_str().unwrap_or_default(), &["Cancelled", "as it was"]);

    // The destination notices its client left, discards the staging and records the
    // attempt as what it was.
    let deadline = Instant::now() + Duration::from_secs(20);
    let listed = loop {
        let output = confsync(&["history", "--server", &destination.address, "--json"]);
        let doc: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
        let listed = doc["generations"].as_array().cloned().unwrap_or_default();
        if !listed.is_empty() || Instant::now() > deadline {
            break listed;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(listed.len(), 1, "{listed:#?}");
    assert_eq!(listed[0]["kind"], "apply not committed", "{listed:#?}");
    assert_same_tree(&before, &snapshot(dst.path()), "destination after Ctrl-C");
}

#[test]
fn the_preview_and_the_result_count_the_same_files() {
    let site = Pair::with(
        |src| {
            write(src, "config/new/deep/a.conf", b"a");
            write(src, "config/new/b.conf", b"b");
            write(src, "config/changed.conf", b"new");
            mkdir(src, "modules/empty", 0o755);
        },
        |dst| {
            write(dst, "config/changed.conf", b"old");
            write(dst, "config/gone/c.conf", b"c");
        },
    );
    let output = sync_ok(&site.source, &site.destination, &["--json"]);
    let events = json_lines(&output);
    let previewed = event(&events, "plan")["files_changed"].as_u64().expect("preview count");
    let result = event(&events, "result")["files_changed"].as_u64().expect("result count");
    // a, b, changed, and c deleted: folders are not files.
    assert_eq!((previewed, result), (4, 4), "{events:#?}");
}

// 8 -------------------------------------------------------------------------------------

#[test]
fn plan_accepts_the_twelve_digits_diff_shows() {
    let site = Pair::with(
        |src| write(src, "config/a.conf", b"new"),
        |dst| write(dst, "config/a.conf", b"old"),
    );
    let diff =
        confsync(&["diff", "--from", &site.source.address, "--to", &site.destination.address]);
    assert_exit(&diff, 1);
    let text = stdout(&diff);
    let digest = text
        .split_whitespace()
        .skip_while(|w| *w != "Plan")
        .nth(1)
        .expect("the text output shows `Plan <digest>`")
        .to_string();
    assert_eq!(digest.len(), 12, "{text}");
    let wrong = confsync(&sync_args(
        &site.source.address,
        &site.destination.address,
        &["--plan", "000000000000"],
    ));
    assert_exit(&wrong, 4);
    assert_mentions(&stderr(&wrong), &["000000000000"]);
    let short =
        confsync(&sync_args(&site.source.address, &site.destination.address, &["--plan", "abc"]));
    assert_exit(&short, 2);
    sync_ok(&site.source, &site.destination, &["--plan", &digest]);
    assert_categories_equal(site.src.path(), site.dst.path());
}

// 9 -------------------------------------------------------------------------------------

#[test]
fn output_names_servers_as_typed_and_a_refusal_names_its_server_once() {
    let dir = tempdir();
    let site = Pair::with(
        |src| write(src, "config/a.conf", b"new"),
        |dst| write(dst, "config/a.conf", b"old"),
    );
    let mut list = ServerFile::new(dir.path());
    list.add("primary", &site.source.address, "primary").add(
        "backup-1",
        &site.destination.address,
        "backup",
    );
    let servers = list.path.display().to_string();
    let held =
        confsync(&["hold", "--servers", &servers, "--server", "backup-1", "--reason", "upgrade"]);
    assert_exit(&held, 0);
    let sync_by_name = |extra: &[&str]| {
        let mut args = vec!["sync", "--servers", &servers, "--from", "primary", "--to", "backup-1"];
        args.push("--yes");
        args.extend_from_slice(extra);
        confsync(&args)
    };
    let refused = sync_by_name(&[]);
    assert_exit(&refused, 4);
    let line = stderr(&refused);
    assert!(line.starts_with("backup-1: refused:"), "{line}");
    assert_eq!(line.matches(&site.destination.address).count(), 0, "named once, by name: {line}");
    let json = sync_by_name(&["--json"]);
    let events = json_lines(&json);
    assert_eq!(event(&events, "plan")["destination"], "backup-1");
    assert_eq!(event(&events, "error")["destination"], "backup-1");

    let same = confsync(&[
        "sync",
        "--servers",
        &servers,
        "--from",
        "primary",
        "--to",
        &site.source.address,
    ]);
    assert_exit(&same, 2);
    assert_mentions(&stderr(&same), &["both the source and a destination"]);
}

// 10 ------------------------------------------------------------------------------------

#[test]
fn diff_json_prints_an_error_document() {
    let output = confsync(&["diff", "--from", "127.0.0.1:1", "--to", "127.0.0.1:2", "--json"]);
    assert_exit(&output, 3);
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not a JSON document ({e}): {}", stdout(&output)));
    assert_eq!(doc["destination"], "127.0.0.1:2");
    assert_mentions(doc["error"]["message"].as_str().unwrap_or_default(), &["127.0.0.1"]);
    assert_eq!(doc["error"]["refused"], false);
}

// 11, 12, 13 ----------------------------------------------------------------------------

/// A primary and a backup with more differences than the wizard lists before folding.
fn wizard_site() -> (tempfile::TempDir, Agent, Agent, std::path::PathBuf) {
    let dir = tempdir();
    let (p, b) = (dir.path().join("primary"), dir.path().join("backup"));
    for i in 0..14 {
        write(&p, &format!("config/file-{i:02}.conf"), format!("key = {i}\n").as_bytes());
    }
    write(&b, "config/file-00.conf", b"key = old\n");
    let primary = Agent::start(&p, "primary");
    let backup = Agent::start(&b, "backup-1");
    let mut list = ServerFile::new(dir.path());
    list.add("primary", &primary.address, "primary").add("backup-1", &backup.address, "backup");
    let servers = list.path.clone();
    (dir, primary, backup, servers)
}

#[test]
fn an_enter_typed_ahead_never_answers_the_overwrite_confirmation() {
    let (_dir, primary, backup, servers) = wizard_site();
    let mut session = wizard_session(&servers);
    accept_the_defaults_through_categories(&mut session);
    let folded = session.exp_string("Show every path? [y/N]").expect("fold question");
    assert_mentions(&folded, &["answer y to \"Show every path?\" below"]);
    assert!(!folded.contains("--all"), "no flag to add inside the wizard:\n{folded}");
    press(&mut session, "y");
    session.exp_string("file-13.conf").expect("every path listed");
    session.exp_string("Show what changes inside the files").expect("key offer");
    // "y" and then an Enter out of habit: the Enter must not answer what comes next.
    press(&mut session, "y\r");
    session.exp_string("Overwrite backup-1 with primary?").expect("confirmation");
    std::thread::sleep(Duration::from_millis(500));
    press(&mut session, "y");
    session.exp_string("Done: backup-1 now equals primary").expect("applied on y");
    session.exp_eof().expect("the wizard ends");
    assert_categories_equal(&primary.root, &backup.root);
}

#[test]
fn a_typed_address_that_does_not_answer_leads_back_to_the_menu() {
    let (_dir, primary, backup, servers) = wizard_site();
    let mut session = wizard_session(&servers);
    session.exp_string("Source, the server to copy from").expect("source prompt");
    session.exp_string("Type an address").expect("source menu");
    press(&mut session, "\r");
    session.exp_string("Destination, the server to overwrite").expect("destination prompt");
    session.exp_string("Type an address").expect("destination menu");
    press(&mut session, "\x1b[B");
    press(&mut session, "\r");
    session.exp_string("Address (host:port)").expect("address prompt");
    press(&mut session, "127.0.0.1:1\r");
    session.exp_string("Cannot reach 127.0.0.1:1").expect("why");
    session.exp_string("Choose again").expect("back to the menu");
    session.exp_string("Destination, the server to overwrite").expect("asked again");
    session.exp_string("Type an address").expect("destination menu again");
    press(&mut session, "\r");
    one_way(&mut session);
    session.exp_string("Categories to synchronize").expect("the wizard goes on");
    session.exp_string("Configuration").expect("categories menu");
    press(&mut session, "\r");
    session.exp_string("Show every path? [y/N]").expect("fold question");
    press(&mut session, "n");
    session.exp_string("Show what changes inside the files").expect("key offer");
    press(&mut session, "n");
    session.exp_string("Overwrite backup-1 with primary?").expect("confirmation");
    press(&mut session, "y");
    session.exp_eof().expect("the wizard ends");
    assert_categories_equal(&primary.root, &backup.root);
}

// 14 ------------------------------------------------------------------------------------

#[test]
fn servers_add_stores_absolute_certificate_paths_and_a_missing_file_is_named() {
    let work = tempdir();
    let list = work.path().join("servers.toml").display().to_string();
    let added = confsync_in(
        work.path(),
        &[
            "servers",
            "--servers",
            &list,
            "add",
            "backup-9",
            "10.0.0.9:7420",
            "--ca",
            "pki/ca.pem",
            "--cert",
            "pki/admin.pem",
            "--key",
            "pki/admin.key",
        ],
    );
    assert_exit(&added, 0);
    let stored = std::fs::read_to_string(&list).expect("read the list");
    let ca = work.path().join("pki/ca.pem").display().to_string();
    assert!(stored.contains(&ca), "stored as an absolute path:\n{stored}");

    let elsewhere = tempdir();
    let listed = confsync_in(elsewhere.path(), &["servers", "--servers", &list, "list"]);
    assert_mentions(&stdout(&listed), &["backup-9", "pki/ca.pem"]);
}

// 15, 16, 19 ----------------------------------------------------------------------------

#[test]
fn a_list_name_with_a_port_and_an_address_without_one_are_explained() {
    let dir = tempdir();
    let site = Pair::with(|src| write(src, "config/a", b"1"), |dst| write(dst, "config/a", b"1"));
    let mut list = ServerFile::new(dir.path());
    list.add("backup-2", &site.destination.address, "backup");
    let servers = list.path.display().to_string();
    let named = confsync(&[
        "diff",
        "--servers",
        &servers,
        "--from",
        &site.source.address,
        "--to",
        "backup-2:7423",
    ]);
    assert_exit(&named, 0);
    assert_mentions(&stderr(&named), &["backup-2 is a server of the list", "using that entry"]);

    let no_port = confsync(&[
        "diff",
        "--servers",
        &servers,
        "--from",
        &site.source.address,
        "--to",
        "127.0.0.1",
    ]);
    assert_mentions(&stderr(&no_port), &["no port given", "127.0.0.1:7420"]);
}

#[test]
fn servers_show_takes_an_address_as_everything_else_does() {
    let root = tempdir();
    write(root.path(), "config/a", b"1");
    let agent = Agent::start(root.path(), "loose");
    let dir = tempdir();
    ServerFile::new(dir.path()).add("other", "127.0.0.1:1", "backup");
    let servers = dir.path().join("servers.toml").display().to_string();
    let shown = confsync(&["servers", "--servers", &servers, "show", &agent.address]);
    assert_exit(&shown, 0);
    assert_mentions(&stdout(&shown), &["loose"]);
    let unknown = confsync(&["servers", "--servers", &servers, "show", "nosuch"]);
    assert_exit(&unknown, 2);
    assert_mentions(&stderr(&unknown), &["no server named \"nosuch\"", "other"]);
}

#[test]
fn a_broken_server_list_is_one_usage_error_and_never_blocks_an_address() {
    let site = Pair::with(|src| write(src, "config/a", b"1"), |dst| write(dst, "config/a", b"2"));
    let dir = tempdir();
    let broken = dir.path().join("servers.toml");
    std::fs::write(&broken, "[[server]\nname = ").expect("write a broken list");
    let servers = broken.display().to_string();
    for args in [
        vec!["diff", "--servers", &servers, "--from", "primary", "--to", "backup"],
        vec!["sync", "--servers", &servers, "--from", "primary", "--to", "backup", "--yes"],
        vec!["history", "--servers", &servers, "--server", "backup"],
        vec!["servers", "--servers", &servers, "list"],
        vec!["hold", "--servers", &servers, "--server", "backup"],
    ] {
        let output = confsync(&args);
        assert_exit(&output, 2);
        assert_mentions(&stderr(&output), &[&servers]);
    }
    let by_address = confsync(&[
        "diff",
        "--servers",
        &servers,
        "--from",
        &site.source.address,
        "--to",
        &site.destination.address,
    ]);
    assert_exit(&by_address, 1);
}

// 17 ------------------------------------------------------------------------------------

#[test]
fn the_status_cell_keeps_the_plaintext_refusal_whole() {
    let dir = tempdir();
    ServerFile::new(dir.path()).add("far", "10.255.255.1:7420", "backup");
    let servers = dir.path().join("servers.toml").display().to_string();
    let listed = confsync(&["servers", "--servers", &servers, "list"]);
    let text = stdout(&listed);
    assert_mentions(
        &text,
        &[
            "refused: refusing to connect without TLS: plaintext is allowed to loopback addresses only",
        ],
    );
}

// 18 ------------------------------------------------------------------------------------

#[test]
fn a_hold_keeps_its_reason_unless_a_new_one_is_given_and_servers_show_reads_it() {
    let root = tempdir();
    write(root.path(), "config/a", b"1");
    let agent = Agent::start(root.path(), "backup");
    let held = confsync(&["hold", "--server", &agent.address, "--reason", "OS upgrade"]);
    assert_exit(&held, 0);
    let again = confsync(&["hold", "--server", &agent.address, "--json"]);
    assert_exit(&again, 0);
    let doc: serde_json::Value = serde_json::from_slice(&again.stdout).expect("JSON");
    assert_mentions(&doc.to_string(), &["OS upgrade"]);
    let shown = confsync(&["servers", "show", &agent.address]);
    assert_mentions(&stdout(&shown), &["OS upgrade"]);
    let replaced = confsync(&["hold", "--server", &agent.address, "--reason", "disk swap"]);
    assert_exit(&replaced, 0);
    assert_mentions(&stdout(&confsync(&["servers", "show", &agent.address])), &["disk swap"]);
}

// 21 ------------------------------------------------------------------------------------

#[test]
fn auto_once_promises_no_retry_and_an_env_server_list_is_not_required() {
    let site = Pair::with(|src| write(src, "config/a", b"1"), |dst| write(dst, "config/a", b"2"));
    let mut source = site.source;
    source.kill();
    let output = auto_once(&source, &site.destination, &[]);
    let all = format!("{}{}", stdout(&output), stderr(&output));
    assert!(!all.contains("retrying in 0s"), "{all}");

    let usage = std::process::Command::new(BIN)
        .args(["sync", "--from"])
        .env("CONFSYNC_SERVERS", "/nonexistent/servers.toml")
        .output()
        .expect("run confsync");
    let text = String::from_utf8_lossy(&usage.stderr);
    assert!(!text.contains("--servers <FILE>"), "--servers is not required: {text}");
}
