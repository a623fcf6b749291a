//! `confsync verify` (issue 12, item 7): every file read again, ignoring the hash index,
//! which is what every plan trusts; a file changed behind its stamp is found.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::support::fixture::Pair;
use crate::support::tree::write;
use crate::support::{Agent, assert_exit, confsync, stdout, sync_ok};

fn tree(root: &Path) {
    write(root, "config/a.conf", b"a = 1\n");
    write(root, "config/site/b.conf", b"b = 1\n");
    write(root, "firmware/image.bin", b"firmware v1");
}

/// Rewrites `rel` with other content of the same size, then makes the agent's hash index
/// vouch for the old content under the new stamp: what a change that no stamp shows
/// looks like (the agent must be stopped).
fn change_behind_the_stamp(root: &Path, rel: &str, content: &[u8]) {
    let index_path = root.join(".confsync/index.json");
    let mut index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&index_path).expect("read the index")).expect("JSON");
    let key = rel.to_string();
    assert!(index.get(&key).is_some(), "the index knows {key}: {index}");
    // Behind the stamp: the same size and modification time, other bytes.
    let before = std::fs::metadata(root.join(rel)).and_then(|m| m.modified()).expect("stat");
    std::fs::write(root.join(rel), content).expect("rewrite");
    std::fs::File::options()
        .write(true)
        .open(root.join(rel))
        .and_then(|f| f.set_modified(before))
        .expect("keep the mtime");
    let meta = std::fs::metadata(root.join(rel)).expect("stat");
    let ns = |s: i64, n: i64| s * 1_000_000_000 + n;
    index[&key]["stamp"] = serde_json::json!({
        "size": meta.len(),
        "mtime_ns": ns(meta.mtime(), meta.mtime_nsec()),
        "inode": meta.ino(),
        "ctime_ns": ns(meta.ctime(), meta.ctime_nsec()),
    });
    std::fs::write(&index_path, serde_json::to_vec(&index).expect("encode")).expect("write index");
}

fn verify(server: &Agent, extra: &[&str]) -> (i32, serde_json::Value) {
    let mut args = vec!["verify", "--server", &server.address, "--json"];
    args.extend_from_slice(extra);
    let output = confsync(&args);
    let doc = serde_json::from_str(&stdout(&output)).expect("verify --json prints JSON");
    (output.status.code().unwrap_or(-1), doc)
}

#[test]
fn verify_reads_everything_again_and_finds_a_change_behind_the_stamps() {
    let mut site = Pair::with(tree, tree);
    sync_ok(&site.source, &site.destination, &[]);
    std::thread::sleep(std::time::Duration::from_millis(2600));
    // Scanned once the files are old enough for the index to keep them.
    assert_exit(
        &confsync(&["diff", "--from", &site.source.address, "--to", &site.destination.address]),
        0,
    );

    let (code, doc) = verify(&site.destination, &[]);
    assert_eq!(code, 0, "{doc}");
    assert_eq!(doc["verified"]["files"], 3, "{doc}");

    site.destination.stop();
    change_behind_the_stamp(site.dst.path(), "config/a.conf", b"a = 9\n");
    site.destination = Agent::start(site.dst.path(), "backup");
    let (src, dst) = (&site.source.address, &site.destination.address);
    assert_exit(&confsync(&["diff", "--from", src, "--to", dst]), 0);

    let (code, doc) = verify(&site.destination, &["--against", src]);
    assert_eq!(code, 1, "{doc}");
    let mismatches = doc["verified"]["mismatches"].as_array().expect("mismatches");
    assert_eq!(mismatches.len(), 1, "{doc}");
    assert_eq!(mismatches[0]["path"], "a.conf", "{doc}");
    assert_eq!(doc["source_verified"]["mismatches"].as_array().map(Vec::len), Some(0), "{doc}");
    assert_eq!(doc["in_sync"], false, "compared on what was read back: {doc}");

    // The record is dropped: plans see the content as it is, and a sync repairs it.
    let diff = confsync(&["diff", "--from", src, "--to", dst]);
    assert_exit(&diff, 1);
    assert!(stdout(&diff).contains("a.conf"), "{}", stdout(&diff));
    sync_ok(&site.source, &site.destination, &[]);
    let (code, doc) = verify(&site.destination, &["--against", src]);
    assert_eq!(code, 0, "{doc}");
}
