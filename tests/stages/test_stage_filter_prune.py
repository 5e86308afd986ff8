"""filter_prune: whole filters removed, a thinner model rebuilt with the kept weights, fine-tuned, and the
smaller shapes found in the .tflite."""
from __future__ import annotations

import numpy as np
import pytest

from optimize_cli.stages import FilterPruneStage, run_stage


@pytest.fixture(scope="module")
def thinned(tiny_model, make_ctx):
    return run_stage(tiny_model, FilterPruneStage(ratio=0.5, epochs=2), make_ctx(index=1, samples=128))


def test_filter_prune_ratio_half_thins_conv_and_pointwise(tiny_model, thinned):
    m = thinned.model
    assert m.get_layer("conv").kernel.shape == (3, 3, 1, 4)
    assert [w.shape[0] for w in m.get_layer("bn").get_weights()] == [4] * 4      # BN follows the conv
    assert m.get_layer("dw").depthwise_kernel.shape == (3, 3, 4, 1)             # DW passes the selection on
    assert m.get_layer("pw").kernel.shape == (1, 1, 4, 8)
    assert m.get_layer("out").kernel.shape == (8 * 8 * 8, 10)                    # Flatten → Dense sliced
    assert m.output_shape == tiny_model.output_shape
    assert [s["name"] for s in thinned.skipped_layers] == ["out"]
    assert "model's output" in thinned.skipped_layers[0]["reason"]
    f = thinned.record_extra["filters"]
    assert f["params_before"] == tiny_model.count_params() and f["params_after"] == m.count_params()
    assert f["params_after"] < f["params_before"] and f["macs_after"] < f["macs_before"]
    assert f["layers"]["conv"]["filters"] == [8, 4] and f["layers"]["pw"]["filters"] == [16, 8]
    assert thinned.history.epochs == 2


def test_filter_prune_keeps_the_function_of_the_kept_filters(tiny_model, digits_data):
    """Before fine-tuning, the thinner model computes exactly what the original computes on the kept
    channels: conv → BN → ReLU → DW activations equal the original's at the kept indices."""
    from optimize_cli.stages import filter_prune
    from optimize_cli.tf import keras

    new, changed, _, _ = filter_prune.thinner(tiny_model, FilterPruneStage(ratio=0.5))
    x = digits_data[0][:16]
    keep = filter_prune.rank(tiny_model.get_layer("conv").kernel.numpy(), "l1", 4)
    a = keras.Model(tiny_model.input, tiny_model.get_layer("dw").output).predict(x, verbose=0)[..., keep]
    b = keras.Model(new.input, new.get_layer("dw").output).predict(x, verbose=0)
    np.testing.assert_allclose(a, b, atol=1e-5)


def test_filter_prune_rank_criteria():
    from optimize_cli.stages.filter_prune import rank

    k = np.zeros((1, 1, 2, 4), np.float32)
    k[..., 0] = [3, 0]        # l1 3, l2 3
    k[..., 1] = [2, 2]        # l1 4, l2 2.83
    k[..., 2] = [0.1, 0]
    k[..., 3] = [0, 0.2]
    assert list(rank(k, "l1", 2)) == [0, 1]
    assert list(rank(k, "l2", 1)) == [0]
    assert list(rank(k, "geometric_median", 2)) == [0, 1]   # the far-apart filters are kept


def test_filter_prune_sequential_model():
    from optimize_cli.stages import filter_prune
    from optimize_cli.tf import keras

    L = keras.layers
    model = keras.Sequential([keras.Input((6,)), L.Dense(8, activation="relu", name="h"), L.Dense(2, name="o")])
    new, changed, _, _ = filter_prune.thinner(model, FilterPruneStage(ratio=0.25))
    assert isinstance(new, keras.Sequential) and changed == {"h": [8, 6]}
    assert new.get_layer("o").kernel.shape == (6, 2)


@pytest.mark.slow
def test_filter_prune_tflite_has_the_smaller_shapes(thinned, digits_data):
    from optimize_cli import export, measure
    from optimize_cli.stages import filter_prune

    tfl = export.convert(thinned.model, "int8", export.representative_from(digits_data[0], 64, 0), None, None, None)
    layers = {lay.get("layer") or lay["name"]: lay for lay in measure.tflite_weight_stats(tfl)
              if lay.get("role", "weight") == "weight"}
    params = {n: int(np.prod(lay["shape"])) for n, lay in layers.items()}
    assert sorted(params.values()) == sorted([3 * 3 * 4, 3 * 3 * 4, 4 * 8, 512 * 10])
    record = {"filters": thinned.record_extra["filters"]}
    check = filter_prune.export_check(FilterPruneStage(ratio=0.5), record, layers)
    assert check["passed"], check
    bad = {"filters": {"layers": {"pw": {"filters": [16, 8], "kernel_params": 16}}}}
    assert not filter_prune.export_check(FilterPruneStage(ratio=0.5), bad, layers)["passed"]
