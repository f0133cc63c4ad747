//! The crate's layers, kept: every `crate::module` path in `src/` names a module of a lower
//! layer than the file's own (or its own module). The layers are those of the crate docs
//! (`src/lib.rs`); a new top-level module must be given its layer here.

use std::path::{Path, PathBuf};

/// Each top-level module and its layer, lowest first. Modules of one layer do not use each other.
const LAYERS: &[(&str, u32)] = &[
    ("units", 0),
    ("rng", 0),
    ("atomic_file", 0),
    ("crypto", 1),
    ("photonics", 1),
    ("lifecycle", 2),
    ("postprocess", 2),
    ("config", 3),
    ("link_scenario", 4),
    ("mesh", 5),
    ("sweep", 6),
    ("serve", 6),
    ("plot", 7),
    ("error", 8),
    ("report", 9),
    ("regress", 9),
    ("api", 9),
    ("cli", 10),
];

/// The top-level module a `crate::NAME` path names: `crate::Error` and `crate::Result` are the
/// re-exports of `error`.
fn module_of(name: &str) -> &str {
    if matches!(name, "Error" | "Result") { "error" } else { name }
}

fn layer(module: &str) -> Option<u32> {
    LAYERS.iter().find(|(m, _)| *m == module).map(|&(_, l)| l)
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules a line of code names through `crate::` (also inside `use crate::{a, b}`).
fn crate_paths(line: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let end = group.find('}').unwrap_or(group.len());
            for item in group[..end].split(',') {
                let name: String = item.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                names.push(name);
            }
        } else {
            names.push(rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect());
        }
    }
    names
}

/// Every upward or sideways `crate::` path in `src/`, as `file:line: module (layer) uses
/// module (layer)`.
fn violations() -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut found = Vec::new();
    for file in files {
        let relative = file.strip_prefix(&src).unwrap();
        let top = relative.components().next().unwrap().as_os_str().to_string_lossy();
        let top = top.trim_end_matches(".rs").to_string();
        if top == "lib" || top == "main" {
            continue;
        }
        let own = layer(&top).unwrap_or_else(|| panic!("src/{top}: a top-level module without a layer in LAYERS"));
        let text = std::fs::read_to_string(&file).unwrap();
        for (n, line) in text.lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for used in crate_paths(line) {
                let used_module = module_of(&used);
                let Some(theirs) = layer(used_module) else { continue };
                if used_module != top && theirs >= own {
                    found.push(format!(
                        "src/{}:{}: {top} (layer {own}) uses {used} (layer {theirs})",
                        relative.display(),
                        n + 1
                    ));
                }
            }
        }
    }
    found
}

#[test]
fn every_module_imports_only_from_the_layers_below_it() {
    let found = violations();
    assert!(found.is_empty(), "imports that point up or sideways a layer:\n{}", found.join("\n"));
}

#[test]
fn the_check_sees_a_grouped_use_and_an_inline_path() {
    assert_eq!(crate_paths("use crate::{Error, mesh::MeshError};"), ["Error", "mesh"]);
    assert_eq!(crate_paths("    let x = crate::sweep::run(crate::units::Km(1.0));"), ["sweep", "units"]);
}
