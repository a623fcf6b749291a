use super::*;

fn entry(path: &str, kind: EntryKind, content: &str, mode: u32, mtime_ns: i64) -> Entry {
    Entry {
        path: RelPath::new(path).expect("valid"),
        kind,
        size: content.len() as u64,
        mode,
        mtime_ns,
        digest: if kind == EntryKind::Dir { Digest::ZERO } else { Digest::of(content.as_bytes()) },
        symlink_target: (kind == EntryKind::Symlink).then(|| content.to_string()),
        attrs: None,
        hardlink: None,
    }
}

fn file(path: &str, content: &str) -> Entry {
    entry(path, EntryKind::File, content, 0o644, 10)
}

fn manifest(entries: Vec<Entry>) -> Manifest {
    let mut m = Manifest::default();
    m.insert(CategoryManifest::new(Category::Firmware, entries));
    m
}

fn actions(plan: &Plan) -> Vec<(Action, &str)> {
    plan.steps().map(|(_, s)| (s.action, s.path.as_str())).collect()
}

#[test]
fn equal_trees_give_an_empty_plan() {
    let m = manifest(vec![file("a", "1"), entry("d", EntryKind::Dir, "", 0o755, 1)]);
    let p = plan(&m, &m.clone(), &Guards::default());
    assert!(p.is_empty());
    assert!(p.refusals.is_empty() && p.warnings.is_empty());
}

#[test]
fn creates_overwrites_deletes_and_chmods() {
    let src = manifest(vec![
        file("new", "n"),
        file("same", "s"),
        file("changed", "v2"),
        entry("mode", EntryKind::File, "m", 0o755, 10),
    ]);
    let dst = manifest(vec![
        file("same", "s"),
        file("changed", "v1"),
        entry("mode", EntryKind::File, "m", 0o644, 10),
        file("gone", "g"),
    ]);
    let p = plan(&src, &dst, &Guards::default());
    assert_eq!(
        actions(&p),
        [
            (Action::Overwrite, "changed"),
            (Action::Delete, "gone"),
            (Action::Attrs, "mode"),
            (Action::Create, "new"),
        ]
    );
    let counts = p.counts();
    assert_eq!(
        (counts.created, counts.overwritten, counts.deleted, counts.attrs, counts.bytes),
        (1, 1, 1, 1, 3)
    );
}

#[test]
fn a_change_of_kind_is_a_delete_then_a_create() {
    let src = manifest(vec![entry("x", EntryKind::Dir, "", 0o755, 1), file("x/f", "f")]);
    let dst = manifest(vec![file("x", "was a file")]);
    let p = plan(&src, &dst, &Guards::default());
    assert_eq!(
        actions(&p),
        [(Action::Delete, "x"), (Action::Create, "x"), (Action::Create, "x/f")]
    );
}

#[test]
fn symlink_target_changes_are_overwrites_and_modes_of_links_do_not_matter() {
    let src = manifest(vec![
        entry("l", EntryKind::Symlink, "a", 0o777, 1),
        entry("k", EntryKind::Symlink, "b", 0o777, 1),
    ]);
    let dst = manifest(vec![
        entry("l", EntryKind::Symlink, "b", 0o777, 1),
        entry("k", EntryKind::Symlink, "b", 0o700, 1),
    ]);
    let p = plan(&src, &dst, &Guards::default());
    assert_eq!(actions(&p), [(Action::Overwrite, "l")]);
}

#[test]
fn a_newer_destination_file_is_flagged_as_a_downgrade() {
    let src = manifest(vec![entry("fw.bin", EntryKind::File, "old", 0o644, 100)]);
    let dst = manifest(vec![entry("fw.bin", EntryKind::File, "new", 0o644, 200)]);
    let p = plan(&src, &dst, &Guards::default());
    assert!(p.categories[0].steps[0].downgrade);
    let warnings = p.overwrite_warnings();
    assert!(warnings[0].contains("downgrade") && warnings[0].contains("fw.bin"), "{warnings:?}");
}

#[test]
fn the_digest_pins_both_sides() {
    let src = manifest(vec![file("a", "1")]);
    let dst = manifest(vec![file("a", "0")]);
    let base = plan(&src, &dst, &Guards::default()).digest;
    assert_eq!(base, plan(&src, &dst, &Guards::default()).digest);
    assert_ne!(base, plan(&manifest(vec![file("a", "2")]), &dst, &Guards::default()).digest);
    assert_ne!(base, plan(&src, &manifest(vec![file("a", "9")]), &Guards::default()).digest);
}

#[test]
fn an_empty_source_category_is_refused_unless_allowed() {
    let src = manifest(vec![]);
    let dst = manifest(vec![file("a", "1")]);
    let p = plan(&src, &dst, &Guards::default());
    assert!(p.refusals[0].message.contains("--allow-empty-source"), "{:?}", p.refusals);
    assert_eq!(p.refusals[0].kind, crate::refusal::RefusalKind::EmptySource);
    let allowed = plan(&src, &dst, &Guards { allow_empty_source: true, ..Guards::default() });
    assert!(allowed.refusals.is_empty());
}

#[test]
fn mass_deletion_over_the_limit_is_refused() {
    let src = manifest(vec![file("keep", "k")]);
    let dst = manifest(vec![file("keep", "k"), file("a", "1"), file("b", "2"), file("c", "3")]);
    let guards = Guards { max_delete_percent: Some(25), ..Guards::default() };
    let p = plan(&src, &dst, &guards);
    assert!(
        p.refusals[0].message.contains("3 of 4") && p.refusals[0].message.contains("--max-delete"),
        "{:?}",
        p.refusals
    );
    let p = plan(&src, &dst, &Guards { max_delete_percent: Some(75), ..guards });
    assert!(p.refusals.is_empty());
}

#[test]
fn the_last_sync_tells_a_local_edit_from_an_older_source() {
    use crate::last_sync::{self, LastSync};
    // The last sync left a.conf and b.bin as they were on the source.
    let synced =
        manifest(vec![file("a.conf", "v1"), entry("b.bin", EntryKind::File, "v1", 0o644, 100)]);
    let mut record = LastSync::default();
    record.record(&plan(&synced, &synced, &Guards::default()), &synced, None);

    // Since then a.conf was edited here (a newer mtime, as a hand edit has), and the
    // source went back to an older b.bin.
    let here = manifest(vec![
        entry("a.conf", EntryKind::File, "edited", 0o644, 500),
        entry("b.bin", EntryKind::File, "v1", 0o644, 100),
        entry("c.conf", EntryKind::File, "made here", 0o644, 500),
    ]);
    let source =
        manifest(vec![file("a.conf", "v1"), entry("b.bin", EntryKind::File, "v0", 0o644, 50)]);
    let mut p = plan(&source, &here, &Guards::default());
    let before: Vec<(&str, bool)> =
        p.steps().map(|(_, s)| (s.path.as_str(), s.downgrade)).collect();
    assert_eq!(before, [("a.conf", true), ("b.bin", true), ("c.conf", false)], "by mtime alone");

    let classified = last_sync::classify(&mut p, &record, &Guards::default(), &|_, _| None);
    let marks: Vec<(&str, bool, bool)> =
        p.steps().map(|(_, s)| (s.path.as_str(), s.local_edit, s.downgrade)).collect();
    assert_eq!(marks, [("a.conf", true, false), ("b.bin", false, true), ("c.conf", true, false)]);
    // Undone, the plan is as it was; classified again, as it was classified.
    let unclassified = plan(&source, &here, &Guards::default());
    classified.undo(&mut p);
    assert_eq!(p, unclassified);
    last_sync::classify(&mut p, &record, &Guards::default(), &|_, _| None);
    assert!(p.refusals.is_empty(), "warned, not refused, unless asked");
    let warnings = p.overwrite_warnings();
    assert!(warnings[0].contains("changed on the destination since its last sync"), "{warnings:?}");
    assert!(warnings[0].contains("a.conf, c.conf"), "{warnings:?}");
    assert!(warnings[1].contains("downgrade") && warnings[1].contains("b.bin"), "{warnings:?}");

    let strict = Guards { refuse_local_edits: true, refuse_downgrade: true, ..Guards::default() };
    let mut p = plan(&source, &here, &strict);
    let classified = last_sync::classify(&mut p, &record, &strict, &|_, _| None);
    let kinds: Vec<RefusalKind> = p.refusals.iter().map(|r| r.kind).collect();
    assert_eq!(kinds, [RefusalKind::LocalEdits, RefusalKind::Downgrade]);
    classified.undo(&mut p);
    assert!(p.refusals.is_empty());

    // A category never synchronized has no record: mtimes are all there is.
    let mut p = plan(&source, &here, &Guards::default());
    last_sync::classify(&mut p, &LastSync::default(), &Guards::default(), &|_, _| None);
    assert!(p.steps().all(|(_, s)| !s.local_edit));
}
