//! Any bytes as a sweep scenario file, run end to end: Ok or Err, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kvsim::fuzzing::scenario_file(data);
});
