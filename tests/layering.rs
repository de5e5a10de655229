//! The layering of docs/ARCHITECTURE.md, checked: no import cycle between the top-level modules of
//! the library, and no library module reaching into the command-line front end.
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level module of a source file (`src/model/hf/mod.rs` → `model`).
fn module_of(path: &Path) -> Option<String> {
    let rel = path
        .strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")).join("src"))
        .ok()?;
    let first = rel
        .components()
        .next()?
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    Some(first.trim_end_matches(".rs").to_string())
}

/// `crate::NAME` references of the non-test code (test modules in `tests.rs` files and after
/// `#[cfg(test)]` are left out), comments stripped.
fn references(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    let mut out = BTreeSet::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or("");
        let mut rest = line;
        while let Some(i) = rest.find("crate::") {
            rest = &rest[i + 7..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "rs")
                && p.file_name().is_some_and(|n| n != "tests.rs")
            {
                let m = module_of(&p).unwrap();
                if m == "lib" || m == "main" {
                    continue;
                }
                let refs = references(&std::fs::read_to_string(&p).unwrap());
                g.entry(m.clone())
                    .or_default()
                    .extend(refs.into_iter().filter(|r| *r != m));
            }
        }
    }
    g
}

#[test]
fn no_library_module_imports_the_cli() {
    for (m, refs) in graph() {
        // `fuzzing` drives the command line end to end by design (the cli fuzz target).
        if m != "cli" && m != "fuzzing" {
            assert!(!refs.contains("cli"), "{m} imports cli");
        }
    }
}

#[test]
fn no_import_cycles() {
    let g = graph();
    for start in g.keys() {
        // Depth-first search for a path back to `start`.
        let mut seen = BTreeSet::new();
        let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
        while let Some((m, path)) = stack.pop() {
            for next in g.get(&m).into_iter().flatten() {
                if next == start {
                    panic!("import cycle: {} -> {start}", path.join(" -> "));
                }
                if seen.insert(next.clone()) {
                    let mut p = path.clone();
                    p.push(next.clone());
                    stack.push((next.clone(), p));
                }
            }
        }
    }
    // The check sees real edges: evaluate uses engine, engine does not use evaluate.
    assert!(g["evaluate"].contains("engine"));
    assert!(!g["engine"].contains("evaluate"));
}
