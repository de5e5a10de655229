//! The inputs the fuzzers (fuzz/, cargo-fuzz) found interesting, replayed as regression tests:
//! every one must be answered without a panic. The fuzzer itself does not run in CI.
use std::path::Path;

fn replay(dir: &str, f: fn(&[u8])) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut n = 0;
    for entry in std::fs::read_dir(&root).unwrap_or_else(|e| panic!("{}: {e}", root.display())) {
        let path = entry.unwrap().path();
        f(&std::fs::read(&path).unwrap());
        n += 1;
    }
    n
}

#[test]
fn import_corpus() {
    assert!(replay("fuzz/corpus/import", kvsim::fuzzing::import_and_evaluate) > 100);
}

#[test]
fn toml_corpus() {
    assert!(replay("fuzz/corpus/toml", kvsim::fuzzing::parse_tomls) > 100);
}

#[test]
fn command_line_corpus() {
    assert!(replay("fuzz/corpus/cli", kvsim::fuzzing::command_line) >= 20);
}

#[test]
fn scenario_corpus() {
    assert!(replay("fuzz/corpus/scenario", kvsim::fuzzing::scenario_file) >= 7);
}
