"""report.gates: boundaries, order, unknown values and names."""
from __future__ import annotations

import copy

import pytest

from optimize_cli import report as rp


@pytest.mark.parametrize(
    "gate,field,limit,value,passed",
    [
        ("max_accuracy_drop", "accuracy_drop", 0.02, 0.02, True),
        ("max_accuracy_drop", "accuracy_drop", 0.02, 0.90 - 0.88, True),  # 0.020000000000000018
        ("max_accuracy_drop", "accuracy_drop", 0.02, 0.0201, False),
        ("max_accuracy_drop", "accuracy_drop", 0.02, -0.01, True),  # the result got better
        ("min_compression_ratio", "compression_ratio", 3.0, 3.0, True),
        ("min_compression_ratio", "compression_ratio", 3.0, 2.999, False),
        ("min_compression_ratio", "compression_ratio", 3.0, 7.1, True),
        ("max_compressed_bytes", "compressed_bytes", 61244, 61244, True),
        ("max_compressed_bytes", "compressed_bytes", 61244, 61245, False),
        ("max_latency_ms", "latency_ms", 0.09, 0.09, True),
        ("max_latency_ms", "latency_ms", 0.09, 0.0901, False),
    ],
)
def test_gates_boundary(example, gate, field, limit, value, passed):
    example["result"][field] = value
    out = rp.evaluate_gates({gate: limit}, example)
    assert out == [{"name": gate, "limit": limit, "value": value, "passed": passed}]


def test_gates_only_configured_ones_in_fixed_order(example):
    gates = {"max_latency_ms": 1.0, "max_accuracy_drop": None, "min_compression_ratio": 2.5,
             "max_compressed_bytes": None}
    out = rp.evaluate_gates(gates, example)
    assert [g["name"] for g in out] == ["min_compression_ratio", "max_latency_ms"]
    assert all(g["passed"] for g in out)
    assert rp.evaluate_gates({}, example) == [] and rp.evaluate_gates(None, example) == []


def test_gates_accuracy_unknown_fails_with_null_value(example):
    example["result"]["accuracy"] = None
    example["result"]["accuracy_drop"] = None
    assert rp.evaluate_gates({"max_accuracy_drop": 0.5}, example) == [
        {"name": "max_accuracy_drop", "limit": 0.5, "value": None, "passed": False}]


def test_gates_accept_gates_config_and_reject_unknown_names(example):
    from optimize_cli.recipe import GatesConfig

    out = rp.evaluate_gates(GatesConfig(min_compression_ratio=8.0), example)
    assert out == [{"name": "min_compression_ratio", "limit": 8.0, "value": example["result"]["compression_ratio"],
                    "passed": False}]
    with pytest.raises(ValueError, match="unknown gate 'max_size'"):
        rp.evaluate_gates({"max_size": 1}, example)


def test_gates_pure(example):
    before = copy.deepcopy(example)
    gates = {"max_accuracy_drop": 0.02}
    rp.evaluate_gates(gates, example)
    assert example == before and gates == {"max_accuracy_drop": 0.02}


