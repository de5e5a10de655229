//! Start-up logs of serving engines: parsing a vLLM (V0 or V1, INFO or DEBUG) or SGLang start-up
//! log into the settings it ran with and the memory figures it logged, and rebuilding the scenario
//! from them, so kvsim's prediction can be set beside each logged figure (`kvsim check`).
//!
//! The lines read, by engine and release (the format strings are quoted from the engines' code):
//! - vLLM V0 ≤ 0.6.4 `worker.py::Worker.determine_num_available_blocks`: "Memory profiling
//!   results: total_gpu_memory=… peak_torch_memory=… non_torch_memory=… kv_cache_size=…
//!   gpu_memory_utilization=…"; V0 0.6.5–0.10 the same function: "the current vLLM instance can use
//!   total_gpu_memory (…) x gpu_memory_utilization (…) = …", "model weights take …; non_torch_memory
//!   takes …; PyTorch activation peak memory takes …; the rest of the memory reserved for KV Cache
//!   is …"; "# GPU blocks: N, # CPU blocks: M"; `model_runner.py`: "Loading model weights took X GB".
//! - vLLM V1 (`v1/worker/gpu_worker.py::Worker.determine_available_memory`, `gpu_model_runner.py`,
//!   `v1/core/kv_cache_utils.py::_report_kv_cache_config`): "Model loading took X GiB", (DEBUG)
//!   "… torch peak memory increase: …; non-torch forward increase memory: …; weights memory: …",
//!   "Available KV cache memory: X GiB", "GPU KV cache size: N tokens", "Maximum concurrency for
//!   N tokens per request: X x", "Graph capturing finished in N secs, took X GiB".
//! - SGLang (`model_executor/model_runner.py`, `cuda_graph_runner.py`, `managers/scheduler.py`):
//!   "Load weight begin. avail mem=X GB", "Load weight end. … avail mem=X GB, mem usage=Y GB",
//!   "KV Cache is allocated. #tokens: N, K size: a GB, V size: b GB" (MLA: "KV size: a GB"),
//!   "Capture cuda graph end. … mem usage=X GB", "max_total_num_tokens=N, …",
//!   `server_args=ServerArgs(… tp_size=…, mem_fraction_static=…, …)`.
//! - both: the command line if the log shows it (`vllm serve MODEL --tensor-parallel-size 4 …`,
//!   `python -m sglang.launch_server --model-path … --tp 4 …`) and vLLM's engine-config line
//!   ("Initializing a V1 LLM engine (v0.9.1) with config: model='…', tensor_parallel_size=4, …")
//!   or "non-default args: {…}".
//!
//! Figures the engines print in "GB" are GiB (they divide by 2^30); every GiB figure is rounded to
//! two decimals (vLLM V0's "Loading model weights took" to four).

use crate::catalog;
use crate::error::{Error, Result};
use crate::evaluate::{evaluate, Report};
use crate::scenario::{knobs::Spec, Scenario};
use crate::units::GIB;

/// The device kind a vLLM log ran on, from the lines only that platform prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogDevice {
    Cuda,
    /// Ascend NPU (vLLM-Ascend: `# npu blocks:`, `worker_v1.py` "Available memory: … total
    /// memory: …", `device_config=npu`).
    Npu,
    /// Intel Gaudi (the HPU fork: `# HPU blocks:`, `hpu_worker.py` / `habana_worker.py`).
    Hpu,
}

impl LogDevice {
    /// The block size the platform sets when none is given: 16 on CUDA, 128 on Gaudi
    /// (vllm-project/vllm `vllm/platforms/hpu.py::HpuPlatform.check_and_update_config` @ v0.7.3)
    /// and on Ascend (configs/chips/ascend-910b.toml `default_block_size`).
    pub fn default_block_size(self) -> u64 {
        match self {
            LogDevice::Cuda => 16,
            LogDevice::Npu | LogDevice::Hpu => 128,
        }
    }
}

/// Which engine wrote the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogEngine {
    /// vLLM's legacy V0 engine.
    VllmV0,
    /// vLLM's V1 engine (0.8 on).
    VllmV1,
    Sglang,
}

/// A figure read from the log, with the (1-based) line it came from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Figure<T> {
    pub value: T,
    pub line: usize,
}

/// How a log's TP ranks reach each other when vLLM says they cannot share device memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RanksApart {
    /// "your platform lacks GPU P2P capability": NCCL's SHM transport, buffers in host memory.
    NoPeerAccess,
    /// "this process group spans across nodes": NCCL's network transport, whose buffers are host
    /// memory without GPUDirect RDMA (`net.cc`: `NCCL_NET_MAP_ADD_POINTER(…, useGdr ? 1 : 0, …)`,
    /// `sharedNetBuffersInit` host buffers without it @ v2.26.2-1), kvsim's assumption.
    AcrossNodes,
}

/// Everything read from one start-up log.
#[derive(Debug, Clone, PartialEq)]
pub struct Logged {
    pub engine: LogEngine,
    /// The device kind, when a line only one platform prints says so (else CUDA-like).
    pub device: Option<LogDevice>,
    /// The release the log names (`0.9.1`), if any.
    pub version: Option<String>,
    /// The model as the log names it (a hub id or a path).
    pub model: Option<String>,
    pub tp: Option<u64>,
    pub pp: Option<u64>,
    pub dp: Option<u64>,
    pub dp_attention: bool,
    /// `dtype` (bfloat16, float16…).
    pub dtype: Option<String>,
    /// `kv_cache_dtype` as written (auto, fp8, fp8_e4m3…).
    pub kv_cache_dtype: Option<String>,
    /// `quantization` (fp8, awq, gptq…).
    pub quantization: Option<String>,
    /// `gpu_memory_utilization` / `mem_fraction_static`.
    pub memory_fraction: Option<Figure<f64>>,
    pub max_model_len: Option<Figure<u64>>,
    /// The block size the log states (`block_size=`, `--block-size`).
    pub block_size: Option<u64>,
    /// The block size implied by vLLM V0's "# GPU blocks" and "Maximum concurrency" lines
    /// (`concurrency = blocks · block_size / max_model_len`, `executor_base.py::initialize_cache`
    /// @ v0.7.3), when the log does not state it: FlashMLA's 64, Ascend's and Gaudi's 128.
    pub implied_block_size: Option<u64>,
    pub max_num_batched_tokens: Option<u64>,
    pub max_num_seqs: Option<u64>,
    pub enforce_eager: bool,
    /// Why vLLM turned its custom all-reduce off, where that tells how NCCL connects the ranks
    /// (no device buffers for either).
    pub ranks_apart: Option<RanksApart>,
    /// vLLM V1's sampler on FlashInfer ("Using FlashInfer for top-p & top-k sampling") or not
    /// ("… Falling back to the PyTorch-native implementation").
    pub flashinfer_sampler: Option<bool>,
    /// The log shows the launch arguments (a command line, vLLM's "non-default args" or
    /// "args: Namespace(…)", SGLang's `server_args=ServerArgs(…)`): a setting they leave out is
    /// the engine's default, not an unknown.
    pub launch_args: bool,
    /// Device total (vLLM `total_gpu_memory`), GiB.
    pub total_gib: Option<Figure<f64>>,
    /// SGLang: memory available before the weights load ("Load weight begin. avail mem"), GiB.
    pub avail_before_weights_gib: Option<Figure<f64>>,
    /// SGLang: memory available after the weights load ("Load weight end. … avail mem"), GiB.
    pub avail_after_weights_gib: Option<Figure<f64>>,
    pub weights_gib: Option<Figure<f64>>,
    /// vLLM V0 ≤ 0.6.4: weights + activation peak.
    pub peak_torch_gib: Option<Figure<f64>>,
    pub activation_gib: Option<Figure<f64>>,
    pub non_torch_gib: Option<Figure<f64>>,
    pub cuda_graph_gib: Option<Figure<f64>>,
    /// The HPU fork: device memory free after the weights and the profiling run, GiB.
    pub hpu_free_gib: Option<Figure<f64>>,
    /// The HPU fork: `VLLM_GRAPH_RESERVED_MEM` as the log states it.
    pub hpu_graph_reserved_mem: Option<f64>,
    /// vLLM V0 0.7.3: the MLA entry padding as the command line sets it
    /// (`VLLM_CUDA_MEM_ALIGN_KV_CACHE`, or its `VLLM_MLA_` spelling of the development builds).
    pub mla_align: Option<bool>,
    /// Memory given to the KV cache, GiB (vLLM "Available KV cache memory", SGLang K + V size).
    pub kv_gib: Option<Figure<f64>>,
    pub kv_tokens: Option<Figure<u64>>,
    pub gpu_blocks: Option<Figure<u64>>,
    pub max_concurrency: Option<Figure<f64>>,
    /// How many per-rank KV lines the log holds (KV memory or tokens); with several, each figure
    /// is the minimum over the ranks, as the engines size every rank's cache to the smallest
    /// (vLLM V0 `executor_base.py::determine_num_available_blocks` @ v0.7.3: `min` over the
    /// workers; V1 `kv_cache_utils.py::unify_kv_cache_configs`; SGLang all-reduces the minimum
    /// of `max_total_num_tokens`).
    pub kv_lines: u32,
}

impl Logged {
    fn new(engine: LogEngine) -> Logged {
        Logged {
            engine,
            device: None,
            version: None,
            model: None,
            tp: None,
            pp: None,
            dp: None,
            dp_attention: false,
            dtype: None,
            kv_cache_dtype: None,
            quantization: None,
            memory_fraction: None,
            max_model_len: None,
            block_size: None,
            implied_block_size: None,
            max_num_batched_tokens: None,
            max_num_seqs: None,
            enforce_eager: false,
            ranks_apart: None,
            flashinfer_sampler: None,
            launch_args: false,
            total_gib: None,
            avail_before_weights_gib: None,
            avail_after_weights_gib: None,
            weights_gib: None,
            peak_torch_gib: None,
            activation_gib: None,
            non_torch_gib: None,
            cuda_graph_gib: None,
            hpu_free_gib: None,
            hpu_graph_reserved_mem: None,
            mla_align: None,
            kv_gib: None,
            kv_tokens: None,
            gpu_blocks: None,
            max_concurrency: None,
            kv_lines: 0,
        }
    }

    /// The block size of the logged blocks: stated, else implied by the concurrency line, else
    /// the platform's default (16 on CUDA, 128 on Ascend and Gaudi).
    pub fn logged_block_size(&self) -> u64 {
        self.block_size
            .or(self.implied_block_size)
            .unwrap_or_else(|| self.device.unwrap_or(LogDevice::Cuda).default_block_size())
    }

    /// The KV capacity in tokens the log states (vLLM V1 "GPU KV cache size", SGLang `#tokens`),
    /// or blocks × block size (vLLM V0 "# GPU blocks", [`Logged::logged_block_size`]).
    pub fn capacity_tokens(&self) -> Option<u64> {
        self.kv_tokens
            .map(|f| f.value)
            .or_else(|| self.gpu_blocks.map(|b| b.value * self.logged_block_size()))
    }
}

/// Keeps the smaller of two per-rank figures (the engines size every rank's cache to the
/// smallest).
fn keep_min<T: PartialOrd + Copy>(slot: &mut Option<Figure<T>>, new: Figure<T>) {
    if slot.is_none_or(|s| new.value < s.value) {
        *slot = Some(new);
    }
}

/// The power of two nearest `x` when `x` lies within 2% of it.
fn near_power_of_two(x: f64) -> Option<u64> {
    if !(x.is_finite() && x >= 1.0) {
        return None;
    }
    let p = 2f64.powf(x.log2().round());
    ((x - p).abs() <= 0.02 * p).then_some(p as u64)
}

/// The text after `key` in `line`, or None.
fn after<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    line.find(key).map(|i| &line[i + key.len()..])
}

/// The number at the start of `s` (after spaces, `=`, `:`, `(`, quotes), thousands commas allowed.
fn leading_number(s: &str) -> Option<f64> {
    let s = s.trim_start_matches([' ', '=', ':', '(', '\'', '"', '\t']);
    let end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ',' || c == '-'))
        .unwrap_or(s.len());
    let t = s[..end].trim_end_matches([',', '.']).replace(',', "");
    t.parse::<f64>().ok().filter(|x| x.is_finite())
}

/// The number just before `key` in `line` ("1.59 GiB for peak activation"), if `key` is there.
fn number_before(line: &str, key: &str) -> Option<Option<f64>> {
    let i = line.find(key)?;
    let head = line[..i].trim_end().trim_end_matches("GiB").trim_end();
    let start = head
        .rfind(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or(0, |j| j + 1);
    Some(head[start..].parse::<f64>().ok().filter(|x| x.is_finite()))
}

/// The word (identifier, path, hub id) at the start of `s` after `=`, spaces and quotes.
fn leading_word(s: &str) -> Option<String> {
    let s = s.trim_start_matches([' ', '=', ':', '\'', '"']);
    let end = s
        .find(|c: char| c.is_whitespace() || matches!(c, '\'' | '"' | ',' | ')' | '}'))
        .unwrap_or(s.len());
    (end > 0).then(|| s[..end].to_string())
}

struct Reader<'a> {
    file: &'a str,
    line: usize,
    text: &'a str,
}

impl Reader<'_> {
    fn bad(&self, what: &str) -> Error {
        let shown: String = self.text.trim().chars().take(160).collect();
        Error::field(
            format!("{}:{}", self.file, self.line),
            what,
            format!("`{shown}`"),
            "a number after it (the line is malformed or cut off)",
        )
    }

    /// The number after `key`, if the line has `key`; an error if the number is missing.
    fn num(&self, key: &str) -> Result<Option<f64>> {
        match after(self.text, key) {
            None => Ok(None),
            // Config dumps print unset settings as None.
            Some(rest)
                if rest
                    .trim_start_matches([' ', '=', ':', '\''])
                    .starts_with("None") =>
            {
                Ok(None)
            }
            Some(rest) => leading_number(rest)
                .map(Some)
                .ok_or_else(|| self.bad(key.trim())),
        }
    }

    fn gib(&self, key: &str) -> Result<Option<Figure<f64>>> {
        Ok(self.num(key)?.map(|value| Figure {
            value,
            line: self.line,
        }))
    }

    /// The GiB figure just before `key`; an error if `key` is there without a number.
    fn gib_before(&self, key: &str) -> Result<Option<Figure<f64>>> {
        match number_before(self.text, key) {
            None => Ok(None),
            Some(Some(value)) => Ok(Some(Figure {
                value,
                line: self.line,
            })),
            Some(None) => Err(self.bad(key.trim())),
        }
    }

    fn count(&self, key: &str) -> Result<Option<Figure<u64>>> {
        match self.num(key)? {
            None => Ok(None),
            Some(v) if v >= 0.0 && v.fract() == 0.0 => Ok(Some(Figure {
                value: v as u64,
                line: self.line,
            })),
            Some(_) => Err(self.bad(key.trim())),
        }
    }
}

/// Whether a line is one of the corpus files' header comments (not a log line): starts with `#`
/// and is not vLLM V0's "# GPU blocks" / "# cuda blocks" / "# npu blocks" / "# HPU blocks".
fn is_comment(line: &str) -> bool {
    let t = line.trim_start();
    t.starts_with('#') && !(t.contains(" blocks:") && t.contains("# CPU blocks"))
}

/// Which engine wrote `text`: SGLang's scheduler and model-runner lines, vLLM V1's EngineCore and
/// `gpu_worker.py` / "Available KV cache memory", otherwise vLLM V0. Comment lines do not count.
/// A vLLM V1 log of a refused start ("Free memory on device (X/Y GiB) on startup is less than
/// desired GPU memory utilization (U, R GiB)", `gpu_worker.py::Worker.init_device` @ v0.9.2,
/// `v1/worker/utils.py::request_memory` @ v0.19.1) that sized no KV cache: an error that says so
/// and what other processes then held (the device less the free memory and the worker's own
/// start-up footprint), for `--other-processes`.
fn refused_start(file: &str, text: &str) -> Option<Error> {
    const MARK: &str = "on startup is less than desired GPU memory utilization";
    let body = || text.lines().filter(|l| !is_comment(l));
    let sized = [
        "GPU KV cache size",
        "Available KV cache memory",
        "# GPU blocks",
    ];
    if body().any(|l| sized.iter().any(|k| l.contains(k))) {
        return None;
    }
    let line = body().find(|l| l.contains(MARK))?;
    // "(77.66/79.19 GiB)" before the mark, "(0.95, 75.23 GiB)" after it.
    let (before, after) = line.split_once(MARK)?;
    let pair = before.rsplit_once('(')?.1;
    // A figure with its unit or punctuation after it: "22.05 GiB" → 22.05.
    let number = |t: &str| {
        t.trim()
            .trim_end_matches(|c: char| !c.is_ascii_digit())
            .parse::<f64>()
            .ok()
    };
    let (free, total) = pair.split_once('/')?;
    let (free, total) = (number(free)?, number(total)?);
    let inside = after.split_once('(')?.1;
    let (util, requested) = inside.split_once(',')?;
    let (util, requested) = (number(util)?, number(requested)?);
    if !(free.is_finite() && total.is_finite() && util > 0.0 && util <= 1.0) {
        return None;
    }
    let start_up = crate::units::to_gib(crate::engine::other_processes::START_UP_BYTES);
    let others = (total - free - start_up).max(0.0);
    Some(Error::field(
        file,
        "start-up log",
        format!(
            "a refused start: vLLM found {free:.2} of {total:.2} GiB free, below the {requested:.2} GiB that utilization {util} asks"
        ),
        format!(
            "a start that sized its KV cache; other processes held about {others:.2} GiB (the device less the free memory and a worker's own {start_up:.2} GiB): `kvsim eval … --other-processes {others:.2}` shows what starts (a utilization of {:.2} or less)",
            ((free / total) * 100.0).floor() / 100.0
        ),
    ))
}

fn detect(text: &str) -> Option<LogEngine> {
    let body: String = text
        .lines()
        .filter(|l| !is_comment(l))
        .collect::<Vec<_>>()
        .join("\n");
    let text = body.as_str();
    let sglang = [
        "sglang",
        "Load weight end",
        "KV Cache is allocated",
        "max_total_num_tokens=",
    ];
    if sglang.iter().any(|k| text.contains(k)) && !text.contains("Available KV cache memory") {
        return Some(LogEngine::Sglang);
    }
    // vLLM 0.8.x names the engine it starts ("Initializing a V0 LLM engine (v0.8.3)",
    // `llm_engine.py::LLMEngine.__init__`); V0's model runner also logs "Model loading took".
    if text.contains("Initializing a V0 LLM engine") {
        return Some(LogEngine::VllmV0);
    }
    let v1 = [
        "Available KV cache memory",
        "GPU KV cache size",
        "V1 LLM engine",
        "EngineCore",
        "gpu_worker.py",
        "Model loading took",
        "Free memory on device (",
        "worker_v1.py",
    ];
    if v1.iter().any(|k| text.contains(k)) {
        return Some(LogEngine::VllmV1);
    }
    let v0 = [
        "# GPU blocks",
        "# CUDA blocks",
        "# cuda blocks",
        "# npu blocks",
        "# HPU blocks",
        "Memory profiling results",
        "the current vLLM instance can use",
        "Loading model weights took",
        "can be stored in KV cache (",
        "reserved for KV cache",
        "model weights take",
    ];
    v0.iter()
        .any(|k| text.contains(k))
        .then_some(LogEngine::VllmV0)
}

/// The model a `vllm serve` command line names: the first word after `vllm serve` that is neither
/// a flag nor a flag's value (`vllm serve --tensor_parallel_size 2 --trust-remote-code /m/X`).
/// Flags without a value are those vLLM declares as switches; any other `--flag` takes the next
/// word unless written `--flag=value`.
fn vllm_serve_model(rest: &str) -> Option<String> {
    // vLLM's boolean switches seen on serve lines (`vllm/engine/arg_utils.py`, `store_true`).
    const SWITCHES: &[&str] = &[
        "--trust-remote-code",
        "--trust_remote_code",
        "--enforce-eager",
        "--enforce_eager",
        "--enable-prefix-caching",
        "--no-enable-prefix-caching",
        "--no_enable_prefix_caching",
        "--enable-chunked-prefill",
        "--enable_chunked_prefill",
        "--disable-log-requests",
        "--disable-log-stats",
        "--enable-auto-tool-choice",
        "--enable-reasoning",
        "--disable-custom-all-reduce",
        "--enable-expert-parallel",
        "--async-scheduling",
        "--headless",
    ];
    let mut words = rest.split_whitespace();
    while let Some(w) = words.next() {
        if let Some(flag) = w.strip_prefix('-') {
            if !flag.contains('=') && !SWITCHES.contains(&w) {
                words.next();
            }
            continue;
        }
        return Some(w.trim_matches(['\'', '"']).to_string());
    }
    None
}

/// Settings from a command line or config dump: `--flag value`, `--flag=value`, `key=value`,
/// `'key': value`.
fn settings(r: &Reader, log: &mut Logged) -> Result<()> {
    let t = r.text;
    if t.contains("non-default args:")
        || t.contains("args: Namespace(")
        || t.contains("server_args=ServerArgs(")
        || (t.trim_start().starts_with('$')
            && ["vllm serve", "vllm.entrypoints", "sglang.launch_server"]
                .iter()
                .any(|k| t.contains(k)))
    {
        log.launch_args = true;
    }
    // Command lines: vllm serve MODEL / --model / --model-path.
    if let Some(rest) = after(t, "vllm serve ") {
        if let Some(w) = vllm_serve_model(rest) {
            log.model.get_or_insert(w);
        }
    }
    for key in [
        "--model-path ",
        "--model-path=",
        "--model ",
        "--model=",
        "model_path=",
        "model=",
        "'model': ",
    ] {
        if let Some(rest) = after(t, key) {
            if let Some(w) = leading_word(rest).filter(|w| !w.starts_with('-')) {
                log.model.get_or_insert(w);
            }
        }
    }
    let int = |keys: &[&str]| -> Result<Option<u64>> {
        for k in keys {
            if let Some(f) = r.count(k)? {
                return Ok(Some(f.value));
            }
        }
        Ok(None)
    };
    if let Some(v) = int(&[
        "tensor_parallel_size=",
        "'tensor_parallel_size': ",
        "--tensor-parallel-size ",
        "--tensor-parallel-size=",
        "--tensor_parallel_size ",
        "--tensor_parallel ",
        " -tp ",
        "tp_size=",
        "--tp-size ",
        "--tp ",
        "--tp=",
    ])? {
        log.tp = Some(v);
    }
    if let Some(v) = int(&[
        "pipeline_parallel_size=",
        "'pipeline_parallel_size': ",
        "--pipeline-parallel-size ",
        " -pp ",
        "pp_size=",
        "--pp-size ",
        "--pp ",
    ])? {
        log.pp = Some(v);
    }
    if let Some(v) = int(&[
        "data_parallel_size=",
        "'data_parallel_size': ",
        "--data-parallel-size ",
        "dp_size=",
        "--dp-size ",
        "--dp ",
    ])? {
        log.dp = Some(v);
    }
    if t.contains("enable_dp_attention=True") || t.contains("--enable-dp-attention") {
        log.dp_attention = true;
    }
    if t.contains("enforce_eager=True")
        || t.contains("--enforce-eager")
        || t.contains("'enforce_eager': True")
        || t.contains("disable_cuda_graph=True")
        || t.contains("--disable-cuda-graph")
    {
        log.enforce_eager = true;
    }
    // V1's `TopKTopPSampler.__init__` says which sampler it runs (topk_topp_sampler.py @
    // v0.10.1.1).
    if t.contains("Using FlashInfer for top-p & top-k sampling") {
        log.flashinfer_sampler = Some(true);
    } else if t.contains("Falling back to the PyTorch-native implementation of top-p")
        || t.contains("Falling back to default sampling implementation")
    {
        log.flashinfer_sampler = Some(false);
    }
    // vLLM's `CustomAllreduce.__init__` says why it is off (custom_all_reduce.py @ v0.10.1.1);
    // a line wrapped where it was published keeps either phrase on one line.
    if t.contains("process group spans across nodes") {
        log.ranks_apart = Some(RanksApart::AcrossNodes);
    } else if t.contains("Custom allreduce is disabled because your platform lacks") {
        log.ranks_apart.get_or_insert(RanksApart::NoPeerAccess);
    }
    for k in [
        "max_seq_len=",
        "'max_model_len': ",
        "--max-model-len ",
        "--max-model-len=",
        "--max_model_len ",
        "--context-length ",
        "context_length=",
    ] {
        if let Some(f) = r.count(k)? {
            log.max_model_len.get_or_insert(f);
            break;
        }
    }
    // vLLM 0.21+ (`gpu_worker.py`): "The current --gpu-memory-utilization=0.9764 is equivalent to
    // --gpu-memory-utilization=0.9543 without CUDA graph memory profiling. … increase
    // --gpu-memory-utilization to 0.9984": only the first is the setting.
    // Before it, with graph profiling off (`Worker.determine_available_memory` @ v0.19.1): "… and
    // increase --gpu-memory-utilization from 0.9000 to 0.9596 to maintain the same effective KV
    // cache size": the first again.
    let fraction_keys: &[&str] = if t.contains("is equivalent to --gpu-memory-utilization") {
        &["The current --gpu-memory-utilization="]
    } else if t.contains("--gpu-memory-utilization from ") {
        &["--gpu-memory-utilization from "]
    } else {
        &[
            "'gpu_memory_utilization': ",
            "--gpu-memory-utilization ",
            "--gpu-memory-utilization=",
            "--gpu_memory_utilization ",
            "--gpu_memory_utilization=",
            "gpu_memory_utilization=",
            "mem_fraction_static=",
            "--mem-fraction-static ",
            "--mem-fraction-static=",
        ]
    };
    for k in fraction_keys {
        if let Some(f) = r.gib(k)? {
            log.memory_fraction = Some(f);
            break;
        }
    }
    if let Some(v) = int(&[
        "block_size=",
        "'block_size': ",
        "--block-size ",
        "page_size=",
    ])? {
        log.block_size = Some(v);
    }
    if let Some(v) = int(&[
        "max_num_batched_tokens=",
        "'max_num_batched_tokens': ",
        "--max-num-batched-tokens ",
        "--max-num-batched-tokens=",
    ])? {
        log.max_num_batched_tokens = Some(v);
    }
    if let Some(v) = int(&[
        "max_num_seqs=",
        "'max_num_seqs': ",
        "--max-num-seqs ",
        "--max-num-seqs=",
    ])? {
        log.max_num_seqs = Some(v);
    }
    let word = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| after(t, k).and_then(leading_word))
            .map(|w| w.trim_start_matches("torch.").to_ascii_lowercase())
    };
    if let Some(w) = word(&["dtype=torch.", " dtype=", "'dtype': ", "--dtype "]) {
        if !w.starts_with("auto") || log.dtype.is_none() {
            log.dtype = Some(w);
        }
    }
    if let Some(w) = word(&["kv_cache_dtype=", "'kv_cache_dtype': ", "--kv-cache-dtype "]) {
        log.kv_cache_dtype = Some(w);
    }
    if let Some(w) = word(&["quantization=", "'quantization': ", "--quantization "]) {
        if w != "none" {
            log.quantization = Some(w);
        }
    }
    if let Some(rest) = after(t, "LLM engine (v") {
        log.version = leading_word(rest).map(|w| w.trim_end_matches(')').to_string());
    }
    // The start-up banner of recent releases: "█ … █ version 0.19.0".
    if t.contains('█') {
        if let Some(rest) = after(t, " version ") {
            log.version
                .get_or_insert(leading_word(rest).unwrap_or_default());
        }
    }
    if let Some(rest) = after(t, "vLLM API server version ") {
        log.version
            .get_or_insert(leading_word(rest).unwrap_or_default());
    }
    if let Some(rest) = after(t, "sglang==").or_else(|| after(t, "SGLang version ")) {
        log.version = leading_word(rest);
    }
    Ok(())
}

/// Parses a start-up log. `file` names it in errors.
pub fn parse(file: &str, text: &str) -> Result<Logged> {
    if let Some(e) = refused_start(file, text) {
        return Err(e);
    }
    let engine = detect(text).ok_or_else(|| {
        Error::field(
            file,
            "start-up log",
            "no vLLM or SGLang memory lines",
            "a vLLM (\"GPU KV cache size\", \"# GPU blocks\", \"# cuda blocks\", \"Available KV \
             cache memory\", \"Available memory: …, total memory: …\") or SGLang (\"KV Cache is \
             allocated\", \"max_total_num_tokens\") start-up log",
        )
    })?;
    let mut log = Logged::new(engine);
    let lines: Vec<&str> = text.lines().collect();
    let mut skip_next = false;
    for (i, &raw) in lines.iter().enumerate() {
        if std::mem::take(&mut skip_next) || is_comment(raw) {
            continue;
        }
        // vLLM V0's summary line wrapped by whoever posted it ("… the rest of the memory reserved
        // \nfor KV Cache is 21.43GiB."): joined with its continuation, never read without it.
        let joined;
        let text = if raw.contains("the rest of the memory reserved")
            && !raw.contains("for KV Cache is")
        {
            match lines.get(i + 1).map(|n| n.trim_start()) {
                Some(next) if next.starts_with("for KV Cache is") => {
                    skip_next = true;
                    joined = format!("{} {next}", raw.trim_end());
                    joined.as_str()
                }
                _ => {
                    let r = Reader {
                        file,
                        line: i + 1,
                        text: raw,
                    };
                    return Err(r.bad("the rest of the memory reserved for KV Cache is"));
                }
            }
        } else {
            raw
        };
        let r = Reader {
            file,
            line: i + 1,
            text,
        };
        settings(&r, &mut log)?;
        if text.contains("device_config=npu") || text.contains("worker_v1.py") {
            log.device = Some(LogDevice::Npu);
        }
        if text.contains("hpu_worker.py") || text.contains("habana_worker.py") {
            log.device = Some(LogDevice::Hpu);
        }
        // vLLM V0 ≤ 0.6.4, one line.
        if text.contains("Memory profiling results") && text.contains("total_gpu_memory=") {
            log.total_gib = r.gib("total_gpu_memory=")?.or(log.total_gib);
            log.peak_torch_gib = r.gib("peak_torch_memory=")?.or(log.peak_torch_gib);
            log.non_torch_gib = r.gib("non_torch_memory=")?.or(log.non_torch_gib);
            log.kv_gib = r.gib("kv_cache_size=")?.or(log.kv_gib);
            if let Some(f) = r.gib("gpu_memory_utilization=")? {
                log.memory_fraction = Some(f);
            }
            continue;
        }
        // vLLM V0 0.6.5+: the two-line summary; also the multi-line form of PR 10511.
        if let Some(f) = r.gib("total_gpu_memory (")? {
            log.total_gib = Some(f);
            if let Some(u) = r.gib("gpu_memory_utilization (")? {
                log.memory_fraction = Some(u);
            }
        }
        // One summary per worker (Ray prefixes each with its worker): V0 sizes every cache by
        // the fewest blocks (`executor_base.py::determine_num_available_blocks`, `min` over the
        // workers), so the line with the least KV memory is kept, with its own overheads.
        if text.contains("model weights take") {
            let kv = r.gib("reserved for KV Cache is")?;
            let smaller = match (kv, log.kv_gib) {
                (Some(k), Some(old)) => k.value < old.value,
                _ => true,
            };
            if kv.is_some() {
                log.kv_lines += 1;
            }
            if smaller {
                log.weights_gib = r.gib("model weights take")?;
                log.non_torch_gib = r.gib("non_torch_memory takes")?.or(log.non_torch_gib);
                log.activation_gib = r
                    .gib("PyTorch activation peak memory takes")?
                    .or(log.activation_gib);
                log.kv_gib = kv.or(log.kv_gib);
            }
        }
        // The HPU fork (`hpu_model_runner.py::HPUModelRunner.load_model` @ vLLM v0.7.3):
        // "Loading model weights took in total 15.05 GiB of device memory (15.05 GiB/94.62 GiB
        // used) …" — the weights and, after the slash, the device total as the HPU runtime
        // reports it.
        if let Some(rest) = after(text, "Loading model weights took in total") {
            let w =
                leading_number(rest).ok_or_else(|| r.bad("Loading model weights took in total"))?;
            log.weights_gib.get_or_insert(Figure {
                value: w,
                line: i + 1,
            });
            if let Some(used) = after(rest, "GiB/") {
                let t = leading_number(used).ok_or_else(|| r.bad("GiB used"))?;
                log.total_gib = Some(Figure {
                    value: t,
                    line: i + 1,
                });
            }
        } else if let Some(f) = r.gib("Loading model weights took")? {
            log.weights_gib.get_or_insert(f);
        }
        if let Some(f) = r.gib("Model loading took")? {
            log.weights_gib.get_or_insert(f);
        }
        for key in [
            "VLLM_MLA_CUDA_MEM_ALIGN_KV_CACHE=",
            "VLLM_CUDA_MEM_ALIGN_KV_CACHE=",
        ] {
            if let Some(v) = r.num(key)? {
                log.mla_align = Some(v != 0.0);
            }
        }
        // HPU fork (`hpu_worker.py::HPUWorker.determine_num_available_blocks` @ v0.7.3): "Free
        // device memory: 79.22 GiB, 71.3 GiB usable (gpu_memory_utilization=0.9), 7.13 GiB
        // reserved for HPUGraphs (VLLM_GRAPH_RESERVED_MEM=0.1), 64.17 GiB reserved for KV cache".
        if text.contains("Free device memory:") {
            log.device = Some(LogDevice::Hpu);
            if let Some(f) = r.gib_before("reserved for HPUGraphs")? {
                log.cuda_graph_gib = Some(f);
            }
            if let Some(f) = r.gib("Free device memory:")? {
                keep_min(&mut log.hpu_free_gib, f);
            }
            if let Some(g) = r.num("VLLM_GRAPH_RESERVED_MEM=")? {
                log.hpu_graph_reserved_mem = Some(g);
            }
            match r.gib_before("reserved for KV cache")? {
                Some(f) => {
                    log.kv_lines += 1;
                    keep_min(&mut log.kv_gib, f);
                }
                None => return Err(r.bad("reserved for KV cache")),
            }
        }
        // vLLM V0: "# GPU blocks: N" (≤ 0.6), then "# {device_name} blocks: N, # CPU blocks: M"
        // (`executor_base.py::initialize_cache` @ v0.7.3: cuda, CUDA, npu on vLLM-Ascend, HPU).
        for (key, device) in [
            ("GPU blocks:", None),
            ("# CUDA blocks:", None),
            ("# cuda blocks:", None),
            ("# npu blocks:", Some(LogDevice::Npu)),
            ("# HPU blocks:", Some(LogDevice::Hpu)),
        ] {
            if let Some(f) = r.count(key)? {
                keep_min(&mut log.gpu_blocks, f);
                if device.is_some() {
                    log.device = device;
                }
            }
        }
        // vLLM V0 0.6.5 development builds: one figure per line ("total_gpu_memory     79.22GiB").
        if text.contains("worker.py") && !text.contains("Memory profiling results") {
            for (key, slot) in [
                ("] total_gpu_memory ", &mut log.total_gib),
                ("] non_torch_memory ", &mut log.non_torch_gib),
                ("] PyTorch activation peak memory ", &mut log.activation_gib),
                ("] available_kv_cache_memory ", &mut log.kv_gib),
                ("] gpu_memory_utilization ", &mut log.memory_fraction),
            ] {
                if let Some(f) = r.gib(key)? {
                    *slot = Some(f);
                }
            }
        }
        // vLLM V0's refusal (worker.py::raise_if_cache_size_invalid): the capacity in tokens.
        if let Some(f) = r.count("can be stored in KV cache (")? {
            log.kv_tokens.get_or_insert(f);
        }
        if let Some(rest) = after(text, "The model's max seq len (") {
            let len = leading_number(rest).ok_or_else(|| r.bad("max seq len"))?;
            log.max_model_len.get_or_insert(Figure {
                value: len as u64,
                line: i + 1,
            });
        }
        // vLLM V1 from about 0.2x, and vLLM-Ascend (gpu_worker.py / worker.py): "Free memory on
        // device (30.27/31.4 GiB) on startup. Desired GPU memory utilization is (0.92, 28.88 GiB).
        // Actual usage is 15.03 GiB for consumed memory (weights + non-torch), 1.59 GiB for peak
        // activation, and 0.09 GiB for CUDAGraph memory. … Current kv cache memory in use is
        // 12.26 GiB." (vLLM-Ascend: "… GiB for weights, … GiB for non-torch memory, … GiB for
        // NPU graph memory").
        if let Some(rest) = after(text, "Free memory on device (") {
            let total = rest
                .split_once('/')
                .and_then(|(_, t)| leading_number(t))
                .ok_or_else(|| r.bad("Free memory on device"))?;
            log.total_gib = Some(Figure {
                value: total,
                line: i + 1,
            });
            if let Some(u) = r.gib("Desired GPU memory utilization is (")? {
                log.memory_fraction = Some(u);
            }
            if let Some(f) = r.gib_before("for consumed memory (weights + non-torch)")? {
                log.weights_gib = Some(f);
                log.non_torch_gib = Some(Figure {
                    value: 0.0,
                    line: i + 1,
                });
            }
            // "for weights" (vLLM-Ascend), "for weight," (vLLM 0.10): the loading line's figure,
            // with more decimals, wins when the log has one.
            if let Some(f) = r.gib_before("for weight")? {
                log.weights_gib.get_or_insert(f);
            }
            if let Some(f) = r.gib_before("for non-torch memory")? {
                log.non_torch_gib = Some(f);
            }
            if let Some(f) = r.gib_before("for peak activation")? {
                log.activation_gib = Some(f);
            }
            for key in ["for CUDAGraph memory", "for NPU graph memory"] {
                if let Some(f) = r.gib_before(key)? {
                    log.cuda_graph_gib = Some(f);
                }
            }
            // GiB from about 0.11; bytes at 0.10 ("… is 47878721024 bytes.").
            if let Some(mut f) = r.gib("Current kv cache memory in use is")? {
                let unit = after(text, "Current kv cache memory in use is")
                    .map(|rest| {
                        rest.trim_start().trim_start_matches(|c: char| {
                            c.is_ascii_digit() || c == '.' || c == ','
                        })
                    })
                    .unwrap_or("")
                    .trim_start();
                if unit.starts_with("bytes") {
                    f.value /= GIB;
                } else if !unit.starts_with("GiB") {
                    return Err(r.bad("Current kv cache memory in use is (GiB or bytes)"));
                }
                log.kv_gib = Some(f);
            }
        }
        // vLLM-Ascend V1 (`vllm_ascend/worker/worker_v1.py::NPUWorker.determine_available_memory`,
        // 0.9–0.11): "Available memory: <KV bytes>, total memory: <device bytes>", one line per
        // rank; the total is `torch_npu.npu.mem_get_info()[1]`, as the runtime reports it.
        if let Some(rest) = after(text, "Available memory:") {
            let bytes = |s: &str, what: &str| -> Result<Figure<f64>> {
                let b = leading_number(s).ok_or_else(|| r.bad(what))?;
                Ok(Figure {
                    value: b / GIB,
                    line: i + 1,
                })
            };
            let kv = bytes(rest, "Available memory")?;
            let total = after(rest, "total memory:")
                .ok_or_else(|| r.bad("total memory"))
                .and_then(|t| bytes(t, "total memory"))?;
            log.device = Some(LogDevice::Npu);
            log.kv_lines += 1;
            keep_min(&mut log.kv_gib, kv);
            keep_min(&mut log.total_gib, total);
        }
        // vLLM V1.
        if let Some(f) = r.gib("Available KV cache memory:")? {
            log.kv_lines += 1;
            keep_min(&mut log.kv_gib, f);
        }
        if text.contains("torch peak memory increase") {
            log.activation_gib = r.gib("torch peak memory increase:")?;
            log.non_torch_gib = r.gib("non-torch forward increase memory:")?;
            if let Some(w) = r.gib("weights memory:")? {
                log.weights_gib = Some(w);
            }
        }
        if let Some(f) = r.count("GPU KV cache size:")? {
            keep_min(&mut log.kv_tokens, f);
        }
        if let Some(rest) = after(text, "Maximum concurrency for ") {
            let len = leading_number(rest).ok_or_else(|| r.bad("Maximum concurrency for"))?;
            log.max_model_len = Some(Figure {
                value: len as u64,
                line: i + 1,
            });
            match r.gib("tokens per request:")? {
                Some(c) => keep_min(&mut log.max_concurrency, c),
                None => return Err(r.bad("tokens per request")),
            }
        }
        // vLLM from 0.21 (`gpu_model_runner.py`): "Estimated CUDA graph memory: 0.52 GiB total".
        if let Some(f) = r.gib("Estimated CUDA graph memory:")? {
            log.cuda_graph_gib = Some(f);
        }
        if text.contains("Graph capturing finished") {
            log.cuda_graph_gib = r.gib(" took")?;
        }
        // SGLang.
        if text.contains("Load weight begin") {
            log.avail_before_weights_gib = r.gib("avail mem=")?;
        }
        // "Load weight end. … avail mem=X GB, mem usage=Y GB." (early 2025 on; before, only
        // "avail mem", the weights being the drop from "Load weight begin").
        if text.contains("Load weight end") {
            log.avail_after_weights_gib = r.gib("avail mem=")?;
            if let Some(w) = r.gib("mem usage=")? {
                log.weights_gib = Some(w);
            }
        }
        if text.contains("KV Cache is allocated") {
            if let Some(t) = r.count("#tokens:")? {
                keep_min(&mut log.kv_tokens, t);
            }
            let kv = match (r.num("K size:")?, r.num("V size:")?, r.num("KV size:")?) {
                (Some(k), Some(v), _) => k + v,
                (_, _, Some(kv)) => kv,
                _ => return Err(r.bad("K size / V size / KV size")),
            };
            log.kv_lines += 1;
            keep_min(
                &mut log.kv_gib,
                Figure {
                    value: kv,
                    line: i + 1,
                },
            );
        }
        if text.contains("Capture cuda graph end") || text.contains("Capture CUDA graph end") {
            log.cuda_graph_gib = r.gib("mem usage=")?;
        }
        if engine == LogEngine::Sglang {
            if let Some(f) = r.count("max_total_num_tokens=")? {
                if log.kv_tokens.is_none() {
                    log.kv_tokens = Some(f);
                }
            }
            if let Some(f) = r.count("context_len=")? {
                log.max_model_len.get_or_insert(f);
            }
        }
    }
    // The SGLang weights from the two free-memory figures when the log does not state them.
    if let (None, Some(b), Some(a)) = (
        log.weights_gib,
        log.avail_before_weights_gib,
        log.avail_after_weights_gib,
    ) {
        if log.engine == LogEngine::Sglang && b.value >= a.value {
            log.weights_gib = Some(Figure {
                value: ((b.value - a.value) * 100.0).round() / 100.0,
                line: a.line,
            });
        }
    }
    // vLLM V0 prints blocks and `blocks · block_size / max_model_len` (two decimals): the block
    // size follows when the log does not state it.
    if let (Some(b), Some(c), Some(len), None) = (
        log.gpu_blocks,
        log.max_concurrency,
        log.max_model_len,
        log.kv_tokens,
    ) {
        if b.value > 0 && c.value >= 0.1 {
            log.implied_block_size = near_power_of_two(c.value * len.value as f64 / b.value as f64);
        }
    }
    if log.capacity_tokens().is_none() && log.kv_gib.is_none() {
        return Err(Error::field(
            file,
            "KV cache figures",
            "none",
            "a KV cache size (\"GPU KV cache size\", \"# GPU blocks\", \"# cuda blocks\", \
             \"Available KV cache memory\", \"Available memory: …\", \"reserved for KV cache\" \
             or SGLang's \"KV Cache is allocated\"): the log may be cut off before the cache is \
             allocated",
        ));
    }
    Ok(log)
}

/// The catalog model a logged name (hub id or path) denotes: the longest catalog id contained
/// in the name's last path segment, lower-cased with `meta-` dropped. Distilled or derived
/// checkpoints (names with `distill`) match nothing.
pub fn match_catalog_model(name: &str) -> Option<&'static str> {
    let base = name.trim_end_matches('/').rsplit('/').next()?;
    let n = base.to_ascii_lowercase().replace("meta-llama-", "llama-");
    if n.contains("distill") {
        return None;
    }
    let n = n.replace('_', "-");
    catalog::model_ids()
        .filter(|id| {
            n.find(id).is_some_and(|i| {
                // The id must end at a word boundary: "qwen3-8b" is not in "qwen3-8b0".
                let end = i + id.len();
                n[end..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_ascii_alphanumeric())
            })
        })
        .max_by_key(|id| id.len())
}

/// What `check` rebuilt: the scenario with kvsim's own estimates and with the log's overheads.
#[derive(Debug, Clone)]
pub struct Rebuilt {
    pub spec: Spec,
    /// With the log's own overheads as measured values.
    pub measured: Scenario,
    /// With kvsim's own estimates (only the settings and the device total from the log).
    pub estimated: Scenario,
    /// How far the measured-mode budget may move with the rounding of the logged GiB figures.
    pub rounding_bytes: u64,
    pub warnings: Vec<String>,
    /// Inputs neither the log (its figures or the launch arguments it shows) nor the options
    /// gave, taken at the engine's default: the log is not fully parsed.
    pub assumed: Vec<&'static str>,
}

/// Options the user gives beside the log.
#[derive(Debug, Clone, Default)]
pub struct CheckOptions {
    /// A catalog id or config path replacing the model the log names.
    pub model: Option<String>,
    /// A catalog chip or chip file (default: the chip whose device total is nearest the log's).
    pub chip: Option<String>,
    /// Engine release, replacing the log's.
    pub engine_version: Option<String>,
    /// max_model_len, replacing the log's (or the model's default when the log has none).
    pub max_model_len: Option<u64>,
    /// Tensor-parallel size, replacing the log's (1 assumed when neither gives it).
    pub tp: Option<u64>,
    /// `gpu_memory_utilization` / `mem_fraction_static`, replacing the log's (the engine's
    /// default when neither gives it).
    pub memory_fraction: Option<f64>,
    /// KV block size in tokens, replacing the log's (and the platform's or chip's default).
    pub block_size: Option<u64>,
    /// The run loaded a one-layer EAGLE draft head (`--eagle`), which start-up logs do not
    /// name.
    pub eagle: bool,
    /// GiB other processes held on each device when the engine started (`--other-processes`:
    /// a desktop, the Windows host under WSL2), for kvsim's own estimate; start-up logs do not
    /// state it.
    pub other_processes_gib: Option<f64>,
}

fn gib_bytes(g: f64) -> u64 {
    (g * GIB).round().max(0.0) as u64
}

/// Half a unit in the last place of a two-decimal GiB figure.
const HALF_CENTI_GIB: f64 = 0.005;

/// The chip a log ran on when none is given: the catalog chip whose device-reported total is
/// nearest the logged total.
fn nearest_chip(total_gib: f64) -> Option<&'static str> {
    catalog::chip_ids()
        .filter_map(|id| {
            let c = catalog::load_chip(id).ok()?;
            let g = c.reported_memory_gib?;
            Some((id, (g - total_gib).abs()))
        })
        .filter(|(_, d)| *d < 0.5)
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(id, _)| id)
}

/// Rebuilds the scenario a log ran: the spec from its settings, then two scenarios.
pub fn rebuild(log: &Logged, opts: &CheckOptions) -> Result<Rebuilt> {
    let mut warnings = Vec::new();
    let mut assumed = Vec::new();
    if opts.tp == Some(0) {
        return Err(Error::field(
            "command line",
            "--tp",
            "0",
            "a tensor-parallel size of at least 1",
        ));
    }
    if let Some(f) = opts.memory_fraction.filter(|f| !(*f > 0.0 && *f <= 1.0)) {
        return Err(Error::field(
            "command line",
            "--memory-fraction",
            f.to_string(),
            "a fraction of device memory in (0, 1]",
        ));
    }
    let others = opts
        .other_processes_gib
        .map(|g| crate::units::gib_to_bytes("--other-processes", g))
        .transpose()?
        .unwrap_or(0);
    if opts.block_size == Some(0) {
        return Err(Error::field(
            "command line",
            "--block-size",
            "0",
            "a block size of at least 1 token",
        ));
    }
    let model = match (&opts.model, &log.model) {
        (Some(m), _) => m.clone(),
        (None, Some(name)) => match match_catalog_model(name) {
            Some(id) => id.to_string(),
            None => {
                return Err(Error::field(
                    "log",
                    "model",
                    format!("`{name}`, which is not a catalog model"),
                    "--model with a catalog id or the model's config.json",
                ))
            }
        },
        (None, None) => {
            return Err(Error::field(
                "log",
                "model",
                "no model name",
                "--model with a catalog id or config.json (the log does not name its model)",
            ))
        }
    };
    let chip = match (&opts.chip, log.total_gib) {
        (Some(c), _) => c.clone(),
        (None, Some(t)) => match nearest_chip(t.value) {
            Some(id) => {
                warnings.push(format!(
                    "chip: {id}, the catalog chip whose device total is nearest the logged \
                     {:.2} GiB (give --chip to choose)",
                    t.value
                ));
                id.to_string()
            }
            None => {
                return Err(Error::field(
                    "log",
                    "chip",
                    format!(
                        "a device total of {:.2} GiB matching no catalog chip",
                        t.value
                    ),
                    "--chip",
                ))
            }
        },
        (None, None) if log.engine == LogEngine::Sglang => {
            return Err(Error::field(
                "log",
                "chip",
                "no device total (SGLang logs state free memory only: \"Load weight begin. \
                 avail mem\" is what the CUDA context and NCCL leave, not the device)",
                "--chip",
            ))
        }
        (None, None) => {
            return Err(Error::field(
                "log",
                "chip",
                "no device total",
                "--chip (the log does not state the GPU's total memory)",
            ))
        }
    };
    let mut spec = Spec::new(&model, &chip);
    spec.eagle = opts.eagle;
    let engine_name = match log.engine {
        LogEngine::Sglang => "sglang",
        _ => "vllm",
    };
    spec.set("engine", engine_name)?;
    let version = match (&opts.engine_version, log.engine, &log.version) {
        (Some(v), _, _) => Some(v.clone()),
        (None, LogEngine::VllmV0, _) => Some("v0".to_string()),
        (None, LogEngine::VllmV1, Some(v)) => {
            // Releases from before 0.8 still ran V0 unless V1 was asked for; the log format
            // already told which engine ran.
            let minor = v
                .trim_start_matches('v')
                .split('.')
                .nth(1)
                .and_then(|m| m.parse::<u32>().ok());
            match minor {
                Some(m) if v.starts_with("0.") || v.starts_with("v0.") => {
                    Some(format!("0.{}", m.max(8)))
                }
                _ => Some(v.clone()),
            }
        }
        (None, LogEngine::VllmV1, None) => {
            assumed.push("engine version");
            warnings.push(
                "engine version: the log names no vLLM release; kvsim's default V1 release used"
                    .into(),
            );
            None
        }
        (None, LogEngine::Sglang, _) => None,
    };
    if let Some(v) = &version {
        spec.set("engine-version", v)?;
    }
    match (opts.tp, log.tp) {
        (Some(t), Some(l)) if t != l => {
            warnings.push(format!("tp: {t} given, replacing the log's {l}"));
        }
        (None, None) if log.launch_args => warnings.push(
            "tp: the launch arguments the log shows set none: 1, the engines' default".into(),
        ),
        (None, None) => {
            assumed.push("tp");
            warnings.push("tp: not in the log; 1 assumed (give --tp)".into())
        }
        _ => {}
    }
    spec.tp = opts.tp.or(log.tp).unwrap_or(1);
    spec.pp = log.pp.unwrap_or(1);
    spec.dp = log.dp.unwrap_or(1);
    spec.dp_attention = log.dp_attention;
    if log.kv_lines > 1 {
        warnings.push(format!(
            "{} per-rank KV lines in the log: the smallest taken, as the engine sizes every \
             rank's cache to it",
            log.kv_lines
        ));
    }
    match opts.max_model_len.or(log.max_model_len.map(|f| f.value)) {
        Some(len) => spec.context = len,
        None => {
            // Both engines default max_model_len to the model's max_position_embeddings.
            let m = spec.load_model()?;
            let len = m.max_position_embeddings.ok_or_else(|| {
                Error::field(
                    "log",
                    "max_model_len",
                    "not stated, and the model has no max_position_embeddings",
                    "a max_model_len (\"Maximum concurrency for N tokens\", max_seq_len=, \
                     --max-model-len, context_len=)",
                )
            })?;
            if log.launch_args {
                warnings.push(format!(
                    "max_model_len: the launch arguments the log shows set none: the model's \
                     max_position_embeddings ({len}), the engines' default"
                ));
            } else {
                assumed.push("max_model_len");
                warnings.push(format!(
                    "max_model_len: not in the log; the model's max_position_embeddings ({len}), \
                     the engines' default"
                ));
            }
            spec.context = len;
        }
    }
    match (opts.memory_fraction, log.memory_fraction) {
        (Some(f), _) => spec.memory_fraction = Some(f),
        (None, Some(f)) => spec.memory_fraction = Some(f.value),
        (None, None) if log.launch_args => warnings.push(
            "memory fraction: the launch arguments the log shows set none: the engine's default"
                .into(),
        ),
        (None, None) => {
            assumed.push("memory fraction");
            warnings.push(
                "memory fraction: not in the log; the engine's default used (give \
                 --memory-fraction)"
                    .into(),
            )
        }
    }
    // Block size: given, stated, implied by the log's blocks and concurrency, the platform's
    // (Ascend, Gaudi: 128) — else the engine's rule for the chip.
    let platform_block = log
        .device
        .filter(|d| *d != LogDevice::Cuda && log.engine != LogEngine::Sglang)
        .map(LogDevice::default_block_size);
    if let Some(b) = opts
        .block_size
        .or(log.block_size)
        .or(log.implied_block_size)
        .or(platform_block)
    {
        if opts.block_size.is_none() && log.block_size.is_none() {
            warnings.push(if log.implied_block_size.is_some() {
                format!("block size: {b}, from the log's blocks × block size / max_model_len")
            } else {
                format!("block size: {b}, the platform's default")
            });
        }
        spec.block_size = Some(b);
    }
    if let Some(n) = log.max_num_batched_tokens {
        spec.max_num_batched_tokens = Some(n);
    }
    if let Some(g) = log.hpu_graph_reserved_mem {
        spec.hpu_graph_reserved_mem = Some(g);
    }
    spec.vllm_mla_align = log.mla_align;
    spec.flashinfer_sampler = log.flashinfer_sampler;
    if let Some(n) = log.max_num_seqs {
        spec.max_num_seqs = Some(n);
    }
    if let Some(kv) = log.kv_cache_dtype.as_deref().filter(|k| *k != "auto") {
        let kv = match kv {
            k if k.starts_with("fp8") && !k.contains("ds_mla") => "fp8",
            k => k,
        };
        spec.set("kv", kv)?;
    } else if let Some(d) = log.dtype.as_deref() {
        // `auto`: the model dtype, unless the engine's own rule for `auto` picks another format.
        match d {
            "float16" | "half" => spec.set("kv", "fp16")?,
            "bfloat16" => spec.set("kv", "bf16")?,
            _ => {}
        }
        spec.kv_is_auto = true;
    }
    // Quantised checkpoints often say so only in their name (Qwen3-235B-A22B-FP8, …-AWQ).
    let from_name = log.model.as_deref().and_then(|n| {
        let n = n.to_ascii_lowercase();
        if n.contains("fp8") {
            Some("fp8")
        } else if n.contains("awq") || n.contains("gptq") || n.contains("int4") {
            Some("awq")
        } else {
            None
        }
    });
    if log.quantization.is_none() && from_name.is_some() && opts.model.is_none() {
        warnings.push(format!(
            "weights: {} from the checkpoint's name",
            if from_name == Some("fp8") {
                "FP8"
            } else {
                "INT4"
            }
        ));
    }
    match log.quantization.as_deref().or(from_name) {
        None => {}
        Some("fp8") => spec.set("weights", "fp8")?,
        Some(q) if q.contains("awq") || q.contains("gptq") => spec.set("weights", "int4")?,
        Some(q) => warnings.push(format!(
            "quantization `{q}`: kvsim keeps the checkpoint precision of {model} for its estimate"
        )),
    }
    let estimated_spec = {
        let mut s = spec.clone();
        if let Some(t) = log.total_gib {
            s.overrides.total_memory = Some(gib_bytes(t.value));
        }
        if log.enforce_eager {
            s.overrides.cuda_graph = Some(0);
        }
        s.other_processes = others;
        s
    };
    let mut estimated = estimated_spec.load()?;
    if let Some(apart) = log.ranks_apart {
        // Without a device-memory transport NCCL keeps no buffers on the GPU and vLLM's custom
        // all-reduce is off: kvsim's rule for ranks without peer access.
        let channels = estimated.chip.nccl.map_or(0, |n| n.channels);
        estimated.chip.nccl = Some(crate::engine::overhead::NcclLinks {
            channels,
            channels_assumed: false,
            peer_access: false,
            nvls: false,
        });
        warnings.push(match apart {
            RanksApart::NoPeerAccess => "ranks: the log says the GPUs lack peer access (vLLM's custom all-reduce is off): NCCL's SHM transport keeps its buffers in host memory, so non-torch memory is the TP1 figure".to_string(),
            RanksApart::AcrossNodes => "ranks: the log says the TP group spans nodes (vLLM's custom all-reduce is off): NCCL's network transport keeps its buffers in host memory without GPUDirect RDMA (assumed), so non-torch memory is the TP1 figure".to_string(),
        });
    }
    // Measured: every overhead the log gives (SGLang's logged free memory already lacks what
    // other processes hold).
    let mut m = estimated_spec;
    m.other_processes = 0;
    let mut rounded = 0u32;
    let fraction = estimated.effective_fraction();
    let weights =
        log.weights_gib
            .map(|f| f.value)
            .or(match (log.peak_torch_gib, log.activation_gib) {
                (Some(p), Some(a)) => Some(p.value - a.value),
                _ => None,
            });
    let activation = match (log.activation_gib, log.peak_torch_gib, weights) {
        (Some(a), _, _) => Some(a.value),
        (None, Some(p), Some(w)) => Some(p.value - w),
        _ => None,
    };
    let sglang = log.engine == LogEngine::Sglang;
    let avail_before = free_before_weights(log, weights);
    match (sglang, avail_before, activation, log.non_torch_gib) {
        // SGLang budgets from the memory free after torch.distributed is up, not the device
        // total: rest = avail_after_weights − avail_before_weights · (1 − fraction)
        // [sglang · model_runner.py::ModelRunner.profile_max_num_token].
        (true, Some(a), _, _) if weights.is_some() => {
            m.overrides.total_memory = Some(gib_bytes(a));
            m.overrides.weights = weights.map(gib_bytes);
            m.overrides.non_torch = Some(0);
            m.overrides.activation = Some(0);
            rounded = 2;
        }
        (false, _, Some(a), Some(n)) => {
            if let Some(t) = log.total_gib {
                m.overrides.total_memory = Some(gib_bytes(t.value));
                rounded += 1;
            }
            m.overrides.weights = weights.map(gib_bytes);
            rounded += u32::from(weights.is_some());
            m.overrides.activation = Some(gib_bytes(a));
            m.overrides.non_torch = Some(gib_bytes(n.value));
            rounded += 2;
        }
        // The HPU fork states what it found free after the weights and the profiling run and the
        // graph reserve it held back from it (`hpu_worker.py::HPUWorker.
        // determine_num_available_blocks` @ v0.7.3): the rest of the device is charged as one
        // figure, so the HPU rule's budget is `free × fraction − graphs`.
        (false, _, _, _)
            if estimated.setup().hpu
                && log.hpu_free_gib.is_some()
                && log.total_gib.is_some()
                && weights.is_some() =>
        {
            let (t, w) = (
                log.total_gib.map_or(0.0, |f| f.value),
                weights.unwrap_or(0.0),
            );
            let free = log.hpu_free_gib.map_or(0.0, |f| f.value);
            m.overrides.total_memory = Some(gib_bytes(t));
            m.overrides.weights = Some(gib_bytes(w));
            m.overrides.activation = Some(0);
            m.overrides.non_torch = Some(gib_bytes((t - w - free).max(0.0)));
            rounded = 3;
        }
        _ => {
            // The log gives the KV memory but not its overheads one by one: everything else
            // within the fraction is charged as one figure, so the budget is the logged KV memory.
            if let Some(kv) = log.kv_gib {
                if let Some(t) = log.total_gib {
                    m.overrides.total_memory = Some(gib_bytes(t.value));
                }
                let total_bytes = m
                    .overrides
                    .total_memory
                    .or_else(|| estimated.chip.memory_bytes().map(|(b, _)| b))
                    .unwrap_or(0);
                let w = match weights {
                    Some(w) => w,
                    None => evaluate(&estimated)?.weights_bytes_per_chip as f64 / GIB,
                };
                m.overrides.weights = Some(gib_bytes(w));
                // The one figure that makes the engine's budget equal the logged KV memory: vLLM's
                // is fraction × total − weights − rest; SGLang's fraction × (total − rest) − weights.
                let total_gib = total_bytes as f64 / GIB;
                let rest = if sglang {
                    total_gib - (w + kv.value) / fraction
                } else {
                    fraction * total_gib - w - kv.value
                };
                if rest >= 0.0 {
                    m.overrides.activation = Some(0);
                    m.overrides.non_torch = Some(gib_bytes(rest));
                    m.overrides.cuda_graph = Some(0);
                    // SGLang logs K and V sizes separately: two roundings.
                    rounded = if sglang { 2 } else { 1 };
                    warnings.push(format!(
                        "overheads: the log gives the KV memory but not its overheads one by one; \
                         with the log's overheads, {rest:.2} GiB (fraction × total − weights − KV) \
                         is charged as one figure"
                    ));
                } else {
                    warnings.push(format!(
                        "the logged KV memory and weights exceed {fraction} of the device total by \
                         {:.2} GiB: the log's figures disagree with the device",
                        -rest
                    ));
                }
            }
        }
    }
    if let Some(g) = log.cuda_graph_gib {
        // Fed back, unless the lumped rest above holds it and the budget subtracts graph memory
        // (it would count twice); a release capturing its graphs after the budget only reports
        // the figure.
        if m.overrides.cuda_graph != Some(0)
            || log.kv_gib.is_none()
            || !estimated.deployment.engine.subtracts_cuda_graphs()
        {
            m.overrides.cuda_graph = Some(gib_bytes(g.value));
        }
    }
    let measured = m.load()?;
    Ok(Rebuilt {
        spec,
        measured,
        estimated,
        rounding_bytes: (f64::from(rounded) * HALF_CENTI_GIB * GIB).round() as u64,
        warnings,
        assumed,
    })
}

/// One figure beside kvsim's two predictions.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub figure: &'static str,
    pub unit: &'static str,
    pub logged: Option<f64>,
    pub measured: f64,
    pub estimated: f64,
}

impl Row {
    /// Relative error of a prediction against the logged figure (None without a figure, or when
    /// the figure is not positive: a negative KV memory has no meaningful relative error).
    pub fn error(&self, predicted: f64) -> Option<f64> {
        self.logged
            .filter(|l| *l > 0.0)
            .map(|l| (predicted - l) / l)
    }
}

/// The result of checking a log.
#[derive(Debug, Clone)]
pub struct Check {
    pub logged: Logged,
    pub rebuilt: Rebuilt,
    pub measured: Report,
    pub estimated: Report,
    /// KV tokens at the two ends of the rounding of the logged GiB figures (measured mode).
    pub measured_tokens_range: (u64, u64),
    pub rows: Vec<Row>,
}

impl Check {
    /// The KV capacity in tokens the log states, or its blocks × the block size of the rebuilt
    /// scenario (given, stated or implied by the log, the platform's or the chip's rule).
    pub fn logged_tokens(&self) -> Option<u64> {
        logged_tokens(&self.logged, &self.measured)
    }

    /// Whether the logged KV tokens lie within what the rounding of the log's inputs allows
    /// (one block of slack either side for the engines' integer divisions).
    pub fn tokens_reproduced(&self) -> Option<bool> {
        let t = self.logged_tokens()?;
        let b = self.measured.block_size;
        let (lo, hi) = self.measured_tokens_range;
        Some(lo.saturating_sub(b) <= t && t <= hi + b)
    }

    /// Relative error of kvsim's own KV-token estimate against the log.
    pub fn estimated_tokens_error(&self) -> Option<f64> {
        let t = self.logged_tokens()? as f64;
        (t > 0.0).then(|| (self.estimated.kv_capacity_tokens_per_chip as f64 - t) / t)
    }
}

fn logged_tokens(logged: &Logged, measured: &Report) -> Option<u64> {
    logged
        .kv_tokens
        .map(|f| f.value)
        .or_else(|| logged.gpu_blocks.map(|b| b.value * measured.block_size))
}

/// SGLang's free memory before the weights (GiB): logged, or free after + `weights` (its "mem
/// usage" is the drop between the two).
fn free_before_weights(log: &Logged, weights: Option<f64>) -> Option<f64> {
    log.avail_before_weights_gib
        .map(|f| f.value)
        .or(match (log.avail_after_weights_gib, weights) {
            (Some(a), Some(w)) => Some(a.value + w),
            _ => None,
        })
}

/// SGLang budgets from the free memory it measures before the weights, which the log states (or
/// implies: free after + weights). When that is half a GiB or more below kvsim's own estimate
/// for SGLang alone on the device (its total less kvsim's non-torch figure) and no
/// `--other-processes` was given, a hint: another process may have held the difference (a
/// desktop, the Windows host under WSL2) — or kvsim's start-up estimate is short. A hint only:
/// nothing is fed back.
fn other_tenant_hint(logged: &Logged, rebuilt: &Rebuilt, estimated: &Report) -> Option<String> {
    const HINT_GIB: f64 = 0.5;
    if logged.engine != LogEngine::Sglang || rebuilt.estimated.other_processes > 0 {
        return None;
    }
    let free = free_before_weights(logged, logged.weights_gib.map(|f| f.value))?;
    let own = estimated
        .total_memory_bytes_per_chip
        .saturating_sub(estimated.non_torch_bytes_per_chip) as f64
        / GIB;
    let gap = own - free;
    (gap >= HINT_GIB).then(|| {
        format!(
            "free memory before the weights: the log gives {free:.2} GiB, {gap:.2} below kvsim's estimate for SGLang alone on the device ({own:.2}); SGLang budgets from that free memory, so if another process held it (a desktop, the Windows host under WSL2), give --other-processes {gap:.2} for kvsim's own estimate"
        )
    })
}

/// Parses `text`, rebuilds its scenario and evaluates it both ways.
pub fn check(file: &str, text: &str, opts: &CheckOptions) -> Result<Check> {
    let logged = parse(file, text)?;
    let mut rebuilt = rebuild(&logged, opts)?;
    let measured = evaluate(&rebuilt.measured)?;
    let estimated = evaluate(&rebuilt.estimated)?;
    if let Some(w) = other_tenant_hint(&logged, &rebuilt, &estimated) {
        rebuilt.warnings.push(w);
    }
    // The rounding of the logged inputs moves the budget by up to `rounding_bytes`: evaluate at
    // both ends by moving the larger of the activation and non-torch figures (both enter every
    // budget with sign −; the larger has room to move down: with the overheads charged as one
    // figure the activation is 0, and moving it would clip the range's upper end).
    let shifted = |delta: i64| -> Result<u64> {
        let mut s = rebuilt.measured.clone();
        if logged.engine == LogEngine::Sglang {
            let w = s
                .overrides
                .weights
                .unwrap_or(measured.weights_bytes_per_chip);
            s.overrides.weights = Some(w.saturating_add_signed(delta));
        } else {
            let a = s
                .overrides
                .activation
                .unwrap_or(measured.activation_bytes_per_chip);
            let n = s
                .overrides
                .non_torch
                .unwrap_or(measured.non_torch_bytes_per_chip);
            if a >= n {
                s.overrides.activation = Some(a.saturating_add_signed(delta));
            } else {
                s.overrides.activation = Some(a);
                s.overrides.non_torch = Some(n.saturating_add_signed(delta));
            }
        }
        Ok(evaluate(&s)?.kv_capacity_tokens_per_chip)
    };
    let d = rebuilt.rounding_bytes as i64;
    let measured_tokens_range = (shifted(d)?, shifted(-d)?);
    let g = |b: u64| b as f64 / GIB;
    let f = |x: Option<Figure<f64>>| x.map(|f| f.value);
    let activation_logged =
        f(logged.activation_gib).or(match (logged.peak_torch_gib, logged.weights_gib) {
            (Some(p), Some(w)) => Some(p.value - w.value),
            _ => None,
        });
    let rows = vec![
        Row {
            figure: "device total",
            unit: "GiB",
            logged: f(logged.total_gib),
            measured: g(measured.total_memory_bytes_per_chip),
            estimated: g(estimated.total_memory_bytes_per_chip),
        },
        Row {
            figure: "weights",
            unit: "GiB",
            logged: f(logged.weights_gib),
            measured: g(measured.weights_bytes_per_chip),
            estimated: g(estimated.weights_bytes_per_chip),
        },
        Row {
            figure: "activation peak",
            unit: "GiB",
            logged: activation_logged,
            measured: g(measured.activation_bytes_per_chip),
            estimated: g(estimated.activation_bytes_per_chip),
        },
        Row {
            figure: "non-torch",
            unit: "GiB",
            logged: f(logged.non_torch_gib),
            measured: g(measured.non_torch_bytes_per_chip),
            estimated: g(estimated.non_torch_bytes_per_chip),
        },
        Row {
            figure: "CUDA graphs",
            unit: "GiB",
            logged: f(logged.cuda_graph_gib),
            measured: g(measured.cuda_graph_bytes_per_chip),
            estimated: g(estimated.cuda_graph_bytes_per_chip),
        },
        Row {
            figure: "KV cache",
            unit: "GiB",
            logged: f(logged.kv_gib),
            measured: g(measured.kv_budget_bytes_per_chip),
            estimated: g(estimated.kv_budget_bytes_per_chip),
        },
        Row {
            figure: "KV tokens",
            unit: "tokens",
            logged: logged_tokens(&logged, &measured).map(|t| t as f64),
            measured: measured.kv_capacity_tokens_per_chip as f64,
            estimated: estimated.kv_capacity_tokens_per_chip as f64,
        },
        Row {
            figure: "max concurrency",
            unit: "x",
            logged: f(logged.max_concurrency),
            measured: measured.max_concurrency,
            estimated: estimated.max_concurrency,
        },
    ];
    Ok(Check {
        logged,
        rebuilt,
        measured,
        estimated,
        measured_tokens_range,
        rows,
    })
}

/// Median, 90th percentile and worst (largest absolute) of relative errors.
pub fn error_summary(errors: &[f64]) -> Option<(f64, f64, f64)> {
    if errors.is_empty() {
        return None;
    }
    let mut abs: Vec<f64> = errors.iter().map(|e| e.abs()).collect();
    abs.sort_by(f64::total_cmp);
    let pick = |q: f64| abs[((q * (abs.len() - 1) as f64).round() as usize).min(abs.len() - 1)];
    let worst = errors
        .iter()
        .copied()
        .max_by(|a, b| a.abs().total_cmp(&b.abs()))
        .unwrap_or(0.0);
    Some((pick(0.5), pick(0.9), worst))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_with_commas_and_units() {
        assert_eq!(leading_number(": 476,016 tokens"), Some(476_016.0));
        assert_eq!(leading_number(" (79.19GiB) x"), Some(79.19));
        assert_eq!(leading_number("=0.90\n"), Some(0.9));
        assert_eq!(leading_number(" 58.11x"), Some(58.11));
        assert_eq!(leading_number(" GiB"), None);
    }

    #[test]
    fn catalog_names_from_hub_ids() {
        assert_eq!(
            match_catalog_model("meta-llama/Llama-3.1-8B-Instruct"),
            Some("llama-3.1-8b")
        );
        assert_eq!(
            match_catalog_model("/models/Meta-Llama-3.1-70B-Instruct"),
            Some("llama-3.1-70b")
        );
        assert_eq!(
            match_catalog_model("Qwen/Qwen3-235B-A22B-FP8"),
            Some("qwen3-235b-a22b")
        );
        assert_eq!(
            match_catalog_model("deepseek-ai/DeepSeek-V3"),
            Some("deepseek-v3")
        );
        assert_eq!(
            match_catalog_model("deepseek-ai/DeepSeek-R1-Distill-Qwen-32B"),
            None
        );
        assert_eq!(match_catalog_model("Qwen/Qwen3-8B"), Some("qwen3-8b"));
        assert_eq!(match_catalog_model("facebook/opt-125m"), None);
    }

    // SGLang budgets from the memory free before the weights load:
    // rest = avail_after − avail_before · (1 − mem_fraction_static)
    // [sglang · model_runner.py::ModelRunner.profile_max_num_token]. Lines in SGLang's format with
    // round figures: 78.00 GiB before, 15.00 GiB of weights, fraction 0.88 → 63 − 78 · 0.12 =
    // 53.64 GiB; Llama-3.1-8B's 131,072 B per token → 439,418 tokens.
    #[test]
    fn sglang_memory_lines_feed_its_budget() {
        let text = "server_args=ServerArgs(model_path='meta-llama/Llama-3.1-8B-Instruct', tp_size=1, mem_fraction_static=0.88, context_length=8192)\n\
            [TP0] Load weight begin. avail mem=78.00 GB\n\
            [TP0] Load weight end. type=LlamaForCausalLM, dtype=torch.bfloat16, avail mem=63.00 GB, mem usage=15.00 GB.\n\
            [TP0] KV Cache is allocated. #tokens: 439418, K size: 26.82 GB, V size: 26.82 GB\n";
        let opts = CheckOptions {
            chip: Some("h100-sxm".into()),
            ..CheckOptions::default()
        };
        let c = check("s.log", text, &opts).unwrap();
        assert_eq!(c.logged.engine, LogEngine::Sglang);
        assert_eq!(c.rebuilt.spec.model, "llama-3.1-8b");
        assert_eq!(c.rebuilt.spec.context, 8192);
        let t = c.measured.kv_capacity_tokens_per_chip;
        assert!(t.abs_diff(439_418) <= 1, "{t}");
        assert_eq!(c.tokens_reproduced(), Some(true));
    }

    // vLLM V1 at DEBUG level breaks the overheads down. Lines in V1's format carrying the figures
    // of the worked example in tests/deploy.rs (H100, utilisation 0.95, weights 14.99, activation
    // 1.89, non-torch 0.25 GiB; 476,016 tokens logged): reproduced within the rounding.
    #[test]
    fn vllm_v1_debug_breakdown_is_fed_back() {
        let text = "INFO [utils.py:326] non-default args: {'model': 'meta-llama/Llama-3.1-8B-Instruct', 'max_model_len': 8192, 'gpu_memory_utilization': 0.95}\n\
            DEBUG [gpu_worker.py:263] Memory profiling takes 5.21 seconds. Total non KV cache memory: 17.13GiB; torch peak memory increase: 1.89GiB; non-torch forward increase memory: 0.25GiB; weights memory: 14.99GiB.\n\
            INFO [gpu_worker.py:276] Available KV cache memory: 58.11 GiB\n\
            INFO [kv_cache_utils.py:716] GPU KV cache size: 476,016 tokens\n\
            INFO [kv_cache_utils.py:720] Maximum concurrency for 8,192 tokens per request: 58.11x\n";
        let opts = CheckOptions {
            chip: Some("h100-sxm".into()),
            ..CheckOptions::default()
        };
        // The worked example's log is vLLM 0.19 (no CUDA graphs in the budget); these lines name
        // no release, so it is given.
        let opts = CheckOptions {
            engine_version: Some("0.19".into()),
            ..opts
        };
        let c = check("v1.log", text, &opts).unwrap();
        assert_eq!(c.logged.engine, LogEngine::VllmV1);
        assert_eq!(c.logged.activation_gib.unwrap().value, 1.89);
        assert_eq!(c.logged.non_torch_gib.unwrap().value, 0.25);
        assert_eq!(c.logged.weights_gib.unwrap().value, 14.99);
        assert_eq!(c.logged.memory_fraction.unwrap().value, 0.95);
        // Same inputs as tests/deploy.rs: 475,952 tokens from the rounded figures.
        assert_eq!(c.measured.kv_capacity_tokens_per_chip, 475_952);
        assert_eq!(c.tokens_reproduced(), Some(true));
    }

    // vLLM's one-line memory account of recent releases, as printed on two RTX 5090
    // (noonghunna/club-3090 issue 1087): total 31.4 GiB, fraction 0.92, weights + non-torch
    // 15.03 GiB, activation 1.59 GiB, CUDA graphs 0.09 GiB, KV 12.26 GiB.
    #[test]
    fn free_memory_account_line() {
        let text = "(Worker_TP0 pid=223) INFO 08-22 04:42:13 [gpu_worker.py:789] Free memory on device (30.27/31.4 GiB) on startup. Desired GPU memory utilization is (0.92, 28.88 GiB). Actual usage is 15.03 GiB for consumed memory (weights + non-torch), 1.59 GiB for peak activation, and 0.09 GiB for CUDAGraph memory. Replace gpu_memory_utilization config with `--kv-cache-memory=12917635953` (12.03 GiB) to fit into requested memory, or `--kv-cache-memory=14405811712` (13.42 GiB) to fully utilize gpu memory. Current kv cache memory in use is 12.26 GiB.\n";
        let l = parse("x.log", text).unwrap();
        assert_eq!(l.engine, LogEngine::VllmV1);
        assert_eq!(l.total_gib.unwrap().value, 31.4);
        assert_eq!(l.memory_fraction.unwrap().value, 0.92);
        assert_eq!(l.weights_gib.unwrap().value, 15.03);
        assert_eq!(l.activation_gib.unwrap().value, 1.59);
        assert_eq!(l.cuda_graph_gib.unwrap().value, 0.09);
        assert_eq!(l.kv_gib.unwrap().value, 12.26);
        let e = parse(
            "y.log",
            "INFO Free memory on device (30.27/31.4 GiB) on startup. Actual usage is ?? GiB for peak activation\nAvailable KV cache memory: 1.00 GiB\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("y.log:1"), "{e}");
        // vLLM 0.10 states the KV memory in bytes (sungwon-chae/arxiv_confi tmp_memo.md, 2 × H200):
        // 47,878,721,024 B = 44.59 GiB, as its "Available KV cache memory" line says.
        let text = "(Worker_TP0 pid=1) INFO 10-23 15:14:56 [gpu_worker.py:391] Free memory on device (139.21/139.81 GiB) on startup. Desired GPU memory utilization is (0.9, 125.83 GiB). Actual usage is 74.28 GiB for weight, 5.58 GiB for peak activation, 1.38 GiB for non-torch memory, and 2.37 GiB for CUDAGraph memory. Current kv cache memory in use is 47878721024 bytes.\n";
        let l = parse("z.log", text).unwrap();
        assert!((l.kv_gib.unwrap().value - 44.59).abs() < 0.005);
        assert_eq!(l.total_gib.unwrap().value, 139.81);
        assert_eq!(l.non_torch_gib.unwrap().value, 1.38);
        assert_eq!(l.weights_gib.unwrap().value, 74.28);
        let e = parse(
            "w.log",
            "INFO Free memory on device (1/2 GiB) on startup. Current kv cache memory in use is 5 blocks.\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("w.log:1"), "{e}");
    }

    // vLLM 0.7.3 V0 (`executor_base.py::initialize_cache`): "# cuda blocks: N, # CPU blocks: M"
    // and the concurrency line, as printed for DeepSeek-R1 on 8 GPUs in vllm-project/vllm PR
    // 14842: 5266 blocks at 2.06x of 163,840 tokens → 5266 · b / 163840 = 2.06 → b = 64.09 →
    // FlashMLA's 64-token blocks, 337,024 tokens (not 5266 · 16).
    // vLLM 0.8.3 V0 over Ray (github.com/surajssd/llm-k8s @ 58b61c5, lws-run-2.sh): the engine
    // is named, V0's model runner logs "Model loading took" too, and of the per-worker summaries
    // the one with the least KV memory is kept with its own overheads.
    #[test]
    fn v0_named_engine_and_the_smallest_worker_summary() {
        let text = "INFO 04-14 17:01:33 [llm_engine.py:242] Initializing a V0 LLM engine (v0.8.3) with config: model='meta-llama/Llama-3.3-70B-Instruct', tensor_parallel_size=4, pipeline_parallel_size=2\n\
            INFO 04-14 17:05:02 [model_runner.py:1146] Model loading took 16.4603 GiB and 174.184707 seconds\n\
            (RayWorkerWrapper pid=626, ip=10.244.1.182) INFO 04-14 17:05:06 [worker.py:267] model weights take 16.46GiB; non_torch_memory takes 2.24GiB; PyTorch activation peak memory takes 1.27GiB; the rest of the memory reserved for KV Cache is 15.58GiB.\n\
            INFO 04-14 17:05:08 [worker.py:267] model weights take 16.46GiB; non_torch_memory takes 0.93GiB; PyTorch activation peak memory takes 0.25GiB; the rest of the memory reserved for KV Cache is 17.90GiB.\n";
        let l = parse("v0.log", text).unwrap();
        assert_eq!(l.engine, LogEngine::VllmV0);
        assert_eq!(l.kv_lines, 2);
        assert_eq!(l.kv_gib.unwrap().value, 15.58);
        assert_eq!(l.non_torch_gib.unwrap().value, 2.24);
        assert_eq!(l.activation_gib.unwrap().value, 1.27);
        assert_eq!(l.kv_gib.unwrap().line, 3);
    }

    #[test]
    fn v0_cuda_blocks_and_the_block_size_they_imply() {
        let text = "$ VLLM_MLA_CUDA_MEM_ALIGN_KV_CACHE=0 VLLM_USE_V1=0 VLLM_USE_FLASHINFER_SAMPLER=1 vllm serve /home/vllm-dev/DeepSeek-R1 --tensor-parallel-size 8 --trust-remote-code --disable-log-requests\n\
            INFO 03-14 20:43:52 [executor_base.py:111] # cuda blocks: 5266, # CPU blocks: 954\n\
            INFO 03-14 20:43:52 [executor_base.py:116] Maximum concurrency for 163840 tokens per request: 2.06x\n";
        let l = parse("mla.log", text).unwrap();
        assert_eq!(l.engine, LogEngine::VllmV0);
        assert_eq!(l.gpu_blocks.unwrap().value, 5266);
        assert_eq!(l.implied_block_size, Some(64));
        assert_eq!(l.capacity_tokens(), Some(337_024));
        assert_eq!(l.model.as_deref(), Some("/home/vllm-dev/DeepSeek-R1"));
        assert_eq!(l.tp, Some(8));
        // 0.7.0–0.7.2 print the device name upper-case.
        let l = parse(
            "up.log",
            "INFO 01-16 09:40:00 executor_base.py:95] # CUDA blocks: 6001, # CPU blocks: 1638\n",
        )
        .unwrap();
        assert_eq!(l.capacity_tokens(), Some(6001 * 16));
    }

    // vLLM-Ascend V0 fallback (vllm-project/vllm-ascend issue 1425, 310P3): "# npu blocks: 466"
    // at 1.82x of 32,768 tokens → 466 · 128 / 32768 = 1.82: 128-token blocks, 59,648 tokens.
    #[test]
    fn npu_blocks_are_128_tokens() {
        let text = "INFO 06-23 13:45:14 [model_runner.py:1000] Loading model weights took 5.7917 GB\n\
            INFO 06-23 13:45:34 [executor_base.py:113] # npu blocks: 466, # CPU blocks: 1820\n\
            INFO 06-23 13:45:34 [executor_base.py:118] Maximum concurrency for 32768 tokens per request: 1.82x\n";
        let l = parse("npu.log", text).unwrap();
        assert_eq!(l.device, Some(LogDevice::Npu));
        assert_eq!(l.gpu_blocks.unwrap().value, 466);
        assert_eq!(l.capacity_tokens(), Some(59_648));
        // Without the concurrency line the platform's default says the same.
        let l = parse(
            "npu2.log",
            &text.lines().take(2).collect::<Vec<_>>().join("\n"),
        )
        .unwrap();
        assert_eq!(l.implied_block_size, None);
        assert_eq!(l.capacity_tokens(), Some(59_648));
    }

    // vLLM-Ascend V1 (`worker_v1.py`), one line per rank, bytes: 8x 910B4 in vllm-ascend issue
    // 2473 (two of the eight ranks here). KV memory and device total are the smallest rank's:
    // 19443365990 B = 18.108 GiB, 31662800896 B = 29.488 GiB; the token lines likewise.
    #[test]
    fn ascend_available_memory_per_rank_takes_the_minimum() {
        let text = "(VllmWorker rank=2 pid=36130) INFO 08-21 08:26:19 [worker_v1.py:186] Available memory: 20467668582, total memory: 31662800896\n\
            (VllmWorker rank=0 pid=36105) INFO 08-21 08:26:19 [worker_v1.py:186] Available memory: 19443365990, total memory: 31662800896\n\
            INFO 08-21 08:26:19 [kv_cache_utils.py:833] GPU KV cache size: 791,040 tokens\n\
            INFO 08-21 08:26:19 [kv_cache_utils.py:837] Maximum concurrency for 4,096 tokens per request: 193.12x\n\
            INFO 08-21 08:26:19 [kv_cache_utils.py:833] GPU KV cache size: 832,768 tokens\n\
            INFO 08-21 08:26:19 [kv_cache_utils.py:837] Maximum concurrency for 4,096 tokens per request: 203.31x\n";
        let l = parse("a.log", text).unwrap();
        assert_eq!(l.engine, LogEngine::VllmV1);
        assert_eq!(l.device, Some(LogDevice::Npu));
        assert_eq!(l.kv_lines, 2);
        assert_eq!(l.kv_gib.unwrap().value * GIB, 19_443_365_990.0);
        assert_eq!(l.kv_gib.unwrap().line, 2);
        assert_eq!(l.total_gib.unwrap().value * GIB, 31_662_800_896.0);
        assert_eq!(l.kv_tokens.unwrap().value, 791_040);
        assert_eq!(l.max_concurrency.unwrap().value, 193.12);
        // TP from --tp when the log lacks it; the minimum named in a warning.
        let opts = CheckOptions {
            model: Some("qwen3-30b-a3b".into()),
            chip: Some("ascend-910b".into()),
            tp: Some(8),
            ..CheckOptions::default()
        };
        let c = check("a.log", text, &opts).unwrap();
        assert_eq!(c.rebuilt.spec.tp, 8);
        assert_eq!(c.measured.block_size, 128);
        assert!(c
            .rebuilt
            .warnings
            .iter()
            .any(|w| w.contains("2 per-rank KV lines")));
        let e = parse(
            "b.log",
            "INFO [worker_v1.py:186] Available memory: 19443365990, total memory: lots\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("b.log:1"), "{e}");
    }

    // The HPU fork (vllm-project/vllm-gaudi docs/configuration/performance_tuning.md, Gaudi2):
    // weights and device total from "Loading model weights took in total", KV memory and the
    // HPU-graph reserve from "Free device memory", 4107 HPU blocks of 128 tokens = 525,696.
    #[test]
    fn hpu_fork_lines() {
        let text = "INFO 09-24 17:31:39 habana_model_runner.py:640] Loading model weights took in total 15.05 GiB of device memory (15.05 GiB/94.62 GiB used) and 1.056 GiB of host memory (8.188 GiB/108.2 GiB used)\n\
            INFO 09-24 17:31:40 habana_worker.py:177] Free device memory: 79.22 GiB, 71.3 GiB usable (gpu_memory_utilization=0.9), 7.13 GiB reserved for HPUGraphs (VLLM_GRAPH_RESERVED_MEM=0.1), 64.17 GiB reserved for KV cache\n\
            INFO 09-24 17:31:40 habana_executor.py:85] # HPU blocks: 4107, # CPU blocks: 256\n";
        let l = parse("g.log", text).unwrap();
        assert_eq!(l.engine, LogEngine::VllmV0);
        assert_eq!(l.hpu_free_gib.unwrap().value, 79.22);
        assert_eq!(l.hpu_graph_reserved_mem, Some(0.1));
        assert_eq!(l.device, Some(LogDevice::Hpu));
        assert_eq!(l.weights_gib.unwrap().value, 15.05);
        assert_eq!(l.total_gib.unwrap().value, 94.62);
        assert_eq!(l.kv_gib.unwrap().value, 64.17);
        assert_eq!(l.cuda_graph_gib.unwrap().value, 7.13);
        assert_eq!(l.memory_fraction.unwrap().value, 0.9);
        assert_eq!(l.gpu_blocks.unwrap().value, 4107);
        assert_eq!(l.capacity_tokens(), Some(525_696));
        for bad in [
            "INFO habana_model_runner.py:640] Loading model weights took in total ?? GiB of device memory\n# HPU blocks: 1, # CPU blocks: 0\n",
            "INFO habana_worker.py:177] Free device memory: 79.22 GiB, 71.3 GiB usable (gpu_memory_utilization=0.9), 7.13 GiB reserved for HPUGraphs (VLLM_GRAPH_RESERVED_MEM=0.1), GiB reserved for KV cache\n# HPU blocks: 1, # CPU blocks: 0\n",
        ] {
            let e = parse("h.log", bad).unwrap_err();
            assert!(e.to_string().contains("h.log:1"), "{e}");
        }
    }

    // A V0 summary line wrapped by its poster is joined with its continuation; a line cut after
    // "reserved" with nothing following is an error naming it, not a log without KV memory.
    #[test]
    fn wrapped_v0_summary_line() {
        let text = "INFO 03-15 20:36:48 worker.py:267] model weights take 83.88GiB; non_torch_memory takes 7.16GiB; PyTorch activation peak memory takes 6.37GiB; the rest of the memory reserved \n\
            for KV Cache is 21.43GiB.\n\
            INFO 03-15 20:36:48 executor_base.py:111] # cuda blocks: 18418, # CPU blocks: 3437\n";
        let l = parse("w.log", text).unwrap();
        assert_eq!(l.kv_gib.unwrap().value, 21.43);
        assert_eq!(l.kv_gib.unwrap().line, 1);
        assert_eq!(l.non_torch_gib.unwrap().value, 7.16);
        let cut = text.lines().next().unwrap();
        let e = parse("w.log", cut).unwrap_err();
        assert!(e.to_string().contains("w.log:1"), "{e}");
    }

    // `vllm serve` with flags before the model (vllm-project/vllm issue 13061).
    #[test]
    fn mla_alignment_from_the_command_line() {
        // PR 14842's two runs: the padding on (the 0.7.3 default) and off.
        let run = |v: &str| {
            format!(
                "$ VLLM_MLA_CUDA_MEM_ALIGN_KV_CACHE={v} VLLM_USE_V1=0 vllm serve /m/DeepSeek-R1 --tensor-parallel-size 8\n\
                 INFO 03-14 18:57:59 [executor_base.py:111] # cuda blocks: 4739, # CPU blocks: 859\n"
            )
        };
        assert_eq!(parse("a.log", &run("1")).unwrap().mla_align, Some(true));
        assert_eq!(parse("a.log", &run("0")).unwrap().mla_align, Some(false));
        let plain = run("1").replace("VLLM_MLA_CUDA_MEM_ALIGN_KV_CACHE=1 ", "");
        assert_eq!(parse("a.log", &plain).unwrap().mla_align, None);
    }

    #[test]
    fn vllm_serve_positional_model_after_flags() {
        assert_eq!(
            vllm_serve_model("--trust-remote-code --tensor_parallel_size 2 --gpu_memory_utilization=0.98  /root/autodl-tmp/deepseek-ai/DeepSeek-R1-Distill-Qwen-14B").as_deref(),
            Some("/root/autodl-tmp/deepseek-ai/DeepSeek-R1-Distill-Qwen-14B")
        );
        assert_eq!(
            vllm_serve_model("meta-llama/Llama-3.2-11B-Vision --load-format dummy").as_deref(),
            Some("meta-llama/Llama-3.2-11B-Vision")
        );
        assert_eq!(vllm_serve_model("--port 8000"), None);
    }

    // SGLang of early 2025 logs no "mem usage" on "Load weight end": the weights are the drop in
    // free memory (github.com/jerryzsj/my-deepseek-r1, RTX 3090: 22.76 − 8.37 = 14.39 GB), and
    // SGLang logs never state the device total, so without --chip the error says so.
    #[test]
    fn sglang_old_format_weights_and_no_total() {
        let text = "[2025-02-04 05:21:40 TP0] Load weight begin. avail mem=22.76 GB\n\
            [2025-02-04 05:29:17 TP0] Load weight end. type=Qwen2ForCausalLM, dtype=torch.bfloat16, avail mem=8.37 GB\n\
            [2025-02-04 05:29:17 TP0] KV Cache is allocated. K size: 2.82 GB, V size: 2.82 GB.\n\
            [2025-02-04 05:29:20 TP0] max_total_num_tokens=105531, chunked_prefill_size=2048, max_prefill_tokens=16384, max_running_requests=2049, context_len=131072\n";
        let l = parse("s.log", text).unwrap();
        assert_eq!(l.weights_gib.unwrap().value, 14.39);
        assert_eq!(l.kv_gib.unwrap().value, 5.64);
        assert_eq!(l.kv_tokens.unwrap().value, 105_531);
        let opts = CheckOptions {
            model: Some("qwen3-8b".into()),
            ..CheckOptions::default()
        };
        let e = check("s.log", text, &opts).unwrap_err();
        assert!(
            e.to_string().contains("SGLang logs state free memory"),
            "{e}"
        );
    }

    #[test]
    fn bad_options_are_named() {
        let text = "INFO [kv_cache_utils.py:634] GPU KV cache size: 100,000 tokens\n";
        for (opts, flag) in [
            (
                CheckOptions {
                    tp: Some(0),
                    ..CheckOptions::default()
                },
                "--tp",
            ),
            (
                CheckOptions {
                    memory_fraction: Some(1.5),
                    ..CheckOptions::default()
                },
                "--memory-fraction",
            ),
            (
                CheckOptions {
                    block_size: Some(0),
                    ..CheckOptions::default()
                },
                "--block-size",
            ),
        ] {
            let opts = CheckOptions {
                model: Some("llama-3.1-8b".into()),
                chip: Some("h100-sxm".into()),
                ..opts
            };
            let e = check("o.log", text, &opts).unwrap_err();
            assert!(e.to_string().contains(flag), "{e}");
        }
    }

    #[test]
    fn truncated_log_names_the_problem() {
        let e = parse(
            "x.log",
            "INFO 01-14 12:36:51 model_runner.py:1099] Loading model weights took 7.9692 GB\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("cut off"), "{e}");
        let e = parse("x.log", "hello\n").unwrap_err();
        assert!(e.to_string().contains("x.log"), "{e}");
        let e = parse(
            "x.log",
            "INFO [kv_cache_utils.py:524] GPU KV cache size: lots\n",
        )
        .unwrap_err();
        assert!(e.to_string().contains("x.log:1"), "{e}");
    }
}
