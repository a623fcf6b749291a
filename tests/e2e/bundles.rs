//! Offline bundles (issue 15): `export` writes a source's tree to one file, `import`
//! applies it to a destination that cannot reach the source, with the sync's review,
//! crash-safe apply and history; a delta bundle for a destination's manifest carries only
//! what that destination lacks and is refused by any other state; a damaged bundle is
//! refused before anything changes.

use std::path::Path;
use std::time::Duration;

use crate::support::*;

fn primary(root: &Path) {
    write(root, "config/app.conf", b"app = 2\n");
    write(root, "config/net/dns.conf", b"dns = 2\n");
    write(root, "capdb/models.jsonl", &b"{\"model\":\"tm-a\"}\n".repeat(500));
    write_noise(root, "firmware/image.bin", 6 << 20, 11);
    write(root, "licenses/primary.lic", b"primary license");
}

fn backup(root: &Path) {
    write(root, "config/app.conf", b"app = 1\n");
    write(root, "config/old.conf", b"left over\n");
    write(root, "licenses/backup.lic", b"backup license");
}

fn export(source: &Agent, out: &Path, extra: &[&str]) -> std::process::Output {
    let out = out.display().to_string();
    let mut args = vec!["export", "--from", &source.address, "-o", &out];
    args.extend_from_slice(extra);
    let output = confsync(&args);
    assert_exit(&output, 0);
    output
}

fn import(file: &Path, destination: &Agent, extra: &[&str]) -> std::process::Output {
    let file = file.display().to_string();
    let mut args = vec!["import", &file, "--to", &destination.address, "--yes"];
    args.extend_from_slice(extra);
    confsync(&args)
}

fn licenses(root: &Path) -> Tree {
    snapshot(&root.join("licenses"))
}

#[test]
fn export_then_import_makes_the_destination_equal_and_a_second_import_is_in_sync() {
    let site = Pair::with(primary, backup);
    let dir = tempdir();
    let bundle = dir.path().join("site.bundle");
    let exported = export(&site.source, &bundle, &[]);
    assert_mentions(&stdout(&exported), &["a full bundle", "confsync import"]);
    let before = licenses(site.dst.path());
    // Key by key, the bundle says what the live source says.
    let changes = |from: &str| {
        let diff = confsync(&["diff", "--from", from, "--to", &site.destination.address, "--keys"]);
        assert_exit(&diff, 1);
        stdout(&diff)
            .lines()
            .filter(|l| l.starts_with("          "))
            .map(String::from)
            .collect::<Vec<_>>()
    };
    let live = changes(&site.source.address);
    assert!(!live.is_empty(), "the live diff shows key changes");
    assert_eq!(changes(&bundle.display().to_string()), live);

    let imported = import(&bundle, &site.destination, &[]);
    assert_exit(&imported, 0);
    assert_categories_equal(site.src.path(), site.dst.path());
    assert_eq!(licenses(site.dst.path()), before);
    assert!(!site.dst.path().join("licenses/primary.lic").exists());
    assert_no_staging(site.dst.path());

    let again = import(&bundle, &site.destination, &[]);
    assert_exit(&again, 0);
    assert_mentions(&stdout(&again), &["already equals bundle"]);
    let history = confsync(&["history", "--server", &site.destination.address]);
    assert_mentions(&stdout(&history), &["from bundle", "of primary (exported"]);
    // `diff --from FILE` plans against it without applying.
    let diff = confsync(&[
        "diff",
        "--from",
        &bundle.display().to_string(),
        "--to",
        &site.destination.address,
    ]);
    assert_exit(&diff, 0);
}

#[test]
fn a_delta_bundle_carries_only_what_the_destination_lacks_and_refuses_another_state() {
    let site = Pair::with(primary, backup);
    sync_ok(&site.source, &site.destination, &[]);
    // 1 MiB changes inside the 6 MiB image.
    patch(site.src.path(), "firmware/image.bin", 2 << 20, &noise_bytes(1 << 20, 99));
    write(site.src.path(), "config/app.conf", b"app = 3\n");
    let dir = tempdir();
    let manifest = dir.path().join("backup.manifest");
    let manifest_arg = manifest.display().to_string();
    let taken = confsync(&["manifest", "--server", &site.destination.address, "-o", &manifest_arg]);
    assert_exit(&taken, 0);
    let (full, delta) = (dir.path().join("full.bundle"), dir.path().join("delta.bundle"));
    // The source's watcher has the patch by the time both exports ask (it is debounced).
    wait_until_source_sees(&site.source, &site.destination, "image.bin");
    export(&site.source, &full, &[]);
    export(&site.source, &delta, &["--for", &manifest_arg]);
    let size = |p: &Path| std::fs::metadata(p).expect("bundle").len();
    let (full_size, delta_size) = (size(&full), size(&delta));
    eprintln!("full bundle {full_size} bytes, delta bundle {delta_size} bytes");
    assert!(delta_size < full_size / 4, "delta {delta_size} vs full {full_size}");
    assert!(delta_size > 1 << 20, "the changed MiB travels: {delta_size}");

    // Another state of the destination refuses it, changing nothing.
    let app = site.dst.path().join("config/app.conf");
    let seen = std::fs::metadata(&app).and_then(|m| m.modified()).expect("stat");
    write(site.dst.path(), "config/app.conf", b"edited on the backup\n");
    let before = snapshot(site.dst.path());
    let refused = import(&delta, &site.destination, &["--json"]);
    assert_exit(&refused, 4);
    assert_mentions(
        &(stdout(&refused) + &stderr(&refused)),
        &["bundle_mismatch", "confsync manifest"],
    );
    assert_eq!(snapshot(site.dst.path()), before);

    // Put back as the manifest saw it (content and time), the destination takes it and
    // equals the source.
    write(site.dst.path(), "config/app.conf", b"app = 2\n");
    std::fs::File::options()
        .write(true)
        .open(&app)
        .and_then(|f| f.set_modified(seen))
        .expect("put the mtime back");
    let imported = import(&delta, &site.destination, &[]);
    assert_exit(&imported, 0);
    assert_categories_equal(site.src.path(), site.dst.path());
}

/// Waits until a diff from `source` to `destination` names `path`.
fn wait_until_source_sees(source: &Agent, destination: &Agent, path: &str) {
    let started = std::time::Instant::now();
    loop {
        let diff = confsync(&["diff", "--from", &source.address, "--to", &destination.address]);
        if stdout(&diff).contains(path) {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{path} never differed");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn noise_bytes(len: usize, seed: u64) -> Vec<u8> {
    confsync_engine::noise::noise(len, seed)
}

#[test]
fn a_damaged_bundle_is_refused_before_anything_changes() {
    let site = Pair::with(primary, backup);
    let dir = tempdir();
    let bundle = dir.path().join("site.bundle");
    export(&site.source, &bundle, &[]);
    let bytes = std::fs::read(&bundle).expect("read the bundle");
    let before = snapshot(site.dst.path());

    let truncated = dir.path().join("truncated.bundle");
    std::fs::write(&truncated, &bytes[..bytes.len() / 2]).expect("write");
    let refused = import(&truncated, &site.destination, &[]);
    assert_ne!(refused.status.code(), Some(0));
    assert_mentions(&stderr(&refused), &["truncated", "at byte"]);

    let flipped = dir.path().join("flipped.bundle");
    let mut damaged = bytes.clone();
    let middle = damaged.len() / 2;
    damaged[middle] ^= 0x10;
    std::fs::write(&flipped, &damaged).expect("write");
    let refused = import(&flipped, &site.destination, &[]);
    assert_ne!(refused.status.code(), Some(0));
    assert_mentions(&stderr(&refused), &["does not match its digest", "at byte"]);
    // Read on the agent's own disk, the same bundle is refused there.
    let on_agent = confsync(&[
        "import",
        "--on-agent",
        &flipped.display().to_string(),
        "--to",
        &site.destination.address,
        "--yes",
    ]);
    assert_ne!(on_agent.status.code(), Some(0));
    assert_mentions(&stderr(&on_agent), &["does not match its digest"]);
    assert_eq!(snapshot(site.dst.path()), before);

    // The intact bundle, read on the agent's disk, applies.
    let applied = confsync(&[
        "import",
        "--on-agent",
        &bundle.display().to_string(),
        "--to",
        &site.destination.address,
        "--yes",
    ]);
    assert_exit(&applied, 0);
    assert_categories_equal(site.src.path(), site.dst.path());
}

#[test]
fn killing_the_destination_during_an_import_leaves_it_exactly_as_before() {
    let (src, dst) = (tempdir(), tempdir());
    primary(src.path());
    for i in 0..40 {
        write(src.path(), &format!("modules/m{i:02}.mod"), &noise_bytes(64 << 10, i));
    }
    backup(dst.path());
    let source = Agent::start(src.path(), "primary");
    let dir = tempdir();
    let bundle = dir.path().join("site.bundle");
    export(&source, &bundle, &[]);
    let before = snapshot(dst.path());
    let mut destination =
        Agent::start_with_env(dst.path(), "backup", &[(FAILPOINTS, "transfer-delay-ms=100")]);
    let address = destination.address.clone();
    let file = bundle.display().to_string();
    let mut running = Running::spawn(&["import", &file, "--to", &address, "--yes", "--json"]);
    running.wait_for(Duration::from_secs(30), is_transferring);
    destination.kill();
    let (status, _, _) = running.finish(Duration::from_secs(30));
    assert!(!status.success());
    let restarted = Agent::start_at(dst.path(), "backup", &address, &[]);
    assert_eq!(snapshot(dst.path()), before);
    assert_no_staging(dst.path());
    // And the import, run again, completes.
    assert_exit(&import(&bundle, &restarted, &[]), 0);
    assert_categories_equal(src.path(), dst.path());
}
