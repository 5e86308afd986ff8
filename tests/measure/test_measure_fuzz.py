"""Fuzzing `inspect` over mutated .tflite files (issue 11): bytes flipped, the file truncated or extended,
starting from a small real model converted here (dynamic-range int8) and from a hand-built sparse one.
Every outcome is a result or a one-line InputError, never another exception.

Bounded time and memory: hypothesis runs derandomized with a fixed number of examples in a child
process that never imports TensorFlow, under a 1 GiB address-space limit (an allocation that a file's
metadata would make gigabytes large fails there instead of on the machine) and a timeout."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from measure_models import sparse_fc_tflite

#: examples per base model (two bases): ~0.02 s each
EXAMPLES = 80

_CHILD = r"""
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from pathlib import Path
from hypothesis import HealthCheck, given, settings, strategies as st
from optimize_cli.errors import InputError
from optimize_cli.inspect import inspect_model

base_path, work, examples = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
base = base_path.read_bytes()
target = work / "fuzzed.tflite"
seen = {"result": 0, "InputError": 0}

mutation = st.one_of(
    st.tuples(st.just("flip"), st.lists(st.tuples(st.integers(0, len(base) - 1), st.integers(0, 255)),
                                        min_size=1, max_size=16)),
    st.tuples(st.just("truncate"), st.integers(0, len(base) - 1)),
    st.tuples(st.just("extend"), st.binary(min_size=1, max_size=512)),
    st.tuples(st.just("int32"), st.tuples(st.integers(0, len(base) // 4 - 1),
                                          st.sampled_from([0, 1, -1, 2**31 - 1, -2**31, 2**20, 255, 65536]))),
)

def mutate(data: bytearray, m) -> bytes:
    kind, arg = m
    if kind == "extend":
        return bytes(data + arg)
    if not data:
        return b""
    if kind == "flip":
        for pos, val in arg:
            data[pos % len(data)] = val
    elif kind == "truncate":
        del data[arg % len(data):]
    elif len(data) >= 4:  # overwrite an aligned 32-bit word: offsets, vector lengths, dense sizes
        pos = 4 * (arg[0] % (len(data) // 4))
        data[pos:pos + 4] = int(arg[1]).to_bytes(4, "little", signed=True)
    return bytes(data)

@settings(max_examples=examples, deadline=None, derandomize=True, database=None,
          suppress_health_check=list(HealthCheck))
@given(st.lists(mutation, min_size=1, max_size=3))
def check(ms):
    data = bytearray(base)
    for m in ms:
        data = bytearray(mutate(data, m))
    target.write_bytes(bytes(data))
    try:
        info = inspect_model(target)
        json.dumps(info)
        seen["result"] += 1
    except InputError as e:
        assert "\n" not in str(e) and str(target) in str(e), str(e)
        seen["InputError"] += 1

check()
print(json.dumps(seen))
"""


@pytest.fixture(scope="module")
def bases(tmp_path_factory, tfk):
    tf, keras = tfk
    d = tmp_path_factory.mktemp("fuzz")
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu")(inp)
    x = keras.layers.Flatten()(x)
    m = keras.Model(inp, keras.layers.Dense(10)(x))
    c = tf.lite.TFLiteConverter.from_keras_model(m)
    c.optimizations = [tf.lite.Optimize.DEFAULT]
    (d / "real.tflite").write_bytes(c.convert())
    (d / "sparse.tflite").write_bytes(sparse_fc_tflite(shape=(4, 4), values=np.arange(1, 5)))
    return d


@pytest.mark.slow
@pytest.mark.parametrize("name", ["real.tflite", "sparse.tflite"])
def test_fuzzed_tflite_gives_a_result_or_one_line_input_error(bases, name, tmp_path):
    env = {**os.environ, "HYPOTHESIS_STORAGE_DIRECTORY": str(tmp_path / ".hypothesis")}
    r = subprocess.run([sys.executable, "-c", _CHILD, str(bases / name), str(tmp_path), str(EXAMPLES)],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    assert seen["result"] + seen["InputError"] >= EXAMPLES
