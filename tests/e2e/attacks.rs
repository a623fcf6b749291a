//! What a hostile or broken peer may send, and what may happen to a tree between plan and
//! apply (issue cases 6–12): each is refused with an error that names the problem, and
//! the destination's tree (licenses included) is left as it was, with nothing staged.
//!
//! The hostile sources are [`raw_grpc::Evil`] servers: bytes chosen by the test.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::support::fake_source::{file_entry, symlink_entry};
use crate::support::raw_grpc::{Answer, Evil, dir_entry, pieces, plain_client};
use crate::support::*;
use confsync_proto::v1;
use prost::Message;

/// A destination with a little of everything, licenses included.
fn destination() -> (tempfile::TempDir, Agent) {
    let root = tempdir();
    write(root.path(), "firmware/keep.bin", b"the destination's firmware");
    write(root.path(), "config/app.conf", b"app = backup\n");
    write_mode(root.path(), "licenses/backup.lic", b"licence of the backup", 0o600);
    let agent = Agent::start(root.path(), "backup-1");
    (root, agent)
}

/// `sync --from SOURCE --to DST --only firmware --yes`, expected to fail with `code`.
fn sync_fails(source: &str, destination: &Agent, code: i32) -> String {
    let output = confsync(&[
        "sync",
        "--from",
        source,
        "--to",
        &destination.address,
        "--only",
        "firmware",
        "--yes",
    ]);
    assert_exit(&output, code);
    stderr(&output)
}

fn assert_untouched(root: &Path, before: &Tree) {
    assert_same_tree(before, &snapshot(root), "the destination's tree");
    assert_no_staging(root);
}

#[test]
fn hostile_manifest_paths_are_refused_whole_before_anything_is_staged() {
    let (root, destination) = destination();
    let before = snapshot(root.path());
    let long_path = "d/".repeat(2100) + "f";
    let long_name = "n".repeat(300);
    let cases: Vec<(String, &str)> = vec![
        ("../x".into(), "'..' segment"),
        ("/etc/passwd".into(), "is absolute"),
        ("a/../../b".into(), "'..' segment"),
        ("a//b".into(), "empty, '.' or '..' segment"),
        (".".into(), "'.' or '..' segment"),
        ("".into(), "path is empty"),
        ("nul\0byte".into(), "contains a NUL byte"),
        ("back\\slash".into(), "contains a backslash"),
        (long_path, "is longer than 4096 bytes"),
        (long_name, "longer than 255 bytes"),
    ];
    for (path, problem) in cases {
        // One good entry and one bad: the whole plan is refused.
        let source =
            Evil::firmware(vec![file_entry("ok.bin", b"fine"), file_entry(&path, b"payload")])
                .serve();
        let err = sync_fails(&source.address, &destination, 3);
        assert_mentions(&err, &[problem]);
        assert_untouched(root.path(), &before);
    }
    // A path that is not UTF-8 cannot be a protobuf string: it fails to decode.
    let marker = "x-NOT-UTF8-x";
    let mut raw = raw_grpc::batch(v1::Category::Firmware, vec![file_entry(marker, b"payload")]);
    let at = raw.windows(marker.len()).position(|w| w == marker.as_bytes()).expect("marker");
    raw[at + 5] = 0xFF;
    let source = Evil { manifest: vec![raw], ..Evil::default() }.serve();
    let err = sync_fails(&source.address, &destination, 3);
    assert_mentions(&err, &["UTF-8"]);
    assert_untouched(root.path(), &before);
}

#[test]
fn a_symlink_is_carried_as_the_string_it_holds_and_nothing_is_ever_written_through_one() {
    let (root, destination) = destination();
    let passwd = std::fs::read("/etc/passwd").expect("read /etc/passwd");
    // A symlink is a name and a string: wherever it leads, it arrives as it is.
    let links = [
        ("out", "../../etc"),
        ("abs", "/etc/passwd"),
        ("d/l", "../../licenses/backup.lic"),
        ("dot", "a/../../x"),
    ];
    let mut entries = vec![dir_entry("d")];
    entries.extend(links.iter().map(|(path, target)| symlink_entry(path, target)));
    let source = Evil::firmware(entries).serve();
    let synced =
        confsync(&sync_args(&source.address, &destination.address, &["--only", "firmware"]));
    assert_exit(&synced, 0);
    for (path, target) in links {
        let at = root.path().join("firmware").join(path);
        let held = std::fs::read_link(&at).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(held.to_str(), Some(target), "{path}");
    }
    assert_eq!(std::fs::read("/etc/passwd").expect("read"), passwd, "/etc/passwd untouched");
    let before = snapshot(root.path());

    // What would be written through a symlink is refused whole: entries beneath one.
    let cases: Vec<(Vec<v1::Entry>, &str)> = vec![
        // The hostile source of the issue: a link to /etc, then a file "under" it.
        (
            vec![symlink_entry("etc", "/etc"), file_entry("etc/passwd", b"root::0:0::/:/bin/sh")],
            "lies beneath \"etc\", which is not a folder",
        ),
        // Each link alone is inside; x/y/l would really be created inside z/.
        (
            vec![
                dir_entry("x"),
                dir_entry("z"),
                symlink_entry("x/y", "../z"),
                symlink_entry("x/y/l", "../../licenses"),
            ],
            "lies beneath \"x/y\", which is not a folder",
        ),
        (vec![file_entry("f", b"a file"), file_entry("f/g", b"beneath a file")], "not a folder"),
    ];
    for (entries, problem) in cases {
        let source = Evil::firmware(entries).serve();
        let err = sync_fails(&source.address, &destination, 3);
        assert_mentions(&err, &[problem]);
        assert_untouched(root.path(), &before);
        assert_eq!(std::fs::read("/etc/passwd").expect("read"), passwd, "/etc/passwd untouched");
    }
}

#[test]
fn a_source_carries_its_links_as_links_and_never_serves_what_they_lead_to() {
    let src = tempdir();
    write(src.path(), "firmware/ok.bin", b"ordinary firmware");
    write(src.path(), "licenses/primary.lic", b"licence of the primary");
    symlink(src.path(), "firmware/out", "../licenses/primary.lic");
    symlink(src.path(), "firmware/hop", "inner");
    symlink(src.path(), "firmware/inner", "../../etc");
    symlink(src.path(), "firmware/dirlink", "../licenses");
    let source = Agent::start(src.path(), "primary");
    let source_before = snapshot(src.path());
    let (root, destination) = destination();
    let licenses = snapshot(&root.path().join("licenses"));

    sync_ok(&source, &destination, &["--only", "firmware"]);
    let synced = snapshot(&root.path().join("firmware"));
    for (link, target) in [
        ("out", "../licenses/primary.lic"),
        ("hop", "inner"),
        ("inner", "../../etc"),
        ("dirlink", "../licenses"),
    ] {
        let node = synced.get(link).unwrap_or_else(|| panic!("{link} missing: {synced:?}"));
        assert_eq!((node.kind, node.content.as_str()), (Kind::Symlink, target), "{link}");
    }
    // What the links lead to on the source never travelled: nowhere on the destination
    // is the primary's licence.
    for (path, node) in snapshot(root.path()) {
        assert!(
            node.kind != Kind::File
                || !node.content.contains(&format!("{}", blake3::hash(b"licence of the primary"))),
            "{path} holds the primary's licence"
        );
    }

    // Asking for what they lead to directly does not work either.
    let refused = runtime().block_on(async {
        let mut client = plain_client(&source.address).await;
        let mut out = Vec::new();
        for path in ["out", "dirlink/primary.lic", "inner/passwd"] {
            let file = v1::FileRef { category: v1::Category::Firmware as i32, path: path.into() };
            let list = client.get_chunk_list(file.clone()).await.expect_err(path);
            let chunks = client
                .get_chunks(v1::ChunksRequest {
                    file: Some(file),
                    ranges: vec![v1::ByteRange { offset: 0, length: 4 }],
                })
                .await
                .expect_err(path);
            out.push((path, list.message().to_string(), chunks.message().to_string()));
        }
        out
    });
    for (path, list, chunks) in refused {
        for message in [list, chunks] {
            assert!(message.contains(path.split('/').next().unwrap_or(path)), "{path}: {message}");
        }
    }
    assert_same_tree(&source_before, &snapshot(src.path()), "the source's tree");
    assert_same_tree(&licenses, &snapshot(&root.path().join("licenses")), "licenses");
}

#[test]
fn with_confined_symlinks_the_links_leading_out_are_listed_as_skipped_and_nothing_equals() {
    let src = tempdir();
    write(src.path(), "firmware/ok.bin", b"ordinary firmware");
    symlink(src.path(), "firmware/out", "../licenses/primary.lic");
    symlink(src.path(), "firmware/hop", "ok.bin");
    let source = Agent::start_configured(src.path(), "primary", "symlinks = \"confined\"\n");
    let dst = tempdir();
    let destination = Agent::start(dst.path(), "backup-1");
    let args = ["--from", &source.address, "--to", &destination.address, "--only", "firmware"];

    let text = confsync(&[&["diff"][..], &args[..]].concat());
    assert_exit(&text, 1);
    assert_mentions(
        &stdout(&text),
        &["out", "skipped: ", "the source keeps confined", "symlinks = \"confined\""],
    );
    let json = confsync(&[&["diff", "--json"][..], &args[..]].concat());
    let said = stdout(&json);
    let skipped: Vec<serde_json::Value> = serde_json::Deserializer::from_str(&said)
        .into_iter::<serde_json::Value>()
        .map(|doc| doc.expect("JSON documents"))
        .flat_map(|doc| {
            let mut found = Vec::new();
            collect_skipped(&doc, &mut found);
            found
        })
        .collect();
    assert_eq!(skipped.len(), 1, "{}", stdout(&json));
    assert_eq!(skipped[0]["path"], "out");

    let synced = confsync(&[&["sync", "--yes"][..], &args[..]].concat());
    assert_exit(&synced, 0);
    let said = stdout(&synced);
    assert!(!said.contains("equals"), "{said}");
    assert_mentions(&said, &["1 entry skipped (listed in the plan)"]);
    let tree = snapshot(&dst.path().join("firmware"));
    assert!(tree.contains_key("hop") && !tree.contains_key("out"), "{tree:?}");
    // In sync in everything else, and still not "equal".
    let again = confsync(&[&["sync", "--yes"][..], &args[..]].concat());
    assert_exit(&again, 0);
    let said = stdout(&again);
    assert!(!said.contains("already equals"), "{said}");
    assert_mentions(&said, &["except 1 entry skipped"]);

    // A destination that keeps symlinks confined writes none leading out, from any source.
    let open = tempdir();
    write(open.path(), "firmware/ok.bin", b"ordinary firmware");
    symlink(open.path(), "firmware/out", "/etc/passwd");
    let open_source = Agent::start(open.path(), "primary-2");
    let kept = tempdir();
    let confined = Agent::start_configured(kept.path(), "backup-2", "symlinks = \"confined\"\n");
    let synced =
        confsync(&sync_args(&open_source.address, &confined.address, &["--only", "firmware"]));
    assert_exit(&synced, 0);
    assert_mentions(&stdout(&synced), &["except 1 entry skipped"]);
    assert!(kept.path().join("firmware/ok.bin").exists());
    assert!(std::fs::symlink_metadata(kept.path().join("firmware/out")).is_err(), "not written");
}

/// Every object with `"skipped": true` in a JSON document.
fn collect_skipped(doc: &serde_json::Value, found: &mut Vec<serde_json::Value>) {
    match doc {
        serde_json::Value::Object(map) => {
            if map.get("skipped") == Some(&serde_json::Value::Bool(true)) {
                found.push(doc.clone());
            }
            map.values().for_each(|v| collect_skipped(v, found));
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_skipped(v, found)),
        _ => {}
    }
}

#[test]
fn a_folder_swapped_for_a_link_to_outside_during_the_transfer_is_refused() {
    for (failpoint, wait_for) in [
        // Swapped while data arrives: the last check before committing sees it.
        ("transfer-delay-ms=400", "transferring"),
        // Swapped after that check: the directory handles refuse to follow it out.
        ("commit-delay-ms=1500", "committing"),
    ] {
        let src = tempdir();
        write(src.path(), "firmware/sub/keep.txt", b"same on both");
        write_noise(src.path(), "firmware/sub/new.bin", 3 << 20, 9);
        let source = Agent::start(src.path(), "primary");
        let dst = tempdir();
        write(dst.path(), "firmware/sub/keep.txt", b"same on both");
        write(dst.path(), "licenses/backup.lic", b"licence of the backup");
        let destination =
            Agent::start_with_env(dst.path(), "backup-1", &[("CONFSYNC_FAILPOINTS", failpoint)]);
        let outside = tempdir();
        write(outside.path(), "marker", b"outside the tree");
        let outside_before = snapshot(outside.path());

        let mut running = Running::spawn(&[
            "sync",
            "--from",
            &source.address,
            "--to",
            &destination.address,
            "--yes",
            "--json",
        ]);
        running.wait_for(Duration::from_secs(60), |e| {
            e["event"] == "progress" && e["progress"]["phase"] == wait_for
        });
        if wait_for == "committing" {
            // The last check runs right after this event; swap once it is done.
            std::thread::sleep(Duration::from_millis(500));
        }
        let sub = dst.path().join("firmware/sub");
        std::fs::remove_dir_all(&sub).expect("remove the folder");
        std::os::unix::fs::symlink(outside.path(), &sub).expect("plant the link");
        let tampered = snapshot(dst.path());

        let (status, events, stderr) = running.finish(Duration::from_secs(120));
        assert_ne!(status.code(), Some(0), "{failpoint}: applied anyway: {events:?}");
        let error = events
            .iter()
            .find(|e| e["event"] == "error")
            .map(|e| e["message"].to_string())
            .unwrap_or(stderr);
        assert!(
            error.contains("changed since") || error.contains("outside"),
            "{failpoint}: {error}"
        );
        assert_same_tree(&outside_before, &snapshot(outside.path()), "the folder outside");
        assert_same_tree(&tampered, &snapshot(dst.path()), "the destination after the swap");
        assert_no_staging(dst.path());
    }
}

#[test]
fn a_file_planted_at_the_staging_name_is_never_written_through() {
    let src = tempdir();
    write(src.path(), "firmware/new.bin", b"new firmware");
    let source = Agent::start(src.path(), "primary");
    let (root, destination) = destination();
    // A hard link to a licence where the first file would be staged, and (second round)
    // the generation's staging folder as a link into licenses.
    let staging = root.path().join(".confsync/staging/00000001");
    std::fs::create_dir_all(&staging).expect("create staging");
    std::fs::hard_link(root.path().join("licenses/backup.lic"), staging.join("0"))
        .expect("plant a hard link");
    let before = snapshot(root.path());
    let err = sync_fails(&source.address, &destination, 3);
    assert_mentions(&err, &["staging folder", "already exists"]);
    assert_same_tree(&before, &snapshot(root.path()), "the destination's tree");
    assert_eq!(
        std::fs::read(root.path().join("licenses/backup.lic")).expect("licence"),
        b"licence of the backup"
    );

    std::fs::remove_dir_all(&staging).expect("clear the planted folder");
    std::os::unix::fs::symlink("../../licenses", &staging).expect("plant a folder link");
    let err = sync_fails(&source.address, &destination, 3);
    assert_mentions(&err, &["already exists"]);
    assert_same_tree(&before, &snapshot(root.path()), "the destination's tree");
}

#[test]
fn licenses_are_refused_whoever_names_them_and_however_they_are_spelled() {
    let src = tempdir();
    write(src.path(), "firmware/ok.bin", b"ordinary firmware");
    write(src.path(), "licenses/primary.lic", b"licence of the primary");
    let source = Agent::start(src.path(), "primary");
    let (root, destination) = destination();
    let before = snapshot(root.path());
    let source_before = snapshot(src.path());

    for only in ["licenses", "LICENSES", "Licenses", " licenses ", "firmware,License"] {
        let output = confsync(&[
            "sync",
            "--from",
            &source.address,
            "--to",
            &destination.address,
            "--only",
            only,
            "--yes",
        ]);
        assert_exit(&output, 2);
        assert_mentions(&stderr(&output), &["never synchronized"]);
    }

    let licenses = v1::Category::Licenses as i32;
    let messages = runtime().block_on(async {
        let mut c = plain_client(&source.address).await;
        let lic = |path: &str| v1::FileRef { category: licenses, path: path.into() };
        let fw =
            |path: &str| v1::FileRef { category: v1::Category::Firmware as i32, path: path.into() };
        let one_range = vec![v1::ByteRange { offset: 0, length: 4 }];
        vec![
            c.get_manifest(v1::ManifestRequest { categories: vec![licenses], known: vec![] })
                .await
                .map(|_| ()),
            c.get_chunk_list(lic("primary.lic")).await.map(|_| ()),
            c.get_chunks(v1::ChunksRequest {
                file: Some(lic("primary.lic")),
                ranges: one_range.clone(),
            })
            .await
            .map(|_| ()),
            c.get_chunks(v1::ChunksRequest {
                file: Some(fw("../licenses/primary.lic")),
                ranges: one_range,
            })
            .await
            .map(|_| ()),
            c.plan(v1::PlanRequest {
                source: source.address.clone(),
                categories: vec![licenses],
                options: None,
                two_way: None,
                bundle: String::new(),
            })
            .await
            .map(|_| ()),
        ]
    });
    for (i, result) in messages.into_iter().enumerate() {
        let status = result.expect_err("licenses must be refused");
        assert_eq!(status.code(), tonic::Code::InvalidArgument, "request {i}: {status:?}");
        let text = status.message();
        assert!(
            text.contains("never synchronized") || text.contains("'..' segment"),
            "request {i}: {text}"
        );
    }

    // A source that sends licenses anyway.
    let evil = Evil {
        manifest: vec![raw_grpc::batch(
            v1::Category::Licenses,
            vec![file_entry("stolen.lic", b"x")],
        )],
        ..Evil::default()
    }
    .serve();
    let err = sync_fails(&evil.address, &destination, 3);
    assert_mentions(&err, &["never synchronized"]);

    // A firmware file that is a hard link to the source's licence is not served.
    std::fs::hard_link(src.path().join("licenses/primary.lic"), src.path().join("firmware/fw.bin"))
        .expect("hard link");
    let err = sync_fails(&source.address, &destination, 3);
    assert_mentions(&err, &["hard link to a license file"]);
    assert_same_tree(&before, &snapshot(root.path()), "the destination's tree");
    assert_no_staging(root.path());
    std::fs::remove_file(src.path().join("firmware/fw.bin")).expect("remove the link");
    assert_same_tree(&source_before, &snapshot(src.path()), "the source's tree");
}

#[test]
fn data_that_does_not_match_its_digest_is_refused() {
    let (root, destination) = destination();
    // Whole file: the bytes are not the ones the manifest promised.
    let promised = b"the real firmware";
    let source = Evil {
        chunks: pieces(|r| vec![b'X'; r.length as usize]),
        ..Evil::firmware(vec![file_entry("fw.bin", promised)])
    }
    .serve();
    let before = snapshot(root.path());
    let err = sync_fails(&source.address, &destination, 3);
    assert_mentions(&err, &["fw.bin", "does not match the planned digest"]);
    assert_untouched(root.path(), &before);

    // In chunks: an old version is here, so only changed chunks are fetched, each
    // checked against its digest from the chunk list.
    let old = noise(1 << 20, 3);
    write(root.path(), "firmware/big.bin", &old);
    let mut new = old.clone();
    new[600_000..600_100].fill(0xAB);
    let list = confsync_engine::chunk::chunk_reader(std::io::Cursor::new(new.clone()))
        .expect("chunk the new version");
    let served = Arc::new(new.clone());
    let source = Evil {
        chunk_list: Some(crate::support::raw_grpc::chunk_list(&list)),
        chunks: pieces(move |r| {
            let mut data = served[r.offset as usize..(r.offset + r.length) as usize].to_vec();
            data[0] ^= 0xFF;
            data
        }),
        ..Evil::firmware(vec![file_entry("big.bin", &new)])
    }
    .serve();
    let before = snapshot(root.path());
    let err = sync_fails(&source.address, &destination, 3);
    assert_mentions(&err, &["big.bin", "does not match its digest"]);
    assert_untouched(root.path(), &before);
}

#[test]
fn declared_sizes_are_neither_trusted_nor_exceeded() {
    let (root, destination) = destination();
    let before = snapshot(root.path());
    let entry = |size: u64| v1::Entry { size, ..file_entry("huge.bin", b"whatever") };

    // 1 TiB declared, ten bytes sent: refused at the first piece, and the destination
    // allocated nothing in proportion to the claim.
    let source =
        Evil { chunks: pieces(|_| vec![0; 10]), ..Evil::firmware(vec![entry(1 << 40)]) }.serve();
    let err = sync_fails(&source.address, &destination, 3);
    assert_mentions(&err, &["huge.bin", "asked for 1048576 bytes at offset 0, got 10 bytes"]);
    assert!(
        peak_rss_mib(destination.pid()) < 256,
        "the destination grew to {} MiB",
        peak_rss_mib(destination.pid())
    );
    assert_untouched(root.path(), &before);

    // More than any file may be.
    let source = Evil::firmware(vec![entry(1 << 41)]).serve();
    let err = sync_fails(&source.address, &destination, 3);
    assert_mentions(
        &err,
        &["huge.bin", "declares 2199023255552 bytes, more than the 1099511627776 accepted"],
    );
    assert_untouched(root.path(), &before);

    // Data larger than declared: longer pieces, or pieces beyond the last range.
    let five = b"12345";
    let source = Evil {
        chunks: pieces(|r| vec![b'1'; r.length as usize + 1]),
        ..Evil::firmware(vec![file_entry("f.bin", five)])
    }
    .serve();
    let err = sync_fails(&source.address, &destination, 3);
    assert_mentions(&err, &["f.bin", "asked for 5 bytes at offset 0, got 6 bytes"]);
    let extra = Arc::new(|request: &v1::ChunksRequest| {
        let mut messages: Vec<Vec<u8>> = request
            .ranges
            .iter()
            .map(|r| {
                v1::ChunkData { offset: r.offset, data: b"12345".to_vec(), zstd: false }
                    .encode_to_vec()
            })
            .collect();
        messages
            .push(v1::ChunkData { offset: 5, data: b"more".to_vec(), zstd: false }.encode_to_vec());
        Answer::Messages(messages)
    });
    let source = Evil { chunks: extra, ..Evil::firmware(vec![file_entry("f.bin", five)]) }.serve();
    let err = sync_fails(&source.address, &destination, 3);
    assert_mentions(&err, &["f.bin", "more data than asked for"]);
    assert_untouched(root.path(), &before);
}

#[test]
fn setuid_bits_never_arrive_and_special_files_are_never_created() {
    let (root, destination) = destination();
    let content = b"#!/bin/sh\necho run as root?\n".to_vec();
    let served = content.clone();
    let entry = v1::Entry { mode: 0o6755, ..file_entry("tool.sh", &content) };
    let source = Evil {
        chunks: pieces(move |r| served[r.offset as usize..(r.offset + r.length) as usize].to_vec()),
        ..Evil::firmware(vec![file_entry("keep.bin", b"the destination's firmware"), entry])
    }
    .serve();
    let output = confsync(&[
        "sync",
        "--from",
        &source.address,
        "--to",
        &destination.address,
        "--only",
        "firmware",
        "--yes",
    ]);
    assert_exit(&output, 0);
    let tool = &snapshot(&root.path().join("firmware"))["tool.sh"];
    assert_eq!(tool.mode, 0o755, "setuid and setgid are stripped");

    // An entry kind the protocol does not know (a FIFO, a device) is refused.
    let before = snapshot(root.path());
    let odd = v1::Entry { kind: 7, ..file_entry("fifo", b"") };
    let source = Evil::firmware(vec![odd]).serve();
    let err = sync_fails(&source.address, &destination, 3);
    assert_mentions(&err, &["unknown entry kind 7", "fifo"]);
    assert_untouched(root.path(), &before);
}

#[test]
fn a_source_speaking_another_protocol_version_is_refused_naming_both() {
    let (root, destination) = destination();
    let before = snapshot(root.path());
    for other in [0, confsync_proto::PROTOCOL_VERSION + 1] {
        let source = Evil { protocol_version: Some(other), ..Evil::firmware(vec![]) }.serve();
        // A failure, not a refusal: no override makes two protocols understand each other.
        let err = sync_fails(&source.address, &destination, 3);
        assert_mentions(
            &err,
            &[
                &format!("protocol version {other}"),
                &format!("this confsync speaks {}", confsync_proto::PROTOCOL_VERSION),
            ],
        );
        assert_untouched(root.path(), &before);
    }
}
