//! Embeds every file of configs/models and configs/chips in the binary, so a new model or chip
//! is one new file and `kvsim` works with no files around it.
use std::fmt::Write;
use std::path::Path;

fn list(dir: &str, ext: &str) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .map(|p| {
            let id = p.file_stem().unwrap().to_string_lossy().into_owned();
            (
                id,
                std::fs::canonicalize(&p)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
            )
        })
        .collect();
    v.sort();
    v
}

fn main() {
    println!("cargo:rerun-if-changed=configs");
    let mut out = String::new();
    for (name, dir, ext) in [
        ("MODELS", "configs/models", "json"),
        ("CHIPS", "configs/chips", "toml"),
    ] {
        println!("cargo:rerun-if-changed={dir}");
        writeln!(out, "pub(crate) static {name}: &[(&str, &str)] = &[").unwrap();
        for (id, path) in list(dir, ext) {
            writeln!(out, "    ({id:?}, include_str!({path:?})),").unwrap();
        }
        writeln!(out, "];").unwrap();
    }
    let dest = Path::new(&std::env::var("OUT_DIR").unwrap()).join("catalog.rs");
    std::fs::write(dest, out).unwrap();
}
