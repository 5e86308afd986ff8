"""prune.layer_sparsity on the tiny model: per-layer targets (exact name over regex, 0 = dense) reached in
Keras and still there in the int8 .tflite; keys that match no layer, and bad values, are recipe errors."""
from __future__ import annotations

import pytest
from stage_helpers import kernel, sparsity, tflite_int8_kernels, tflite_kernel_of

from optimize_cli.errors import RecipeError
from optimize_cli.stages import PruneStage, run_stage


@pytest.mark.slow
def test_prune_layer_sparsity_per_layer_targets_reach_the_tflite(tiny_model, make_ctx, digits_data):
    from optimize_cli import export

    # "[cp].*" matches conv and pw; conv's exact key wins although the regex comes first; out stays dense
    params = PruneStage(target_sparsity=0.5, epochs=2, layer_sparsity={"[cp].*": 0.8, "conv": 0.3, "out": 0})
    res = run_stage(tiny_model, params, make_ctx(index=1, samples=256))
    assert res.details["layer_targets"] == {"conv": 0.3, "pw": 0.8}
    assert {s["name"]: s["reason"] for s in res.skipped_layers}["out"] == "layer_sparsity 'out': 0 (left dense)"
    assert 0.3 - 0.01 <= sparsity(kernel(res.model, "conv")) < 0.4
    assert sparsity(kernel(res.model, "pw")) >= 0.8 - 0.01
    assert sparsity(kernel(res.model, "out")) < 0.1
    tfl = export.convert(res.model, "int8", export.representative_from(digits_data[0], 64, 0), None, None, None)
    kernels = tflite_int8_kernels(tfl)
    assert 0.3 - 0.01 <= sparsity(tflite_kernel_of(kernels, "conv")) < 0.4
    assert sparsity(tflite_kernel_of(kernels, "pw")) >= 0.8 - 0.01
    assert sparsity(tflite_kernel_of(kernels, "out")) < 0.1


@pytest.mark.parametrize("key", ["nope", "zz.*"])
def test_prune_layer_sparsity_key_matching_no_layer_is_an_error(tiny_model, make_ctx, key):
    with pytest.raises(RecipeError, match=rf"stages\[0\]\.layer_sparsity: '{key}' matches no layer"):
        run_stage(tiny_model, PruneStage(epochs=1, layer_sparsity={key: 0.5}), make_ctx(index=1))


@pytest.mark.parametrize("kw,words", [
    ({"layer_sparsity": {"conv": 1.0}}, "sparsity must be 0 <= s < 1"),
    ({"layer_sparsity": {"conv": -0.1}}, "sparsity must be 0 <= s < 1"),
    ({"layer_sparsity": {"c[": 0.5}}, "not a layer name or a usable regular expression"),
    ({"layer_sparsity": {"conv": 0.5}, "sparsity_m_by_n": [2, 4]}, "cannot be combined"),
])
def test_prune_layer_sparsity_bad_values(kw, words):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=words):
        PruneStage(**kw)
