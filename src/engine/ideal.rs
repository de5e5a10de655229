//! The physical ceiling: every byte but the weights holds KV, in pages of one token.

use super::{settle, ServingEngine, StageMemory};

/// No engine: all memory but the weights.
pub struct Ideal;

impl ServingEngine for Ideal {
    fn name(&self) -> &'static str {
        "ideal"
    }

    fn default_fraction(&self, _version: u32, _setup: &super::Setup) -> f64 {
        1.0
    }

    /// No headroom: a user's fraction does not apply.
    fn fraction_in_force(&self, _requested: f64) -> f64 {
        1.0
    }

    fn default_block_size(&self, _version: u32, _chip_default: u64) -> u64 {
        1
    }

    fn budget(&self, _version: u32, m: &StageMemory, total: u64, _fraction: f64) -> (u64, u64) {
        settle(total, m.weights)
    }

    /// Memory another process holds is not there to fill.
    fn other_processes(
        &self,
        _version: u32,
        _setup: &super::Setup,
    ) -> super::other_processes::OtherProcesses {
        super::other_processes::OtherProcesses::Lost { read: true }
    }

    fn charges_overheads(&self) -> bool {
        false
    }

    fn formula(&self, _version: u32, _f: f64) -> String {
        "ideal: total − weights".to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn budget_is_all_but_the_weights() {
        let m = StageMemory {
            weights: 30,
            activation: 5,
            non_torch: 1,
            cuda_graph: 1,
        };
        assert_eq!(Ideal.budget(0, &m, 100, 0.5), (70, 0));
        assert_eq!(Ideal.budget(0, &m, 20, 0.5), (0, 10));
    }
}
