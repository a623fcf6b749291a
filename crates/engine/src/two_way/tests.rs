use super::*;
use crate::entry::Digest;
use crate::manifest::{CategoryManifest, Manifest};
use crate::pair::PairBase;
use crate::plan::{Action, Guards};

const C: Category = Category::Config;

fn file(path: &str, content: &str, mtime_ns: i64) -> Entry {
    Entry {
        path: RelPath::new(path).expect("valid"),
        kind: EntryKind::File,
        size: content.len() as u64,
        mode: 0o644,
        mtime_ns,
        digest: Digest::of(content.as_bytes()),
        symlink_target: None,
        attrs: None,
        hardlink: None,
    }
}

fn dir(path: &str) -> Entry {
    Entry {
        path: RelPath::new(path).expect("valid"),
        kind: EntryKind::Dir,
        size: 0,
        mode: 0o755,
        mtime_ns: 1,
        digest: Digest::ZERO,
        symlink_target: None,
        attrs: None,
        hardlink: None,
    }
}

fn tree(entries: Vec<Entry>) -> Manifest {
    let mut m = Manifest::default();
    m.insert(CategoryManifest::new(C, entries));
    m
}

/// Each side's changes since a common base `base` (both sides held it).
fn since(base: &Manifest, now: &Manifest) -> SideChanges {
    let nothing = crate::plan::plan(base, base, &Guards::default());
    PairBase::after(&nothing, base, &[C], "run-1", "peer").changes(now, &[C])
}

fn decide_with(
    source: &Manifest,
    destination: &Manifest,
    changes: (SideChanges, SideChanges),
    policy: ConflictPolicy,
    offset_ms: Option<i64>,
) -> (Plan, TwoWayPlan) {
    let mut plan = crate::plan::plan(source, destination, &Guards::default());
    let decide = Decide {
        categories: vec![C],
        policy,
        choices: Vec::new(),
        max_skew_ms: 5_000,
        run: "run-2".into(),
    };
    let inputs = Inputs {
        decide: &decide,
        source: &changes.0,
        destination: &changes.1,
        clock_offset_ms: offset_ms,
        peer: "peer",
    };
    let two_way = super::decide(&mut plan, &inputs);
    (plan, two_way)
}

fn taken(plan: &Plan) -> Vec<(Action, &str)> {
    plan.steps().map(|(_, s)| (s.action, s.path.as_str())).collect()
}

fn given(two_way: &TwoWayPlan) -> Vec<&str> {
    two_way.give.get(&C).map(|p| p.iter().map(|p| p.as_str()).collect()).unwrap_or_default()
}

#[test]
fn an_edit_on_each_side_goes_to_the_other_and_an_addition_too() {
    let base = tree(vec![file("a", "1", 1), file("b", "1", 1)]);
    let source = tree(vec![file("a", "2", 5), file("b", "1", 1), file("new-on-source", "n", 5)]);
    let destination = tree(vec![file("a", "1", 1), file("b", "2", 5), file("new-here", "h", 5)]);
    let changes = (since(&base, &source), since(&base, &destination));
    let (plan, two_way) =
        decide_with(&source, &destination, changes, ConflictPolicy::Newest, Some(0));
    assert_eq!(taken(&plan), [(Action::Overwrite, "a"), (Action::Create, "new-on-source")]);
    assert_eq!(given(&two_way), ["b", "new-here"]);
    assert!(two_way.conflicts.is_empty() && !two_way.first && plan.refusals.is_empty());
}

#[test]
fn the_newer_of_two_edits_wins_with_the_clock_offset_taken_into_account() {
    let base = tree(vec![file("a", "1", 1)]);
    let source = tree(vec![file("a", "source", 10_000_000_000)]);
    let destination = tree(vec![file("a", "destination", 9_000_000_000)]);
    let changes = || (since(&base, &source), since(&base, &destination));
    let (plan, two_way) =
        decide_with(&source, &destination, changes(), ConflictPolicy::Newest, Some(0));
    assert_eq!(taken(&plan), [(Action::Overwrite, "a")]);
    assert_eq!(two_way.conflicts[0].winner, Some(Side::Source));
    assert_eq!(two_way.conflicts[0].how, How::Newer);
    // The source's clock runs 2 s ahead: its edit was in fact a second older.
    let (plan, two_way) =
        decide_with(&source, &destination, changes(), ConflictPolicy::Newest, Some(2_000));
    assert!(taken(&plan).is_empty());
    assert_eq!(given(&two_way), ["a"]);
    // Beyond the limit nothing is decided by time, and the plan refuses.
    let (plan, two_way) =
        decide_with(&source, &destination, changes(), ConflictPolicy::Newest, Some(60_000));
    assert!(taken(&plan).is_empty() && given(&two_way).is_empty());
    assert_eq!(two_way.conflicts[0].how, How::ClockSkew);
    assert_eq!(plan.refusals[0].kind, RefusalKind::ClockSkew);
    // ... unless a policy that needs no clock decides.
    let (plan, _) =
        decide_with(&source, &destination, changes(), ConflictPolicy::Destination, Some(60_000));
    assert!(plan.refusals.is_empty());
}

#[test]
fn a_modification_wins_over_a_deletion_and_an_untouched_deletion_goes_across() {
    let base = tree(vec![file("edited", "1", 1), file("untouched", "1", 1)]);
    // The source deleted both; the destination edited one.
    let source = tree(vec![]);
    let destination = tree(vec![file("edited", "2", 5), file("untouched", "1", 1)]);
    let changes = (since(&base, &source), since(&base, &destination));
    let (plan, two_way) =
        decide_with(&source, &destination, changes, ConflictPolicy::Source, Some(0));
    assert_eq!(taken(&plan), [(Action::Delete, "untouched")]);
    assert_eq!(given(&two_way), ["edited"]);
    assert_eq!(two_way.conflicts[0].how, How::ModifiedOverDeleted);
    assert_eq!(two_way.conflicts[0].winner, Some(Side::Destination));
}

#[test]
fn without_a_common_base_only_additions_flow_and_differences_are_conflicts() {
    let source = tree(vec![file("only-source", "s", 1), file("both", "s", 1)]);
    let destination = tree(vec![file("only-here", "d", 1), file("both", "d", 9)]);
    let (plan, two_way) = decide_with(
        &source,
        &destination,
        (SideChanges::default(), SideChanges::default()),
        ConflictPolicy::Newest,
        Some(0),
    );
    assert!(two_way.first);
    assert_eq!(taken(&plan), [(Action::Create, "only-source")]);
    assert_eq!(given(&two_way), ["both", "only-here"]);
    assert_eq!(two_way.conflicts.len(), 1);
}

#[test]
fn a_folder_deleted_on_one_side_stays_when_an_entry_inside_was_edited_on_the_other() {
    let base = tree(vec![dir("d"), file("d/edited", "1", 1), file("d/other", "1", 1)]);
    let source = tree(vec![]);
    let destination = tree(vec![dir("d"), file("d/edited", "2", 5), file("d/other", "1", 1)]);
    let changes = (since(&base, &source), since(&base, &destination));
    let (plan, two_way) =
        decide_with(&source, &destination, changes, ConflictPolicy::Newest, Some(0));
    assert_eq!(taken(&plan), [(Action::Delete, "d/other")]);
    assert_eq!(given(&two_way), ["d", "d/edited"]);
    assert!(two_way.conflicts.iter().any(|c| c.how == How::FolderKept));
}

#[test]
fn ask_refuses_until_each_conflict_is_answered() {
    let base = tree(vec![file("a", "1", 1)]);
    let source = tree(vec![file("a", "s", 5)]);
    let destination = tree(vec![file("a", "d", 5)]);
    let changes = (since(&base, &source), since(&base, &destination));
    let (plan, two_way) =
        decide_with(&source, &destination, changes.clone(), ConflictPolicy::Ask, Some(0));
    assert_eq!(plan.refusals[0].kind, RefusalKind::Conflict);
    assert_eq!(two_way.conflicts[0].how, How::NotAnswered);
    let mut plan = crate::plan::plan(&source, &destination, &Guards::default());
    let decide = Decide {
        categories: vec![C],
        policy: ConflictPolicy::Ask,
        choices: vec![Choice {
            category: C,
            path: RelPath::new("a").expect("valid"),
            winner: Side::Destination,
        }],
        max_skew_ms: 5_000,
        run: "r".into(),
    };
    let inputs = Inputs {
        decide: &decide,
        source: &changes.0,
        destination: &changes.1,
        clock_offset_ms: None,
        peer: "p",
    };
    let two_way = super::decide(&mut plan, &inputs);
    assert!(plan.refusals.is_empty());
    assert_eq!(given(&two_way), ["a"]);
}

#[test]
fn the_part_that_takes_keeps_only_the_named_paths_and_is_pinned_by_its_steps() {
    let source = tree(vec![file("a", "2", 1), file("b", "2", 1)]);
    let destination = tree(vec![file("a", "1", 1), file("b", "1", 1)]);
    let take = Take {
        categories: vec![C],
        paths: [(C, vec![RelPath::new("b").expect("valid")])].into_iter().collect(),
        run: "r".into(),
    };
    let mut plan = crate::plan::plan(&source, &destination, &Guards::default());
    plan.two_way = Some(take_only(&mut plan, &take, "p"));
    plan.reseal();
    assert_eq!(taken(&plan), [(Action::Overwrite, "b")]);
    // The other side's own part changed its tree (a), not what this part takes.
    let source_after = tree(vec![file("a", "1", 1), file("b", "2", 1)]);
    let mut again = crate::plan::plan(&source_after, &destination, &Guards::default());
    again.two_way = Some(take_only(&mut again, &take, "p"));
    again.reseal();
    assert_eq!(plan.digest, again.digest);
}
