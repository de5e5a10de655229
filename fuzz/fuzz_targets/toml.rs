//! Any bytes as a chip TOML or a sweep scenario file: Ok or Err, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kvsim::fuzzing::parse_tomls(data);
});
