"""measure.interpreter: batched evaluation against the tutorials' one-sample loop, latency, and no TensorFlow
import for .tflite work."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from measure_models import C_FC, C_IN, convert, tutorial_loop

from optimize_cli import measure

# ----------------------------------------------------------------------------- evaluation


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["none", "int8"])
def test_evaluate_tflite_batched_equals_per_sample_loop(tflites, hand_model, data, mode):
    model, _ = hand_model
    x = data
    kp = model.predict(x, verbose=0)
    y = np.argmax(kp, axis=1)
    y[::7] = (y[::7] + 1) % C_FC  # not 100 %: some labels wrong on purpose
    loop = tutorial_loop(tflites[mode], x)
    batched = measure.predict_tflite(tflites[mode], x, batch_size=64)  # 300 = 4 × 64 + 44
    assert batched.shape == loop.shape == kp.shape
    np.testing.assert_allclose(batched, loop, atol=1e-5 if mode == "none" else 1e-6)
    acc = measure.evaluate_tflite(tflites[mode], x, y, batch_size=64)
    assert acc == measure.compute_metric(loop, y)
    if mode == "none":
        assert acc == measure.evaluate_keras(model, x, y, "accuracy", 128)
    else:
        # quantized in and dequantized out correctly: close to Keras (a few saturated outliers aside)
        assert np.mean(np.abs(batched - kp)) < 0.005
        assert np.mean(np.argmax(batched, 1) == np.argmax(kp, 1)) > 0.9
    onehot = np.eye(C_FC)[y]
    assert measure.evaluate_tflite(tflites[mode], x, onehot, batch_size=1000) == acc


@pytest.mark.slow
def test_evaluate_tflite_fixed_batch_model_runs_per_sample(tfk, data):
    tf, keras = tfk
    inp = keras.Input((8, 8, C_IN), batch_size=1)
    out = keras.layers.Dense(3, activation="softmax")(keras.layers.Flatten()(inp))
    model = keras.Model(inp, out)
    tfl = convert(tf, model, "none")
    x = data[:40]
    y = np.arange(40) % 3
    assert measure.evaluate_tflite(tfl, x, y, batch_size=16) == measure.compute_metric(tutorial_loop(tfl, x), y)
    np.testing.assert_allclose(measure.predict_tflite(tfl, x), model.predict(x, verbose=0), atol=1e-5)
    lat = measure.latency_ms(tfl, x[:1], runs=3, warmup=1)
    assert lat["runs"] == 3


@pytest.mark.slow
def test_evaluate_tflite_int16x8_io_is_quantized_and_dequantized(tfk, hand_model, data):
    tf, _ = tfk
    model, _ = hand_model
    tfl = convert(tf, model, "int16x8", data, io=tf.int16)
    io = measure.tflite_io(tfl)
    assert io["inputs"][0]["dtype"] == "int16" and io["outputs"][0]["dtype"] == "int16"
    assert measure.guess_quantization(tfl) == "int16x8"
    x = data[:100]
    kp = model.predict(x, verbose=0)
    pred = measure.predict_tflite(tfl, x, batch_size=32)
    assert np.mean(np.abs(pred - kp)) < 0.002 and np.median(np.abs(pred - kp)) < 1e-3
    np.testing.assert_allclose(pred, tutorial_loop(tfl, x), atol=1e-6)


@pytest.mark.slow
def test_evaluate_regression_metrics_match_numpy(tfk):
    tf, keras = tfk
    inp = keras.Input((5,))
    model = keras.Model(inp, keras.layers.Dense(2)(inp))
    rng = np.random.default_rng(7)
    model.layers[-1].set_weights([rng.normal(size=(5, 2)).astype(np.float32), np.array([0.5, -1.0], np.float32)])
    x = rng.normal(size=(70, 5)).astype(np.float32)
    y = (x @ model.layers[-1].get_weights()[0] + rng.normal(0, 0.3, (70, 2))).astype(np.float32)
    tfl = convert(tf, model, "none")
    pred = model.predict(x, verbose=0)
    for metric, ref in (("mae", np.mean(np.abs(pred - y))), ("mse", np.mean((pred - y) ** 2))):
        assert measure.evaluate_keras(model, x, y, metric, 32) == pytest.approx(ref, rel=1e-6)
        assert measure.evaluate_tflite(tfl, x, y, metric=metric, batch_size=32) == pytest.approx(ref, rel=1e-4)


@pytest.mark.slow
def test_latency_ms_reports_median_and_p90(tflites, data):
    lat = measure.latency_ms(tflites["int8"], data[:1], runs=20, warmup=2, threads=1)
    assert set(lat) == {"median_ms", "p90_ms", "runs", "threads"}
    assert 0 < lat["median_ms"] <= lat["p90_ms"] and lat["runs"] == 20 and lat["threads"] == 1
    assert measure.latency_ms(tflites["none"], data[0], runs=3)["runs"] == 3  # one unbatched sample


@pytest.mark.slow
def test_measure_on_tflite_does_not_import_tensorflow(tflites, data, tmp_path):
    (tmp_path / "m.tflite").write_bytes(tflites["int8"])
    np.save(tmp_path / "x.npy", data[:50])
    code = (
        "import sys, json, numpy as np\n"
        "from optimize_cli import measure\n"
        f"p = {str(tmp_path / 'm.tflite')!r}\n"
        f"x = np.load({str(tmp_path / 'x.npy')!r})\n"
        "s = measure.tflite_weight_stats(p)\n"
        "a = measure.evaluate_tflite(p, x, np.zeros(len(x), int))\n"
        "measure.latency_ms(p, x[:1], runs=2); measure.file_sizes(p)\n"
        "print(json.dumps({'tf': 'tensorflow' in sys.modules, 'n': len(s)}))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out == {"tf": False, "n": 3}
