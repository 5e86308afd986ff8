"""lut: TFLM look-up-table compression per tensor, kept only where the file shrinks, bit-identical on TFLM."""
from __future__ import annotations

import pytest

from optimize_cli.deploy import lut as L
from optimize_cli.deploy import slim as S
from optimize_cli.deploy import verify as V

pytestmark = pytest.mark.slow  # converts the tiny models (session fixtures)


def test_lut_compresses_clustered_kernels_and_runs_bit_identically_on_tflm(clustered_int8_tflite, samples):
    slim = S.slim(clustered_int8_tflite, S.CHANGE_NAMES).tflite
    r = L.compress(slim, samples, names=L.tensor_names(clustered_int8_tflite))
    assert r.compressed_bytes < len(slim) and r.verified_samples == len(samples)
    layer = {t.name.split("/")[1]: t for t in r.tensors if "/" in t.name}
    assert layer["out"].compressed  # 4 clusters: ≤ 4 values per channel, 2-bit indices, 1,280 B → 386 B
    assert not layer["conv"].compressed and layer["conv"].skipped  # 72 B: the DECODE operator costs more
    for t in r.compressed_tensors:
        assert t.bits <= 2 and t.file_saved > 0 and t.mode == "per_channel" and t.skipped is None
    assert sum(t.file_saved for t in r.compressed_tensors) == len(slim) - r.compressed_bytes
    V.assert_same_outputs(slim, r.tflite, samples, V.run_tflm, "TFLM")
    assert r.to_dict()["tensors"][0].keys() >= {"name", "bits", "bytes_before", "bytes_after", "skipped"}


def test_lut_leaves_a_dense_model_as_it_came_and_says_why(int8_tflite, samples):
    r = L.compress(int8_tflite, samples[:2])
    assert r.tflite == int8_tflite and not r.compressed_tensors and r.verified_samples == 0
    assert all(t.skipped for t in r.tensors)
    dense = [t for t in r.tensors if t.distinct > 128]
    assert dense and all("at most 7" in t.skipped for t in dense)


def test_lut_per_tensor_table_on_a_per_channel_tensor_changes_the_outputs(clustered_int8_tflite, samples):
    """Why the mode follows the quantization: one table for a per-channel kernel decodes wrong values."""
    rows = [r for r in L.plan(clustered_int8_tflite) if r.skipped is None and r.mode == "per_channel"]
    row = max(rows, key=lambda r: r.bytes_before)
    row.axis = None
    row.bits = 7
    wrong = L.compressed_file(clustered_int8_tflite, [row])
    with pytest.raises(V.VerifyError, match="differ"):
        V.assert_same_outputs(clustered_int8_tflite, wrong, samples, V.run_tflm, "TFLM")


def test_lut_refuses_a_model_tflm_cannot_load(float_tflite, samples, digits_data):
    pytest.importorskip("ai_edge_quantizer")
    from optimize_cli.deploy import int4

    q = int4.quantize_int4(float_tflite, digits_data[0][:16])
    with pytest.raises(V.TflmLoadError, match="TFLM cannot run the model") as e:
        L.compress(q.tflite, samples[:1])
    assert e.value.exit_code == 4 and "\n" not in str(e.value)
