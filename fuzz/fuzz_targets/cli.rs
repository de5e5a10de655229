//! Any bytes as a command line (arguments split at NUL and newline): Ok or Err, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    kvsim::fuzzing::command_line(data);
});
