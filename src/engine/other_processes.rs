//! Device memory other processes hold when the engine starts (`--other-processes`): a desktop,
//! the Windows host under WSL2, another server on the same GPU. Whether it costs the KV cache
//! depends on how the engine measures: from free memory (it is lost), or from a start-up
//! baseline (it costs nothing, though vLLM V1 then refuses to start when too little is free).

const GIB: u64 = 1 << 30;

/// How an engine's memory measurement sees what other processes hold
/// ([`super::ServingEngine::other_processes`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OtherProcesses {
    /// The budget is taken from free device memory, so what others hold is lost to it.
    /// `read`: the engine's code was read; false: kvsim's assumption (warned).
    Lost { read: bool },
    /// The engine's non-torch measurement has no baseline (device memory in use less torch's),
    /// so what others hold is charged as non-torch memory: the budget loses all of it.
    NonTorch,
    /// The budget is a fraction of the device total less what the engine added after a
    /// start-up snapshot: others cost nothing. With `refuses`, the engine stops when the free
    /// memory at that snapshot is below `⌈fraction × total⌉`; `read`: as for `Lost`.
    Baseline { refuses: bool, read: bool },
}

/// What a vLLM worker holds on its GPU at the init snapshot, besides other processes: the CUDA
/// context and torch's start-up state. vLLM 0.19.0 logs it at TP1 on an H100: "worker init memory
/// snapshot: … free_memory=78.68GiB, total_memory=79.19GiB, cuda_memory=0.51GiB, torch_memory=
/// 0.0GiB" (llm-d-planner's memory-validation sweep, github.com/llm-d-incubation/llm-d-planner @
/// d3121e0; tests/data/logs/vllm-0.19.0-v1-h100-llama31-8b-tp1.log). Taken for every GPU and
/// release. From v0.11 the snapshot follows the distributed set-up, and at TP ≥ 2 it also holds
/// vLLM's own communicator, custom all-reduce and symmetric memory (1.53 GiB at TP2, 1.55 at TP4
/// in the same sweep), which this leaves out: kvsim may say a TP ≥ 2 worker starts where it would
/// not by up to about 1 GiB.
pub const START_UP_BYTES: u64 = GIB * 51 / 100;

/// vLLM V1's start-up check (`vllm/v1/worker/gpu_worker.py::Worker.init_device` @ v0.9.2,
/// v0.10.1, v0.11.0; `vllm/v1/worker/utils.py::request_memory` @ v0.19.1): the free memory at
/// the snapshot must cover `⌈total × fraction⌉` ("Free memory on device … on startup is less than
/// desired GPU memory utilization"). Free is the device less `others` and the process's own
/// start-up footprint ([`START_UP_BYTES`]). Some((free, requested)) when it refuses.
pub fn refusal(total: u64, others: u64, fraction: f64) -> Option<(u64, u64)> {
    let requested = (total as f64 * fraction).ceil() as u64;
    let free = total.saturating_sub(others).saturating_sub(START_UP_BYTES);
    (free < requested).then_some((free, requested))
}

/// The largest memory fraction (two decimals, rounded down) vLLM V1 accepts with `others` held.
pub fn largest_fraction(total: u64, others: u64) -> f64 {
    let free = total.saturating_sub(others).saturating_sub(START_UP_BYTES);
    if total == 0 {
        return 0.0;
    }
    (free as f64 / total as f64 * 100.0).floor() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    // 24 GiB card at 0.9: requested ⌈21.6 GiB⌉; free 24 − 1.5 − 0.51 = 21.99 GiB starts, with
    // 2.5 GiB held 20.99 GiB does not.
    #[test]
    fn refusal_by_hand() {
        let total = 24 * GIB;
        assert_eq!(refusal(total, 3 * GIB / 2, 0.9), None);
        let (free, requested) = refusal(total, 5 * GIB / 2, 0.9).unwrap();
        assert_eq!(free, 24 * GIB - 5 * GIB / 2 - START_UP_BYTES);
        assert_eq!(requested, (24.0 * 0.9 * GIB as f64).ceil() as u64);
        // 20.99 / 24 = 0.8746 → 0.87 starts, 0.88 (21.12 GiB asked) does not.
        assert_eq!(largest_fraction(total, 5 * GIB / 2), 0.87);
        assert_eq!(refusal(total, 5 * GIB / 2, 0.87), None);
        assert!(refusal(total, 5 * GIB / 2, 0.88).is_some());
        assert_eq!(START_UP_BYTES, 547_608_330);
    }

    use proptest::prelude::*;
    proptest! {
        // The fraction it suggests always starts; more held never turns a refusal into a start.
        #[test]
        fn suggested_fraction_starts(total in 1u64..(1 << 40), others in 0u64..(1 << 40), more in 0u64..(1 << 30)) {
            let f = largest_fraction(total, others);
            prop_assert!(f <= 1.0);
            if f > 0.0 {
                prop_assert_eq!(refusal(total, others, f), None);
            }
            if refusal(total, others, 0.9).is_some() {
                prop_assert!(refusal(total, others.saturating_add(more), 0.9).is_some());
            }
        }
    }
}
