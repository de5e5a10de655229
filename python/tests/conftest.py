"""Shared helpers: the kvsim command line, to compare the package's results with."""

import json
import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


def kvsim_bin():
    """The CLI binary: $KVSIM_BIN (CI sets it), else the repository's target/{debug,release}."""
    env = os.environ.get("KVSIM_BIN")
    if env:
        return env
    for profile in ("debug", "release"):
        p = REPO / "target" / profile / "kvsim"
        if p.exists():
            return str(p)
    pytest.skip("no kvsim binary: build it with `cargo build` or set KVSIM_BIN")


def cli(*args, check=True):
    """Runs the CLI; returns (exit code, stdout, stderr)."""
    r = subprocess.run([kvsim_bin(), *args], capture_output=True, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"kvsim {' '.join(args)}: {r.stderr}")
    return r.returncode, r.stdout, r.stderr


def cli_json(*args):
    return json.loads(cli(*args)[1])
