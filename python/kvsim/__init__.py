"""kvsim: weights, KV cache and concurrent sessions per chip for LLM inference.

The Python face of the kvsim Rust library (the same code as the ``kvsim`` command line)::

    import kvsim
    r = kvsim.evaluate(model="deepseek-v3", chip="h200", context="32k", tp=8)
    r["sessions_per_chip"]          # 2.5
    t = kvsim.sweep(model=["deepseek-v3", "llama-3.1-70b"], chip="h200", tp=8,
                    context="8k..1M:x2")          # a pyarrow.Table, one row per grid point
    t.to_pandas()

Keyword arguments are kvsim's knobs, the flags of ``kvsim eval`` with ``_`` for ``-``
(``engine_version="0.19"``, ``dp_attention=True``, ``kv="fp8"``); ``kvsim.knobs()`` lists them
with their help. Values are what the flag takes: strings (``"32k"``), numbers, booleans;
``set`` also takes a dict ``{"num_key_value_heads": 8}`` and ``precision`` a dict
``{"routed_experts": "mxfp4"}``. An unknown keyword raises :class:`KvsimError` naming the
nearest knob.

Warnings (every assumption kvsim makes, e.g. a chip's memory taken from its spec sheet) are data:
the ``"warnings"`` list of each result, and the ``warnings`` column of a sweep. kvsim does not
call :func:`warnings.warn`, so a sweep of a thousand points does not print a thousand lines.

Errors raise :class:`KvsimError` (a :class:`ValueError`) with the command line's message, which
names the argument or file, the value found and what was expected.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

from . import _native
from ._native import KvsimError

__all__ = [
    "KvsimError",
    "evaluate",
    "sweep",
    "fit",
    "simulate",
    "models",
    "chips",
    "knobs",
    "__version__",
]

__version__: str = _native.__version__


def knobs() -> List[Dict[str, Any]]:
    """The knob table: every keyword ``evaluate`` and ``sweep`` take.

    Each entry: ``name`` (the command-line flag without ``--``), ``keyword`` (the Python
    keyword), ``aliases``, ``values`` (text, tokens, integer, number, switch, field_value),
    ``default`` (as text, ``""`` when there is none) and ``help``.
    """
    return json.loads(_native.knobs())


def _plain(value: Any) -> Any:
    """A NumPy scalar (from a DataFrame) as the Python value it holds."""
    if hasattr(value, "item") and not isinstance(value, (str, bytes, list, tuple, dict)):
        try:
            return value.item()
        except (TypeError, ValueError):
            return value
    return value


def _scalar_text(keyword: str, value: Any) -> str:
    """One value as the command line would spell it."""
    value = _plain(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value) if not isinstance(value, float) else repr(value)
    raise KvsimError(
        f"keyword arguments, field `{keyword}`: found a {type(value).__name__} "
        f"({value!r}); expected a string, number or boolean"
    )


def _precision_text(keyword: str, value: Any) -> str:
    """``precision`` as ``group=format,...`` (a dict is accepted)."""
    if isinstance(value, dict):
        return ",".join(f"{g}={f}" for g, f in value.items())
    return _scalar_text(keyword, value)


def _set_texts(value: Any) -> List[str]:
    """``set`` edits as ``FIELD=VALUE`` strings: a dict, one string, or a list of strings."""
    if isinstance(value, dict):
        return [f"{f}={v if isinstance(v, str) else json.dumps(v)}" for f, v in value.items()]
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [_scalar_text("set", v) for v in value]
    return [_scalar_text("set", value)]


def _settings(kw: Dict[str, Any]) -> List[Tuple[str, str]]:
    """Keyword arguments as (knob, text) pairs for ``evaluate`` and ``fit``; None = the default."""
    out: List[Tuple[str, str]] = []
    for key, value in kw.items():
        if value is None:
            continue
        if key == "set":
            out.extend(("set", t) for t in _set_texts(value))
        elif key == "precision":
            out.append((key, _precision_text(key, value)))
        else:
            out.append((key, _scalar_text(key, value)))
    return out


def _axis_values(key: str, value: Any) -> List[str]:
    """One keyword of ``sweep``: a list (or tuple, range) is an axis, anything else one value."""
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__iter__"):
        items: Iterable[Any] = [value]
    else:
        # A list, tuple, range, NumPy array or pandas Series.
        items = list(value)
    if key == "precision":
        return [_precision_text(key, v) for v in items]
    return [_scalar_text(key, v) for v in items]


def evaluate(model: str, chip: str, **knobs: Any) -> Dict[str, Any]:
    """Evaluate one model on one chip at one context length.

    Returns a dict with the keys of ``kvsim eval --format json`` (sessions_per_chip,
    sessions_per_deployment, weights_bytes_per_chip, kv_bytes_per_token_per_chip,
    kv_budget_bytes_per_chip, tokens_per_second_per_chip, usd_per_million_tokens, warnings, …).
    ``model`` is a catalog id (see :func:`models`), a config.json, a checkpoint directory or
    ``hf:ORG/NAME``; ``chip`` a catalog id (see :func:`chips`) or a chip TOML.

    >>> kvsim.evaluate(model="deepseek-v3", chip="h200", context="32k", tp=8)["sessions_per_deployment"]
    21
    """
    settings = [("model", _scalar_text("model", model)), ("chip", _scalar_text("chip", chip))]
    settings += _settings(knobs)
    return json.loads(_native.evaluate(settings))


def sweep(
    model: Union[str, Sequence[str]],
    chip: Union[str, Sequence[str]],
    *,
    max_points: int = 1_000_000,
    **knobs: Any,
) -> "pyarrow.Table":  # noqa: F821 (pyarrow is imported when called)
    """Evaluate every combination of the values given, one row per point, in grid order.

    Each keyword takes one value or a list of values (an axis); a string value may also be
    ``"all"`` (every catalog model or chip), ``"both"`` (a switch false and true) or a range
    ``"8k..1M:x2"`` / ``"1k..8k:+1k"`` for token counts and integers. ``set`` takes a dict of
    field to value or list of values (one axis per field). Axes vary in the order of the knob
    table, the first slowest and ``context`` fastest, as ``kvsim sweep`` does.

    Returns a ``pyarrow.Table``: the columns of ``kvsim sweep`` (nested keys dotted:
    ``precision.kv``), integers as int64, fractions as float64, ``warnings`` as a list of
    strings, and ``error`` (null, or the message of a point that could not be evaluated; the
    sweep goes on). ``.to_pandas()`` gives a DataFrame. Grids of more than ``max_points`` points
    are refused before anything runs.
    """
    from ._rows import table_from_jsonl

    settings: List[Tuple[str, List[str]]] = [
        ("model", _axis_values("model", model)),
        ("chip", _axis_values("chip", chip)),
    ]
    for key, value in knobs.items():
        if value is None:
            continue
        if key == "set" and isinstance(value, dict):
            # One axis per field: {"num_hidden_layers": [16, 32]}.
            for field, vs in value.items():
                vs = vs if isinstance(vs, (list, tuple, range)) else [vs]
                settings.append(("set", [t for v in vs for t in _set_texts({field: v})]))
        elif key == "set":
            settings.append(("set", _set_texts(value)))
        else:
            settings.append((key, _axis_values(key, value)))
    return table_from_jsonl(_native.sweep_jsonl(settings, int(max_points)))


def fit(
    question: str,
    model: str,
    chip: Union[str, Sequence[str]],
    sessions: Optional[int] = None,
    *,
    prices: Optional[Union[str, Dict[str, float]]] = None,
    max_context: Union[str, int] = "16M",
    workload: str = "chat",
    rate: Optional[float] = None,
    sla_ttft_p90: Optional[float] = None,
    sla_tpot_p90: Optional[float] = None,
    requests: int = 2000,
    seed: int = 0,
    **knobs: Any,
) -> Any:
    """Inverse questions, as ``kvsim fit QUESTION --format json``.

    ``question="chips"``: for each chip, the fewest chips that hold ``sessions`` sessions of
    ``context`` tokens (a list of dicts: chip, layout, usd_per_hour). ``"context"``: the longest
    context at which the deployment given holds ``sessions`` sessions (a dict with
    ``longest_context``). ``"cheapest"``: the chips that fit, cheapest first (prices per
    chip-hour from ``prices`` or the catalog). ``"sla"``: for each chip, the fewest chips whose
    simulation serves ``workload`` at ``rate`` requests/s with p90 TTFT and TPOT under
    ``sla_ttft_p90`` / ``sla_tpot_p90`` seconds (``requests`` per trial, ``seed``); ``sessions``
    is not used. ``chip`` may be a list or ``"all"``.
    """
    if isinstance(chip, (list, tuple)):
        chip = ",".join(chip)
    if isinstance(prices, dict):
        prices = ",".join(f"{c}={p}" for c, p in prices.items())
    settings = [("model", _scalar_text("model", model)), ("chip", _scalar_text("chip", chip))]
    settings += _settings(knobs)
    sessions = _plain(sessions)
    if sessions is not None and (
        isinstance(sessions, bool) or not isinstance(sessions, int) or sessions < 0
    ):
        raise KvsimError(
            f"keyword arguments, field `sessions`: found {sessions!r}; "
            "expected a non-negative integer"
        )
    sla = None
    if str(question).lower() == "sla":
        for name, value in (("requests", requests), ("seed", seed)):
            value = _plain(value)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise KvsimError(
                    f"keyword arguments, field `{name}`: found {value!r}; "
                    "expected a non-negative integer"
                )
        numbers = []
        for name, value in (
            ("rate", rate),
            ("sla_ttft_p90", sla_ttft_p90),
            ("sla_tpot_p90", sla_tpot_p90),
        ):
            value = _plain(value)
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
                raise KvsimError(
                    f"keyword arguments, field `{name}`: found {value!r}; expected a number"
                )
            numbers.append(None if value is None else float(value))
        sla = (str(workload), numbers[0], numbers[1], numbers[2], int(requests), int(seed))
    return json.loads(
        _native.fit(
            question, settings, sessions, prices, _scalar_text("max_context", max_context), sla
        )
    )


def simulate(model: str, chip: str, **kwargs: Any) -> Dict[str, Any]:
    """Serve a workload or a request trace event by event, as ``kvsim simulate --format json``.

    Keywords are the flags of ``kvsim simulate`` with ``_`` for ``-``: every scenario knob (tp,
    context, engine, kv, …) plus ``workload`` (chat, rag, code, agentic or a file), ``trace``,
    ``rate``, ``users``, ``think_s``, ``requests``, ``seed``, ``replicas``,
    ``no_prefix_caching``, ``ttft_slo``, ``tpot_slo``, ``series_interval``, ``series_points``,
    ``plot`` (a .png or .svg file), ``step_overhead_ms``, ``offload_gib``,
    ``offload_link_gbps``, ``spec`` (mtp, eagle or draft:<model>), ``spec_tokens``,
    ``acceptance``, ``disagg`` (xPyD, e.g. "1P2D"), ``disagg_link_gbps``. Returns a dict with completed, dropped, mean_in_flight,
    completion_rate_per_s, mean_latency_s, the TTFT/TPOT/end-to-end percentiles, and more.

    >>> kvsim.simulate(model="llama-3.1-8b", chip="h100-sxm", rate=2, requests=200)["completed"]
    200
    """
    args = ["--model", _scalar_text("model", model), "--chip", _scalar_text("chip", chip)]
    for key, value in kwargs.items():
        value = _plain(value)
        if value is None or value is False:
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            args.append(flag)
        elif key == "set":
            for t in _set_texts(value):
                args += [flag, t]
        elif key == "precision":
            args += [flag, _precision_text(key, value)]
        else:
            args += [flag, str(value)]
    return json.loads(_native.simulate(args))

def models() -> List[Dict[str, Any]]:
    """The built-in models (``kvsim models --format json``): id, architecture, layers,
    attention, ffn, params_total, params_active, default_precision, status."""
    return json.loads(_native.models())


def chips() -> List[Dict[str, Any]]:
    """The built-in chips (``kvsim chips --format json``): id, name, memory_gib,
    memory_source, bandwidth_tbps, bf16/fp8/fp4 tflops, block_size, confidence."""
    return json.loads(_native.chips())
