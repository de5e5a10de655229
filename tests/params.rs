//! Exact parameter counts against what Hugging Face transformers instantiates for each config,
//! and weight bytes with scales against figures computed by hand from the configs.
use kvsim::catalog::{load_model, model_ids};
use kvsim::error::Error;
use kvsim::precision::TensorGroup;

fn params(id: &str) -> (u64, u64) {
    let m = load_model(id).unwrap();
    let p = m.params(false).unwrap();
    (p.total, p.active)
}

// Figures given in kvsim issue #2 (transformers' `sum(p.numel() for p in model.parameters())`).
#[test]
fn llama_3_1_8b() {
    assert_eq!(params("llama-3.1-8b"), (8_030_261_248, 8_030_261_248));
}

#[test]
fn mixtral_8x7b() {
    // Active: 32 × (attention 41,943,040 + router 32,768 + 2 experts × 176,160,768 + norms 8,192)
    // + embeddings 262,144,000 + final norm 4,096 = 12,879,925,248.
    assert_eq!(params("mixtral-8x7b"), (46_702_792_704, 12_879_925_248));
}

#[test]
fn deepseek_v3_without_mtp() {
    assert_eq!(params("deepseek-v3").0, 671_026_404_352);
}

#[test]
fn deepseek_v3_mtp_layer_adds_one_moe_layer_and_its_projection() {
    let m = load_model("deepseek-v3").unwrap();
    let with = m.params(true).unwrap().total;
    // One MoE decoder layer of DeepSeek-V3 = 11,507,286,016 + eh_proj 7168·14336 + 3 norms of 7168.
    let moe_layer: u64 = 187_107_328 + 256 * 7168 + 257 * 3 * 7168 * 2048 + 2 * 7168;
    assert_eq!(moe_layer, 11_507_286_016);
    assert_eq!(with - 671_026_404_352, moe_layer + 7168 * 14336 + 3 * 7168);
}

#[test]
fn qwen3_30b_a3b() {
    assert_eq!(params("qwen3-30b-a3b").0, 30_532_122_624);
}

// Qwen2.5-72B-Instruct: the safetensors census in models.json sums to 72,706,203,648 elements,
// which includes the QKV biases kvsim adds for Qwen2.
#[test]
fn qwen2_5_72b_matches_checkpoint_census() {
    assert_eq!(params("qwen2.5-72b-instruct").0, 72_706_203_648);
}

// gpt-oss model card: 116.83B total (120b) and 20.91B (20b); active 5.13B / 3.61B exclude the
// 0.58B unembedding-sized embedding table, which kvsim counts (it is read per token).
#[test]
fn gpt_oss_totals_match_model_card() {
    let (t120, a120) = params("gpt-oss-120b");
    let (t20, a20) = params("gpt-oss-20b");
    assert_eq!(t120 / 10_000_000, 11_682);
    assert_eq!(t20 / 10_000_000, 2_091);
    let emb = 201_088 * 2880;
    assert_eq!((a120 - emb) / 10_000_000, 513);
    assert_eq!((a20 - emb) / 10_000_000, 360);
}

// Hand computation (Python, from the config): FP8 128×128 blocks on every linear layer with one fp32
// scale per block, router and embeddings BF16: 673,150,552,416 bytes.
#[test]
fn deepseek_v3_fp8_checkpoint_bytes() {
    let m = load_model("deepseek-v3").unwrap();
    let w = m.weight_bytes(&m.default_plan, false).unwrap();
    // 11,416,215,392 B of FP8 projections + 61 × (1536 + 512) BF16 q_a/kv_a norm weights.
    assert_eq!(w[TensorGroup::Attention], 11_416_215_392 + 61 * 2048 * 2);
    assert_eq!(w[TensorGroup::DenseFfn], 1_189_375_488);
    assert_eq!(w[TensorGroup::RoutedExperts], 654_068_416_512);
    assert_eq!(w[TensorGroup::SharedExperts], 2_554_954_752);
    assert_eq!(w[TensorGroup::Router], 212_860_928);
    assert_eq!(w[TensorGroup::Embeddings], 3_706_716_160);
    assert_eq!(w.total(), 673_150_552_416);
}

// gpt-oss-120b: MXFP4 experts (4 bits + one E8M0 byte per 32) and BF16 elsewhere: 65,248,815,744
// bytes = 60.77 GiB, the "~61 GiB" checkpoint OpenAI describes as fitting one 80 GB GPU.
#[test]
fn gpt_oss_120b_mxfp4_checkpoint_bytes() {
    let m = load_model("gpt-oss-120b").unwrap();
    assert_eq!(
        m.weight_bytes(&m.default_plan, false).unwrap().total(),
        65_248_815_744
    );
}

#[test]
fn every_catalog_model_loads_or_says_what_is_missing() {
    let mut loaded = 0;
    for id in model_ids() {
        match load_model(id) {
            Ok(m) => {
                let p = m.params(false).unwrap();
                assert!(p.active <= p.total && p.total > 0, "{id}");
                loaded += 1;
            }
            Err(Error::NotModelled { what, .. }) => {
                assert!(what.contains("ForCausalLM"), "{id}: {what}")
            }
            Err(Error::Field { field, found, .. }) => {
                // Only values the reference left unverified (null) may stop a catalog model.
                assert!(found.contains("null"), "{id}: {field} {found}");
            }
            Err(e) => panic!("{id}: {e}"),
        }
    }
    assert!(loaded >= 24, "only {loaded} catalog models load");
}
