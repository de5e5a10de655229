"""kvsim.sweep: grid order, typed columns, error rows, and the same figures as evaluate/CLI."""

import io

import pandas as pd
import pyarrow as pa
import pytest

import kvsim
from conftest import cli


def test_grid_order_and_values():
    t = kvsim.sweep(model=["deepseek-v3", "llama-3.1-70b"], chip="h200", tp=8,
                    context="8k..64k:x2")
    assert isinstance(t, pa.Table) and t.num_rows == 8
    assert t.column("model").to_pylist() == ["deepseek-v3"] * 4 + ["llama-3.1-70b"] * 4
    assert t.column("context").to_pylist() == [8192, 16384, 32768, 65536] * 2
    row = t.slice(2, 1).to_pylist()[0]
    r = kvsim.evaluate(model="deepseek-v3", chip="h200", tp=8, context="32k")
    assert row["sessions_per_deployment"] == r["sessions_per_deployment"] == 20
    assert row["precision.kv"] == r["precision"]["kv"] == "bf16"
    assert row["warnings"] == r["warnings"]
    assert row["error"] is None


def test_dtypes():
    t = kvsim.sweep(model="llama-3.1-8b", chip=["h100-sxm", "h200"], dense="both",
                    context=[8192, "32k"], price_per_hour=2.0)
    s = t.schema
    assert s.field("context").type == pa.int64()
    assert s.field("sessions_per_deployment").type == pa.int64()
    assert s.field("sessions_per_chip").type == pa.float64()
    assert s.field("usd_per_million_tokens").type == pa.float64()
    assert s.field("dp_attention").type == pa.bool_()
    assert s.field("warnings").type == pa.list_(pa.string())
    assert s.field("error").type == pa.string()
    df = t.to_pandas()
    # Typed columns filter as numbers (the CSV's mixed text columns did not).
    assert len(df[df.context == 32768]) == 4
    assert df["sessions_per_chip"].dtype == "float64"


def test_null_everywhere_keeps_its_type():
    t = kvsim.sweep(model="llama-3.1-8b", chip="h100-sxm", context="8k")
    # No price given: the column is all null but still float64.
    assert t.schema.field("usd_per_million_tokens").type == pa.float64()
    assert t.column("usd_per_million_tokens").null_count == 1


def test_error_rows_keep_typed_axes():
    t = kvsim.sweep(model=["llama-3.1-8b", "no-such-model"], chip="h100-sxm",
                    context=["8k", "16k"])
    df = t.to_pandas()
    bad = df[df.error.notna()]
    assert list(bad.model) == ["no-such-model"] * 2
    assert list(bad.context) == [8192, 16384]
    assert bad.error.str.contains("unknown model `no-such-model`").all()
    assert df.context.dtype == "int64"


def test_set_axes_and_precision_with_commas():
    t = kvsim.sweep(model="llama-3.1-8b", chip="h100-sxm",
                    set={"num_hidden_layers": [16, 32]},
                    precision=["attention=fp8,kv=fp8", {"kv": "bf16"}])
    kv = t.column("kv_bytes_per_token_per_chip").to_pylist()
    # 8 KV heads × 128 × 2 (K, V) per layer: FP8 1 byte, BF16 2 bytes.
    assert kv == [16 * 2048, 16 * 4096, 32 * 2048, 32 * 4096]
    assert t.column("precision.attention").to_pylist()[:2] == ["fp8", "bf16"]


def test_same_rows_as_the_cli_sweep():
    t = kvsim.sweep(model=["deepseek-v3", "gpt-oss-120b"], chip=["h100-sxm", "ascend-910c"],
                    tp=8, kv=["bf16", "fp8"], context="16k..64k:x4")
    _, out, _ = cli("sweep", "--model", "deepseek-v3,gpt-oss-120b", "--chip",
                    "h100-sxm,ascend-910c", "--tp", "8", "--kv", "bf16,fp8",
                    "--context", "16k..64k:x4")
    c = pd.read_csv(io.StringIO(out))
    df = t.to_pandas()
    assert len(df) == len(c) == 16
    for col in ["model", "chip", "context", "sessions_per_deployment",
                "kv_bytes_per_token_per_chip", "precision.kv"]:
        assert df[col].tolist() == c[col].tolist(), col
    assert df["sessions_per_chip"].tolist() == pytest.approx(c["sessions_per_chip"].tolist())


def test_bad_grids_raise():
    with pytest.raises(kvsim.KvsimError, match="max_points"):
        kvsim.sweep(model="all", chip="all", context="1k..1M:x2", max_points=100)
    with pytest.raises(kvsim.KvsimError, match="--tp"):
        kvsim.sweep(model="llama-3.1-8b", chip="h100-sxm", tp=[1, "two"])
    with pytest.raises(kvsim.KvsimError, match="nearest is `tp`"):
        kvsim.sweep(model="llama-3.1-8b", chip="h100-sxm", tensor_parallel_size=[1, 2])


def test_numpy_and_pandas_values():
    import numpy as np

    ctx = pd.Series([8192, 32768])
    t = kvsim.sweep(model="llama-3.1-8b", chip="h100-sxm", tp=np.array([1, 2]), context=ctx)
    assert t.column("tp").to_pylist() == [1, 1, 2, 2]
    assert t.column("context").to_pylist() == [8192, 32768] * 2
    r = kvsim.evaluate(model="llama-3.1-8b", chip="h100-sxm", tp=np.int64(2),
                       gpu_memory_utilization=np.float32(0.5), dense=np.bool_(False))
    assert r["tp"] == 2 and r["memory_fraction"] == pytest.approx(0.5)
