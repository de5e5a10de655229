"""kvsim.simulate: the same JSON as `kvsim simulate --format json`, errors as KvsimError."""

import pytest

import kvsim
from conftest import cli_json


def test_simulate_matches_the_cli():
    got = kvsim.simulate(
        model="llama-3.1-8b", chip="h100-sxm", context="8k", rate=4, requests=300, seed=7
    )
    want = cli_json(
        "simulate", "--model", "llama-3.1-8b", "--chip", "h100-sxm", "--context", "8k",
        "--rate", "4", "--requests", "300", "--seed", "7", "--format", "json",
    )
    assert got == want
    assert got["completed"] + got["dropped"] == 300
    for key in ("mean_in_flight", "completion_rate_per_s", "mean_latency_s"):
        assert key in got


def test_simulate_errors_raise():
    with pytest.raises(kvsim.KvsimError, match="rat"):
        kvsim.simulate(model="llama-3.1-8b", chip="h100-sxm", rat=4)
    with pytest.raises(kvsim.KvsimError):
        kvsim.simulate(model="llama-3.1-8b", chip="h100-sxm", workload="no-such-profile")
