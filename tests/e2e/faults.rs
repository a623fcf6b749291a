//! I/O errors injected at every file-system operation of a commit on the destination
//! (each rename, fsync and write of the record, the journal, the tree, the undo, the
//! history line), once or from then on (a disk that stays broken: the undo fails too).
//! Afterwards, and after the agent restarts on a healthy disk, the tree is exactly the
//! old or the new one, no replaced content is lost, and what the CLI said matches.

use std::collections::BTreeSet;
use std::path::Path;

use crate::support::*;

fn source_tree(root: &Path) {
    write(root, "config/a.conf", b"a = new\n");
    write(root, "config/added.conf", b"added = yes\n");
    write(root, "firmware/fw.bin", b"firmware v2");
    // Another name of a.conf (a hard link the commit makes), and a change of mode alone.
    std::fs::hard_link(root.join("config/a.conf"), root.join("config/z-link.conf")).expect("link");
    write_mode(root, "config/mode.conf", b"mode\n", 0o600);
}

fn destination_tree(root: &Path) {
    write(root, "config/a.conf", b"a = old\n");
    write(root, "config/gone.conf", b"gone = soon\n");
    write(root, "firmware/fw.bin", b"firmware v1");
    write(root, "licenses/own.lic", b"the backup's licence");
    write_mode(root, "config/mode.conf", b"mode\n", 0o644);
}

#[derive(Debug, PartialEq, Eq)]
enum State {
    Old,
    New,
    Mixed,
}

fn state(root: &Path, old: &[Tree], new: &[Tree]) -> State {
    let now: Vec<Tree> = CATEGORIES.iter().map(|c| snapshot(&root.join(c))).collect();
    if now == old {
        State::Old
    } else if now == new {
        State::New
    } else {
        State::Mixed
    }
}

/// Every file content under `root`, the agent's state folder included.
fn contents(root: &Path) -> BTreeSet<Vec<u8>> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file() && !e.path().to_string_lossy().contains("/staging/"))
        .filter_map(|e| std::fs::read(e.path()).ok())
        .collect()
}

#[test]
fn an_io_error_at_any_commit_operation_is_reported_as_what_it_left() {
    let src = tempdir();
    source_tree(src.path());
    let source = Agent::start(src.path(), "primary");
    let new: Vec<Tree> = CATEGORIES.iter().map(|c| snapshot(&src.path().join(c))).collect();
    let mut swept = 0;
    for persistent in [false, true] {
        let mut at = 1;
        loop {
            let dst = tempdir();
            destination_tree(dst.path());
            let old: Vec<Tree> = CATEGORIES.iter().map(|c| snapshot(&dst.path().join(c))).collect();
            let old_contents = contents(dst.path());
            let mut points = format!("io-fail-at={at}");
            if persistent {
                points.push_str(",io-fail-persistent");
            }
            if at % 2 == 0 {
                points.push_str(",io-fail-enospc");
            }
            let mut destination =
                Agent::start_with_env(dst.path(), "backup", &[("CONFSYNC_FAILPOINTS", &points)]);
            let output = confsync(&sync_args(&source.address, &destination.address, &[]));
            let said = format!("{}{}", stdout(&output), stderr(&output));
            let code = output.status.code();
            let now = state(dst.path(), &old, &new);
            let injected = destination.log().contains("injected I/O error");
            let case = format!("{points}: exit {code:?}, tree {now:?}, said:\n{said}");
            destination.kill();

            if !injected {
                assert_eq!((code, &now), (Some(0), &State::New), "{case}");
                break;
            }
            let stuck = said.contains("undoing the commit failed too");
            match code {
                Some(0) => assert_eq!(now, State::New, "{case}"),
                Some(3) if said.contains("applied, but") => assert_eq!(now, State::New, "{case}"),
                Some(3) if stuck => {
                    assert!(persistent, "{case}");
                    let kept = contents(dst.path());
                    let lost: Vec<_> = old_contents.difference(&kept).collect();
                    assert!(lost.is_empty(), "{case}\nlost while the undo is pending: {lost:?}");
                }
                Some(3 | 4) => {
                    assert!(said.contains("nothing was changed"), "{case}");
                    assert_eq!(now, State::Old, "{case}");
                }
                _ => panic!("an unexpected outcome: {case}"),
            }

            // A restart on a healthy disk decides the same way, and a sync then completes.
            let restarted = Agent::start(dst.path(), "backup");
            let after = state(dst.path(), &old, &new);
            let expected = if code == Some(0) || said.contains("applied, but") {
                State::New
            } else {
                State::Old
            };
            assert_eq!(after, expected, "after a restart: {case}");
            assert_no_staging(dst.path());
            assert_exit(&confsync(&sync_args(&source.address, &restarted.address, &[])), 0);
            assert_eq!(state(dst.path(), &old, &new), State::New, "{case}");
            swept += 1;
            // Every operation once; from then on, every third is enough to show the undo.
            at += if persistent { 3 } else { 1 };
        }
    }
    assert!(swept > 20, "the sweep should cross the whole commit, crossed {swept} points");
}

#[test]
fn an_io_error_at_any_operation_of_a_rollback_is_reported_as_what_it_left() {
    let src = tempdir();
    source_tree(src.path());
    let source = Agent::start(src.path(), "primary");
    let mut at = 1;
    loop {
        let dst = tempdir();
        destination_tree(dst.path());
        let before: Vec<Tree> = CATEGORIES.iter().map(|c| snapshot(&dst.path().join(c))).collect();
        {
            let healthy = Agent::start(dst.path(), "backup");
            assert_exit(&confsync(&sync_args(&source.address, &healthy.address, &[])), 0);
        }
        let synced: Vec<Tree> = CATEGORIES.iter().map(|c| snapshot(&dst.path().join(c))).collect();
        let points = format!("io-fail-at={at}");
        let mut destination =
            Agent::start_with_env(dst.path(), "backup", &[("CONFSYNC_FAILPOINTS", &points)]);
        let output = confsync(&["rollback", "--server", &destination.address, "--yes"]);
        let said = format!("{}{}", stdout(&output), stderr(&output));
        let code = output.status.code();
        // Rolled back is the old tree; not rolled back is the synchronized one.
        let now = state(dst.path(), &before, &synced);
        let injected = destination.log().contains("injected I/O error");
        let case = format!("{points}: exit {code:?}, tree {now:?}, said:\n{said}");
        destination.kill();
        if !injected {
            assert_eq!((code, &now), (Some(0), &State::Old), "{case}");
            break;
        }
        let rolled_back = code == Some(0) || said.contains("applied, but");
        match code {
            Some(0 | 3) if rolled_back => assert_eq!(now, State::Old, "{case}"),
            Some(3 | 4) => {
                assert!(said.contains("nothing was changed"), "{case}");
                assert_eq!(now, State::New, "{case}");
            }
            _ => panic!("an unexpected outcome: {case}"),
        }
        let _restarted = Agent::start(dst.path(), "backup");
        let expected = if rolled_back { State::Old } else { State::New };
        assert_eq!(state(dst.path(), &before, &synced), expected, "after a restart: {case}");
        at += 1;
    }
    assert!(at > 15, "the sweep should cross the whole rollback, crossed {at}");
}

#[test]
fn an_entry_edited_while_the_commit_waits_is_kept_and_the_commit_undone() {
    let src = tempdir();
    source_tree(src.path());
    let source = Agent::start(src.path(), "primary");
    let dst = tempdir();
    destination_tree(dst.path());
    // The commit waits just after its last check that the tree is unchanged.
    let destination = Agent::start_with_env(
        dst.path(),
        "backup",
        &[("CONFSYNC_FAILPOINTS", "commit-delay-ms=1500")],
    );
    let mut sync = Running::spawn(&sync_args(&source.address, &destination.address, &["--json"]));
    sync.wait_for(std::time::Duration::from_secs(30), |e| {
        e["event"] == "progress" && e["progress"]["phase"] == "committing"
    });
    std::thread::sleep(std::time::Duration::from_millis(300));
    write(dst.path(), "config/a.conf", b"a = edited by hand\n");
    let (status, events, _) = sync.finish(std::time::Duration::from_secs(60));
    assert_eq!(status.code(), Some(4), "{events:#?}");
    let error = events.iter().find(|e| e["event"] == "error").expect("an error event");
    assert!(
        error["message"].as_str().is_some_and(|m| m.contains("changed since the preview")),
        "{error}"
    );
    assert_eq!(error["kinds"][0], "changed_since_preview", "{error}");
    assert_eq!(
        std::fs::read(dst.path().join("config/a.conf")).expect("read"),
        b"a = edited by hand\n"
    );
    assert!(!dst.path().join("config/added.conf").exists(), "the commit was undone");
    assert_eq!(std::fs::read(dst.path().join("firmware/fw.bin")).expect("read"), b"firmware v1");
    assert_no_staging(dst.path());
}

/// A small tmpfs mounted for one test, unmounted when it ends.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(at: &Path, size: &str) -> SmallDisk {
        std::fs::create_dir_all(at).expect("create the mount point");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(at)
            .status()
            .expect("run mount");
        assert!(mounted.success(), "mount a {size} tmpfs at {}", at.display());
        SmallDisk(at.to_path_buf())
    }

    /// Bytes free, as an unprivileged writer sees them.
    fn free(&self) -> u64 {
        let fs = rustix::fs::statvfs(&self.0).expect("statvfs");
        fs.f_bavail * fs.f_frsize
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// A failed apply for lack of space frees the space (issue 23, item 3): with the
/// destination on a 40 MiB file system and a 60 MiB image, the apply fails cleanly, the
/// tree is unchanged, and what it staged is not kept at the cost of a full disk.
#[test]
fn an_apply_that_runs_out_of_space_leaves_the_space_free_and_says_so() {
    if !rustix::process::geteuid().is_root() {
        eprintln!(
            "skipped an_apply_that_runs_out_of_space_leaves_the_space_free_and_says_so: \
             mounting a small tmpfs needs root, and this test does not run as root"
        );
        return;
    }
    let dir = tempdir();
    let disk = SmallDisk::mount(&dir.path().join("small"), "40m");
    let (src, dst) = (dir.path().join("primary"), disk.0.join("backup"));
    write(&src, "config/app.conf", b"app = 2\n");
    write_noise(&src, "firmware/image.bin", 60 << 20, 7);
    write(&dst, "config/app.conf", b"app = 1\n");
    write(&dst, "firmware/image.bin", b"firmware v1");
    let source = Agent::start(&src, "primary");
    let destination = Agent::start(&dst, "backup-1");
    let before: Vec<Tree> = CATEGORIES.iter().map(|c| snapshot(&dst.join(c))).collect();
    let free_before = disk.free();

    let synced =
        confsync(&["sync", "--from", &source.address, "--to", &destination.address, "--yes"]);
    assert_exit(&synced, 3);
    let said = stderr(&synced);
    assert_mentions(
        &said,
        &["No space left on device", "dropped to leave 10 % of the file system free"],
    );
    let after: Vec<Tree> = CATEGORIES.iter().map(|c| snapshot(&dst.join(c))).collect();
    assert!(after == before, "the tree is unchanged");
    let size = 40u64 << 20;
    assert!(
        disk.free() * 100 >= size * 10 && disk.free() + (1 << 20) >= free_before,
        "the file system is left with its space ({} bytes free, {free_before} before):\n{said}",
        disk.free()
    );
    // It still works: a smaller change goes through.
    write(&src, "firmware/image.bin", b"firmware v2");
    assert_exit(
        &confsync(&["sync", "--from", &source.address, "--to", &destination.address, "--yes"]),
        0,
    );
}

/// Staged data is durable wherever the tree lives (issue 23, item 13): with the fallback
/// forced (`staged_flush = "each_file"`, what a FUSE or network file system, or Linux
/// before 5.8, gets), strace shows every file the apply staged fsynced before the first
/// write of its generation's record and journal.
#[test]
fn with_the_fallback_every_staged_file_is_fsynced_before_the_journal() {
    if !std::process::Command::new("strace").arg("-V").output().is_ok_and(|o| o.status.success()) {
        // Debian's strace, where it is missing (as the metadata tests get rsync).
        let installed = std::process::Command::new("sh")
            .args(["-c", "apt-get install -y -qq strace >/dev/null 2>&1 || (apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq strace >/dev/null 2>&1)"])
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            eprintln!(
                "skipped with_the_fallback_every_staged_file_is_fsynced_before_the_journal: strace is missing and cannot be installed here (not root?)"
            );
            return;
        }
    }
    let (src, dst) = (tempdir(), tempdir());
    write(src.path(), "config/a.conf", b"a = new\n");
    write_noise(src.path(), "firmware/img.bin", 3 << 20, 4);
    write(src.path(), "modules/pack/m1.so", b"module one\n");
    write(src.path(), "modules/pack/m2.so", b"module two\n");
    write(dst.path(), "config/a.conf", b"a = old\n");
    write(dst.path(), "agent.toml", b"staged_flush = \"each_file\"\n");
    let source = Agent::start(src.path(), "primary");
    let trace = dst.path().join("strace.log");
    let strace = [
        "strace",
        "-f",
        "-qq",
        "-y",
        "-e",
        "trace=openat,openat2,fsync,fdatasync,syncfs,mkdir,mkdirat",
        "-o",
        trace.to_str().expect("UTF-8 path"),
    ];
    let config = dst.path().join("agent.toml");
    let destination = Agent::start_wrapped(
        dst.path(),
        "backup-1",
        &strace,
        &["--config", config.to_str().expect("UTF-8 path")],
    );
    assert_mentions(&destination.log(), &["made durable one by one (fsync)"]);
    sync_ok(&source, &destination, &[]);
    assert_categories_equal(src.path(), dst.path());

    let log = std::fs::read_to_string(&trace).expect("the strace log");
    let lines: Vec<&str> = log.lines().collect();
    // The first write of the commit's records: its generation's folder, or the journal.
    let journal = lines
        .iter()
        .position(|l| {
            (l.contains("mkdir(") && l.contains("/.confsync/generations/0") && l.ends_with("= 0"))
                || (l.contains("journal.json") && l.contains("O_CREAT"))
        })
        .unwrap_or_else(|| panic!("no journal write in the trace:\n{log}"));
    // Every file created in the staging folder, by its full path.
    let created: Vec<String> = lines
        .iter()
        .filter(|l| (l.contains("openat(") || l.contains("openat2(")) && l.contains("O_CREAT"))
        .filter_map(|l| staged_path(l))
        .collect();
    assert!(created.len() >= 4, "the files staged: {created:#?}\n{log}");
    for path in &created {
        let fsynced = lines[..journal].iter().any(|l| {
            (l.contains("fsync(") || l.contains("fdatasync(")) && l.contains(&format!("<{path}>"))
        });
        assert!(fsynced, "{path} was not fsynced before the journal (line {journal}):\n{log}");
    }
}

/// The full path of a file an `openat`/`openat2` line of `strace -y` creates under a
/// staging folder: the directory descriptor's path and the name, or an absolute name.
fn staged_path(line: &str) -> Option<String> {
    let call = line.split_once("openat")?.1;
    let args = call.split_once('(')?.1;
    let (dirfd, rest) = args.split_once(", \"")?;
    let name = rest.split('"').next()?;
    let full = if name.starts_with('/') {
        name.to_string()
    } else {
        let dir = dirfd.split_once('<')?.1.trim_end_matches('>');
        format!("{dir}/{name}")
    };
    full.contains("/.confsync/staging/").then_some(full)
}
