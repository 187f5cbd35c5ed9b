//! The library's layering, read from its own source: every module names
//! only modules of its own layer or below (no arrow points up), and no
//! files import each other in a circle. The layers are those of the Layout in `src/lib.rs`: the
//! pure protocol at the bottom, sockets and threads on top.
//!
//! What counts as an import is code that names `crate::<module>` or
//! `super::<module>`, outside comments and outside `#[cfg(test)]` blocks.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The library's top-level modules, bottom layer first. Within a layer,
/// modules may name each other (without a circle).
const LAYERS: &[&[&str]] = &[
    // Identifiers and the crate's errors.
    &["id", "error"],
    // Plain data and local services: randomness, time, the finger table,
    // one node's map, counters, the data directory that keeps the map.
    &["rng", "clock", "finger", "store", "stats", "disk"],
    // The wire: messages, frames, the handshake.
    &["message", "codec", "auth"],
    // Reaching other nodes, and a node's settings.
    &["transport", "peer", "config"],
    // The paper.
    &["chord"],
    // The key layer.
    &["dhash"],
    // One node, and its periodic thread.
    &["node", "maintenance"],
    // What clients say: the one command layer and its two protocols.
    &["command", "text", "resp", "client"],
    // Sockets and threads.
    &["server"],
];

fn layer_of(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|layer| layer.contains(&module))
        .unwrap_or_else(|| panic!("src/{module} is in no layer of this test; add it to LAYERS"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("a source directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A file's module path: `src/chord/ring.rs` is `["chord", "ring"]`,
/// `src/chord/mod.rs` is `["chord"]`, `src/lib.rs` is `[]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let relative = file.strip_prefix(src).expect("a file under src/");
    let mut parts: Vec<String> = relative
        .with_extension("")
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib")) {
        parts.pop();
    }
    parts
}

/// The code of a file, without comments and test modules.
fn code(text: &str) -> String {
    let before_tests = text.split("#[cfg(test)]").next().unwrap_or("");
    before_tests
        .lines()
        .map(|line| line.split("//").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module paths a file's code names through `crate::` or `super::`,
/// with the items of a `{...}` group each named.
fn named_paths(module: &[String], code: &str) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    for (start, root) in ["crate::", "super::"]
        .iter()
        .flat_map(|root| code.match_indices(root).map(move |(i, _)| (i, *root)))
    {
        let preceded = code[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
        if preceded {
            continue;
        }
        let rest = &code[start + root.len()..];
        let path: String = rest
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let mut base: Vec<String> = if root == "crate::" {
            Vec::new()
        } else {
            module[..module.len().saturating_sub(1)].to_vec()
        };
        base.extend(
            path.split("::")
                .filter(|p| !p.is_empty())
                .map(str::to_string),
        );
        let after = &rest[path.len()..];
        if let Some(group) = after.strip_prefix('{') {
            let group = group.split('}').next().unwrap_or("");
            for item in group.split(',').map(str::trim).filter(|i| !i.is_empty()) {
                let mut full = base.clone();
                full.extend(item.split("::").map(|p| p.trim().to_string()));
                paths.push(full);
            }
        }
        paths.push(base);
    }
    paths
}

/// The source files as modules, and which other modules each one's code
/// names (the longest module prefix of each path; a module's own
/// ancestors, whose re-exports it may use, do not count).
fn imports() -> BTreeMap<Vec<String>, BTreeSet<Vec<String>>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let modules: BTreeMap<Vec<String>, PathBuf> = files
        .into_iter()
        .map(|f| (module_of(&src, &f), f))
        .collect();
    let mut graph = BTreeMap::new();
    for (module, file) in &modules {
        let text = std::fs::read_to_string(file).expect("a source file");
        let mut named = BTreeSet::new();
        for path in named_paths(module, &code(&text)) {
            let Some(target) = (1..=path.len())
                .rev()
                .map(|n| path[..n].to_vec())
                .find(|prefix| modules.contains_key(prefix))
            else {
                continue;
            };
            if target != *module && !module.starts_with(&target) {
                named.insert(target);
            }
        }
        graph.insert(module.clone(), named);
    }
    graph
}

#[test]
fn every_module_names_only_its_own_layer_or_below() {
    let mut upward = Vec::new();
    for (module, named) in imports() {
        let Some(top) = module.first() else { continue };
        for target in named {
            let to = &target[0];
            if to != top && layer_of(to) > layer_of(top) {
                upward.push((module.join("/"), target.join("/")));
            }
        }
    }
    assert!(
        upward.is_empty(),
        "imports that point up a layer: {upward:?}"
    );
}

#[test]
fn no_files_import_each_other_in_a_circle() {
    let graph = imports();
    // Depth-first search, colouring each module: a module met again while
    // it is still on the path closes a circle.
    fn visit(
        module: &Vec<String>,
        graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        on_path: &mut Vec<Vec<String>>,
        done: &mut BTreeSet<Vec<String>>,
    ) -> Option<Vec<String>> {
        if done.contains(module) {
            return None;
        }
        if let Some(at) = on_path.iter().position(|m| m == module) {
            return Some(on_path[at..].iter().map(|m| m.join("/")).collect());
        }
        on_path.push(module.clone());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(circle) = visit(next, graph, on_path, done) {
                return Some(circle);
            }
        }
        on_path.pop();
        done.insert(module.clone());
        None
    }
    let mut done = BTreeSet::new();
    for module in graph.keys() {
        let circle = visit(module, &graph, &mut Vec::new(), &mut done);
        assert!(circle.is_none(), "a circle of imports: {circle:?}");
    }
}

/// The test reads what it should: ring.rs names the peer layer, and an
/// import written to point up would be seen.
#[test]
fn the_reader_sees_imports() {
    let graph = imports();
    let ring = graph
        .get(&vec!["chord".to_string(), "ring".to_string()])
        .expect("src/chord/ring.rs");
    assert!(ring.contains(&vec!["peer".to_string()]), "{ring:?}");
    let named = named_paths(
        &["id".to_string()],
        &code("use crate::server::{Server, svg::Point};\n// crate::node\n"),
    );
    assert!(named.contains(&vec!["server".to_string(), "Server".to_string()]));
    assert!(named.contains(&vec![
        "server".to_string(),
        "svg".to_string(),
        "Point".to_string()
    ]));
    assert!(!named.iter().any(|p| p.first().is_some_and(|m| m == "node")));
}
