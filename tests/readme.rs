//! The README's figures stay true: its worked example (vLLM at the latest release kvsim models:
//! utilisation 0.92, CUDA graphs subtracted), its claims table and its `$ kvsim` output blocks.
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
        (25, 34_560)
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
        (42, 40_960)
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

/// Numbers in `text` followed (after optional spaces) by `×` or `%`, with their decimals.
fn quoted_figures(text: &str) -> Vec<(f64, usize)> {
    let re = regex::Regex::new(r"(\d+(?:\.(\d+))?) ?(?:×|%)").unwrap();
    re.captures_iter(text)
        .map(|c| {
            let decimals = c.get(2).map_or(0, |d| d.as_str().len());
            (c[1].parse().unwrap(), decimals)
        })
        .collect()
}

/// The README's claims table quotes `kvsim claims`: every figure its kvsim column gives in × or %
/// is one the command prints, at the README's precision (the table drifted twice before this
/// test: 0.43× for 0.44×, 3.2× for 3.0×).
#[test]
fn readme_claims_table_quotes_the_command() {
    let readme = include_str!("../README.md");
    let start = readme
        .find("What `kvsim claims` finds")
        .expect("README: the claims table's lead-in");
    let rows: Vec<&str> = readme[start..]
        .lines()
        .skip_while(|l| !l.starts_with("| claim"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .collect();
    assert!(rows.len() >= 8, "{rows:?}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kvsim"))
        .arg("claims")
        .output()
        .unwrap();
    assert!(out.status.success());
    let printed: Vec<f64> = regex::Regex::new(r"\d+(?:\.\d+)?")
        .unwrap()
        .find_iter(&String::from_utf8(out.stdout).unwrap())
        .map(|m| m.as_str().parse().unwrap())
        .collect();
    let round = |x: f64, d: usize| (x * 10f64.powi(d as i32)).round();
    for row in rows {
        let kvsim_column = row.split('|').nth(3).unwrap();
        for (value, decimals) in quoted_figures(kvsim_column) {
            assert!(
                printed
                    .iter()
                    .any(|p| round(*p, decimals) == round(value, decimals)),
                "README claims row quotes {value} (to {decimals} decimals), which `kvsim claims` does not print: {row}"
            );
        }
    }
}

/// Every `$ kvsim …` block in the README shows lines the command prints: each line after the
/// command (continuation lines joined) appears verbatim in its output.
#[test]
fn readme_command_blocks_print_what_they_show() {
    let readme = include_str!("../README.md");
    let mut blocks = 0;
    let mut lines = readme.lines().peekable();
    while let Some(line) = lines.next() {
        let Some(first) = line.strip_prefix("$ kvsim ") else {
            continue;
        };
        let mut command = first.trim_end_matches('\\').to_string();
        let mut continued = line.ends_with('\\');
        while continued {
            let next = lines
                .next()
                .expect("README: a command block ends inside a command");
            command.push(' ');
            command.push_str(next.trim().trim_end_matches('\\'));
            continued = next.ends_with('\\');
        }
        let shown: Vec<&str> =
            std::iter::from_fn(|| lines.next_if(|l| !l.starts_with("```"))).collect();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kvsim"))
            .args(command.split_whitespace())
            .output()
            .unwrap();
        assert!(out.status.success(), "README: `kvsim {command}` failed");
        let printed = String::from_utf8(out.stdout).unwrap();
        for l in shown {
            assert!(
                printed.lines().any(|p| p == l),
                "README: `kvsim {command}` shows {l:?}, which it does not print:\n{printed}"
            );
        }
        blocks += 1;
    }
    assert!(blocks >= 1, "README: no `$ kvsim` block found");
}

// The README's opening counts the built-in models and chips: they stay the catalog's.
#[test]
fn readme_counts_the_catalog() {
    let readme = std::fs::read_to_string("README.md").unwrap();
    let models = kvsim::catalog::model_ids().count();
    let chips = kvsim::catalog::chip_ids().count();
    assert!(
        readme.contains(&format!("one of the {models} built in")),
        "README: the model count is not {models}"
    );
    assert!(
        readme.contains(&format!("({chips} built in:")),
        "README: the chip count is not {chips}"
    );
}
