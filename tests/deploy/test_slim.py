"""slim: every change runs bit-identically where it is applied, and a runtime never gets one it refuses."""
from __future__ import annotations

import pytest

from optimize_cli.deploy import slim as S
from optimize_cli.deploy import verify as V
from optimize_cli.targets import ethos_u, litert, tflm

pytestmark = pytest.mark.slow  # converts the tiny models (session fixtures)


def _io_names(tfl: bytes) -> list:
    sub = S.unpack(tfl).subgraphs[0]
    return [sub.tensors[i].name for i in list(sub.inputs) + list(sub.outputs)]


def test_slim_round_trip_of_a_converter_output_is_byte_identical(int8_tflite):
    assert S.pack(S.unpack(int8_tflite)) == int8_tflite


def test_slim_litert_runs_bit_identically_and_keeps_io_and_signature(int8_tflite, samples):
    r = S.slim(int8_tflite, litert.SLIM_CHANGES, litert.SLIM_REFUSED)
    assert r.applied == ["tensor_names", "metadata", "empty_buffers"]
    assert "zero_points" in r.skipped and "LiteRT" in r.skipped["zero_points"]
    assert r.slim_bytes < len(int8_tflite) and sum(r.removed_bytes.values()) == len(int8_tflite) - r.slim_bytes
    assert all(v > 0 for v in r.removed_bytes.values())
    for runner in (V.run_litert, V.run_litert_reference, V.run_tflm):
        V.assert_same_outputs(int8_tflite, r.tflite, samples, runner, runner.__name__)
    before, after = S.unpack(int8_tflite), S.unpack(r.tflite)
    assert _io_names(r.tflite) == _io_names(int8_tflite) and all(_io_names(r.tflite))
    assert [s.signatureKey for s in after.signatureDefs] == [s.signatureKey for s in before.signatureDefs]
    assert sum(1 for t in after.subgraphs[0].tensors if t.name) == len(_io_names(r.tflite))


def test_slim_tflm_collapses_zero_points_which_only_tflm_accepts(int8_tflite, samples):
    r = S.slim(int8_tflite, tflm.SLIM_CHANGES, check=lambda a, b: V.assert_same_outputs(a, b, samples, V.run_tflm, "TFLM"))
    assert r.applied == ["tensor_names", "zero_points", "metadata", "empty_buffers"]
    assert r.verified_samples == len(samples)
    assert r.slim_bytes < S.slim(int8_tflite, litert.SLIM_CHANGES).slim_bytes
    V.assert_same_outputs(int8_tflite, r.tflite, samples, V.run_tflm, "TFLM")
    with pytest.raises(V.VerifyError, match="does not run.*zero_point"):  # why LiteRT never gets it
        V.assert_same_outputs(int8_tflite, r.tflite, samples[:1], V.run_litert, "LiteRT")


def test_slim_ethos_u_compiles_to_the_same_vela_figures(int8_tflite, samples):
    pytest.importorskip("ethosu.vela")
    check = ethos_u.slim_check(ethos_u.EthosUTarget(), samples[:4])  # Vela twice, and both files on LiteRT
    r = S.slim(int8_tflite, ethos_u.SLIM_CHANGES, ethos_u.SLIM_REFUSED, check=check)
    assert r.applied == ["tensor_names", "metadata", "empty_buffers"] and r.verified_samples == 4


def _with_a_duplicate(tflite: bytes) -> bytes:
    """The file as a tool without constant uniquing could write it: the last operator's weight tensor is
    read through a copy (own tensor, own buffer with the same bytes), so two buffers hold equal bytes."""
    import copy

    model = S.unpack(tflite)
    sub = model.subgraphs[0]
    op = next(o for o in reversed(sub.operators) if len(o.inputs) > 1 and sub.tensors[o.inputs[1]].buffer
              and model.buffers[sub.tensors[o.inputs[1]].buffer].data is not None)
    twin = copy.deepcopy(sub.tensors[op.inputs[1]])
    model.buffers.append(copy.deepcopy(model.buffers[twin.buffer]))
    twin.buffer = len(model.buffers) - 1
    sub.tensors.append(twin)
    op.inputs[1] = len(sub.tensors) - 1
    return S.pack(model)


def test_slim_shares_duplicate_buffers_bit_identically(twin_int8_tflite, samples):
    # the TF converter already uniques equal constants (the twin heads' weights): nothing to do
    assert "duplicate_buffers" in S.slim(twin_int8_tflite, ["duplicate_buffers"]).skipped
    dup = _with_a_duplicate(twin_int8_tflite)
    assert len(dup) > len(twin_int8_tflite)
    r = S.slim(dup, ["duplicate_buffers"])
    assert r.applied == ["duplicate_buffers"] and r.removed_bytes["duplicate_buffers"] > 0
    for runner in (V.run_litert, V.run_tflm):
        V.assert_same_outputs(dup, r.tflite, samples, runner, runner.__name__)


def test_slim_without_anything_to_change_returns_the_file_as_it_came(int8_tflite):
    once = S.slim(int8_tflite, litert.SLIM_CHANGES).tflite
    again = S.slim(once, litert.SLIM_CHANGES)
    assert again.applied == [] and again.tflite == once and again.removed_bytes == {}


def test_slim_refuses_unknown_changes_and_files(int8_tflite):
    with pytest.raises(ValueError, match="unknown change"):
        S.slim(int8_tflite, ["names"])
    with pytest.raises(S.SlimError, match="TFL3"):
        S.slim(b"not a model at all")
    assert ethos_u.SLIM_CHANGES == litert.SLIM_CHANGES == S.SAFE_CHANGES
    assert set(tflm.SLIM_CHANGES) == set(S.CHANGE_NAMES)
