//! Property tests (a brief fuzz run in every `cargo test`) for what a peer can send:
//! path validation, symlink targets and manifest entry decoding.
//!
//! The properties: nothing panics on any input; an accepted path never leaves its
//! category, lexically; and a set of accepted symlinks, resolved the way the kernel
//! resolves them, never leads outside the category, however they chain. Raise
//! `PROPTEST_CASES` for a longer run.

use std::collections::BTreeMap;

use confsync_engine::EntryKind;
use confsync_engine::confine::check_tree;
use confsync_engine::path::{RelPath, check_symlink_syntax, check_symlink_target};
use confsync_proto::v1;
use proptest::prelude::*;

use super::entry_from_proto;

/// Path-ish strings: mostly segments, dots, slashes, and the odd hostile character.
fn pathish() -> impl Strategy<Value = String> {
    // Few names, so that links often meet each other and chain.
    let segment = prop_oneof![
        6 => prop::sample::select(vec!["a", "b", "c"]).prop_map(str::to_string),
        2 => Just("..".to_string()),
        1 => Just(".".to_string()),
        1 => Just(String::new()),
        1 => Just("\\".to_string()),
        1 => Just("\0".to_string()),
        1 => "\\PC{0,4}",
    ];
    (any::<bool>(), prop::collection::vec(segment, 0..6)).prop_map(|(absolute, segments)| {
        let joined = segments.join("/");
        if absolute { format!("/{joined}") } else { joined }
    })
}

/// Symlinks likely to chain: short paths over three names, targets that climb a little
/// then descend, and now and then anything at all.
fn link() -> impl Strategy<Value = (String, String)> {
    let name = || prop::sample::select(vec!["a", "b", "c"]).prop_map(str::to_string);
    let path = prop::collection::vec(name(), 1..4).prop_map(|p| p.join("/"));
    let target = prop_oneof![
        4 => (0usize..4, prop::collection::vec(name(), 1..3))
            .prop_map(|(ups, names)| format!("{}{}", "../".repeat(ups), names.join("/"))),
        1 => pathish(),
    ];
    (path, target)
}

fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512);
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn accepted_paths_are_canonical_and_stay_inside(raw in pathish()) {
        if let Ok(path) = RelPath::new(&raw) {
            let text = path.as_str();
            prop_assert!(!text.is_empty() && !text.starts_with('/'));
            prop_assert!(!text.contains('\0') && !text.contains('\\'));
            for segment in text.split('/') {
                prop_assert!(!segment.is_empty() && segment != "." && segment != "..");
            }
            for component in std::path::Path::new(text).components() {
                prop_assert!(matches!(component, std::path::Component::Normal(_)), "{text:?}");
            }
        }
    }

    #[test]
    fn any_bytes_are_judged_without_panicking(raw in prop::collection::vec(any::<u8>(), 0..64)) {
        let _ = RelPath::from_bytes(&raw);
    }

    #[test]
    fn chains_of_accepted_symlinks_never_lead_outside(
        links in prop::collection::vec(link(), 1..8),
        start in pathish(),
    ) {
        // Keep the links a manifest could carry: valid paths, targets accepted, and a
        // tree shape (every parent a folder, so no link lies beneath another).
        let mut tree: BTreeMap<String, Option<String>> = BTreeMap::new();
        for (path, target) in links {
            let Ok(path) = RelPath::new(&path) else { continue };
            if check_symlink_target(&path, &target).is_err() {
                continue;
            }
            let mut parent = path.parent();
            while let Some(dir) = parent {
                tree.entry(dir.as_str().to_string()).or_insert(None);
                parent = dir.parent();
            }
            tree.insert(path.as_str().to_string(), Some(target));
        }
        let entries: Vec<confsync_engine::Entry> = tree
            .iter()
            .map(|(path, target)| confsync_engine::Entry {
                path: RelPath::new(path).expect("kept only valid paths"),
                kind: if target.is_some() { EntryKind::Symlink } else { EntryKind::Dir },
                size: 0,
                mode: 0o755,
                mtime_ns: 0,
                digest: confsync_engine::Digest::ZERO,
                symlink_target: target.clone(),
                attrs: None,
                hardlink: None,
            })
            .collect();
        if check_tree(&entries).is_err() {
            return Ok(());
        }
        let links: BTreeMap<String, String> =
            tree.into_iter().filter_map(|(p, t)| t.map(|t| (p, t))).collect();
        let placed = place(&links);
        prop_assert!(placed.is_ok(), "{:?} placing {links:?}", placed);
        let placed = placed.unwrap_or_default();
        let mut starts: Vec<String> = links.keys().flat_map(|l| [l.clone(), format!("{l}/a/b")]).collect();
        starts.extend(RelPath::new(&start).ok().map(|s| s.as_str().to_string()));
        for start in starts {
            prop_assert!(resolve(&placed, &start).is_ok(), "{start} escaped through {links:?}");
        }
    }

    #[test]
    fn decoding_any_entry_never_panics_and_keeps_its_promises(
        path in pathish(),
        kind in 0i32..5,
        size in any::<u64>(),
        mode in any::<u32>(),
        digest in prop::collection::vec(any::<u8>(), 0..40),
        target in pathish(),
    ) {
        let raw = v1::Entry {
            path,
            kind,
            size,
            mode,
            mtime_ns: 0,
            digest,
            symlink_target: target,
            attrs: None,
            hardlink: String::new(),
        };
        if let Ok(entry) = entry_from_proto(raw) {
            prop_assert_eq!(entry.mode & 0o6000, 0, "setuid/setgid survive");
            prop_assert!(entry.size <= confsync_engine::confine::MAX_FILE_BYTES);
            if let Some(target) = &entry.symlink_target {
                prop_assert!(check_symlink_syntax(&entry.path, target).is_ok());
            }
        }
    }
}

/// Where each link of a manifest really lands when created in path order: its folder is
/// resolved through the links made before it, as a directory handle would.
fn place(links: &BTreeMap<String, String>) -> Result<BTreeMap<String, String>, String> {
    let mut placed = BTreeMap::new();
    for (path, target) in links {
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        let mut at = resolve(&placed, parent)?;
        at.push(name.to_string());
        placed.insert(at.join("/"), target.clone());
    }
    Ok(placed)
}

/// Resolves `path` inside a category whose symlinks are `links`, as the kernel would:
/// component by component, following links (relative to the link's folder) with a hop
/// limit. `Err` when resolution climbs above the category root.
fn resolve(links: &BTreeMap<String, String>, path: &str) -> Result<Vec<String>, String> {
    let mut hops = 0;
    let mut stack: Vec<String> = Vec::new();
    let mut pending: Vec<String> = path.split('/').rev().map(str::to_string).collect();
    while let Some(component) = pending.pop() {
        match component.as_str() {
            "" | "." => {}
            ".." => {
                if stack.pop().is_none() {
                    return Err(format!("{path} climbs above the category"));
                }
            }
            name => {
                stack.push(name.to_string());
                let here = stack.join("/");
                if let Some(target) = links.get(&here) {
                    hops += 1;
                    if hops > 40 {
                        return Ok(stack); // a loop: the kernel stops with ELOOP
                    }
                    stack.pop();
                    if target.starts_with('/') {
                        return Err(format!("{here} -> {target} is absolute"));
                    }
                    for part in target.split('/').rev() {
                        pending.push(part.to_string());
                    }
                }
            }
        }
    }
    Ok(stack)
}

#[test]
fn the_resolver_catches_the_escape_that_the_tree_rule_prevents() {
    // Each link passes check_symlink_target alone; together they leave the category.
    let links: BTreeMap<String, String> =
        [("x/y".to_string(), "../z".to_string()), ("x/y/l".to_string(), "../../e".to_string())]
            .into_iter()
            .collect();
    for (path, target) in &links {
        check_symlink_target(&RelPath::new(path).expect("valid"), target).expect("accepted alone");
    }
    let placed = place(&links).expect("placed inside");
    assert!(placed.contains_key("z/l"), "x/y/l really lands in z/: {placed:?}");
    assert!(resolve(&placed, "x/y/l/f").is_err());
}
