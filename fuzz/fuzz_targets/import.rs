//! Any bytes as a config.json: import must answer Ok or Err, never panic, and an imported model
//! must evaluate (or refuse) on a chip at a few contexts without panicking.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kvsim::fuzzing::import_and_evaluate(data);
});
