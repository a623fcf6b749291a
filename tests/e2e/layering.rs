//! The layering rule, checked from the files themselves (docs/ARCHITECTURE.md says why):
//!
//! - the engine depends, even transitively, on none of tonic, prost, clap, dialoguer or
//!   indicatif (read from Cargo.lock);
//! - the top package (agent, config, cli) does not depend on the generated protobuf code,
//!   so no protobuf type can be named there (only the tests may, as a dev-dependency);
//! - within every crate, no two modules import each other, directly or through others
//!   (a child using its parent's items is the parent's own implementation, not a circle).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const FORBIDDEN_IN_ENGINE: [&str; 5] = ["tonic", "prost", "clap", "dialoguer", "indicatif"];

fn read_toml(path: &Path) -> toml::Table {
    let text =
        std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    text.parse().unwrap_or_else(|e| panic!("parse {}: {e}", path.display()))
}

/// Every package the lock file records, with the names of what it depends on.
fn lock_graph() -> BTreeMap<String, Vec<String>> {
    let lock = read_toml(&Path::new(ROOT).join("Cargo.lock"));
    let packages = lock.get("package").and_then(|p| p.as_array()).expect("packages in Cargo.lock");
    let mut graph: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for package in packages {
        let name = package.get("name").and_then(|n| n.as_str()).expect("a package name");
        let deps = package
            .get("dependencies")
            .and_then(|d| d.as_array())
            .map(|d| {
                d.iter()
                    .filter_map(|v| v.as_str())
                    .filter_map(|v| v.split(' ').next())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        graph.entry(name.to_string()).or_default().extend::<Vec<String>>(deps);
    }
    graph
}

fn transitive(graph: &BTreeMap<String, Vec<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_string()];
    while let Some(name) = todo.pop() {
        for dep in graph.get(&name).into_iter().flatten() {
            if seen.insert(dep.clone()) {
                todo.push(dep.clone());
            }
        }
    }
    seen
}

#[test]
fn the_engine_depends_on_no_network_or_terminal_crate() {
    let deps = transitive(&lock_graph(), "confsync-engine");
    assert!(!deps.is_empty(), "the engine's dependencies were not found in Cargo.lock");
    let found: Vec<&String> = deps
        .iter()
        .filter(|d| {
            FORBIDDEN_IN_ENGINE.iter().any(|f| d.as_str() == *f || d.starts_with(&format!("{f}-")))
        })
        .collect();
    assert!(found.is_empty(), "confsync-engine depends on {found:?}; keep the engine free of them");
}

#[test]
fn the_agent_and_the_command_line_cannot_name_protobuf_types() {
    let manifest = read_toml(&Path::new(ROOT).join("Cargo.toml"));
    let deps = manifest.get("dependencies").and_then(|d| d.as_table()).expect("[dependencies]");
    for generated in ["confsync-proto", "prost", "tonic", "tonic-prost"] {
        assert!(
            !deps.contains_key(generated),
            "the top package depends on {generated}: protobuf must stay inside confsync-wire"
        );
    }
    // The compiler enforces the rest; this only makes the failure read as a rule.
    let hits = grep(&Path::new(ROOT).join("src"), "v1::");
    assert!(hits.is_empty(), "protobuf paths in src/: {hits:?}");
}

#[test]
fn no_two_modules_of_a_crate_import_each_other() {
    let mut crates = vec![PathBuf::from(ROOT).join("src")];
    for entry in std::fs::read_dir(Path::new(ROOT).join("crates")).expect("crates/").flatten() {
        crates.push(entry.path().join("src"));
    }
    for src in crates {
        let modules = modules(&src);
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (module, file) in &modules {
            let text = std::fs::read_to_string(file).expect("read a source file");
            for target in imports(module, &text, &modules) {
                edges.entry(module.clone()).or_default().insert(target);
            }
        }
        if let Some(cycle) = find_cycle(&edges) {
            panic!(
                "modules of {} import each other in a circle: {}",
                src.display(),
                cycle.join(" -> ")
            );
        }
    }
}

/// Every module of a crate by path (`agent::sync`), with its file.
fn modules(src: &Path) -> BTreeMap<String, PathBuf> {
    let mut out = BTreeMap::new();
    for entry in walk(src) {
        let rel = entry.strip_prefix(src).expect("inside src").with_extension("");
        let mut parts: Vec<String> =
            rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned()).collect();
        if parts.last().is_some_and(|p| p == "mod" || p == "lib" || p == "main") {
            parts.pop();
        }
        out.insert(parts.join("::"), entry);
    }
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).expect("list a source folder").flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The modules `module` names through `crate::` or `super::` paths, each the deepest one
/// that exists; its own ancestors and descendants are left out.
fn imports(module: &str, text: &str, modules: &BTreeMap<String, PathBuf>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let code: String =
        text.lines().filter(|l| !l.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n");
    for (at, _) in code.match_indices("crate::").chain(code.match_indices("super::")) {
        let before = code[..at].chars().last();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        for path in expanded(&code[at..]) {
            if let Some(target) = target_of(module, &path, modules) {
                out.insert(target);
            }
        }
    }
    out
}

/// The paths a `use` (or any path) starting at the beginning of `text` names, with its
/// grouped imports expanded: `crate::cli::{flow, render::{a, b}}` is `crate::cli::flow`,
/// `crate::cli::render::a` and `crate::cli::render::b`.
fn expanded(text: &str) -> Vec<String> {
    let head: String =
        text.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
    let rest = &text[head.len()..];
    if !head.ends_with("::") || !rest.starts_with('{') {
        return vec![head];
    }
    // The group, up to its matching brace, split at its top-level commas.
    let mut depth = 0;
    let mut items = vec![String::new()];
    for c in rest.chars() {
        match c {
            '{' => {
                depth += 1;
                if depth == 1 {
                    continue;
                }
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => {
                items.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(item) = items.last_mut() {
            item.push(c);
        }
    }
    items
        .iter()
        // `name as alias`: the name is what is imported.
        .map(|item| {
            item.split(" as ").next().unwrap_or_default().split_whitespace().collect::<String>()
        })
        .filter(|item| !item.is_empty())
        .flat_map(|item| match item.as_str() {
            "self" => vec![head.trim_end_matches("::").to_string()],
            _ => expanded(&format!("{head}{item}")),
        })
        .collect()
}

/// The module a path names from `module` (the deepest that exists), unless it is one of
/// its own ancestors or descendants.
fn target_of(module: &str, path: &str, modules: &BTreeMap<String, PathBuf>) -> Option<String> {
    {
        let mut parts: Vec<&str> = path.split("::").filter(|p| !p.is_empty()).collect();
        let mut base: Vec<&str> =
            if module.is_empty() { Vec::new() } else { module.split("::").collect() };
        match parts.first() {
            Some(&"crate") => {
                base.clear();
                parts.remove(0);
            }
            _ => {
                while parts.first() == Some(&"super") {
                    parts.remove(0);
                    base.pop();
                }
            }
        }
        base.extend(parts);
        while !base.is_empty() && !modules.contains_key(&base.join("::")) {
            base.pop();
        }
        let target = base.join("::");
        let related = |a: &str, b: &str| a == b || b.is_empty() || a.starts_with(&format!("{b}::"));
        (!related(module, &target) && !related(&target, module)).then_some(target)
    }
}

fn find_cycle(edges: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        edges: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|n| n == node) {
            let mut cycle = stack[i..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        stack.push(node.to_string());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    edges.keys().find_map(|node| visit(node, edges, &mut Vec::new(), &mut done))
}

fn grep(dir: &Path, needle: &str) -> Vec<String> {
    walk(dir)
        .into_iter()
        .flat_map(|file| {
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            text.lines()
                .enumerate()
                .filter(|(_, l)| l.contains(needle))
                .map(|(i, l)| format!("{}:{}: {}", file.display(), i + 1, l.trim()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn the_circle_check_finds_a_circle() {
    let modules: BTreeMap<String, PathBuf> =
        ["", "a", "b", "c"].iter().map(|m| (m.to_string(), PathBuf::new())).collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (from, text) in
        [("a", "use crate::b::x;"), ("b", "use super::c::y;"), ("c", "crate::a::z()")]
    {
        edges.insert(from.to_string(), imports(from, text, &modules));
    }
    let cycle = find_cycle(&edges).expect("a -> b -> c -> a");
    assert_eq!(cycle.len(), 4, "{cycle:?}");
    edges.insert("c".into(), BTreeSet::new());
    assert!(find_cycle(&edges).is_none());
}

#[test]
fn grouped_imports_are_seen_as_what_they_import() {
    let modules: BTreeMap<String, PathBuf> = ["", "cli", "cli::flow", "cli::wizard", "cli::render"]
        .iter()
        .map(|m| (m.to_string(), PathBuf::new()))
        .collect();
    let text = "use crate::cli::{ExitCode, flow, render::{a, b}};\nuse crate::{cli::wizard};";
    let seen = imports("agent", text, &modules);
    assert_eq!(
        seen,
        ["cli", "cli::flow", "cli::render", "cli::wizard"].iter().map(|m| m.to_string()).collect(),
        "{seen:?}"
    );
}
