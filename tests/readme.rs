//! The README's worked example, so the numbers it shows stay true (vLLM at the latest release
//! kvsim models: utilisation 0.92, CUDA graphs subtracted).
use kvsim::catalog::{load_chip, load_model};
use kvsim::deploy::Deployment;
use kvsim::evaluate::evaluate;
use kvsim::precision::WeightFormat;
use kvsim::scenario::Scenario;

fn sessions(
    model: &str,
    chip: &str,
    tp: u64,
    pp: u64,
    weights: Option<WeightFormat>,
) -> (u64, u64) {
    let mut s = Scenario::new(
        load_model(model).unwrap(),
        load_chip(chip).unwrap(),
        32 * 1024,
    );
    s.deployment = Deployment {
        tp,
        pp,
        ..Deployment::default()
    };
    if let Some(w) = weights {
        s.plan.set_linear(w);
    }
    let r = evaluate(&s).unwrap();
    (r.sessions_per_deployment, r.kv_bytes_per_token_per_chip)
}

#[test]
fn deepseek_v3_vs_llama_70b_on_h100_and_910c() {
    assert_eq!(sessions("deepseek-v3", "h100-sxm", 1, 1, None), (0, 70_272));
    assert_eq!(sessions("deepseek-v3", "h100-sxm", 8, 1, None), (0, 70_272));
    assert_eq!(
        sessions("deepseek-v3", "h100-sxm", 8, 2, None),
        (26, 34_560)
    );
    // The 910C is two 64 GB dies, each its own rank: TP16 is 8 chips, and the replicated MLA
    // latent takes 70,272 B/token on each of the 16 ranks.
    assert_eq!(
        sessions("deepseek-v3", "ascend-910c", 8, 1, None),
        (0, 70_272)
    );
    assert_eq!(
        sessions("deepseek-v3", "ascend-910c", 16, 1, None),
        (7, 70_272)
    );
    assert_eq!(
        sessions(
            "deepseek-v3",
            "ascend-910c",
            16,
            1,
            Some(WeightFormat::Int8)
        ),
        (7, 70_272)
    );
    assert_eq!(
        sessions("deepseek-v3", "ascend-910c", 32, 1, None),
        (16, 70_272)
    );
    assert_eq!(
        sessions("llama-3.1-70b", "h100-sxm", 1, 1, None),
        (0, 327_680)
    );
    assert_eq!(
        sessions("llama-3.1-70b", "h100-sxm", 8, 1, None),
        (41, 40_960)
    );
    assert_eq!(
        sessions("llama-3.1-70b", "ascend-910c", 4, 1, None),
        (9, 81_920)
    );
    assert_eq!(
        sessions("llama-3.1-70b", "ascend-910c", 16, 1, None),
        (38, 40_960)
    );
}
