"""measure.py on tiny real models: hand-set kernels converted to every TFLite flavour, batched evaluation
against the tutorials' one-sample loop, metrics, latency and zip sizes."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from optimize_cli import measure

C_IN, C_CONV, DW_MULT, C_FC = 4, 32, 2, 16


# ------------------------------------------------------------------------------------ helpers


def structured_kernel(shape, seed: int) -> np.ndarray:
    """Per output channel (last axis): half the values exactly 0, the rest from {s, -s, r*s} with
    s and r different in every channel, r*127 an integer (so int8 values are known exactly)."""
    rng = np.random.default_rng(seed)
    k = np.zeros(shape, np.float32)
    km = np.moveaxis(k, -1, 0)  # a view: writing km writes k
    for c in range(km.shape[0]):
        flat = np.zeros(km[c].size, np.float32)
        nz = rng.permutation(flat.size)[: flat.size - flat.size // 2]
        s, r = 0.05 + 0.01 * c, (10 + c) / 127.0
        flat[nz] = np.array([1.0, -1.0, r], np.float32)[np.arange(nz.size) % 3] * s
        km[c] = flat.reshape(km[c].shape)
    return k


def channels(name: str, k: np.ndarray) -> int:
    """Output channels of a Keras kernel (depthwise: in_channels × multiplier)."""
    return k.shape[-2] * k.shape[-1] if name == "dw" else k.shape[-1]


def tutorial_loop(tfl: bytes, x: np.ndarray) -> np.ndarray:
    """The tfmot tutorials' evaluation: one sample at a time, set_tensor / invoke / get_tensor."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=tfl)
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    info = np.iinfo(i["dtype"]) if np.issubdtype(i["dtype"], np.integer) else None
    outs = []
    for s in x:
        v = s[None].astype(np.float32)
        if info is not None:
            scale, zp = i["quantization"]
            v = np.clip(np.round(v / scale + zp), info.min, info.max)
        it.set_tensor(i["index"], v.astype(i["dtype"]))
        it.invoke()
        out = it.get_tensor(o["index"])[0]
        if np.issubdtype(out.dtype, np.integer):
            scale, zp = o["quantization"]
            out = (out.astype(np.float32) - zp) * scale
        outs.append(out)
    return np.array(outs)


# ----------------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def tfk():
    from optimize_cli.tf import keras, tf

    return tf, keras


@pytest.fixture(scope="module")
def hand_model(tfk):
    """Conv2D → DepthwiseConv2D → Dense with structured kernels (every kernel ≥ 1024 values except the
    depthwise one, so dynamic-range quantization touches conv and fc only)."""
    tf, keras = tfk
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, C_IN), name="image")
    x = keras.layers.Conv2D(C_CONV, 3, activation="relu", name="conv")(inp)
    x = keras.layers.DepthwiseConv2D(3, depth_multiplier=DW_MULT, name="dw")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    out = keras.layers.Dense(C_FC, activation="softmax", name="fc")(x)
    model = keras.Model(inp, out)
    kernels = {
        "conv": structured_kernel((3, 3, C_IN, C_CONV), 1),
        "dw": structured_kernel((3, 3, C_CONV * DW_MULT), 2).reshape(3, 3, C_CONV, DW_MULT),
        "fc": structured_kernel((4 * 4 * C_CONV * DW_MULT, C_FC), 3),
    }
    rng = np.random.default_rng(4)
    for name, k in kernels.items():
        layer = model.get_layer(name)
        w = layer.get_weights()
        layer.set_weights([k, rng.normal(0, 0.05, w[1].shape).astype(np.float32)])
    return model, kernels


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(5)
    x = rng.random((300, 8, 8, C_IN), dtype=np.float32)
    return x


def convert(tf, model, mode: str, x=None, **kw) -> bytes:
    c = tf.lite.TFLiteConverter.from_keras_model(model)
    if mode != "none":
        c.optimizations = [tf.lite.Optimize.DEFAULT]
    if mode == "float16":
        c.target_spec.supported_types = [tf.float16]
    if mode == "sparse":
        c.optimizations = [tf.lite.Optimize.EXPERIMENTAL_SPARSITY]
    if mode in ("int8", "int16x8"):
        c.representative_dataset = lambda: ([x[i:i + 1]] for i in range(32))
        if mode == "int8":
            c.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            c.inference_input_type = c.inference_output_type = tf.int8
        else:
            c.target_spec.supported_ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8]
            c.inference_input_type = c.inference_output_type = kw.get("io", tf.float32)
    return c.convert()


@pytest.fixture(scope="module")
def tflites(tfk, hand_model, data):
    tf, _ = tfk
    model, _ = hand_model
    return {m: convert(tf, model, m, data) for m in ("none", "float16", "dynamic", "int8")}


def by_layer(stats):
    return {s["layer"]: s for s in stats if s["role"] == "weight"}


# -------------------------------------------------------------------------------------- sizes


def test_file_sizes_zip_matches_independent_zipfile(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    data = (rng.integers(0, 4, 50_000, dtype=np.uint8)).tobytes() + bytes(20_000)
    f = tmp_path / "model.tflite"
    f.write_bytes(data)
    monkeypatch.chdir(tmp_path)
    with zipfile.ZipFile("independent.zip", "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.write("model.tflite")
    expected = os.path.getsize("independent.zip")
    for arg in (data, f, str(f)):
        s = measure.file_sizes(arg)
        assert s["tflite_bytes"] == len(data)
        assert s["compressed_bytes"] == expected
        assert s["compression_saved_percent"] == pytest.approx(100 * (1 - expected / len(data)), abs=1e-3)


def test_path_sizes_directory_sums_files_and_zips_the_tree(tmp_path):
    (tmp_path / "d" / "variables").mkdir(parents=True)
    (tmp_path / "d" / "saved_model.pb").write_bytes(b"a" * 1000)
    (tmp_path / "d" / "variables" / "v").write_bytes(b"b" * 3000)
    s = measure.path_sizes(tmp_path / "d")
    assert s["bytes"] == 4000
    assert 0 < s["compressed_bytes"] < 4000


# ---------------------------------------------------------------------- weights in the .tflite


@pytest.mark.slow
def test_tflite_weight_stats_float32_matches_hand_set_kernels(tflites, hand_model):
    _, kernels = hand_model
    st = by_layer(measure.tflite_weight_stats(tflites["none"]))
    assert set(st) == {"conv", "dw", "fc"}
    assert st["conv"]["op"] == "CONV_2D" and st["dw"]["op"] == "DEPTHWISE_CONV_2D" and st["fc"]["op"] == "FULLY_CONNECTED"
    assert st["conv"]["shape"] == [C_CONV, 3, 3, C_IN] and st["conv"]["channel_axis"] == 0
    assert st["dw"]["shape"] == [1, 3, 3, C_CONV * DW_MULT] and st["dw"]["channel_axis"] == 3
    for name, k in kernels.items():
        s = st[name]
        assert s["dtype"] == "float32" and not s["quantized"]
        assert s["params"] == k.size
        assert s["sparsity"] == pytest.approx(np.count_nonzero(k == 0) / k.size)
        assert s["unique_weights"] == np.unique(k).size
        assert s["max_unique_per_channel"] == 4
    assert st["fc"]["sparsity"] == 0.5 and st["conv"]["sparsity"] == 0.5


@pytest.mark.slow
def test_tflite_weight_stats_float16_reads_the_fp16_buffer_behind_dequantize(tflites, hand_model):
    _, kernels = hand_model
    st = by_layer(measure.tflite_weight_stats(tflites["float16"]))
    for name, k in kernels.items():
        s = st[name]
        assert s["dtype"] == "float16" and s["via"] == "DEQUANTIZE"
        assert s["sparsity"] == pytest.approx(np.count_nonzero(k == 0) / k.size)
        assert s["unique_weights"] == np.unique(k.astype(np.float16)).size
        assert s["max_unique_per_channel"] == 4
    assert measure.guess_quantization(tflites["float16"]) == "float16"


@pytest.mark.slow
def test_tflite_weight_stats_dynamic_range_int8_is_per_channel(tflites, hand_model):
    _, kernels = hand_model
    st = by_layer(measure.tflite_weight_stats(tflites["dynamic"]))
    for name in ("conv", "fc"):
        s, k = st[name], kernels[name]
        assert s["dtype"] == "int8" and s["quantized"] and s["per_channel"]
        assert s["sparsity"] == 0.5
        assert s["max_unique_per_channel"] == 4
        assert s["unique_weights"] == 3 + channels(name, k)
    assert st["dw"]["dtype"] == "float32"  # 576 values: below the converter's dynamic-range threshold
    assert measure.guess_quantization(tflites["dynamic"]) == "dynamic"


@pytest.mark.slow
def test_tflite_weight_stats_int8_shows_clusters_per_channel_not_per_tensor(tflites, hand_model):
    _, kernels = hand_model
    st = by_layer(measure.tflite_weight_stats(tflites["int8"]))
    for name, k in kernels.items():
        s = st[name]
        assert s["dtype"] == "int8" and s["per_channel"]
        assert s["sparsity"] == pytest.approx(np.count_nonzero(k == 0) / k.size)
        assert s["max_unique_per_channel"] == 4
        assert s["unique_weights"] == 3 + channels(name, k)  # 0, ±127 and one r*127 per channel
    assert measure.guess_quantization(tflites["int8"]) == "int8"
    s = measure.summary(measure.tflite_weight_stats(tflites["int8"]))
    total = sum(k.size for k in kernels.values())
    zeros = sum(int(np.count_nonzero(k == 0)) for k in kernels.values())
    assert s["sparsity"] == pytest.approx(zeros / total) and s["max_unique_per_channel"] == 4


@pytest.mark.slow
def test_tflite_weight_stats_sparse_encoded_weights_are_densified(tfk, hand_model, tflites):
    tf, _ = tfk
    model, _ = hand_model
    tfl = convert(tf, model, "sparse")
    st = by_layer(measure.tflite_weight_stats(tfl))
    dense = by_layer(measure.tflite_weight_stats(tflites["none"]))
    assert st["fc"]["sparse_encoded"] and st["fc"]["via"] == "DENSIFY"
    for key in ("shape", "sparsity", "unique_weights", "max_unique_per_channel"):
        assert st["fc"][key] == dense["fc"][key]


def test_value_stats_counts_zero_point_as_zero_per_channel():
    q = np.array([[3, 3, 5, 7], [-2, 0, -2, -2]], np.int8)  # channel 0: zp 3, channel 1: zp -2
    s = measure.value_stats(q, 0, np.array([3, -2]))
    assert s["zeros"] == 5 and s["sparsity"] == 5 / 8
    assert s["unique_weights"] == 5 and s["max_unique_per_channel"] == 3


def test_keras_layer_name_from_tensor_names():
    f = measure.keras_layer_name
    assert f("model/conv1/Conv2D") == "conv1"
    assert f("sequential/dense_1/MatMul;sequential/dense_1/BiasAdd") == "dense_1"
    assert f("model/quant_conv2d/Conv2D/ReadVariableOp") == "conv2d"
    assert f("arith.constant;model/fc/MatMul1") == "fc"
    assert f("model/backbone/conv2d/Conv2D") == "conv2d"
    assert f("m/dw1_bn/FusedBatchNormV3;m/dw1/depthwise;m/dw1_bn/beta") == "dw1"  # BatchNorm folded in
    assert f("m/pw_bn/FusedBatchNormV3;m/pw/Conv2D/ReadVariableOp") == "pw"
    assert f("arith.constant1") is None and f("") is None


# ----------------------------------------------------------------------------------- Keras


@pytest.mark.slow
def test_keras_weight_stats_reads_kernels_and_inside_wrappers(tfk, hand_model):
    _, keras = tfk
    model, kernels = hand_model
    st = {s["name"]: s for s in measure.keras_weight_stats(model)}
    assert set(st) == {"conv", "dw", "fc"}
    assert st["conv"]["class"] == "Conv2D" and st["dw"]["class"] == "DepthwiseConv2D" and st["fc"]["class"] == "Dense"
    for name, k in kernels.items():
        assert st[name]["params"] == k.size
        assert st[name]["sparsity"] == pytest.approx(np.count_nonzero(k == 0) / k.size)
        assert st[name]["unique_weights"] == np.unique(k).size
        assert st[name]["max_unique_per_channel"] == 4  # depthwise: I*M output channels
    import tensorflow_model_optimization as tfmot

    pruned = tfmot.sparsity.keras.prune_low_magnitude(keras.models.clone_model(model))
    for layer in pruned.layers:
        inner = getattr(layer, "layer", None)
        if inner is not None and inner.name in kernels:
            getattr(inner, "depthwise_kernel" if inner.name == "dw" else "kernel").assign(kernels[inner.name])
    wst = {s["name"]: s for s in measure.keras_weight_stats(pruned)}
    assert wst["conv"]["wrapper"] == "PruneLowMagnitude" and wst["conv"]["sparsity"] == 0.5
    assert wst["fc"]["unique_weights"] == st["fc"]["unique_weights"]
    qat = tfmot.quantization.keras.quantize_model(model)  # kernels behind fake-quant tensors
    qst = {s["name"]: s for s in measure.keras_weight_stats(qat)}
    assert set(qst) == {"conv", "dw", "fc"} and qst["fc"]["wrapper"] == "QuantizeWrapperV2"
    for name in kernels:
        assert {k: qst[name][k] for k in ("sparsity", "unique_weights", "max_unique_per_channel", "shape")} == \
            {k: st[name][k] for k in ("sparsity", "unique_weights", "max_unique_per_channel", "shape")}
    summ = measure.summary(wst.values())
    assert summ["layers"] == 3 and summ["params"] == sum(k.size for k in kernels.values())
    assert measure.summary(st.values(), names=["fc"])["sparsity"] == 0.5


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


def test_compute_metric_accuracy_top_k_binary_and_errors():
    pred = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3], [0.3, 0.3, 0.4], [0.1, 0.3, 0.6]])
    y = np.array([1, 2, 0, 0])
    assert measure.compute_metric(pred, y) == 0.25
    assert measure.compute_metric(pred, y.reshape(-1, 1)) == 0.25
    assert measure.compute_metric(pred, np.eye(3)[y]) == 0.25
    # label 0 in row 2 ties with class 1 at 0.3: in the top 2 (ties count as in, like tf.math.in_top_k)
    assert measure.compute_metric(pred, y, "top_k_accuracy", top_k=2) == 0.75
    assert measure.compute_metric(pred, y, "top_k_accuracy", top_k=5) == 1.0
    prob = np.array([[0.9], [0.2], [0.51], [0.5]])
    lab = np.array([1, 0, 0, 1])
    assert measure.compute_metric(prob, lab, "binary_accuracy") == 0.5
    assert measure.compute_metric(prob, lab, "accuracy") == 0.5  # one unit: binary, like Keras
    assert measure.compute_metric(np.array([1.0, 2.0]), np.array([2.0, 2.0]), "mse") == 0.5
    assert measure.compute_metric(np.array([1.0, 2.0]), np.array([2.0, 4.0]), "mae") == 1.5
    with pytest.raises(ValueError):
        measure.compute_metric(pred, y, "f1")
    with pytest.raises(ValueError):
        measure.compute_metric(pred, y[:3])


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


@pytest.mark.slow
def test_tflite_weight_stats_reports_large_constants_but_not_biases(tfk):
    tf, keras = tfk
    c = np.arange(1, 1025, dtype=np.float32)
    c[:256] = 0.0
    inp = keras.Input((1024,))
    h = keras.layers.Lambda(lambda t: tf.nn.relu(t - tf.constant(c)))(inp)  # not foldable into fc
    model = keras.Model(inp, keras.layers.Dense(4, name="fc")(h))
    model.get_layer("fc").set_weights([np.ones((1024, 4), np.float32), np.arange(4, dtype=np.float32)])
    stats = measure.tflite_weight_stats(convert(tf, model, "none"))
    (const,) = [s for s in stats if s["role"] == "constant"]
    assert const["op"] == "SUB" and const["params"] == 1024 and const["sparsity"] == 0.25
    assert const["unique_weights"] == 769
    (w,) = [s for s in stats if s["role"] == "weight"]
    assert w["layer"] == "fc" and w["unique_weights"] == 1 and w["shape"] == [4, 1024]
    assert measure.summary(stats)["params"] == 4096  # constants don't count as kernels
