"""filter_prune through residual blocks and concatenations: the layers feeding an Add keep one shared set of
channels, a Concatenate joins its inputs' sets, the thinner model computes what the original computes on the
kept channels, and its .tflite has the smaller shapes and runs."""
from __future__ import annotations

import numpy as np
import pytest

from optimize_cli.stages import FilterPruneStage


def _residual():
    """stem → [a → b] + stem (Add) → relu → {c, d} (Concatenate) → e → GAP → out."""
    from optimize_cli.tf import keras

    L = keras.layers
    keras.utils.set_random_seed(0)
    inp = keras.Input((8, 8, 1), name="image")
    s = L.ReLU(name="r0")(L.BatchNormalization(name="bn0")(L.Conv2D(8, 3, padding="same", name="stem")(inp)))
    h = L.Conv2D(8, 3, padding="same", activation="relu", name="a")(s)
    h = L.BatchNormalization(name="bnb")(L.Conv2D(8, 3, padding="same", name="b")(h))
    h = L.ReLU(name="r1")(L.Add(name="add")([s, h]))
    c = L.Conv2D(6, 1, name="c")(h)
    d = L.DepthwiseConv2D(3, padding="same", name="dw")(L.Conv2D(4, 1, name="d")(h))
    h = L.Concatenate(name="cat")([c, d])
    h = L.GlobalAveragePooling2D(name="gap")(L.Conv2D(6, 1, name="e")(h))
    model = keras.Model(inp, L.Dense(3, name="out")(h))
    for lay in model.layers:   # non-trivial BN statistics, so that a wrong slice shows
        if isinstance(lay, L.BatchNormalization):
            g, b, m, v = lay.get_weights()
            rng = np.random.default_rng(len(lay.name))
            lay.set_weights([g + rng.random(g.shape), b + rng.random(b.shape), m + rng.random(m.shape), v + 1.0])
    return model


@pytest.fixture(scope="module")
def residual():
    return _residual()


def test_filter_prune_add_inputs_share_one_kept_set(residual):
    from optimize_cli.stages import filter_prune
    from optimize_cli.stages.filter_graph import scores

    thin, skipped = filter_prune.plan(residual, FilterPruneStage(ratio=0.5))
    assert sorted(thin) == ["a", "b", "c", "d", "e", "stem"] and [s["name"] for s in skipped] == ["out"]
    new, changed, _, _ = filter_prune.thinner(residual, FilterPruneStage(ratio=0.5))
    assert changed == {"stem": [8, 4], "a": [8, 4], "b": [8, 4], "c": [6, 3], "d": [4, 2], "e": [6, 3]}
    assert new.get_layer("b").kernel.shape == (3, 3, 4, 4) and new.get_layer("c").kernel.shape == (1, 1, 4, 3)
    assert new.get_layer("e").kernel.shape == (1, 1, 5, 3) and new.get_layer("dw").depthwise_kernel.shape[2] == 2
    assert new.output_shape == residual.output_shape
    # the shared set is ranked by the norm summed over stem and b; both keep it
    total = scores(residual.get_layer("stem").kernel.numpy(), "l1") + scores(residual.get_layer("b").kernel.numpy(), "l1")
    keep = np.sort(np.argsort(-total, kind="stable")[:4])
    np.testing.assert_array_equal(new.get_layer("stem").kernel.numpy(), residual.get_layer("stem").kernel.numpy()[..., keep])
    np.testing.assert_array_equal(new.get_layer("b").bias.numpy(), residual.get_layer("b").bias.numpy()[keep])
    _, skipped = filter_prune.plan(residual, FilterPruneStage(ratio=0.5, skip_layers=["b"]))
    assert {s["name"]: s["reason"] for s in skipped} == {
        "stem": "b is named in skip_layers (it shares its channels with b through add)",
        "b": "b is named in skip_layers (it shares its channels with stem through add)",
        "out": "its output reaches the model's output"}


def _zero_half(model):
    """A copy of `model` whose second half of the channels of every thinned layer is exactly zero (kernel,
    bias, the BatchNormalization after it, the DepthwiseConv2D bias): thinning by half must not change it."""
    from optimize_cli.tf import keras

    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    for name in ("stem", "a", "b", "c", "d", "e", "bn0", "bnb", "dw"):
        lay = copy.get_layer(name)
        w = lay.get_weights()
        n = w[-1].shape[0]
        if name.startswith("bn"):
            w[0][n // 2:] = 0.0     # gamma
            w[1][n // 2:] = 0.0     # beta
        elif name == "dw":
            w[1][n // 2:] = 0.0
        else:
            w[0][..., n // 2:] = 0.0
            w[1][n // 2:] = 0.0
        lay.set_weights(w)
    return copy


@pytest.mark.slow
def test_filter_prune_residual_thinner_model_computes_the_same(residual, digits_data):
    from optimize_cli.stages import filter_prune
    from optimize_cli.tf import keras

    zeroed = _zero_half(residual)
    new, changed, _, _ = filter_prune.thinner(zeroed, FilterPruneStage(ratio=0.5))
    assert new.count_params() < zeroed.count_params()
    x = digits_data[0][:16]

    def at(model, name):
        return keras.Model(model.input, model.get_layer(name).output).predict(x, verbose=0)

    np.testing.assert_allclose(at(zeroed, "r1")[..., :4], at(new, "r1"), atol=1e-5)
    np.testing.assert_allclose(at(zeroed, "cat")[..., [0, 1, 2, 6, 7]], at(new, "cat"), atol=1e-5)
    np.testing.assert_allclose(zeroed.predict(x, verbose=0), new.predict(x, verbose=0), atol=1e-5)


@pytest.mark.slow
def test_filter_prune_residual_tflite_is_smaller_and_runs(residual, digits_data):
    from optimize_cli import export, measure
    from optimize_cli.stages import filter_prune

    new, changed, _, _ = filter_prune.thinner(residual, FilterPruneStage(ratio=0.5))
    x = digits_data[0][:64]
    tfl = export.convert(new, "int8", export.representative_from(x, 64, 0), None, None, None)
    layers = {lay.get("layer") or lay["name"]: lay for lay in measure.tflite_weight_stats(tfl)
              if lay.get("role", "weight") == "weight"}
    kernels = {n: int(new.get_layer(n).kernel.shape.num_elements()) for n in changed}
    record = {"filters": {"layers": {n: {"filters": c, "kernel_params": kernels[n]} for n, c in changed.items()}}}
    check = filter_prune.export_check(FilterPruneStage(ratio=0.5), record, layers)
    assert check["passed"] and check["message"].startswith("6 thinned layer(s)"), check
    out = measure.predict_tflite(tfl, x[:8])
    assert out.shape == (8, 3) and np.isfinite(out).all()
    np.testing.assert_allclose(out, new.predict(x[:8], verbose=0), atol=0.5)


def test_filter_prune_groups_that_meet_the_input_are_skipped_and_named():
    from optimize_cli.stages import filter_prune
    from optimize_cli.tf import keras

    L = keras.layers
    inp = keras.Input((8, 8, 4), name="image")
    a = L.Conv2D(4, 3, padding="same", name="a")(inp)
    b = L.Conv2D(4, 3, padding="same", name="b")(a)
    h = L.Add(name="add")([inp, a, b])                       # identity shortcut from the input
    h = L.Conv2D(8, 1, name="c")(h)
    h = L.Reshape((8 * 8 * 8,), name="flat")(h)               # a Reshape cannot follow a channel selection
    model = keras.Model(inp, L.Dense(3, name="d")(h))
    thin, skipped = filter_prune.plan(model, FilterPruneStage(ratio=0.5))
    reasons = {s["name"]: s["reason"] for s in skipped}
    assert thin == [] and sorted(reasons) == ["a", "b", "c", "d"]
    assert reasons["a"] == ("its output meets the input image, whose channels cannot be thinned "
                            "(it shares its channels with b through add)")
    assert reasons["c"].startswith("its output feeds flat (Reshape)")
    assert reasons["d"] == "its output reaches the model's output"
    new, changed, _, _ = filter_prune.thinner(model, FilterPruneStage(ratio=0.5))
    assert changed == {} and new.count_params() == model.count_params()


@pytest.mark.parametrize("metric,fraction", [("macs", 0.5), ("params", 0.6)])
def test_filter_prune_reaches_a_global_target(tiny_model, metric, fraction):
    from optimize_cli.stages import filter_prune

    params = FilterPruneStage(**{f"target_{metric}": fraction})
    new, changed, _, searched = filter_prune.thinner(tiny_model, params)
    measured = (filter_prune.macs(new) / filter_prune.macs(tiny_model) if metric == "macs"
                else new.count_params() / tiny_model.count_params())
    assert searched["metric"] == metric and searched["fraction"] == fraction
    assert searched["reached"] == pytest.approx(measured, abs=1e-6)
    assert fraction - 0.05 < measured <= fraction     # one pw filter is 64 × 10 weights of out
    assert set(changed) == {"conv", "pw"}


def test_filter_prune_target_is_capped_and_reported(tiny_model):
    from optimize_cli.stages import filter_prune

    _, changed, _, searched = filter_prune.thinner(tiny_model, FilterPruneStage(target_params=0.01))
    assert changed == {"conv": [8, 1], "pw": [16, 2]}        # MAX_RATIO 0.9 per layer: the output layer stays
    assert searched["reached"] > 0.01


def test_filter_prune_ratio_and_target_are_exclusive(tmp_path):
    from optimize_cli.errors import RecipeError
    from optimize_cli.recipe import load_recipe

    head = ("version: 1\nmodel: model\ndata:\n  train: {type: npz, path: d.npz, x: x, y: y}\nstages:\n")
    (tmp_path / "r.yaml").write_text(head + "  - filter_prune\n", encoding="utf-8")
    assert load_recipe(tmp_path / "r.yaml", check_paths=False).stages[0].ratio == 0.25     # the default, resolved
    for stage, ok in [("{type: filter_prune, ratio: 0.3, target_macs: 0.5}", False),
                      ("{type: filter_prune, target_macs: 0.5, target_params: 0.5}", False),
                      ("{type: filter_prune, target_macs: 0.5}", True)]:
        (tmp_path / "r.yaml").write_text(head + f"  - {stage}\n", encoding="utf-8")
        if ok:
            r = load_recipe(tmp_path / "r.yaml", check_paths=False)
            assert r.stages[0].target() == ("macs", 0.5) and r.stages[0].ratio is None
            (tmp_path / "resolved.yaml").write_text(r.resolved_yaml(), encoding="utf-8")   # recipe.resolved.yaml reloads
            assert load_recipe(tmp_path / "resolved.yaml", check_paths=False).stages[0].target() == ("macs", 0.5)
            continue
        with pytest.raises(RecipeError, match=r"stages\[0\].*give one of ratio, target_macs, target_params"):
            load_recipe(tmp_path / "r.yaml", check_paths=False)


def test_filter_prune_channel_multiple(tiny_model):
    from optimize_cli.stages import filter_prune

    _, changed, _, _ = filter_prune.thinner(tiny_model, FilterPruneStage(ratio=0.3, channel_multiple=4))
    assert changed == {"conv": [8, 4], "pw": [16, 12]}        # 5.6 → 4, 11.2 → 12: the nearest multiples of 4
    _, changed, _, searched = filter_prune.thinner(tiny_model, FilterPruneStage(target_macs=0.5, channel_multiple=4))
    assert all(after % 4 == 0 for _, after in changed.values()) and searched["reached"] <= 0.5
    _, changed, _, _ = filter_prune.thinner(tiny_model, FilterPruneStage(ratio=0.5, channel_multiple=8))
    assert changed == {"conv": [8, 8], "pw": [16, 8]}         # a layer with no more filters than the multiple keeps them
