//! Accelerator specs, read from kvsim chip TOML (configs/chips/*.toml).

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Scale-up interconnect.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Interconnect {
    pub name: String,
    pub bandwidth_gbps: Option<f64>,
}

/// One accelerator.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chip {
    /// Shared with every report on the chip, as `name`.
    pub id: std::sync::Arc<str>,
    pub name: std::sync::Arc<str>,
    pub vendor: String,
    pub launch_year: Option<u32>,
    /// Memory as sold ("80 GB"): the nominal size of binary-sized memory parts.
    pub memory_gb: Option<f64>,
    /// The vendor states the figure in GiB (TPU docs); kept for the record.
    #[serde(default)]
    pub memory_is_gib: bool,
    /// Memory the runtime reports as total for one rank (what vLLM budgets from), in GiB.
    pub reported_memory_gib: Option<f64>,
    /// Where the memory figure comes from: the public log or page that reports it, or why the
    /// spec-sheet figure stands (docs/device-memory.md).
    pub memory_source: Option<String>,
    /// Devices the runtime sees per chip, each its own rank with its own share of the memory
    /// (Ascend 910C: two dies of 64 GB; default 1). Memory figures above are for the chip;
    /// `reported_memory_gib` is per rank.
    pub ranks_per_chip: Option<u64>,
    pub memory_bandwidth_tbps: Option<f64>,
    pub tdp_w: Option<f64>,
    /// NVIDIA's CUDA compute capability ("9.0" for Hopper), which picks the engines' kernels
    /// (developer.nvidia.com/cuda-gpus).
    pub compute_capability: Option<String>,
    /// Serving engines' default KV block size on this chip (Ascend: 128).
    pub default_block_size: Option<u64>,
    /// The SoC as its runtime names it, where an engine keys a rule on it ("Ascend310P":
    /// vLLM-Ascend's 310P worker).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soc: Option<String>,
    /// Streaming multiprocessors (torch's `multi_processor_count`), which size vLLM's Triton
    /// top-k/top-p scratch buffer; absent where no vendor figure was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sm_count: Option<u64>,
    #[serde(default)]
    pub native_formats: Vec<String>,
    /// Dense peak per format, TFLOPS (TOPS for integers).
    #[serde(default)]
    pub dense_tflops: BTreeMap<String, f64>,
    pub interconnect: Option<Interconnect>,
    /// How NCCL connects these GPUs inside a node (channels, peer access, NVLink SHARP), which
    /// sizes vLLM's non-torch memory at TP ≥ 2; absent: kvsim's TP-proportional estimate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nccl: Option<crate::engine::overhead::NcclLinks>,
    /// Where the `[nccl]` figures come from (published NCCL logs, or why they are assumed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nccl_source: Option<String>,
    pub price_per_hour_usd: Option<f64>,
    pub confidence: Option<String>,
    pub notes: Option<String>,
    #[serde(default)]
    pub sources: Vec<String>,
    /// The file the chip was read from (a catalog path or the user's), for messages.
    #[serde(skip)]
    pub file: String,
}

/// "9.0" → (9, 0).
fn parse_capability(s: &str) -> Option<(u32, u32)> {
    // The common "D.D" / "DD.D" without the general parser (every evaluation asks).
    let digit = |c: u8| c.is_ascii_digit().then(|| u32::from(c - b'0'));
    let fast = match *s.as_bytes() {
        [a, b'.', b] => digit(a).zip(digit(b)),
        [a1, a2, b'.', b] => digit(a1)
            .zip(digit(a2))
            .map(|(x, y)| x * 10 + y)
            .zip(digit(b)),
        _ => None,
    };
    if fast.is_some() {
        return fast;
    }
    let (a, b) = s.trim().split_once('.')?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// Share of the nominal memory a device reports as its total (H100 80GB: 79.19 / 80).
pub const SPEC_SHEET_REPORTED_SHARE: f64 = 79.19 / 80.0;

/// Where a chip's memory figure comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemorySource {
    /// The device-reported total (e.g. H100 80GB: 79.19 GiB).
    DeviceReported,
    /// The spec-sheet figure: the runtime will report somewhat less.
    SpecSheet,
    /// Given on the command line.
    User,
}

impl Chip {
    /// Parses and validates a chip TOML file.
    pub fn from_toml(file: &str, text: &str) -> Result<Chip> {
        let mut chip: Chip = toml::from_str(text).map_err(|e| Error::Syntax {
            file: file.to_string(),
            reason: e.to_string().trim().replace('\n', " "),
        })?;
        chip.validate(file)?;
        chip.file = file.to_string();
        // Names reach terminals: a control character in a user's file must not.
        for s in [&mut chip.id, &mut chip.name] {
            *s = crate::text::escape_name(s).into();
        }
        chip.vendor = crate::text::escape_name(&chip.vendor);
        Ok(chip)
    }

    fn validate(&self, file: &str) -> Result<()> {
        let positive = |field: &str, v: Option<f64>| -> Result<()> {
            match v {
                Some(x) if !x.is_finite() || x <= 0.0 || x > 1e9 => {
                    Err(Error::field(file, field, x, "a positive, finite number"))
                }
                _ => Ok(()),
            }
        };
        positive("memory_gb", self.memory_gb)?;
        positive("reported_memory_gib", self.reported_memory_gib)?;
        positive("memory_bandwidth_tbps", self.memory_bandwidth_tbps)?;
        positive("tdp_w", self.tdp_w)?;
        positive("price_per_hour_usd", self.price_per_hour_usd)?;
        for (k, v) in &self.dense_tflops {
            positive(&format!("dense_tflops.{k}"), Some(*v))?;
        }
        if matches!(self.ranks_per_chip, Some(0)) || self.ranks_per_chip.is_some_and(|r| r > 64) {
            return Err(Error::field(
                file,
                "ranks_per_chip",
                self.ranks_per_chip.unwrap_or(0),
                "a whole number of devices per chip, 1 to 64",
            ));
        }
        if let Some(cc) = &self.compute_capability {
            if parse_capability(cc).is_none() {
                return Err(Error::field(
                    file,
                    "compute_capability",
                    cc,
                    "MAJOR.MINOR, e.g. \"9.0\"",
                ));
            }
        }
        if self.default_block_size == Some(0) {
            return Err(Error::field(
                file,
                "default_block_size",
                0,
                "a positive number of tokens",
            ));
        }
        if let Some(soc) = &self.soc {
            if !is_ascend_310p(soc) {
                return Err(Error::field(
                    file,
                    "soc",
                    soc,
                    "a SoC an engine keys a rule on: \"Ascend310P\" (also Ascend310P1, \
                     Ascend310P3, as torch_npu names the device); leave it out otherwise",
                ));
            }
        }
        if self.id.is_empty() {
            return Err(Error::field(
                file,
                "id",
                "an empty string",
                "a chip id such as h100-sxm",
            ));
        }
        Ok(())
    }

    /// Whether the chip is an Ascend 310P (its `soc`), where vLLM-Ascend runs its own worker.
    pub fn is_ascend_310p(&self) -> bool {
        self.soc.as_deref().is_some_and(is_ascend_310p)
    }

    /// The CUDA compute capability as (major, minor), for NVIDIA chips that state it.
    pub fn cuda_capability(&self) -> Option<(u32, u32)> {
        self.compute_capability
            .as_deref()
            .and_then(parse_capability)
    }

    /// Ranks (runtime devices) per chip.
    pub fn ranks(&self) -> u64 {
        self.ranks_per_chip.unwrap_or(1).max(1)
    }

    /// Chips that `ranks` ranks occupy (a partly used chip counts whole).
    pub fn chips_for_ranks(&self, ranks: u64) -> u64 {
        ranks.div_ceil(self.ranks())
    }

    /// Total memory of one rank in bytes and where the figure comes from; None when the spec is
    /// unknown. A chip of several ranks splits its nominal memory evenly between them.
    pub fn memory_bytes(&self) -> Option<(u64, MemorySource)> {
        if let Some(g) = self.reported_memory_gib {
            return Some((
                (g * crate::units::GIB).round() as u64,
                MemorySource::DeviceReported,
            ));
        }
        // Memory parts come in binary sizes: an "80 GB" H100 carries 80 GiB of HBM and reports
        // 79.19 GiB (98.99%), a "141 GB" H200 reports about 140 GiB. Without a reported figure,
        // kvsim takes the nominal size as GiB and applies the H100's reported share.
        self.memory_gb.map(|g| {
            let bytes = g / self.ranks() as f64 * crate::units::GIB * SPEC_SHEET_REPORTED_SHARE;
            (bytes.round() as u64, MemorySource::SpecSheet)
        })
    }

    /// Dense peak (TFLOPS) for matmuls in `class` ("fp4", "fp8", "int8", "bf16", "fp16", "fp32",
    /// "int4" = weight-only, computed in BF16): the first format of its fallback chain the chip has
    /// a figure for — a format the chip lacks runs at the next supported one (FP4 on H100 at the
    /// FP8 rate, FP8 on A100 at BF16). Returns (TFLOPS, the format used, a note when assumed).
    pub fn peak_tflops(&self, class: &str) -> Option<(f64, &'static str, Option<String>)> {
        let chain: &[&str] = match class {
            "fp4" => &["fp4", "fp8", "bf16", "fp16"],
            "fp8" => &["fp8", "bf16", "fp16"],
            "int8" => &["int8", "bf16", "fp16"],
            "fp32" => &["fp32", "tf32"],
            "fp16" => &["fp16", "bf16"],
            _ => &["bf16", "fp16"],
        };
        for f in chain {
            if let Some(&t) = self.dense_tflops.get(*f) {
                let note =
                    (*f != class).then(|| format!("{class} runs at the {f} rate on {}", self.id));
                return Some((t, f, note));
            }
        }
        // Announced chips (Ascend 950/960/970) give FP8 and FP4 only: BF16 runs at half FP8.
        let fp8 = self.dense_tflops.get("fp8")?;
        Some((
            fp8 / 2.0,
            "bf16",
            Some(format!(
                "{class}: {} publishes no BF16 figure; assumed half its FP8 rate",
                self.id
            )),
        ))
    }

    /// Block size serving engines use on this chip by default.
    pub fn block_size(&self) -> u64 {
        self.default_block_size.unwrap_or(16)
    }
}

/// "Ascend310P", or a variant as torch_npu names the device ("Ascend310P3"), in any case.
fn is_ascend_310p(soc: &str) -> bool {
    let b = soc.as_bytes();
    b.len() >= 10
        && b[..10].eq_ignore_ascii_case(b"Ascend310P")
        && b[10..].iter().all(u8::is_ascii_digit)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digit fast path reads as the general parser does, signs and spaces included.
    #[test]
    fn capability_strings() {
        for (text, want) in [
            ("9.0", Some((9, 0))),
            ("12.1", Some((12, 1))),
            ("10.0", Some((10, 0))),
            ("+9.0", Some((9, 0))),
            (" 8.6 ", Some((8, 6))),
            ("123.45", Some((123, 45))),
            ("9.", None),
            ("a.0", None),
            ("9x0", None),
            ("", None),
        ] {
            assert_eq!(parse_capability(text), want, "{text:?}");
        }
    }

    /// A SoC name no rule keys on is refused, naming the field, rather than ignored.
    #[test]
    fn soc_names_a_known_rule_or_is_refused() {
        let chip = |soc: &str| {
            Chip::from_toml(
                "c.toml",
                &format!("id='x'\nname='X'\nvendor='Huawei'\nmemory_gb=48\nsoc='{soc}'\n"),
            )
        };
        for ok in ["Ascend310P", "ascend310p", "Ascend310P3"] {
            assert!(chip(ok).unwrap().is_ascend_310p(), "{ok}");
        }
        for bad in ["Ascend 310P", "Ascend310", "Ascend910B4", "Ascend310Px", ""] {
            let e = chip(bad).unwrap_err().to_string();
            assert!(e.contains("c.toml") && e.contains("soc"), "{bad}: {e}");
        }
    }

    #[test]
    fn reported_memory_wins_over_spec_sheet() {
        let c = Chip::from_toml(
            "t.toml",
            "id='x'\nname='X'\nvendor='V'\nmemory_gb=80\nreported_memory_gib=79.19\n",
        )
        .unwrap();
        let (b, s) = c.memory_bytes().unwrap();
        assert_eq!(s, MemorySource::DeviceReported);
        assert_eq!(b, (79.19f64 * 1073741824.0).round() as u64);
        let c = Chip::from_toml("t.toml", "id='x'\nname='X'\nvendor='V'\nmemory_gb=141\n").unwrap();
        // H200 "141 GB": 141 GiB nominal × 79.19/80 = 139.57 GiB (nvidia-smi shows 140.4 GiB).
        let expected = (141.0 * 1073741824.0 * 79.19 / 80.0f64).round() as u64;
        assert_eq!(
            c.memory_bytes().unwrap(),
            (expected, MemorySource::SpecSheet)
        );
    }

    // Ascend 910C: two dies, each its own 64 GB rank (npu-smi lists "Chip 0" and "Chip 1" of
    // 65536 MB under one NPU: vllm-project/vllm-ascend issue 2035). TP counts ranks: TP8 takes
    // four 910C, and each rank budgets from 64 GiB × 79.19/80.
    #[test]
    fn multi_rank_chips_split_memory() {
        let c = Chip::from_toml(
            "t.toml",
            "id='x'\nname='X'\nvendor='V'\nmemory_gb=128\nranks_per_chip=2\n",
        )
        .unwrap();
        let (b, s) = c.memory_bytes().unwrap();
        assert_eq!(s, MemorySource::SpecSheet);
        assert_eq!(b, (64.0 * 1073741824.0 * 79.19 / 80.0f64).round() as u64);
        assert_eq!(c.chips_for_ranks(8), 4);
        assert_eq!(c.chips_for_ranks(1), 1);
        assert_eq!(c.chips_for_ranks(3), 2);
        let e = Chip::from_toml("c.toml", "id='x'\nname='X'\nvendor='V'\nranks_per_chip=0\n")
            .unwrap_err();
        assert!(e.to_string().contains("c.toml: ranks_per_chip"), "{e}");
    }

    #[test]
    fn bad_chip_files_name_the_field() {
        let e =
            Chip::from_toml("c.toml", "id='x'\nname='X'\nvendor='V'\nmemory_gb=-3\n").unwrap_err();
        assert!(e.to_string().contains("c.toml: memory_gb"), "{e}");
        let e = Chip::from_toml("c.toml", "id='x'\nname='X'\nvendor='V'\nmemory_gb='lots'\n")
            .unwrap_err();
        assert!(
            e.to_string().contains("memory_gb") && e.to_string().contains("line 4"),
            "{e}"
        );
        let e =
            Chip::from_toml("c.toml", "id='x'\nname='X'\nvendor='V'\nmemroy_gb=3\n").unwrap_err();
        assert!(e.to_string().contains("memroy_gb"), "{e}");
    }
}
