"""kvsim.evaluate against hand-computed figures and against the command line, key by key."""

import pytest

import kvsim
from conftest import cli, cli_json


def test_readme_example_values():
    r = kvsim.evaluate(model="deepseek-v3", chip="h200", context="32k", tp=8)
    # The MLA latent (512 + 64 elements, BF16) on each of 61 layers, replicated over TP.
    assert r["kv_bytes_per_token_per_chip"] == 61 * 576 * 2
    assert r["params_total"] == 671_026_404_352
    assert r["context"] == 32 * 1024
    # README: "20 sessions (vLLM)" on 8×H200, so 20/8 per chip.
    assert r["sessions_per_deployment"] == 20
    assert r["sessions_per_chip"] == pytest.approx(20 / 8)
    # The H200's total is the one its runtime reports (139.81 GiB in a vLLM log), so no
    # estimate warning; a chip without such a figure still warns.
    assert r["memory_source"] == "device_reported"
    assert not any("device-reported" in w for w in r["warnings"]), r["warnings"]
    b = kvsim.evaluate(model="deepseek-v3", chip="b200", context="32k", tp=8)
    assert any("b200 has no device-reported" in w for w in b["warnings"]), b["warnings"]


def test_same_json_as_the_cli_key_by_key():
    args = dict(model="deepseek-v3", chip="h200", context="32k", tp=8)
    py = kvsim.evaluate(**args)
    c = cli_json("eval", "--model", "deepseek-v3", "--chip", "h200", "--context", "32k",
                 "--tp", "8", "--format", "json")
    assert list(py) == list(c)
    for k in c:
        assert py[k] == c[k], k


@pytest.mark.parametrize(
    "kw, flags",
    [
        (dict(engine="sglang", dp=8, dp_attention=True, ep=8, tp=8),
         ["--engine", "sglang", "--dp", "8", "--dp-attention", "--ep", "8", "--tp", "8"]),
        (dict(kv="fp8", precision={"routed_experts": "mxfp4", "attention": "fp8"}, tp=8),
         ["--kv", "fp8", "--precision", "routed_experts=mxfp4,attention=fp8", "--tp", "8"]),
        (dict(set={"kv_lora_rank": 256, "num_hidden_layers": 48}, tp=8, price_per_hour=2.5),
         ["--set", "kv_lora_rank=256", "--set", "num_hidden_layers=48", "--tp", "8",
          "--price-per-hour", "2.5"]),
        (dict(gpu_memory_utilization=0.95, engine_version="0.19", context=8192),
         ["--gpu-memory-utilization", "0.95", "--engine-version", "0.19", "--context", "8192"]),
    ],
)
def test_keywords_mean_what_the_flags_mean(kw, flags):
    py = kvsim.evaluate(model="deepseek-v3", chip="h200", **kw)
    c = cli_json("eval", "--model", "deepseek-v3", "--chip", "h200", *flags, "--format", "json")
    assert py == c


def test_none_is_the_default():
    a = kvsim.evaluate(model="llama-3.1-8b", chip="h100-sxm", kv=None, tp=None)
    b = kvsim.evaluate(model="llama-3.1-8b", chip="h100-sxm")
    assert a == b
    # BF16 GQA: 32 layers × 8 KV heads × 128 dims × 2 (K and V) × 2 bytes.
    assert b["kv_bytes_per_token_per_chip"] == 32 * 8 * 128 * 2 * 2


def test_errors_carry_the_cli_message():
    code, _, err = cli("eval", "--model", "deepseek-v3", "--chip", "h201", check=False)
    assert code == 2
    with pytest.raises(kvsim.KvsimError) as e:
        kvsim.evaluate(model="deepseek-v3", chip="h201")
    assert isinstance(e.value, ValueError)
    assert err.strip() == f"kvsim: error: {e.value}"
    with pytest.raises(kvsim.KvsimError, match="--tp.*two"):
        kvsim.evaluate(model="deepseek-v3", chip="h200", tp="two")
    with pytest.raises(kvsim.KvsimError, match="does not fit|divide|heads"):
        kvsim.evaluate(model="llama-3.1-8b", chip="h100-sxm", tp=3)


@pytest.mark.parametrize(
    "keyword, nearest",
    [("tensor_parallel_size", "tp"), ("max_model_len", "context"), ("contxt", "context"),
     ("engine_versoin", "engine_version"), ("kv_cache_dtype", "kv")],
)
def test_unknown_keyword_names_the_nearest_knob(keyword, nearest):
    with pytest.raises(kvsim.KvsimError, match=f"nearest is `{nearest}`"):
        kvsim.evaluate(model="deepseek-v3", chip="h200", **{keyword: 8})


def test_aliases_and_dashes():
    a = kvsim.evaluate(model="deepseek-v3", chip="h200", tp=8, engine="sglang",
                       mem_fraction_static=0.8)
    assert a["memory_fraction"] == pytest.approx(0.8)


def test_bad_value_types_are_kvsim_errors():
    with pytest.raises(kvsim.KvsimError, match="tp"):
        kvsim.evaluate(model="deepseek-v3", chip="h200", tp=[1, 2])


# eagle=True is --eagle: a one-layer EAGLE head on Llama-3.1-8B adds one layer of KV (33 × 4096 B
# per token) and 251,662,336 parameters of weights (one layer without its input norm and the
# 8192 × 4096 fusion matrix, BF16), as the CLI says.
def test_eagle_keyword_is_the_flag():
    a = kvsim.evaluate(model="llama-3.1-8b", chip="h100-sxm", context="128k")
    b = kvsim.evaluate(model="llama-3.1-8b", chip="h100-sxm", context="128k", eagle=True)
    assert a["kv_bytes_per_token_per_chip"] == 32 * 4096
    assert b["kv_bytes_per_token_per_chip"] == 33 * 4096
    assert b["weights_bytes_per_chip"] - a["weights_bytes_per_chip"] == 2 * 251_662_336
    c = cli_json("eval", "--model", "llama-3.1-8b", "--chip", "h100-sxm", "--context", "128k",
                 "--eagle", "--format", "json")
    assert b == c


def test_other_processes_refuse_vllm_and_shrink_sglang():
    # 2 GiB held on a 23.64 GiB RTX 4090: vLLM V1 at 0.92 asks 21.75 GiB with 21.13 free, so it
    # refuses to start; SGLang budgets from free memory and loses part of its pool.
    held = 2 << 30
    v = kvsim.evaluate(model="llama-3.1-8b", chip="rtx-4090", context="8k", other_processes=2)
    assert v["other_processes_bytes_per_chip"] == held
    assert v["sessions_per_deployment"] == 0
    assert any("refuses to start" in w for w in v["warnings"]), v["warnings"]
    s0 = kvsim.evaluate(model="llama-3.1-8b", chip="rtx-4090", context="8k", engine="sglang")
    s1 = kvsim.evaluate(model="llama-3.1-8b", chip="rtx-4090", context="8k", engine="sglang",
                        other_processes=1)
    lost = s0["kv_budget_bytes_per_chip"] - s1["kv_budget_bytes_per_chip"]
    assert lost == pytest.approx((1 << 30) * s0["memory_fraction"], abs=2)
