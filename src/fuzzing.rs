//! Entry points shared by the cargo-fuzz targets (fuzz/) and the corpus regression test: each
//! takes arbitrary bytes and must return without panicking, whatever they are.

use crate::catalog::load_chip;
use crate::evaluate::evaluate;
use crate::scenario::Scenario;

/// Imports `data` as a config.json and, if it imports, evaluates it on an H100 and on a deployment.
pub fn import_and_evaluate(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let Ok(model) = crate::model::hf::import("fuzz.json", "fuzz", &text) else {
        return;
    };
    let _ = model.params(true);
    let Ok(chip) = load_chip("h100-sxm") else {
        return;
    };
    for (context, tp) in [(1, 1), (4096, 1), (1 << 20, 8)] {
        let mut s = Scenario::new(model.clone(), chip.clone(), context);
        s.deployment.tp = tp;
        s.batch = Some(16);
        let _ = evaluate(&s);
    }
}

/// Parses `data` as a chip TOML and as a sweep scenario file.
pub fn parse_tomls(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    if let Ok(chip) = crate::chip::Chip::from_toml("fuzz.toml", &text) {
        let _ = chip.memory_bytes();
        let _ = chip.peak_tflops("fp4");
    }
    let _ = crate::scenario::file::parse("fuzz.toml", &text);
}
