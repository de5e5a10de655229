"""`kvsim sweep --format parquet`: a catalog-style sweep loads in pandas with typed columns and one
column per axis (issue 15)."""

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from conftest import REPO, cli


def test_catalog_sweep_parquet_loads_in_pandas(tmp_path):
    out = tmp_path / "grid.parquet"
    cli(
        "sweep",
        "--scenario",
        str(REPO / "configs/scenarios/catalog.toml"),
        "--model",
        "llama-3.1-8b,deepseek-v3",
        "--set",
        "num_hidden_layers=16,32",
        "--format",
        "parquet",
        "-o",
        str(out),
    )
    schema = pq.read_schema(out)
    # Integers are integers, fractions floats, every axis its own column.
    assert pa.types.is_unsigned_integer(schema.field("context").type)
    assert pa.types.is_unsigned_integer(schema.field("tp").type)
    assert pa.types.is_unsigned_integer(schema.field("sessions_per_deployment").type)
    assert pa.types.is_floating(schema.field("sessions_per_chip").type)
    assert pa.types.is_list(schema.field("warning_codes").type)
    for axis in ("model", "chip", "context", "precision.kv", "set.num_hidden_layers", "engine"):
        assert axis in schema.names, axis
    df = pd.read_parquet(out, dtype_backend="numpy_nullable")
    # 2 models x 2 layer counts x every chip x 2 KV formats x 8 contexts.
    n_chips = len(df["chip"].unique())
    assert len(df) == 2 * 2 * n_chips * 2 * 8
    assert str(df["context"].dtype) == "UInt64"
    assert str(df["sessions_per_deployment"].dtype) == "UInt64"
    assert str(df["sessions_per_chip"].dtype) == "Float64"
    assert sorted(df["context"].unique().tolist()) == [8192 * 2**i for i in range(8)]
    # Axis values are typed, so a plain comparison selects rows.
    sel = df[(df.context == 32768) & (df.model == "llama-3.1-8b") & (df.chip == "h100-sxm")]
    assert len(sel) == 4
