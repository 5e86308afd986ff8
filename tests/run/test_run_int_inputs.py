"""A tf_keras model with an integer input (token ids into an Embedding): the data keeps its integer type, int8
calibration and the interpreter get int32, and the training path reaches int8 with its checks passing."""
from __future__ import annotations

import json

import numpy as np
import pytest
from run_helpers import cli, write_recipe

TOKENS, VOCAB, CLASSES = 16, 17, 4


@pytest.fixture(scope="module")
def token_model(tmp_path_factory):
    """Embedding → Conv1D → GlobalAveragePooling1D → Dense on int32 token ids, trained a few epochs on tokens
    drawn mostly from the class's own range; its .keras file and an .npz of int32 ids (and one of fractional floats)."""
    from optimize_cli.tf import keras

    folder = tmp_path_factory.mktemp("tokens")
    rng = np.random.default_rng(0)
    y = rng.integers(0, CLASSES, size=256).astype(np.int64)
    own = 4 * y[:, None] + rng.integers(0, 4, (256, TOKENS))
    x = np.where(rng.random((256, TOKENS)) < 0.5, own, rng.integers(0, VOCAB, (256, TOKENS))).astype(np.int32)
    keras.utils.set_random_seed(0)
    L = keras.layers
    inp = keras.Input((TOKENS,), dtype="int32", name="tokens")
    h = L.Conv1D(8, 3, padding="same", activation="relu", name="conv")(L.Embedding(VOCAB, 8, name="emb")(inp))
    model = keras.Model(inp, L.Dense(CLASSES, activation="softmax", name="dense")(L.GlobalAveragePooling1D()(h)))
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=10, batch_size=32, verbose=0)
    model.save(folder / "tokens.keras")
    np.savez(folder / "tokens.npz", x_train=x[:192], y_train=y[:192], x_test=x[192:], y_test=y[192:])
    frac = x.astype(np.float32)
    frac[3, 5] += 0.5
    np.savez(folder / "fractions.npz", x_train=frac[:192], y_train=y[:192], x_test=frac[192:], y_test=y[192:])
    return folder


def _recipe(folder, data, stages, name):
    split = {"type": "npz", "path": str(data)}
    doc = {"version": 1, "name": name, "model": str(folder / "tokens.keras"),
           "data": {"train": {**split, "x": "x_train", "y": "y_train"}, "eval": {**split, "x": "x_test", "y": "y_test"}},
           "training": {"batch_size": 64, "learning_rate": 1e-3}, "stages": stages,
           "export": {"quantization": "int8"}, "evaluation": {"latency_runs": 2, "latency_warmup": 0}}
    return write_recipe(folder, doc, f"{name}.yaml")


def _interp_input(tflite: bytes):
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_content=tflite).get_input_details()[0]["dtype"]


@pytest.mark.slow
def test_int_input_model_ptq_int8_keeps_int32_tokens(token_model, tmp_path):
    """int8 PTQ of a token model: calibrated on int32 ids, the .tflite's input stays int32 (only float inputs
    become int8), and its accuracy is measured by feeding it int32."""
    out = tmp_path / "out"
    res = cli("run", _recipe(token_model, token_model / "tokens.npz", [], "ptq"), "--output", out, "--quiet", "--force")
    assert res.exit_code == 0, res.output
    assert _interp_input((out / "model.tflite").read_bytes()) == np.int32
    rep = json.loads((out / "report.json").read_text())
    assert rep["result"]["accuracy"] >= rep["baseline"]["accuracy"] - 0.05 and rep["baseline"]["accuracy"] > 0.5


@pytest.mark.slow
def test_int_input_model_runs_prune_cluster_pcqat_int8(token_model, tmp_path):
    """prune → cluster → PCQAT → int8 on the token model: every stage trains on int32 ids, the PTQ baseline
    converts, the export checks pass (the Embedding's table included), and what QAT leaves in float (Embedding,
    Conv1D) is said."""
    out = tmp_path / "out"
    stages = [{"type": "prune", "target_sparsity": 0.5, "epochs": 1}, {"type": "cluster", "clusters": 8, "epochs": 1},
              {"type": "qat", "epochs": 1}]
    res = cli("run", _recipe(token_model, token_model / "tokens.npz", stages, "pcqat"), "--output", out, "--force")
    assert res.exit_code == 0, res.output
    rep = json.loads((out / "report.json").read_text())
    assert [s["type"] for s in rep["stages"]] == ["prune", "cluster", "qat"]
    assert rep["stages"][2]["scheme"] == "PCQAT"
    assert rep["ptq_baseline"]["accuracy"] is not None
    assert rep["checks"] and all(c["passed"] for c in rep["checks"]), rep["checks"]
    # tfmot prunes and clusters the Embedding's table: measured, and checked in the .tflite, like a kernel
    assert [la["name"] for la in rep["stages"][1]["layers"]] == ["emb", "conv", "dense"]
    assert [c["message"].split(" layer(s)")[0] for c in rep["checks"]] == ["3 pruned", "3 clustered"], rep["checks"]
    assert {"emb": "Embedding"}.items() <= {s["name"]: s["class"] for s in rep["stages"][2]["skipped_layers"]}.items()
    assert "skipped emb (Embedding)" in res.output and "emb left in float and frozen" in res.output
    assert _interp_input((out / "model.tflite").read_bytes()) == np.int32


def test_int_input_model_refuses_fractional_inputs_with_one_line(token_model, tmp_path):
    """Float inputs that are not whole numbers cannot be token ids: exit 3, one line naming the split, the
    file and key, and the sample."""
    res = cli("run", _recipe(token_model, token_model / "fractions.npz", [], "frac"), "--output", tmp_path / "o",
              "--quiet", "--force")
    assert res.exit_code == 3, res.output
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "data.train: fractions.npz[x_train] sample 3 has input value" in lines[0], res.output
    assert "int32" in lines[0]
