"""cluster and qat on layers tfmot claims but cannot handle: preprocessing up front (Rescaling,
Normalization) is quantized on every path (QAT, PQAT, CQAT, PCQAT) and reaches the int8 .tflite; a weight
with fewer values than k-means++ centroids and a fused relu6 are left alone, named, and kept as the
earlier stages made them."""
from __future__ import annotations

import numpy as np
import pytest

from optimize_cli.stages import ClusterStage, PruneStage, QatStage, run_stage

PATHS = {"QAT": (), "PQAT": ("prune",), "CQAT": ("cluster",), "PCQAT": ("prune", "cluster")}


@pytest.fixture(scope="module")
def prep_model(digits_data):
    """Rescaling → adapted Normalization → given Normalization → Conv2D → Flatten → Dense: a plain tf_keras
    model with preprocessing up front."""
    from optimize_cli.tf import keras

    L = keras.layers
    keras.utils.set_random_seed(0)
    norm = L.Normalization(name="norm")
    norm.adapt(digits_data[0] * 16.0)
    inp = keras.Input((8, 8, 1), name="image")
    h = L.Rescaling(16.0, name="rescale")(inp)
    h = L.Normalization(mean=0.1, variance=2.0, name="given")(norm(h))
    h = L.Conv2D(8, 3, activation="relu", name="conv")(h)
    model = keras.Model(inp, L.Dense(10, activation="softmax", name="out")(L.Flatten()(h)))
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(digits_data[0], digits_data[1], epochs=2, verbose=0)
    return model


@pytest.mark.slow
@pytest.mark.parametrize("scheme", list(PATHS))
def test_qat_quantizes_preprocessing_layers_on_every_path(prep_model, make_ctx, scheme):
    res = run_stage(prep_model, QatStage(epochs=0), make_ctx(previous=list(PATHS[scheme]), index=len(PATHS[scheme]) + 1))
    assert res.scheme == scheme and res.skipped_layers == []
    assert {"rescale", "norm", "given", "conv", "out"} <= set(res.details["quantized_layers"])
    for name in ("rescale", "norm", "given"):
        assert type(res.model.get_layer(f"quant_{name}")).__name__ == "QuantizeWrapperV2"


@pytest.mark.slow
def test_qat_preprocessing_layers_reach_the_int8_tflite(prep_model, make_ctx, digits_data):
    """PCQAT (the path that failed): the int8 .tflite computes the preprocessing in int8 and agrees with
    the float model."""
    from ai_edge_litert.interpreter import Interpreter

    from optimize_cli import export

    res = run_stage(prep_model, QatStage(epochs=1), make_ctx(previous=["prune", "cluster"], index=3, samples=64))
    tfl = export.convert(res.model, "int8", export.representative_from(digits_data[0], 64, 0), None, None, None)
    it = Interpreter(model_content=tfl)
    it.allocate_tensors()
    ops = {op["op_name"] for op in it._get_ops_details()}  # noqa: SLF001 - no public API for the op list
    assert {"MUL", "SUB"} <= ops and "DEQUANTIZE" not in ops, ops  # Rescaling, the Normalizations
    assert not [d["name"] for d in it.get_tensor_details() if d["dtype"] == np.float32]
    i, o = it.get_input_details()[0], it.get_output_details()[0]
    s, zp = i["quantization"]
    os_, ozp = o["quantization"]
    x = digits_data[2][:64]
    got = []
    for k in range(len(x)):
        it.set_tensor(i["index"], np.clip(np.round(x[k:k + 1] / s + zp), -128, 127).astype(np.int8))
        it.invoke()
        got.append((it.get_tensor(o["index"]).astype(np.float32) - ozp) * os_)
    want = np.asarray(res.model(x))
    assert np.mean(np.concatenate(got).argmax(-1) == want.argmax(-1)) >= 0.9


@pytest.fixture(scope="module")
def odd_pruned(make_ctx):
    """SeparableConv2D on one channel (a pointwise kernel of 4 values) → Conv2D 1×1 with a fused relu6 →
    pooling → Dense, pruned to 50 %."""
    from optimize_cli.tf import keras

    L = keras.layers
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 1), name="image")
    h = L.SeparableConv2D(4, 3, name="sep")(inp)
    h = L.Conv2D(8, 1, activation="relu6", name="c6")(h)
    h = L.Flatten(name="flat")(L.MaxPooling2D(name="pool")(h))
    model = keras.Model(inp, L.Dense(10, activation="softmax", name="out")(h))
    return run_stage(model, PruneStage(target_sparsity=0.5, epochs=1), make_ctx(index=1, samples=64)).model


@pytest.mark.slow
def test_cluster_skips_a_weight_with_fewer_values_than_clusters(odd_pruned, make_ctx):
    res = run_stage(odd_pruned, ClusterStage(clusters=8, epochs=1, preserve_sparsity=True),
                    make_ctx(previous=["prune"], index=2, samples=64))
    skipped = {s["name"]: s["reason"] for s in res.skipped_layers}
    assert skipped["sep"] == "too few weights for 8 clusters (pointwise_kernel: 4 values)"
    assert {"c6", "out"} <= set(res.details["clustered_layers"])
    assert np.all(np.asarray(res.model.get_layer("sep").pointwise_kernel) == np.asarray(odd_pruned.get_layer("sep").pointwise_kernel))


def test_sparsity_preserving_kmeans_needs_values_on_both_sides():
    """tfmot splits clusters-1 centroids between negative and positive values by their counts: 2 negative
    and 1 positive value among zeros ask k-means++ for 5 and 2 centroids, which fails in tfmot."""
    from optimize_cli.stages.cluster import too_few_weights

    v = np.array([-1.0, -2.0, 3.0] + [0.0] * 20)
    assert "2 negative, 1 positive values for 5 and 2 k-means++ centroids" in too_few_weights("kernel", v, 8, True, True)
    assert too_few_weights("kernel", v, 8, False, True) is None and too_few_weights("kernel", v, 8, True, False) is None
    assert too_few_weights("kernel", np.array([-1.0, 2.0] * 12), 8, True, True) is None


@pytest.mark.slow
def test_pcqat_leaves_a_fused_relu6_in_float_and_keeps_it_pruned(odd_pruned, make_ctx):
    clustered = run_stage(odd_pruned, ClusterStage(clusters=8, epochs=0, preserve_sparsity=True),
                          make_ctx(previous=["prune"], index=2, samples=64)).model
    res = run_stage(clustered, QatStage(epochs=1), make_ctx(previous=["prune", "cluster"], index=3, samples=64))
    skipped = {s["name"]: s["reason"] for s in res.skipped_layers}
    assert skipped["c6"].startswith("tfmot cannot quantize its fused activation 'relu6' (Conv2D); left in float")
    assert "c6" in res.details["frozen_float_layers"] and "out" in res.details["quantized_layers"]
    np.testing.assert_array_equal(np.asarray(res.model.get_layer("c6").kernel), np.asarray(clustered.get_layer("c6").kernel))
