//! The pure three-way merge, format by format: one side's change, both sides' changes to
//! different keys, the same key changed on both, delete versus modify, both added the same,
//! device-specific keys; and the property that merging with an unchanged side gives the
//! other side.

use proptest::prelude::*;

use super::*;

fn run(kind: &Kind, base: &str, ours: &str, theirs: &str, kept: &[&str], winner: Winner) -> Merged {
    let kept: Vec<String> = kept.iter().map(|k| k.to_string()).collect();
    merge(kind, base.as_bytes(), ours.as_bytes(), theirs.as_bytes(), &kept, &mut |_, _, _| winner)
        .expect("mergeable")
}

fn text(merged: &Merged) -> String {
    String::from_utf8(merged.bytes.clone()).expect("UTF-8")
}

const BASE_TOML: &str =
    "# the app\n[display]\ntimeout = 30 # seconds\nbrightness = 50\n\n[network]\nmtu = 1500\n";

#[test]
fn toml_a_key_edited_on_one_side_and_a_section_added_on_the_other_both_survive() {
    let ours = BASE_TOML.replace("timeout = 30", "timeout = 45");
    let theirs = format!("{BASE_TOML}\n[printer]\nname = \"hall\"\nduplex = true\n");
    let merged = run(&Kind::Keys(Format::Toml), BASE_TOML, &ours, &theirs, &[], Winner::Ours);
    let out = text(&merged);
    assert!(out.contains("timeout = 45 # seconds"), "ours' edit, with its comment: {out}");
    assert!(
        out.contains("[printer]")
            && out.contains("name = \"hall\"")
            && out.contains("duplex = true"),
        "{out}"
    );
    assert!(out.starts_with("# the app\n"), "layout kept: {out}");
    assert!(merged.conflicts.is_empty(), "{merged:?}");
    assert_eq!(merged.from_ours, ["display.timeout"]);
    assert_eq!(merged.from_theirs, ["printer.duplex", "printer.name"]);
    // The same merge from the other side holds the same data.
    let back = run(&Kind::Keys(Format::Toml), BASE_TOML, &theirs, &ours, &[], Winner::Ours);
    let flat = |m: &Merged| super::super::flatten(Format::Toml, &m.bytes, "x").expect("TOML");
    assert_eq!(flat(&merged), flat(&back));
}

#[test]
fn toml_the_same_key_changed_on_both_is_one_conflict_settled_for_that_key_alone() {
    let ours =
        BASE_TOML.replace("brightness = 50", "brightness = 70").replace("mtu = 1500", "mtu = 9000");
    let theirs = BASE_TOML.replace("brightness = 50", "brightness = 90");
    let mut asked = Vec::new();
    let merged = merge(
        &Kind::Keys(Format::Toml),
        BASE_TOML.as_bytes(),
        ours.as_bytes(),
        theirs.as_bytes(),
        &[],
        &mut |key, o, t| {
            asked.push((key.to_string(), o.map(str::to_string), t.map(str::to_string)));
            Winner::Theirs
        },
    )
    .expect("mergeable");
    assert_eq!(asked, [("display.brightness".to_string(), Some("70".into()), Some("90".into()))]);
    let out = text(&merged);
    assert!(out.contains("brightness = 90") && out.contains("mtu = 9000"), "{out}");
    assert_eq!(merged.conflicts.len(), 1);
    assert_eq!(merged.conflicts[0].winner, Winner::Theirs);
}

#[test]
fn toml_delete_versus_modify_and_both_added_the_same() {
    // Ours deletes mtu, theirs changes it: a conflict (the policy says which stays).
    let ours = BASE_TOML.replace("mtu = 1500\n", "");
    let theirs = BASE_TOML
        .replace("mtu = 1500", "mtu = 9000")
        .replace("[network]\n", "[network]\nspeed = 10\n");
    let kept_change =
        run(&Kind::Keys(Format::Toml), BASE_TOML, &ours, &theirs, &[], Winner::Theirs);
    assert!(text(&kept_change).contains("mtu = 9000"), "{}", text(&kept_change));
    let kept_delete = run(&Kind::Keys(Format::Toml), BASE_TOML, &ours, &theirs, &[], Winner::Ours);
    assert!(!text(&kept_delete).contains("mtu"), "{}", text(&kept_delete));
    // Deleted on one side, untouched on the other: deleted.
    let untouched = run(&Kind::Keys(Format::Toml), BASE_TOML, BASE_TOML, &ours, &[], Winner::Ours);
    assert!(!text(&untouched).contains("mtu") && untouched.conflicts.is_empty());
    // Added on both with the same value: no conflict.
    let both = BASE_TOML.replace("[network]\n", "[network]\nspeed = 10\n");
    let same = run(&Kind::Keys(Format::Toml), BASE_TOML, &both, &theirs, &[], Winner::Ours);
    assert!(same.conflicts.iter().all(|c| c.key != "network.speed"), "{same:?}");
}

#[test]
fn device_specific_keys_are_never_merged_nor_in_conflict() {
    let base = "[server]\nname = \"primary\"\nport = 1\n";
    let ours = "[server]\nname = \"backup-1\"\nport = 1\n";
    let theirs = "[server]\nname = \"primary-new\"\nport = 2\n";
    let merged =
        run(&Kind::Keys(Format::Toml), base, ours, theirs, &["server.name"], Winner::Theirs);
    assert!(merged.conflicts.is_empty(), "{merged:?}");
    let out = text(&merged);
    assert!(out.contains("name = \"backup-1\"") && out.contains("port = 2"), "{out}");
}

#[test]
fn json_keeps_key_order_and_merges_per_key() {
    let base = r#"{"display": {"timeout": 30, "brightness": 50}, "zeta": 1}"#;
    let ours = r#"{"display": {"timeout": 45, "brightness": 50}, "zeta": 1}"#;
    let theirs =
        r#"{"display": {"timeout": 30, "brightness": 50}, "zeta": 1, "printer": {"name": "hall"}}"#;
    let merged = run(&Kind::Keys(Format::Json), base, ours, theirs, &[], Winner::Ours);
    let value: serde_json::Value = serde_json::from_slice(&merged.bytes).expect("JSON");
    assert_eq!(value["display"]["timeout"], 45);
    assert_eq!(value["printer"]["name"], "hall");
    let out = text(&merged);
    assert!(out.find("\"zeta\"") < out.find("\"printer\""), "order kept: {out}");
}

#[test]
fn ini_edits_lines_in_place_and_adds_sections() {
    let base = "; site\n[display]\ntimeout = 30\n\n[network]\nmtu = 1500\n";
    let ours = "; site\n[display]\ntimeout = 45\n\n[network]\nmtu = 1500\n";
    let theirs =
        "; site\n[display]\ntimeout = 30\nscale = 2\n\n[network]\n\n[printer]\nname = hall\n";
    let merged = run(&Kind::Keys(Format::Ini), base, ours, theirs, &[], Winner::Ours);
    let out = text(&merged);
    assert!(out.starts_with("; site\n[display]\ntimeout = 45\nscale = 2\n"), "{out}");
    assert!(!out.contains("mtu"), "deleted there, untouched here: {out}");
    assert!(out.contains("[printer]\nname = hall"), "{out}");
}

#[test]
fn csv_records_added_on_both_sides_are_both_kept_and_one_sided_edits_arrive() {
    let kind = Kind::Records { format: Records::Csv, key: "model".into() };
    let base = "model,resolution\nTC-1,800x600\nTC-2,1024x768\n";
    let ours = "model,resolution\nTC-1,800x600\nTC-2,1280x1024\nTC-3,1920x1080\n";
    let theirs = "model,resolution\nTC-1,800x600\nTC-2,1024x768\nTC-9,640x480\n";
    let merged = run(&kind, base, ours, theirs, &[], Winner::Ours);
    assert_eq!(
        text(&merged),
        "model,resolution\nTC-1,800x600\nTC-2,1280x1024\nTC-3,1920x1080\nTC-9,640x480\n"
    );
    assert!(merged.conflicts.is_empty());
    let bad =
        merge(&kind, base.as_bytes(), ours.as_bytes(), b"name,res\nx,1\n", &[], &mut |_, _, _| {
            Winner::Ours
        });
    assert!(bad.is_err(), "other columns: decided whole");
}

#[test]
fn json_lines_records_merge_by_their_key() {
    let kind = Kind::Records { format: Records::JsonLines, key: "model".into() };
    let base = "{\"model\":\"TC-1\",\"res\":\"800x600\"}\n";
    let ours = "{\"model\":\"TC-1\",\"res\":\"1024x768\"}\n";
    let theirs =
        "{\"model\":\"TC-1\",\"res\":\"800x600\"}\n{\"model\":\"TC-2\",\"res\":\"640x480\"}\n";
    let merged = run(&kind, base, ours, theirs, &[], Winner::Ours);
    assert_eq!(
        text(&merged),
        "{\"model\":\"TC-1\",\"res\":\"1024x768\"}\n{\"model\":\"TC-2\",\"res\":\"640x480\"}\n"
    );
}

#[test]
fn text_applies_both_sides_hunks_and_an_overlap_is_one_conflict_without_markers() {
    let base = "t1\nt2\nt3\nt4\nt5\nt6\n";
    let ours = "t0\nt1\nt2\nt3\nt4\nt5\nt6\n";
    let theirs = "t1\nt2\nt3\nt4\nt5\nt6\nt7\n";
    let merged = run(&Kind::Text, base, ours, theirs, &[], Winner::Ours);
    assert_eq!(text(&merged), "t0\nt1\nt2\nt3\nt4\nt5\nt6\nt7\n");
    assert!(merged.conflicts.is_empty());
    let clash = run(
        &Kind::Text,
        base,
        "t1\nX\nt3\nt4\nt5\nt6\n",
        "t1\nY\nt3\nt4\nt5\nt6\n",
        &[],
        Winner::Theirs,
    );
    assert_eq!(text(&clash), "t1\nY\nt3\nt4\nt5\nt6\n");
    assert_eq!(clash.conflicts.len(), 1);
    assert!(!text(&clash).contains("<<<<") && !text(&clash).contains(">>>>"));
}

#[test]
fn a_file_that_does_not_parse_is_refused_for_a_whole_file_decision() {
    let broken =
        merge(&Kind::Keys(Format::Toml), b"a = 1\n", b"[a\n", b"a = 2\n", &[], &mut |_, _, _| {
            Winner::Ours
        });
    assert!(broken.is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Merging with a side that did not change gives the side that did, key for key.
    #[test]
    fn an_unchanged_side_gives_the_other(
        base in proptest::collection::btree_map("[a-c]{1,2}", 0u8..4, 0..5),
        changed in proptest::collection::btree_map("[a-c]{1,2}", 0u8..4, 0..5),
    ) {
        let toml = |m: &BTreeMap<String, u8>| {
            let mut out = String::from("[s]\n");
            for (k, v) in m {
                out.push_str(&format!("{k} = {v}\n"));
            }
            out
        };
        let (base, changed) = (toml(&base), toml(&changed));
        let flat = |b: &[u8]| super::super::flatten(Format::Toml, b, "x").expect("TOML");
        let kind = Kind::Keys(Format::Toml);
        let ours_changed = run(&kind, &base, &changed, &base, &[], Winner::Ours);
        prop_assert_eq!(flat(&ours_changed.bytes), flat(changed.as_bytes()));
        let theirs_changed = run(&kind, &base, &base, &changed, &[], Winner::Ours);
        prop_assert_eq!(flat(&theirs_changed.bytes), flat(changed.as_bytes()));
        prop_assert!(ours_changed.conflicts.is_empty() && theirs_changed.conflicts.is_empty());
    }
}
