//! Exact parameter counts against what Hugging Face transformers instantiates for each config.
use kvsim::catalog::load_model;

fn params(id: &str) -> (u64, u64) {
    let m = load_model(id).unwrap();
    let p = m.params(false).unwrap();
    (p.total, p.active)
}

// Figures given in kvsim issue #2 (transformers' `sum(p.numel() for p in model.parameters())`).
#[test]
fn llama_3_1_8b() {
    assert_eq!(params("llama-3.1-8b").0, 8_030_261_248);
}

#[test]
fn mixtral_8x7b() {
    assert_eq!(params("mixtral-8x7b-v0.1").0, 46_702_792_704);
}

#[test]
fn deepseek_v3_without_mtp() {
    assert_eq!(params("deepseek-v3").0, 671_026_404_352);
}

#[test]
fn qwen3_30b_a3b() {
    assert_eq!(params("qwen3-30b-a3b").0, 30_532_122_624);
}

#[test]
fn print_all() {
    for id in kvsim::catalog::model_ids() {
        match load_model(id) {
            Ok(m) => {
                let p = m.params(false).unwrap();
                let pm = m.params(true).unwrap();
                eprintln!(
                    "{id:24} total {:>18} active {:>16} +mtp {:>18} | {} | {}",
                    p.total,
                    p.active,
                    pm.total,
                    m.attention_summary(),
                    m.ffn_summary()
                );
            }
            Err(e) => eprintln!("{id:24} ERR {e}"),
        }
    }
}
