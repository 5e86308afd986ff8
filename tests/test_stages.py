"""The training stages on a tiny real model: prune, cluster, qat (QAT/PQAT/CQAT/PCQAT), with what each
leaves in the Keras kernels and in the int8 .tflite measured here, independently of the stages."""
from __future__ import annotations

import re

import numpy as np
import pytest

from optimize_cli.errors import RecipeError, StageError
from optimize_cli.stages import ClusterStage, PruneStage, QatStage
from optimize_cli.stages.prune import plan_schedule

PRUNABLE = ("conv", "pw", "out")  # the tiny model's Conv2D / Conv2D 1×1 / Dense kernels


# ------------------------------------------------------------------------------------------ helpers


def kernel(model, name):
    layer = model.get_layer(name)
    inner = getattr(layer, "layer", layer)
    var = getattr(inner, "depthwise_kernel", None)
    if var is None:
        var = inner.kernel
    return np.asarray(var.numpy())


def sparsity(a):
    return float(np.mean(np.asarray(a) == 0))


def max_unique_per_out_channel(k):
    """Keras kernels keep output channels on the last axis."""
    k = np.asarray(k)
    return max(np.unique(k[..., c]).size for c in range(k.shape[-1]))


def tflite_int8_kernels(tfl: bytes) -> dict:
    """name → int8 weight tensor (rank ≥ 2) of a .tflite, read with the LiteRT interpreter."""
    from ai_edge_litert.interpreter import Interpreter

    it = Interpreter(model_content=tfl)
    it.allocate_tensors()
    out = {}
    for t in it.get_tensor_details():
        if t["dtype"] != np.int8 or len(t["shape"]) < 2:
            continue
        try:
            a = it.get_tensor(t["index"])
        except ValueError:
            continue
        out[t["name"]] = a
    return out


def tflite_kernel_of(kernels: dict, layer: str):
    hits = [a for n, a in kernels.items() if re.search(rf"(^|/)(quant_)?{layer}/", n)]
    assert hits, f"no int8 kernel for {layer} in {list(kernels)}"
    return max(hits, key=lambda a: a.size)


def keras_accuracy(model, x, y):
    from optimize_cli.tf import keras

    m = model
    m.compile(loss="sparse_categorical_crossentropy", metrics=[keras.metrics.SparseCategoricalAccuracy()])
    return float(m.evaluate(x, y, verbose=0, batch_size=256)[1])


def simulate_tfmot_updates(plan):
    """Steps (1-based, as tfmot counts) at which masks are updated."""
    b, e, f, t = plan["begin_step"], plan["end_step"], plan["frequency"], plan["total_steps"]
    return [s for s in range(1, t + 1) if b <= s <= e and (s - b) % f == 0]


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(scope="module")
def pruned(tiny_model, make_ctx):
    from optimize_cli.stages import prune

    return prune.run(tiny_model, PruneStage(target_sparsity=0.5, epochs=3), make_ctx(index=1))


@pytest.fixture(scope="module")
def clustered(pruned, make_ctx):
    from optimize_cli.stages import cluster

    return cluster.run(pruned.model, ClusterStage(clusters=8, epochs=1, preserve_sparsity=True),
                       make_ctx(previous=["prune"], index=2))


@pytest.fixture(scope="module")
def pcqat(clustered, make_ctx):
    from optimize_cli.stages import qat

    return qat.run(clustered.model, QatStage(epochs=1), make_ctx(previous=["prune", "cluster"], index=3))


@pytest.fixture(scope="module")
def pcqat_int8(pcqat, digits_data):
    from optimize_cli import export

    return export.convert(pcqat.model, "int8", export.representative_from(digits_data[0], 64, 0), None, None, None)


# ---------------------------------------------------------------------------------------- schedule


@pytest.mark.parametrize("epochs,spe", [(1, 1), (1, 5), (2, 3), (3, 10), (12, 8), (20, 8), (30, 157)])
def test_prune_schedule_reaches_target_with_recovery(epochs, spe):
    plan = plan_schedule(PruneStage(epochs=epochs), epochs * spe)
    updates = simulate_tfmot_updates(plan)
    assert updates and updates[-1] == plan["end_step"], plan  # the last update is where the target is reached
    assert plan["end_step"] <= plan["total_steps"]
    if plan["total_steps"] >= 3:
        assert plan["end_step"] < plan["total_steps"], "no recovery steps at full sparsity"
        assert len(updates) >= 2 or plan["total_steps"] < 6


def test_prune_schedule_honours_explicit_values():
    plan = plan_schedule(PruneStage(epochs=4, begin_step=2, end_step=22, frequency=5), 40)
    assert (plan["begin_step"], plan["end_step"], plan["frequency"]) == (2, 22, 5)
    assert simulate_tfmot_updates(plan)[-1] == 22
    plan = plan_schedule(PruneStage(epochs=4, end_step=30), 40)
    assert simulate_tfmot_updates(plan)[-1] == 30
    plan = plan_schedule(PruneStage(epochs=4, frequency=7), 40)
    assert simulate_tfmot_updates(plan)[-1] == plan["end_step"] < 40


@pytest.mark.parametrize("kw,words", [
    ({"end_step": 50}, "end_step 50 is after the last training step"),
    ({"end_step": 30, "frequency": 7}, "not a multiple of frequency"),
    ({"frequency": 41}, "masks would never be updated"),
    ({"begin_step": 40}, "pruning would never start"),
])
def test_prune_schedule_rejects_unreachable_explicit_values(kw, words):
    with pytest.raises(StageError, match=words):
        plan_schedule(PruneStage(epochs=4, **kw), 40)


def test_stage_learning_rate_defaults_per_stage(make_ctx):
    from optimize_cli.stages.common import stage_learning_rate

    ctx = make_ctx(learning_rate=2e-3)
    assert stage_learning_rate(PruneStage(), ctx) == pytest.approx(2e-3)
    assert stage_learning_rate(ClusterStage(), ctx) == pytest.approx(2e-4)
    assert stage_learning_rate(QatStage(), ctx) == pytest.approx(2e-4)
    assert stage_learning_rate(QatStage(learning_rate=5e-3), ctx) == pytest.approx(5e-3)


# ------------------------------------------------------------------------------------------- prune


def test_prune_reaches_target_sparsity_in_each_kernel(pruned):
    for name in PRUNABLE:
        assert sparsity(kernel(pruned.model, name)) >= 0.5 - 0.01, name
    assert "PolynomialDecay 0.00→0.50" in pruned.scheme
    assert pruned.details["end_step"] < pruned.details["total_steps"]
    assert set(pruned.details["pruned_layers"]) == set(PRUNABLE)


def test_prune_strips_wrappers_and_keeps_the_input_model(pruned, tiny_model):
    assert [type(la).__name__ for la in pruned.model.layers] == [type(la).__name__ for la in tiny_model.layers]
    assert sparsity(kernel(tiny_model, "conv")) < 0.1  # the input model was not modified


def test_prune_reports_depthwise_as_skipped(pruned):
    skipped = {s["name"]: s for s in pruned.skipped_layers}
    assert skipped["dw"]["class"] == "DepthwiseConv2D"
    assert "depthwise" in skipped["dw"]["reason"]
    assert sparsity(kernel(pruned.model, "dw")) < 0.1
    assert "bn" not in skipped  # BatchNorm has no kernel: nothing to report


def test_prune_keeps_accuracy_of_tiny_model(pruned, tiny_model, digits_data):
    _, _, x, y = digits_data
    assert keras_accuracy(pruned.model, x, y) >= keras_accuracy(tiny_model, x, y) - 0.1


def test_prune_skip_layers_by_name_and_regex(tiny_model, make_ctx):
    from optimize_cli.stages import prune

    res = prune.run(tiny_model, PruneStage(target_sparsity=0.6, epochs=1, skip_layers=["pw", "o.t"]),
                    make_ctx(index=1, samples=96))
    skipped = {s["name"]: s["reason"] for s in res.skipped_layers}
    assert "skip_layers 'pw'" in skipped["pw"] and "skip_layers 'o.t'" in skipped["out"]
    assert sparsity(kernel(res.model, "pw")) < 0.1 and sparsity(kernel(res.model, "out")) < 0.1
    assert sparsity(kernel(res.model, "conv")) >= 0.6 - 0.01


def test_prune_unknown_skip_layer_is_an_error(tiny_model, make_ctx):
    from optimize_cli.stages import prune

    with pytest.raises(RecipeError, match="no layer named 'nope'"):
        prune.run(tiny_model, PruneStage(epochs=1, skip_layers=["nope"]), make_ctx(index=1))


def test_prune_nan_loss_raises_stage_error_naming_epoch(tiny_model, make_ctx, digits_data):
    from optimize_cli.stages import prune

    x = digits_data[0].copy()
    x[5] = np.nan
    with pytest.raises(StageError, match=r"stage 1 \(prune\): training diverged at epoch 1/2 \(NaN"):
        prune.run(tiny_model, PruneStage(epochs=2), make_ctx(index=1, x=x))


def test_prune_m_by_n_structured_sparsity(tiny_model, make_ctx):
    from tensorflow_model_optimization.python.core.sparsity.keras import pruning_utils

    from optimize_cli.stages import prune
    from optimize_cli.tf import tf

    res = prune.run(tiny_model, PruneStage(sparsity_m_by_n=(2, 4), epochs=1), make_ctx(index=1, samples=96))
    assert res.scheme.startswith("2:4 structured sparsity")
    for name in ("pw", "out"):
        k = kernel(res.model, name)
        assert sparsity(k) >= 0.5 - 0.01
        assert bool(pruning_utils.is_pruned_m_by_n(tf.constant(k), (2, 4)))


def test_prune_constant_schedule_reaches_target(tiny_model, make_ctx):
    from optimize_cli.stages import prune

    res = prune.run(tiny_model, PruneStage(schedule="constant", target_sparsity=0.7, epochs=1),
                    make_ctx(index=1, samples=96))
    assert res.scheme.startswith("ConstantSparsity 0.70")
    for name in PRUNABLE:
        assert sparsity(kernel(res.model, name)) >= 0.7 - 0.01, name


def test_prune_is_deterministic_given_seed(tiny_model, make_ctx):
    from optimize_cli.stages import prune

    a = prune.run(tiny_model, PruneStage(epochs=1), make_ctx(index=1, samples=96))
    b = prune.run(tiny_model, PruneStage(epochs=1), make_ctx(index=1, samples=96))
    np.testing.assert_allclose(kernel(a.model, "out"), kernel(b.model, "out"), atol=1e-6)


# ----------------------------------------------------------------------------------------- cluster


def test_cluster_leaves_at_most_clusters_values_and_preserves_sparsity(clustered, pruned):
    for name in PRUNABLE:
        k = kernel(clustered.model, name)
        assert np.unique(k).size <= 8, name
        assert sparsity(k) >= 0.5 - 0.01, name
        # the pruned zeros stayed where they were
        assert np.all(k[kernel(pruned.model, name) == 0] == 0), name
    assert clustered.scheme == "8 clusters, kmeans++, sparsity-preserving"
    assert {s["name"] for s in clustered.skipped_layers} == {"dw"}


def test_cluster_per_channel_limits_each_conv_channel(tiny_model, make_ctx):
    from optimize_cli.stages import cluster

    res = cluster.run(tiny_model, ClusterStage(clusters=4, per_channel=True, epochs=0, centroid_init="linear"),
                      make_ctx(index=1))
    for name in ("conv", "pw"):
        k = kernel(res.model, name)
        assert max_unique_per_out_channel(k) <= 4, name
        assert np.unique(k).size > 4, name  # really per channel, not per kernel
    assert np.unique(kernel(res.model, "out")).size <= 4  # Dense: clustered as a whole
    assert any("out: per_channel applies to Conv2D" in n for n in res.details["notes"])
    assert "per channel" in res.scheme and "linear" in res.scheme


@pytest.mark.parametrize("init", ["density", "random"])
def test_cluster_centroid_inits(tiny_model, make_ctx, init):
    from optimize_cli.stages import cluster

    res = cluster.run(tiny_model, ClusterStage(clusters=6, epochs=0, centroid_init=init), make_ctx(index=1))
    for name in PRUNABLE:
        assert np.unique(kernel(res.model, name)).size <= 6, name


# --------------------------------------------------------------------------------------------- qat


def test_qat_pcqat_keeps_sparsity_and_clusters_in_int8_tflite(pcqat, pcqat_int8):
    assert pcqat.scheme.startswith("PCQAT")
    assert pcqat.skipped_layers == []  # BatchNorm after a linear Conv2D is folded, not skipped
    ks = tflite_int8_kernels(pcqat_int8)
    for name in PRUNABLE:
        k = tflite_kernel_of(ks, name)  # TFLite: output channels on axis 0
        assert sparsity(k) >= 0.5 - 0.01, name
        assert max(np.unique(k[c]).size for c in range(k.shape[0])) <= 8, name
    dw = tflite_kernel_of(ks, "dw")
    assert sparsity(dw) < 0.1  # depthwise stayed dense


def test_qat_pcqat_int8_accuracy_matches_keras(pcqat, pcqat_int8, digits_data):
    from ai_edge_litert.interpreter import Interpreter

    _, _, x, y = digits_data
    it = Interpreter(model_content=pcqat_int8)
    it.allocate_tensors()
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    assert i["dtype"] == np.int8 and o["dtype"] == np.int8
    s, zp = i["quantization"]
    ok = 0
    for k in range(len(x)):
        it.set_tensor(i["index"], np.clip(np.round(x[k:k + 1] / s + zp), -128, 127).astype(np.int8))
        it.invoke()
        ok += int(it.get_tensor(o["index"]).argmax() == y[k])
    assert abs(ok / len(x) - keras_accuracy(pcqat.model, x, y)) < 0.03


def test_qat_pqat_keeps_sparsity(pruned, make_ctx, digits_data):
    from optimize_cli import export
    from optimize_cli.stages import qat

    res = qat.run(pruned.model, QatStage(epochs=1), make_ctx(previous=["prune"], index=2, samples=128))
    assert res.scheme.startswith("PQAT")
    tfl = export.convert(res.model, "int8", export.representative_from(digits_data[0], 32, 0), None, None, None)
    ks = tflite_int8_kernels(tfl)
    for name in PRUNABLE:
        assert sparsity(tflite_kernel_of(ks, name)) >= 0.5 - 0.01, name


def test_qat_scheme_follows_previous_stages(tiny_model, make_ctx):
    from optimize_cli.stages import qat

    res = qat.run(tiny_model, QatStage(epochs=0), make_ctx(index=1))
    assert res.scheme == "QAT" and res.details["tfmot_scheme"].startswith("QAT (Default8BitQuantize")
    res = qat.run(tiny_model, QatStage(epochs=0), make_ctx(previous=["cluster"], index=2))
    assert res.scheme == "CQAT" and "preserve_sparsity=False" in res.details["tfmot_scheme"]


def test_qat_leaves_unsupported_layers_in_float(make_ctx):
    from optimize_cli.stages import qat
    from optimize_cli.tf import keras

    L = keras.layers
    inp = keras.Input((8, 8, 1))
    h = L.Conv2D(4, 3, name="conv")(inp)
    h = L.LayerNormalization(name="ln")(h)
    h = L.Flatten()(h)
    model = keras.Model(inp, L.Dense(10, activation="softmax", name="out")(h))
    res = qat.run(model, QatStage(epochs=0), make_ctx(index=1))
    skipped = {s["name"]: s for s in res.skipped_layers}
    assert skipped["ln"]["class"] == "LayerNormalization" and "left in float" in skipped["ln"]["reason"]
    assert type(res.model.get_layer("ln")).__name__ == "LayerNormalization"


def test_qat_calibrates_activation_ranges(tiny_model, make_ctx):
    from optimize_cli.stages import qat

    def ranges(model):
        return {v.name: float(v.numpy()) for v in model.weights
                if v.name.startswith("quant_relu/output_m") and v.shape.rank == 0}

    calibrated = ranges(qat.run(tiny_model, QatStage(epochs=0), make_ctx(index=1)).model)
    plain = ranges(qat.run(tiny_model, QatStage(epochs=0, calibrate_ranges=False), make_ctx(index=1)).model)
    assert min(plain.values()) == -6.0  # tfmot's initial range, even after a ReLU
    lo = next(v for k, v in calibrated.items() if "min" in k)
    hi = next(v for k, v in calibrated.items() if "max" in k)
    assert lo == 0.0 and 0.0 < hi != 6.0


def test_qat_skip_layers(tiny_model, make_ctx):
    from optimize_cli.stages import qat

    res = qat.run(tiny_model, QatStage(epochs=0, skip_layers=["out"]), make_ctx(index=1))
    assert {s["name"] for s in res.skipped_layers} == {"out"}
    assert type(res.model.get_layer("out")).__name__ == "Dense"


def test_stage_models_round_trip_through_checkpoints(pruned, pcqat, digits_data, tmp_path):
    from optimize_cli import models

    x = digits_data[2][:16]
    for res, typ in ((pruned, "prune"), (pcqat, "qat")):
        d = tmp_path / typ / "model"
        models.save_stage_model(res.model, d)
        back = models.load_stage_model(d.parent, typ)  # the stage folder works as well as its model folder
        np.testing.assert_allclose(np.asarray(back(x)), np.asarray(res.model(x)), atol=1e-5)
