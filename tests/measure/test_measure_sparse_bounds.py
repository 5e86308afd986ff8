"""Sizes taken from a .tflite are bounded (issue 11, item 9): a small crafted sparse tensor whose dense size or
shape claims billions of values is refused with one line instead of allocating gigabytes; a consistent
sparse tensor still densifies. The flatbuffers are written here with the schema's object API."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from measure_models import sparse_fc_tflite

from optimize_cli import measure
from optimize_cli.measure import tflite_model


def test_a_consistent_sparse_tensor_still_densifies():
    raw = sparse_fc_tflite()
    (w,) = measure.tflite_weight_stats(raw)
    assert w["shape"] == [4, 4] and w["sparse_encoded"] and w["sparsity"] == pytest.approx(12 / 16)
    model, raw = measure.load_tflite_model(raw)
    dense = measure.tensor_values(model, raw, model.subgraphs[0].tensors[1])
    np.testing.assert_array_equal(dense, np.diag([1.0, 2.0, 3.0, 4.0]).astype(np.float32))


@pytest.mark.parametrize("kw", [{"dense_size": 2**31 - 1},                       # denseSize claims 2 G rows
                                {"shape": (2**20, 2**20), "dense_size": 2**20},      # a 1 T-value shape
                                {"shape": (4, 4), "dense_size": 4, "segments": (0, 2**30, 2**30, 2**30, 2**30)}])
def test_crafted_sizes_are_bounded_by_the_file(kw):
    raw = sparse_fc_tflite(**kw)
    assert len(raw) < 2048
    model, raw = measure.load_tflite_model(raw)
    t = model.subgraphs[0].tensors[1]
    try:
        out = measure.tensor_values(model, raw, t)
    except ValueError as e:
        assert "more than a file of this size can describe" in str(e)
    else:
        assert out is None  # inconsistent metadata: not a constant this tool can read


_CHILD = r"""
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from optimize_cli.inspect import inspect_model
from optimize_cli.errors import InputError
try:
    inspect_model(sys.argv[1]); print(json.dumps("ok"))
except InputError as e:
    print(json.dumps(str(e)))
"""


@pytest.mark.slow
def test_inspect_of_a_crafted_sparse_tflite_exits_with_one_line_within_1_gib(tmp_path):
    p = tmp_path / "crafted.tflite"
    p.write_bytes(sparse_fc_tflite(dense_size=2**31 - 1))
    r = subprocess.run([sys.executable, "-c", _CHILD, str(p)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    msg = json.loads(r.stdout.strip().splitlines()[-1])
    assert msg.startswith(f"{p}: not a readable .tflite model") and "more than a file of this size" in msg


def test_dense_limit_scales_with_the_file_and_is_capped():
    assert tflite_model.dense_limit(31_000) == 64 * 31_000
    assert tflite_model.dense_limit(10**12) == tflite_model.MAX_DENSE_VALUES
