"""Writes kvsim/__init__.pyi from the library's knob table (kvsim.knobs()).

Run after adding a knob:  python python/tools/stub.py > python/kvsim/__init__.pyi
(tests/test_stub.py fails while the stub and the table disagree).
"""

import kvsim

TYPES = {
    "text": "str",
    "tokens": "Union[str, int]",
    "integer": "int",
    "number": "float",
    "switch": "bool",
    "field_value": "Union[str, Mapping[str, Any], Sequence[str]]",
}
SPECIAL = {"precision": "Union[str, Mapping[str, str]]"}


def one(k):
    return SPECIAL.get(k["keyword"], TYPES[k["values"]])


def many(k):
    t = one(k)
    if k["values"] == "field_value":
        return "Union[str, Mapping[str, Any], Sequence[str]]"
    return f"Union[{t}, Sequence[{t}]]"


def params(kind, skip):
    out = []
    for k in kvsim.knobs():
        if k["keyword"] in skip:
            continue
        out.append(f"    {k['keyword']}: Optional[{kind(k)}] = None,")
    return "\n".join(out)


HEAD = '''"""Type stubs of kvsim, generated from the knob table by python/tools/stub.py (do not edit)."""

from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import pyarrow

__version__: str

class KvsimError(ValueError):
    """An error kvsim reports, with the command line's message."""

def knobs() -> List[Dict[str, Any]]: ...
def models() -> List[Dict[str, Any]]: ...
def chips() -> List[Dict[str, Any]]: ...
def simulate(model: str, chip: str, **kwargs: Any) -> Dict[str, Any]: ...
'''

print(HEAD)
print("def evaluate(\n    model: str,\n    chip: str,\n    *,")
print(params(one, {"model", "chip"}))
print(") -> Dict[str, Any]: ...\n")
print("def sweep(\n    model: Union[str, Sequence[str]],\n    chip: Union[str, Sequence[str]],\n    *,")
print("    max_points: int = 1_000_000,")
print(params(many, {"model", "chip"}))
print(") -> pyarrow.Table: ...\n")
print("def fit(\n    question: str,\n    model: str,\n    chip: Union[str, Sequence[str]],\n    sessions: Optional[int] = None,\n    *,")
print("    prices: Optional[Union[str, Mapping[str, float]]] = None,")
print("    max_context: Union[str, int] = \"16M\",")
print("    workload: str = \"chat\",")
print("    rate: Optional[float] = None,")
print("    sla_ttft_p90: Optional[float] = None,")
print("    sla_tpot_p90: Optional[float] = None,")
print("    requests: int = 2000,")
print("    seed: int = 0,")
print(params(one, {"model", "chip"}))
print(") -> Any: ...")
