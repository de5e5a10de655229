#!/usr/bin/env python3
"""Writes transformers' parameter count of every test config under tests/data/configs/ into
tests/data/param_counts.json, which tests/param_counts.rs compares kvsim's counts against.

Run by hand (not in CI), from the repository root, in an environment with transformers and a
CPU build of torch from PyPI:

    python -m venv /tmp/pc && /tmp/pc/bin/pip install transformers==5.23.0 torch
    /tmp/pc/bin/python scripts/param_counts.py

Each model is built on the meta device from its config class (no weights are downloaded or
allocated) and its parameters counted once each, so tied embeddings count once and buffers
(e.g. DeepSeek's e_score_correction_bias) not at all. A config whose class is not in this
transformers release is listed under "skipped" with the reason.
"""
import glob
import json
import os
import sys

import torch
import transformers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIGS = os.path.join(ROOT, "tests", "data", "configs")
OUT = os.path.join(ROOT, "tests", "data", "param_counts.json")


def count(path):
    with open(path) as f:
        d = json.load(f)
    name = d["architectures"][0]
    cls = getattr(transformers, name, None)
    if cls is None:
        raise LookupError(f"{name} is not in transformers {transformers.__version__}")
    cfg = cls.config_class.from_dict(d)
    with torch.device("meta"):
        model = cls(cfg)
    return sum(p.numel() for p in model.parameters())


def main():
    counts, skipped = {}, {}
    for path in sorted(glob.glob(os.path.join(CONFIGS, "*.json"))):
        stem = os.path.splitext(os.path.basename(path))[0]
        try:
            counts[stem] = count(path)
        except LookupError as e:
            skipped[stem] = str(e)
        print(stem, counts.get(stem, skipped.get(stem)), file=sys.stderr)
    out = {
        "transformers": transformers.__version__,
        "torch": torch.__version__,
        "counts": counts,
        "skipped": skipped,
    }
    with open(OUT, "w") as f:
        json.dump(out, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
