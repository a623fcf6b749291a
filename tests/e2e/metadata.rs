//! A real server's tree, whole: what a sync carries beside content (owners and groups,
//! modes, times of files, folders and symlinks, POSIX ACLs, extended attributes, every
//! symlink, sparse files, hard links), judged by an independent tool: the real
//! `rsync -aAXH --numeric-ids --itemize-changes --dry-run --delete` between each category
//! of the two trees must find nothing to do. The source is a copy of this machine's own
//! `/etc` plus the shapes real services use.
//!
//! Owners can only be set by root: as another user these tests say so and skip. rsync,
//! setfacl and setfattr come from Debian's packages, installed here when missing.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use crate::support::*;

/// Whether this test runs as root; says why it skips otherwise.
fn as_root(test: &str) -> bool {
    let root = rustix::process::geteuid().is_root();
    if !root {
        eprintln!("skipped {test}: carrying owners needs root, and this test does not run as root");
    }
    root
}

/// rsync, setfacl/getfacl and setfattr/getfattr, from Debian's packages when missing.
fn tools() {
    let missing: Vec<&str> = [("rsync", "rsync"), ("setfacl", "acl"), ("setfattr", "attr")]
        .into_iter()
        .filter(|(tool, _)| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(|(_, package)| package)
        .collect();
    if missing.is_empty() {
        return;
    }
    let apt = |args: &[&str]| {
        let out = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .output()
            .expect("run apt-get");
        assert!(out.status.success(), "apt-get {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    apt(&["update", "-qq"]);
    let mut install = vec!["install", "-y", "-qq"];
    install.extend(&missing);
    apt(&install);
}

fn run(program: &str, args: &[&str]) -> String {
    let out =
        Command::new(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn at(root: &Path, rel: &str) -> String {
    root.join(rel).display().to_string()
}

/// What rsync would still change, category by category (empty: the trees are equal).
fn rsync_differences(src: &Path, dst: &Path) -> String {
    let mut differences = String::new();
    for category in CATEGORIES {
        let (from, to) = (format!("{}/", at(src, category)), format!("{}/", at(dst, category)));
        let said = run(
            "rsync",
            &["-aAXH", "--numeric-ids", "--itemize-changes", "--dry-run", "--delete", &from, &to],
        );
        for line in said.lines().filter(|l| !l.trim().is_empty()) {
            differences.push_str(&format!("{category}: {line}\n"));
        }
    }
    differences
}

/// The category folders themselves are each server's own (a sync carries what is inside
/// them): made alike on both, as the backup was set up.
fn same_category_folders(src: &Path, dst: &Path) {
    for category in CATEGORIES {
        let (from, to) = (at(src, category), at(dst, category));
        std::fs::create_dir_all(&from).expect("create");
        std::fs::create_dir_all(&to).expect("create");
        run("chown", &["--reference", &from, &to]);
        run("chmod", &["--reference", &from, &to]);
        run("touch", &["-h", "-r", &from, &to]);
    }
}

/// Allocated bytes (what `du` counts) of a file.
fn allocated(path: &Path) -> u64 {
    std::fs::metadata(path).expect("stat").blocks() * 512
}

fn the_primary(src: &Path) {
    run("cp", &["-a", "/etc/.", &at(src, "config")]);
    // What no sync carries: FIFOs, sockets, devices; and setuid/setgid files.
    run(
        "find",
        &[
            &at(src, "config"),
            "(",
            "-type",
            "p",
            "-o",
            "-type",
            "s",
            "-o",
            "-type",
            "b",
            "-o",
            "-type",
            "c",
            "-o",
            "-perm",
            "/6000",
            ")",
            "-delete",
        ],
    );
    // A service's secret configuration: readable by its own user only.
    write(src, "config/svc/secret.toml", b"password = \"s3cret\"\n");
    run("chown", &["nobody:nogroup", &at(src, "config/svc/secret.toml")]);
    run("chmod", &["0640", &at(src, "config/svc/secret.toml")]);
    // A folder owned by another user, with a default ACL.
    std::fs::create_dir_all(src.join("config/svc/spool")).expect("mkdir");
    run("chown", &["nobody", &at(src, "config/svc/spool")]);
    run("setfacl", &["-d", "-m", "g:nogroup:rx", &at(src, "config/svc/spool")]);
    // An access ACL and an extended attribute.
    write(src, "config/shared.conf", b"shared = yes\n");
    run("setfacl", &["-m", "u:nobody:r", &at(src, "config/shared.conf")]);
    write(src, "config/labelled.conf", b"labelled = yes\n");
    run("setfattr", &["-n", "user.origin", "-v", "primary", &at(src, "config/labelled.conf")]);
    // A 200 MiB sparse firmware image holding 4 KiB of data.
    let image = src.join("firmware/disk.img");
    std::fs::create_dir_all(image.parent().expect("parent")).expect("mkdir");
    let file = std::fs::File::create(&image).expect("create the image");
    file.set_len(200 << 20).expect("sparse length");
    std::os::unix::fs::FileExt::write_all_at(&file, &[0x5a; 4096], 100 << 20).expect("data");
    drop(file);
    // Two names of one file.
    write(src, "firmware/boot/current.bin", b"boot loader v2");
    std::fs::hard_link(src.join("firmware/boot/current.bin"), src.join("firmware/boot/v2.bin"))
        .expect("hard link");
    // A file whose mtime alone is old.
    write(src, "modules/old.ko", b"a module");
    run("touch", &["-d", "2020-02-02 02:02:02.123456789", &at(src, "modules/old.ko")]);
    write(src, "licenses/primary.lic", b"licence of the primary");
}

/// Older copies of some of it, with other owners, modes and times.
fn the_backup(dst: &Path) {
    write(dst, "config/svc/secret.toml", b"password = \"old\"\n");
    run("chmod", &["0644", &at(dst, "config/svc/secret.toml")]);
    write(dst, "config/shared.conf", b"shared = yes\n");
    write(dst, "config/stale.conf", b"gone from the primary\n");
    run("chown", &["daemon:daemon", &at(dst, "config/stale.conf")]);
    write(dst, "firmware/boot/current.bin", b"boot loader v1");
    write(dst, "firmware/boot/v2.bin", b"boot loader v2");
    write(dst, "modules/old.ko", b"a module");
    write(dst, "licenses/backup.lic", b"licence of the backup");
}

#[test]
fn a_copy_of_this_machine_s_etc_arrives_whole_as_rsync_judges_it() {
    if !as_root("a_copy_of_this_machine_s_etc_arrives_whole_as_rsync_judges_it") {
        return;
    }
    tools();
    let (src, dst) = (tempdir(), tempdir());
    the_primary(src.path());
    the_backup(dst.path());
    same_category_folders(src.path(), dst.path());
    let licenses = snapshot(&dst.path().join("licenses"));
    let source = Agent::start(src.path(), "primary");
    let destination = Agent::start(dst.path(), "backup-1");
    assert!(!rsync_differences(src.path(), dst.path()).is_empty(), "the trees differ at first");

    sync_ok(&source, &destination, &[]);
    assert_eq!(rsync_differences(src.path(), dst.path()), "", "rsync finds nothing to do");
    assert_categories_equal(src.path(), dst.path());
    assert_same_tree(&licenses, &snapshot(&dst.path().join("licenses")), "licenses");
    // Every symlink of /etc arrived, as the string it holds.
    let links = run("find", &[&at(src.path(), "config"), "-type", "l"]).lines().count();
    assert!(links > 0, "this machine's /etc has symlinks");
    let arrived = run("find", &[&at(dst.path(), "config"), "-type", "l"]).lines().count();
    assert_eq!(arrived, links);
    // The sparse image stayed sparse; the two names are one file.
    let (a, b) = (
        allocated(&src.path().join("firmware/disk.img")),
        allocated(&dst.path().join("firmware/disk.img")),
    );
    assert!(b <= a + (1 << 20), "the image takes {b} bytes here, {a} on the primary");
    let inode = |rel: &str| std::fs::metadata(dst.path().join(rel)).expect("stat").ino();
    assert_eq!(inode("firmware/boot/current.bin"), inode("firmware/boot/v2.bin"));
    let diff = confsync(&["diff", "--from", &source.address, "--to", &destination.address]);
    assert_exit(&diff, 0);

    // Metadata alone changes on the primary: each is a change, and a sync carries it.
    run("chown", &["nobody", &at(src.path(), "config/labelled.conf")]);
    run("chmod", &["0600", &at(src.path(), "config/shared.conf")]);
    run("setfacl", &["-m", "u:daemon:rw", &at(src.path(), "config/shared.conf")]);
    run(
        "setfattr",
        &["-n", "user.origin", "-v", "primary, again", &at(src.path(), "config/labelled.conf")],
    );
    run("touch", &["-h", &at(src.path(), "modules/old.ko")]);
    run("chgrp", &["nogroup", &at(src.path(), "config/svc/spool")]);
    let diff = confsync(&["diff", "--from", &source.address, "--to", &destination.address]);
    assert_exit(&diff, 1);
    let shown = stdout(&diff);
    assert_mentions(
        &shown,
        &[
            "metadata change",
            "labelled.conf",
            "owner root → nobody",
            "xattrs",
            "ACL",
            "old.ko",
            "mtime",
        ],
    );
    assert!(!shown.contains("~ "), "nothing's content changes:\n{shown}");
    let before_round_two = (
        run("getfacl", &["-p", &at(dst.path(), "config/shared.conf")]),
        run("getfattr", &["-d", &at(dst.path(), "config/labelled.conf")]),
        std::fs::metadata(dst.path().join("config/labelled.conf")).expect("stat").uid(),
        std::fs::metadata(dst.path().join("config/shared.conf")).expect("stat").mode(),
    );
    let synced = sync_ok(&source, &destination, &[]);
    assert_mentions(&stdout(&synced), &["0 B received"]);
    assert_eq!(rsync_differences(src.path(), dst.path()), "", "rsync finds nothing to do");

    // A rollback restores the owner, mode, ACL and extended attributes.
    assert_exit(&confsync(&["rollback", "--server", &destination.address, "--yes"]), 0);
    let after_rollback = (
        run("getfacl", &["-p", &at(dst.path(), "config/shared.conf")]),
        run("getfattr", &["-d", &at(dst.path(), "config/labelled.conf")]),
        std::fs::metadata(dst.path().join("config/labelled.conf")).expect("stat").uid(),
        std::fs::metadata(dst.path().join("config/shared.conf")).expect("stat").mode(),
    );
    assert_eq!(after_rollback, before_round_two);
}

#[test]
fn a_chown_on_the_source_alone_is_a_difference_a_sync_fixes() {
    if !as_root("a_chown_on_the_source_alone_is_a_difference_a_sync_fixes") {
        return;
    }
    let site = Pair::with(|p| write(p, "config/app.conf", b"app = 1\n"), |_| {});
    sync_ok(&site.source, &site.destination, &[]);
    let (src, dst) = (&site.source.address, &site.destination.address);
    assert_exit(&confsync(&["diff", "--from", src, "--to", dst]), 0);
    run("chown", &["nobody:nogroup", &at(site.src.path(), "config/app.conf")]);
    let diff = confsync(&["diff", "--from", src, "--to", dst]);
    assert_exit(&diff, 1);
    assert_mentions(&stdout(&diff), &["app.conf", "owner root → nobody", "group root → nogroup"]);
    sync_ok(&site.source, &site.destination, &[]);
    let meta = std::fs::metadata(site.dst.path().join("config/app.conf")).expect("stat");
    let nobody = std::fs::metadata(site.src.path().join("config/app.conf")).expect("stat");
    assert_eq!((meta.uid(), meta.gid()), (nobody.uid(), nobody.gid()));
    assert_exit(&confsync(&["diff", "--from", src, "--to", dst]), 0);
}

#[test]
fn an_agent_that_cannot_set_owners_keeps_the_destination_s_and_says_so() {
    if !as_root("an_agent_that_cannot_set_owners_keeps_the_destination_s_and_says_so") {
        return;
    }
    let (src, dst) = (tempdir(), tempdir());
    write(src.path(), "config/app.conf", b"app = 2\n");
    run("chown", &["nobody:nogroup", &at(src.path(), "config/app.conf")]);
    write(dst.path(), "config/app.conf", b"app = 1\n");
    let source = Agent::start(src.path(), "primary");
    // Root without CAP_CHOWN (as a unit that does not grant it would run it).
    let without_chown = ["setpriv", "--inh-caps=-chown", "--bounding-set=-chown", "--"];
    let destination = Agent::start_wrapped(dst.path(), "backup-1", &without_chown, &[]);

    let diff = confsync(&["diff", "--from", &source.address, "--to", &destination.address]);
    assert_exit(&diff, 1);
    assert_mentions(&stdout(&diff), &["owner kept in config: the agent is not root", "CAP_CHOWN"]);
    sync_ok(&source, &destination, &[]);
    let meta = std::fs::metadata(dst.path().join("config/app.conf")).expect("stat");
    assert_eq!(std::fs::read(dst.path().join("config/app.conf")).expect("read"), b"app = 2\n");
    assert_eq!((meta.uid(), meta.gid()), (0, 0), "the destination's owner is kept");
    // Owners it cannot set are left out of its comparison: in sync now.
    assert_exit(&confsync(&["diff", "--from", &source.address, "--to", &destination.address]), 0);

    // A file another user owns here would become the agent's own: refused, nothing changes.
    write(src.path(), "config/daemon.conf", b"new\n");
    write(dst.path(), "config/daemon.conf", b"old\n");
    run("chown", &["daemon:daemon", &at(dst.path(), "config/daemon.conf")]);
    let before = snapshot(dst.path());
    let refused = confsync(&sync_args(&source.address, &destination.address, &[]));
    assert_exit(&refused, 4);
    assert_mentions(
        &(stdout(&refused) + &stderr(&refused)),
        &["daemon.conf", "owned by another user"],
    );
    assert_same_tree(&before, &snapshot(dst.path()), "the destination");
    let daemon = std::fs::metadata(dst.path().join("config/daemon.conf")).expect("stat");
    assert_ne!(daemon.uid(), 0);
}

#[test]
fn an_attribute_rule_keeps_a_server_s_own_owner_while_the_content_arrives() {
    if !as_root("an_attribute_rule_keeps_a_server_s_own_owner_while_the_content_arrives") {
        return;
    }
    let (src, dst) = (tempdir(), tempdir());
    write(src.path(), "config/ssl/site.pem", b"certificate v2\n");
    write(src.path(), "config/app.conf", b"app = 2\n");
    write(dst.path(), "config/ssl/site.pem", b"certificate v1\n");
    run("chown", &["nobody:nogroup", &at(dst.path(), "config/ssl/site.pem")]);
    let source = Agent::start(src.path(), "primary");
    let config = "[[device_specific.attrs]]\npaths = [\"config/ssl/**\"]\nkeep = [\"owner\"]\n";
    let destination = Agent::start_configured(dst.path(), "backup-1", config);

    sync_ok(&source, &destination, &[]);
    let pem = dst.path().join("config/ssl/site.pem");
    assert_eq!(std::fs::read(&pem).expect("read"), b"certificate v2\n", "the content arrives");
    let meta = std::fs::metadata(&pem).expect("stat");
    let nobody = run("id", &["-u", "nobody"]).trim().parse::<u32>().expect("a uid");
    assert_eq!(meta.uid(), nobody, "the backup's own owner stays");
    // The owner it keeps is no difference.
    assert_exit(&confsync(&["diff", "--from", &source.address, "--to", &destination.address]), 0);
    // A file outside the rule takes the source's owner as always.
    let app = std::fs::metadata(dst.path().join("config/app.conf")).expect("stat");
    assert_eq!(app.uid(), 0);
}

#[test]
fn a_file_that_is_another_name_of_a_license_never_has_its_metadata_changed() {
    let (src, dst) = (tempdir(), tempdir());
    write_mode(src.path(), "config/app.conf", b"licence text\n", 0o644);
    write_mode(dst.path(), "licenses/own.lic", b"licence text\n", 0o600);
    std::fs::create_dir_all(dst.path().join("config")).expect("mkdir");
    std::fs::hard_link(dst.path().join("licenses/own.lic"), dst.path().join("config/app.conf"))
        .expect("a hard link into licenses");
    pin_times(src.path());
    pin_times(dst.path());
    let licence = std::fs::metadata(dst.path().join("licenses/own.lic")).expect("stat");
    let source = Agent::start(src.path(), "primary");
    let destination = Agent::start(dst.path(), "backup-1");

    // Same content, another mode: a change of metadata alone, which would reach the licence.
    let refused = confsync(&sync_args(&source.address, &destination.address, &[]));
    assert_exit(&refused, 4);
    assert_mentions(&(stdout(&refused) + &stderr(&refused)), &["license", "nothing was changed"]);
    let after = std::fs::metadata(dst.path().join("licenses/own.lic")).expect("stat");
    assert_eq!(after.mode(), licence.mode(), "the licence's mode");
    assert_eq!(after.mtime(), licence.mtime(), "the licence's time");
}
