use super::*;
use crate::entry::EntryKind;

fn file(path: &str, content: &[u8]) -> Entry {
    Entry {
        path: RelPath::new(path).expect("valid"),
        kind: EntryKind::File,
        size: content.len() as u64,
        mode: 0o644,
        mtime_ns: 1,
        digest: Digest::of(content),
        symlink_target: None,
        attrs: None,
        hardlink: None,
    }
}

fn header() -> Header {
    Header {
        made_by: "confsync test".into(),
        format: FORMAT,
        origin: Server { name: "primary".into(), instance_id: "abc".into(), address: "x".into() },
        created_at: 1,
        categories: vec![Category::Config],
        device_specific: RulesFile::default(),
        for_destination: None,
    }
}

/// A bundle of one category holding `files`, as bytes.
fn bundle_bytes(files: &[(&str, &[u8])]) -> Vec<u8> {
    let entries = files.iter().map(|(p, c)| file(p, c)).collect();
    let manifest = CategoryManifest::new(Category::Config, entries);
    let mut writer = Writer::new(Vec::new(), &header()).expect("header");
    writer.manifest(&manifest).expect("manifest");
    for (_, content) in files {
        writer.chunk(Digest::of(content), content.to_vec()).expect("chunk");
    }
    writer.finish().expect("finish").0
}

fn open(bytes: &[u8]) -> Result<Bundle> {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("b.bundle");
    std::fs::write(&path, bytes).expect("write");
    Bundle::open(&path)
}

fn refusal(bytes: &[u8]) -> String {
    open(bytes).map(|_| ()).expect_err("refused").to_string()
}

#[test]
fn a_bundle_reads_back_with_its_manifest_and_chunks() {
    let text = b"setting = 1\n".repeat(100);
    let bytes = bundle_bytes(&[("a.conf", &text), ("empty", b"")]);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("b.bundle");
    std::fs::write(&path, &bytes).expect("write");
    let bundle = Bundle::open(&path).expect("opens");
    assert_eq!(bundle.manifest.get(Category::Config).map(|m| m.entries.len()), Some(2));
    let a = RelPath::new("a.conf").expect("valid");
    let list = bundle.chunk_list(Category::Config, &a).expect("a list");
    assert_eq!(bundle.read_chunk(&list.chunks[0].digest).expect("chunk"), text);
    assert!(bundle.chunk_bytes < text.len() as u64, "text is stored compressed");
}

#[test]
fn truncation_a_flipped_bit_and_an_oversized_record_are_refused_naming_the_offset() {
    let bytes = bundle_bytes(&[("a.conf", b"a = 1\n")]);
    let cut = refusal(&bytes[..bytes.len() - 10]);
    assert!(cut.contains("truncated") && cut.contains("at byte"), "{cut}");
    // A bit of the chunk's data (after its digest and flag): the chunk is named.
    let mut flipped = bytes.clone();
    let digest = Digest::of(b"a = 1\n").0;
    let at = flipped.windows(32).position(|w| w == digest).expect("the chunk record");
    flipped[at + 33] ^= 1;
    let flip = refusal(&flipped);
    assert!(flip.contains("does not match its digest") && flip.contains("at byte"), "{flip}");
    assert!(flip.contains(&format!("(chunk {})", Digest(digest).short())), "{flip}");
    let mut oversized = bytes[..12].to_vec();
    oversized.push(1);
    oversized.extend_from_slice(&u32::MAX.to_le_bytes());
    let over = refusal(&oversized);
    assert!(over.contains("more than the") && over.contains("at byte 12"), "{over}");
    let mut newer = bytes.clone();
    newer[8] = 9;
    let newer = refusal(&newer);
    assert!(newer.contains("made by confsync test (bundle format 9)"), "{newer}");
    assert!(newer.contains(&format!("this is confsync {}", env!("CARGO_PKG_VERSION"))), "{newer}");
}

#[test]
fn a_path_out_of_its_category_or_licenses_is_refused() {
    for bad in [r#""path":"../escape""#, r#""category":"licenses""#] {
        let mut writer = Writer::new(Vec::new(), &header()).expect("header");
        let record = format!(
            r#"{{"category":"config","entries":[{{"path":"a","kind":"file","size":1,"mode":420,"mtime_ns":1,"digest":"{}","symlink_target":null}}],"digest":null}}"#,
            Digest::of(b"x")
        )
        .replace(r#""path":"a""#, if bad.contains("path") { bad } else { r#""path":"a""# })
        .replace(r#""category":"config""#, if bad.contains("licenses") { bad } else { r#""category":"config""# });
        let packed = zstd::bulk::compress(record.as_bytes(), 3).expect("compress");
        writer.record(Tag::Entries, &packed).expect("record");
        let bytes = writer.finish().expect("finish").0;
        let refused = refusal(&bytes);
        assert!(refused.contains("record 1"), "{refused}");
        if bad.contains("licenses") {
            assert!(refused.contains("licenses"), "{refused}");
        }
    }
}

#[test]
fn a_format_1_bundle_is_still_read_and_carries_no_attributes() {
    // What confsync wrote before entries carried owners: format 1 in the magic and the
    // header, its category digest over path, kind, mode and content only.
    let content = b"a = 1\n";
    let entries = vec![file("a.conf", content)];
    let recorded = crate::manifest::format_1_digest(&entries);
    let mut writer = Writer::new(Vec::new(), &Header { format: 1, ..header() }).expect("header");
    let record = format!(
        r#"{{"category":"config","entries":[{{"path":"a.conf","kind":"file","size":6,"mode":420,"mtime_ns":1,"digest":"{}","symlink_target":null}}],"digest":"{recorded}"}}"#,
        Digest::of(content)
    );
    let packed = zstd::bulk::compress(record.as_bytes(), 3).expect("compress");
    writer.record(Tag::Entries, &packed).expect("record");
    writer.chunk(Digest::of(content), content.to_vec()).expect("chunk");
    let mut bytes = writer.finish().expect("finish").0;
    bytes[8..12].copy_from_slice(&1u32.to_le_bytes());

    let bundle = open(&bytes).expect("a format 1 bundle opens");
    let manifest = bundle.manifest.get(Category::Config).expect("config");
    assert_eq!(manifest.entries.len(), 1);
    assert_eq!(manifest.entries[0].attrs, None, "no owner to compare or set");
    assert_ne!(Some(recorded), Some(manifest.digest), "read, it has today's digest");
}

#[test]
fn a_bundle_planting_setuid_or_a_capability_is_refused() {
    let content = b"#!/bin/sh\n";
    for (field, problem) in [
        (r#""mode":2541"#, "mode 4755"),
        (
            r#""mode":493,"attrs":{"uid":0,"gid":0,"xattrs":[{"name":"security.capability","value":"01"}]}"#,
            "security.capability",
        ),
    ] {
        let mut writer = Writer::new(Vec::new(), &header()).expect("header");
        let record = format!(
            r#"{{"category":"config","entries":[{{"path":"tool","kind":"file","size":10,{field},"mtime_ns":1,"digest":"{}","symlink_target":null}}],"digest":null}}"#,
            Digest::of(content)
        );
        let packed = zstd::bulk::compress(record.as_bytes(), 3).expect("compress");
        writer.record(Tag::Entries, &packed).expect("record");
        writer.chunk(Digest::of(content), content.to_vec()).expect("chunk");
        let bytes = writer.finish().expect("finish").0;
        let refused = refusal(&bytes);
        assert!(refused.contains(problem), "{refused}");
    }
}
