"""TFLM target: the arena bytes equal what tflite_micro's own allocator reports when called directly on the
same .tflite, accuracy on TFLM kernels equals LiteRT's on the digits, and a model TFLM cannot run is
reported (its op named), not a crash."""
from __future__ import annotations

import numpy as np
import pytest
from target_models import convert

from optimize_cli.measure import evaluate_tflite
from optimize_cli.targets.tflm_runtime import measure_tflm

pytest.importorskip("tflite_micro")
pytestmark = pytest.mark.slow
ARENA = 200_000


@pytest.fixture(scope="module")
def int8_tiny(tiny_model, digits_data):
    from optimize_cli.tf import tf

    x = digits_data[0]
    return convert(tf, tiny_model, "int8", x)


def test_tflm_arena_bytes_equal_the_interpreter_s_own_report(int8_tiny, capfd, tflm_direct_allocations):
    direct = tflm_direct_allocations(int8_tiny, ARENA)
    got = measure_tflm(int8_tiny, arena_size=ARENA)
    out, err = capfd.readouterr()
    assert got["runs"] and got["unsupported_ops"] == []
    assert (got["arena_bytes"], got["arena_head_bytes"], got["arena_tail_bytes"]) == (
        direct["total"], direct["head"], direct["tail"])
    assert got["version"].startswith("0.dev")
    assert "RecordingMicroAllocator" not in out + err  # the C++ printout is caught, not shown


def test_tflm_accuracy_equals_litert_on_the_digits(int8_tiny, digits_data):
    _, _, x, y = digits_data
    litert = evaluate_tflite(int8_tiny, x, y)
    got = measure_tflm(int8_tiny, [(x[:200], y[:200]), (x[200:], y[200:])])
    assert got["eval_samples"] == len(y)
    assert abs(got["accuracy"] - litert) <= 0.005
    assert got["accuracy_seconds"] >= 0


def test_tflm_unsupported_op_is_named_not_a_crash(capfd):
    from optimize_cli.tf import tf

    f = tf.function(lambda v: tf.math.atan2(v, v + 1.0), input_signature=[tf.TensorSpec((1, 8), tf.float32)])
    tfl = tf.lite.TFLiteConverter.from_concrete_functions([f.get_concrete_function()], f).convert()
    capfd.readouterr()
    got = measure_tflm(tfl, [(np.zeros((2, 8), np.float32), np.zeros(2))])
    out, err = capfd.readouterr()
    assert got["runs"] is False and got["unsupported_ops"] == ["ATAN2"] and got["arena_bytes"] is None
    assert "ATAN2" in got["error"] and "Didn't find op" not in out + err


def test_tflm_predictions_equal_litert_reference_kernels(int8_tiny, digits_data):
    """TFLM's kernels and LiteRT's reference kernels share their int8 arithmetic: the same accuracy (the
    explanation the run gives when TFLM and LiteRT's optimized kernels differ by more than 0.5 point)."""
    from optimize_cli.targets.tflm_runtime import reference_litert_accuracy

    _, _, x, y = digits_data
    assert reference_litert_accuracy(int8_tiny, [(x, y)]) == measure_tflm(int8_tiny, [(x, y)])["accuracy"]
