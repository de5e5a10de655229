#!/usr/bin/env python3
"""Peer benchmark: points per second of kvsim's sweep against llm-d-planner's capacity planner on
the same grid of models x memory sizes x contexts, and the ratio.

    python3 -m venv /tmp/peer && /tmp/peer/bin/pip install llm-d-planner==0.3.3
    /tmp/peer/bin/python scripts/peer-bench.py [--kvsim target/release/kvsim]

llm-d-planner (PyPI `llm-d-planner`, module `planner.capacity_planner`): its capacity function
`max_concurrent_requests(model, config, max_model_len, gpu_memory, ...)` is timed per point. It
reads weights from the Hugging Face hub; with no network here, `model_memory_req` is replaced by
the BF16 bytes of kvsim's parameter count (fetched once per model, outside the timing), and the
config is the catalog's config.json behind attribute access (what transformers' AutoConfig gives).

NVIDIA's aiconfigurator is on PyPI (`aiconfigurator`, 0.12.0 checked 2026-11-25), but its memory
figures come out of a whole configuration search over its performance database rather than a
standalone capacity function, and it pulls pandas, matplotlib, bokeh and plotly: this script times
it only when `--aiconfigurator` is given and the package imports (see the README for what was run).

kvsim is timed end to end as users run it: one `kvsim sweep` process writing CSV of the eight
columns a capacity question needs, process start included.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODELS = ["llama-3.1-8b", "qwen3-8b", "mistral-7b-v0.1", "qwen3-32b", "llama-3.1-70b"]
MEMORY_GIB = [24, 40, 48, 80, 94, 141, 192, 288]
CONTEXTS = [2**k for k in range(10, 18)]  # 1k .. 128k


class Config(dict):
    """A config.json with attribute access, as transformers' PretrainedConfig gives."""

    def __getattr__(self, k):
        try:
            v = self[k]
        except KeyError:
            raise AttributeError(k) from None
        return Config(v) if isinstance(v, dict) else v

    def to_dict(self):
        return dict(self)


def catalog_config(model):
    with open(os.path.join(ROOT, "configs", "models", model + ".json")) as f:
        c = json.load(f)
    c.pop("_kvsim", None)
    return Config(c)


def kvsim_params(kvsim, model):
    out = subprocess.run(
        [kvsim, "eval", "--model", model, "--chip", "h100-sxm", "--format", "json"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out)["params_total"]


def bench_llmd(kvsim, repeat):
    import importlib.metadata as md

    import planner.capacity_planner as cp

    params = {m: kvsim_params(kvsim, m) for m in MODELS}
    configs = {m: catalog_config(m) for m in MODELS}
    # No hub access: the weights are kvsim's parameter count in BF16 (GiB).
    cp.model_memory_req = lambda name, config, hf_token=None: params[name] * 2 / 2**30
    points = [(m, g, c) for m in MODELS for g in MEMORY_GIB for c in CONTEXTS]
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for m, g, c in points:
            cp.max_concurrent_requests(m, configs[m], c, g, gpu_mem_util=0.9)
        best = min(best, time.perf_counter() - t0)
    return md.version("llm-d-planner"), len(points), best


def bench_kvsim(kvsim, repeat, scale):
    """One sweep over the same grid, contexts repeated `scale` times (1k..128k:+...) so the
    process start does not dominate; returns points and seconds (best of `repeat`)."""
    cols = "model,context,total_memory_bytes_per_chip,kv_bytes_per_token_per_chip,kv_budget_bytes_per_chip,sessions_per_deployment,sessions_per_chip,max_concurrency"
    mem = ",".join(str(g) for g in MEMORY_GIB)
    ctx = ",".join(str(c) for c in CONTEXTS * scale)
    best = float("inf")
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "peer.csv")
        for _ in range(repeat):
            t0 = time.perf_counter()
            subprocess.run(
                [kvsim, "sweep", "--model", ",".join(MODELS), "--chip", "h100-sxm",
                 "--total-memory-gib", mem, "--context", ctx, "--columns", cols,
                 "--max-points", "100000000", "--output", out],
                check=True, capture_output=True,
            )
            best = min(best, time.perf_counter() - t0)
        with open(out) as f:
            rows = sum(1 for _ in f) - 1
    return rows, best


def main():
    a = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    a.add_argument("--kvsim", default=os.path.join(ROOT, "target", "release", "kvsim"))
    a.add_argument("--repeat", type=int, default=3)
    a.add_argument("--scale", type=int, default=100, help="kvsim grid = peer grid x SCALE contexts")
    a.add_argument("--aiconfigurator", action="store_true")
    args = a.parse_args()
    print(f"grid: {len(MODELS)} models x {len(MEMORY_GIB)} memory sizes x {len(CONTEXTS)} contexts; "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}; {time.strftime('%Y-%m-%d')}")
    rows, t = bench_kvsim(args.kvsim, args.repeat, args.scale)
    kv_rate = rows / t
    v = subprocess.run([args.kvsim, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"{v}: {rows} points in {t:.3f} s (one process, CSV to a file) = {kv_rate:,.0f} points/s")
    try:
        ver, n, t = bench_llmd(args.kvsim, args.repeat)
        rate = n / t
        print(f"llm-d-planner {ver} max_concurrent_requests: {n} points in {t:.3f} s = {rate:,.0f} points/s"
              f"  -> kvsim is {kv_rate / rate:,.1f}x")
    except ImportError as e:
        print(f"llm-d-planner: not installed ({e}); pip install llm-d-planner", file=sys.stderr)
    if args.aiconfigurator:
        try:
            import aiconfigurator  # noqa: F401

            print("aiconfigurator imports; no standalone capacity function is timed (see docstring)")
        except ImportError as e:
            print(f"aiconfigurator: not installed ({e})", file=sys.stderr)


if __name__ == "__main__":
    main()
