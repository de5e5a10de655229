"""Sweep rows to a pyarrow.Table: the one place that knows how the library hands rows over.

Today the rows arrive as the JSON lines of ``kvsim sweep --format jsonl`` (one object per point,
as ``eval --format json`` writes it, or the point's axis values as text and ``error`` for a point
that could not be evaluated). When the library gives typed rows, only this module changes.

Columns are the rows' keys in first-seen order, nested objects flattened with dots
(``precision.kv``, as the CSV names them). Each column gets one type: integers int64, any float
float64, booleans bool, lists of scalars list<string>, lists of objects (``kv_layout``) JSON
text, else string; a column null in every row takes the type a reference evaluation gives it
(``usd_per_million_tokens`` is float64 even when no price was given). An error row's axis text is read as the column's type (``"8k"`` in the
integer ``context`` column is 8192); text that cannot be read so is null there (the ``error``
column says what went wrong).
"""

from __future__ import annotations

import functools
import json
from typing import Any, Dict, List

from . import _native


def _flatten(prefix: str, value: Any, out: Dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else k, v, out)
    elif isinstance(value, list) and any(isinstance(x, (dict, list)) for x in value):
        out[prefix] = json.dumps(value)
    else:
        out[prefix] = value


def _kind(values: List[Any]) -> str:
    """The column's type from its non-null cells that are not error-row text."""
    kinds = set()
    for v in values:
        if v is None:
            continue
        if isinstance(v, bool):
            kinds.add("bool")
        elif isinstance(v, int):
            kinds.add("int")
        elif isinstance(v, float):
            kinds.add("float")
        elif isinstance(v, list):
            kinds.add("list")
        else:
            kinds.add("str")
    typed = kinds - {"str"}
    if not typed:
        return "str" if kinds else "null"
    if typed == {"bool"}:
        return "bool"
    if typed == {"int"}:
        return "int"
    if typed <= {"int", "float"}:
        return "float"
    if typed == {"list"}:
        return "list"
    return "str"


def _cast(kind: str, v: Any) -> Any:
    if v is None:
        return None
    if kind == "str":
        return v if isinstance(v, str) else json.dumps(v)
    if kind == "list":
        return [str(x) for x in v] if isinstance(v, list) else None
    if not isinstance(v, str):
        return float(v) if kind == "float" else v
    # Text from an error row in a typed column.
    t = v.strip()
    if kind == "bool":
        return {"true": True, "false": False}.get(t.lower())
    try:
        n = _native.parse_tokens(t)
        return float(n) if kind == "float" else n
    except ValueError:
        pass
    if kind == "float":
        try:
            return float(t)
        except ValueError:
            return None
    return None


@functools.lru_cache(maxsize=1)
def _reference_kinds() -> Dict[str, str]:
    """Column types of a report with every optional figure present (a price is given)."""
    settings = [("model", "llama-3.1-8b"), ("chip", "h100-sxm"), ("price_per_hour", "1")]
    flat: Dict[str, Any] = {}
    _flatten("", json.loads(_native.evaluate(settings)), flat)
    return {k: _kind([v]) for k, v in flat.items()}


def table_from_jsonl(data: bytes) -> "pyarrow.Table":  # noqa: F821
    """The table of a sweep's JSON lines (see the module docs)."""
    import pyarrow as pa

    rows: List[Dict[str, Any]] = []
    columns: Dict[str, None] = {}
    for line in data.splitlines():
        if not line.strip():
            continue
        flat: Dict[str, Any] = {}
        _flatten("", json.loads(line), flat)
        for k in flat:
            columns.setdefault(k, None)
        rows.append(flat)
    types = {
        "int": pa.int64(),
        "float": pa.float64(),
        "bool": pa.bool_(),
        "list": pa.list_(pa.string()),
        "str": pa.string(),
        "null": pa.string(),
    }
    arrays = {}
    for c in columns:
        cells = [r.get(c) for r in rows]
        kind = _kind(cells)
        if kind == "null":
            kind = _reference_kinds().get(c, "str")
        arrays[c] = pa.array([_cast(kind, v) for v in cells], type=types[kind])
    return pa.table(arrays)
