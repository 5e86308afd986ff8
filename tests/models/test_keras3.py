"""models/keras3*.py: Keras 3 files (built here, by Keras 3 in its own process: tests/models/keras3_zoo.py)
are translated into tf_keras with the same outputs, run the whole prune → cluster → qat → int8 path, and
what cannot be translated fails in `validate` naming the layer."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from run_helpers import built_once

from optimize_cli.cli import main
from optimize_cli.errors import InputError
from optimize_cli.stages import run_stage

ZOO = Path(__file__).with_name("keras3_zoo.py")
SUPPORTED_ZOO = ["cnn", "dscnn", "residual", "prep", "mlp", "wide", "seq1d"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def zoo(tmp_path_factory, digits_data):
    """The folder of Keras 3 models and their reference outputs, and the digits npz they were trained on;
    built once per test session (xdist workers share it, under a lock). Tests only read it."""
    return built_once(tmp_path_factory, "keras3_zoo", lambda out: _build_zoo(out, digits_data))


def _build_zoo(out: Path, digits_data) -> None:
    x, y, xt, yt = digits_data
    np.savez(out / "train.npz", x=x[:128], y=y[:128])
    np.savez(out / "digits.npz", x_train=x[:128], y_train=y[:128], x_test=xt[:128], y_test=yt[:128])
    np.savez(out / "tokens.npz", x_train=_tokens(x[:128]), y_train=y[:128], x_test=_tokens(xt[:128]), y_test=yt[:128])
    env = {k: v for k, v in os.environ.items() if k != "TF_USE_LEGACY_KERAS"}
    proc = subprocess.run([sys.executable, str(ZOO), str(out), str(out / "train.npz")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _tokens(x: np.ndarray) -> np.ndarray:
    """The digits as seq1d's int32 token ids, as keras3_zoo.py makes them (16 per digit, 0..16)."""
    return (x.reshape(len(x), -1)[:, ::4] * 16).astype(np.int32)


def cli(*args: str):
    return CliRunner(env={"NO_COLOR": "1", "COLUMNS": "300"}).invoke(main, list(args))


def recipe(folder: Path, model: Path, stages) -> Path:
    """A recipe in `folder` (the test's own) for a zoo model, trained and evaluated on the zoo's digits."""
    data = str(model.parent / ("tokens.npz" if model.stem == "seq1d" else "digits.npz"))  # seq1d: int32 ids
    doc = {"version": 1, "name": f"k3-{model.stem}", "model": str(model),
           "data": {"train": {"type": "npz", "path": data, "x": "x_train", "y": "y_train"},
                    "eval": {"type": "npz", "path": data, "x": "x_test", "y": "y_test"}},
           "training": {"batch_size": 32, "learning_rate": 1e-3}, "stages": stages,
           "export": {"quantization": "int8"}}
    path = folder / f"{model.stem}.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


@pytest.mark.parametrize("name", SUPPORTED_ZOO)
def test_keras3_translation_gives_keras3_outputs(zoo, name):
    """Every zoo model, translated without Keras 3 in this process, gives Keras 3's own outputs."""
    from optimize_cli.models import load_model
    from optimize_cli.tf import keras

    lm = load_model(str(zoo / f"{name}.keras"))
    assert lm.format == "keras3"
    assert not any(isinstance(layer, keras.Model) for layer in lm.keras_model.layers)  # nested ones flattened
    with np.load(zoo / f"{name}.npz") as ref:
        got = lm.keras_model.predict_on_batch(ref["x"])
        want = ref["y"]
    assert np.max(np.abs(got - want)) <= 1e-5 * np.max(np.abs(want))


def test_keras3_two_inputs_translate_and_check(zoo):
    """A Functional with two inputs: translated, its outputs equal Keras 3's on both inputs, and the check
    compares it layer by layer and names the first layer that differs."""
    from optimize_cli.models import load_model

    lm = load_model(str(zoo / "twoin.keras"))
    assert [t.name.split(":")[0] for t in lm.keras_model.inputs] == ["img", "feats"]
    with np.load(zoo / "twoin.npz") as ref:
        xs, want = [ref["x0"], ref["x1"]], ref["y"]
    assert np.max(np.abs(lm.keras_model.predict_on_batch(xs) - want)) <= 1e-5 * np.max(np.abs(want))
    rec = lm.verify(xs)
    assert rec["checked_against"].startswith("keras 3.") and rec["max_abs_diff"] <= rec["tolerance"]
    assert rec["layers_compared"] == _compared_layers(zoo, "twoin")
    layer = lm.keras_model.get_layer("feat_dense")
    layer.set_weights([w + 0.5 for w in layer.get_weights()])
    with pytest.raises(InputError, match=r"from layer 'feat_dense' on: max abs difference"):
        lm.verify(xs)


def test_keras3_reading_imports_no_keras3():
    """The modules that read Keras 3 files never import Keras 3 (only the check's subprocess script does)."""
    import ast

    import optimize_cli.models as models_pkg

    for name in ("keras3.py", "keras3_build.py", "keras3_check.py", "keras3_compile.py"):
        tree = ast.parse((Path(models_pkg.__file__).parent / name).read_text(encoding="utf-8"))
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not {m for m in imported if m == "keras" or m.startswith("keras.")}, (name, imported)


def test_keras3_int8_tflite_as_good_as_from_the_same_tf_keras_model(zoo, digits_data):
    """The translated model converts like the same model written with tf_keras by hand (same weights):
    .tflite size within 1 %, accuracy within 0.2 point."""
    from optimize_cli.export import convert
    from optimize_cli.measure.interpreter import evaluate_tflite
    from optimize_cli.models import load_model
    from optimize_cli.tf import keras

    translated = load_model(str(zoo / "cnn.keras")).keras_model
    L = keras.layers
    names = iter(layer.name for layer in translated.layers)  # the same names: the .tflite holds them
    inp = keras.Input((8, 8, 1), name=next(names))
    h = L.Conv2D(8, 3, padding="same", use_bias=False, name=next(names))(inp)
    h = L.BatchNormalization(name=next(names))(h)
    h = L.ReLU(name=next(names))(h)
    h = L.Dropout(0.2, name=next(names))(h)
    h = L.MaxPooling2D(name=next(names))(h)
    h = L.Flatten(name=next(names))(h)
    by_hand = keras.Model(inp, L.Dense(10, activation="softmax", name=next(names))(h), name=translated.name)
    by_hand.set_weights(translated.get_weights())
    x, _, xt, yt = digits_data
    a, b = (convert(m, "int8", x[:64]) for m in (translated, by_hand))
    assert abs(len(a) - len(b)) <= 0.01 * len(b)
    assert abs(evaluate_tflite(a, xt, yt) - evaluate_tflite(b, xt, yt)) <= 0.002


def test_keras3_check_names_the_first_layer_whose_output_differs(zoo):
    """A translation that went wrong in one layer (here: the nested model 'block', flattened into the
    graph, its kernel changed after the copy) is refused naming that layer, not the ones after it."""
    from optimize_cli.models import load_model
    from optimize_cli.models.keras3 import read_keras3, translate

    lm = load_model(str(zoo / "wide.keras"))
    inner = translate(read_keras3(str(zoo / "wide.keras"))).outputs_of["block"]
    layer = lm.keras_model.get_layer(inner)
    layer.set_weights([w + 0.5 for w in layer.get_weights()])
    with np.load(zoo / "wide.npz") as ref, pytest.raises(InputError, match=r"from layer 'block' on: max abs difference"):
        lm.verify(ref["x"])


def test_keras3_check_without_keras3_says_outputs_were_not_compared(zoo, tmp_path, monkeypatch):
    """Where Keras 3 cannot be imported the file is still read; the record says nothing was compared."""
    from optimize_cli.models import load_model

    fake = tmp_path / "fake" / "keras"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('no Keras 3 here')\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(fake.parent), os.environ.get("PYTHONPATH", "")]))
    rec = load_model(str(zoo / "mlp.keras")).verify(None)
    assert rec["checked_against"] is None and rec["max_abs_diff"] is None
    assert "Keras 3 is not importable" in rec["note"]


#: the zoo models the whole CLI path passes on with every check (seq1d on its int32 tokens)
PCQAT_ZOO = ["cnn", "dscnn", "residual", "prep", "mlp", "wide", "seq1d"]


def _compared_layers(zoo: Path, name: str) -> int:
    """The Keras 3 model's own top-level layers (a nested model counts as one) called once (a shared layer
    has no one output to compare), its inputs left out."""
    cfg = _config(zoo, name)
    return sum(la["class_name"] != "InputLayer" and (cfg["class_name"] == "Sequential" or len(la["inbound_nodes"]) == 1)
               for la in cfg["config"]["layers"])


@pytest.mark.parametrize("name", PCQAT_ZOO)
def test_keras3_runs_prune_cluster_qat_int8(zoo, name, tmp_path):
    """The whole training path on a Keras 3 file: the report says keras3, the translation check and the
    export checks passed."""
    out = tmp_path / "out"
    res = cli("run", str(recipe(tmp_path, zoo / f"{name}.keras", [{"type": "prune", "target_sparsity": 0.5, "epochs": 1},
                                                        {"type": "cluster", "clusters": 8, "epochs": 1},
                                                        {"type": "qat", "epochs": 1}])),
              "--output", str(out), "--quiet", "--force")
    assert res.exit_code == 0, res.output
    rep = json.loads((out / "report.json").read_text())
    from optimize_cli.report import validate_report

    validate_report(rep)
    assert rep["model"]["format"] == "keras3"
    tr = rep["model"]["translation"]
    assert tr["checked_against"].startswith("keras 3.") and tr["max_abs_diff"] <= tr["tolerance"]
    assert tr["samples"] == 32 and tr["layers_compared"] == _compared_layers(zoo, name)
    assert [s["type"] for s in rep["stages"]] == ["prune", "cluster", "qat"]
    assert rep["checks"] and all(c["passed"] for c in rep["checks"]), rep["checks"]


@pytest.mark.parametrize("name", ["cnn", "dscnn", "residual", "prep", "mlp", "wide"])
def test_keras3_qat_and_prune_pqat_reach_int8(zoo, name, make_ctx, digits_data):
    """The two other training paths on every image model of the zoo, at the stage level (1 epoch, 64
    samples): QAT alone and prune → PQAT give an int8 .tflite that keeps the pruned zeros."""
    from optimize_cli import export, measure
    from optimize_cli.models import load_model
    from optimize_cli.stages import PruneStage, QatStage

    model = load_model(str(zoo / f"{name}.keras")).keras_model
    rep = export.representative_from(digits_data[0], 32, 0)
    qmodel = run_stage(model, QatStage(epochs=1), make_ctx(index=1, samples=64)).model
    assert export.convert(qmodel, "int8", rep, None, None, None)
    pruned = run_stage(model, PruneStage(target_sparsity=0.5, epochs=1), make_ctx(index=1, samples=64)).model
    res = run_stage(pruned, QatStage(epochs=1), make_ctx(previous=["prune"], index=2, samples=64))
    assert res.scheme == "PQAT"
    tfl = export.convert(res.model, "int8", rep, None, None, None)
    kept = [w for w in measure.tflite_weight_stats(tfl) if w.get("role", "weight") == "weight" and w["sparsity"] >= 0.45]
    assert kept, [(w["name"], w["sparsity"]) for w in measure.tflite_weight_stats(tfl)]


def test_keras3_unsupported_layer_fails_validate_with_one_line(zoo, tmp_path):
    res = cli("validate", str(recipe(tmp_path, zoo / "unsupported.keras", ["prune"])))
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and "layer 'noise'" in lines[0] and "'GaussianNoise'" in lines[0], res.output


def test_keras3_validate_reads_the_file_without_tensorflow(zoo, tmp_path):
    code = ("import sys; from click.testing import CliRunner; from optimize_cli.cli import main; "
            f"r = CliRunner().invoke(main, ['validate', {str(recipe(tmp_path, zoo / 'residual.keras', ['prune']))!r}]); "
            "print(r.exit_code, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.stdout.split() == ["0", "False"], out.stdout + out.stderr[-2000:]


def test_keras3_lambda_is_refused_and_never_runs(zoo, tmp_path):
    from optimize_cli.models import load_model

    res = cli("validate", str(recipe(tmp_path, zoo / "with_lambda.keras", ["prune"])))
    assert res.exit_code == 2 and "layer 'payload'" in res.output and "Lambda" in res.output, res.output
    for trust in (False, True):
        with pytest.raises(InputError, match="'payload'"):
            load_model(str(zoo / "with_lambda.keras"), trust_model=trust)
    assert not (zoo / "lambda_ran").exists()


def test_keras3_h5_is_translated_and_nested_h5_refused_with_advice(zoo, tmp_path):
    from optimize_cli.models import load_model

    lm = load_model(str(zoo / "cnn.h5"))
    assert lm.format == "keras3"
    with np.load(zoo / "cnn.npz") as ref:
        assert np.max(np.abs(lm.keras_model.predict_on_batch(ref["x"]) - ref["y"])) <= 1e-5
    with pytest.raises(InputError, match=r"save the model as \.keras"):
        load_model(str(zoo / "residual.h5"))
    res = cli("validate", str(recipe(tmp_path, zoo / "residual.h5", ["prune"])))
    assert res.exit_code == 2 and "nested model" in res.output, res.output


def test_keras3_export_savedmodel_advice_names_the_keras_file(zoo, tmp_path):
    res = cli("run", str(recipe(tmp_path, zoo / "mlp_export", ["prune"])), "--output", str(tmp_path / "out"), "--quiet")
    assert res.exit_code == 3, res.output
    assert "model.export()" in res.output and ".keras" in res.output


def _config(zoo: Path, name: str) -> dict:
    import zipfile

    with zipfile.ZipFile(zoo / f"{name}.keras") as z:
        return json.loads(z.read("config.json"))


def _translate(cfg: dict):
    from optimize_cli.models.keras3 import Keras3File, translate

    return translate(Keras3File("m.keras", "keras", cfg, "3.15.1"))


@pytest.mark.parametrize("change, refusal", [
    (lambda d: d["config"].update(activation="gelu"), r"layer 'dense1' \(Dense\) uses activation 'gelu'"),
    (lambda d: d["config"].update(lora_rank=4), r"layer 'dense1' \(Dense\) sets lora_rank=4"),
    (lambda d: d["inbound_nodes"][0]["kwargs"].update(training=True), r"'dense1' \(Dense\) is called with training"),
    (lambda d: d.update(class_name="MyDense"), r"layer 'dense1' is of class 'MyDense'"),
])
def test_keras3_translation_refuses_what_tf_keras_would_compute_differently(zoo, change, refusal):
    """Settings that tf_keras lacks or computes differently are refused from the JSON config alone."""
    cfg = _config(zoo, "cnn")
    change(next(la for la in cfg["config"]["layers"] if la["config"]["name"] == "dense1"))
    with pytest.raises(InputError, match=refusal):
        _translate(cfg)


def test_keras3_translation_of_a_subclassed_model_is_refused(zoo):
    cfg = {**_config(zoo, "cnn"), "class_name": "MyModel"}
    with pytest.raises(InputError, match="MyModel, not a Functional or Sequential"):
        _translate(cfg)


def test_keras3_frozen_nested_model_stays_frozen_when_flattened(zoo):
    cfg = _config(zoo, "residual")
    head = next(la for la in cfg["config"]["layers"] if la["class_name"] == "Sequential")
    head["config"]["trainable"] = False
    layers = {la["name"]: la["config"] for la in _translate(cfg).config["config"]["layers"]}
    inner = [la["config"]["name"] for la in head["config"]["layers"] if la["class_name"] != "InputLayer"]
    assert len(inner) == 2 and [n for n, c in layers.items() if c.get("trainable") is False] == inner


def test_keras3_inspect_describes_the_translation(zoo):
    res = cli("inspect", str(zoo / "residual.keras"), "--json")
    assert res.exit_code == 0, res.output
    names = [la["name"] for la in json.loads(res.stdout)["layers"]]
    assert any(n.startswith("add") for n in names) and "head" not in names


def _with_compile(zoo: Path, tmp_path: Path, compile_config) -> Path:
    """A copy of the zoo's cnn.keras whose config.json holds `compile_config`."""
    import zipfile

    cfg = {**_config(zoo, "cnn"), "compile_config": compile_config}
    out = tmp_path / "cnn.keras"
    with zipfile.ZipFile(zoo / "cnn.keras") as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.namelist():
            dst.writestr(item, json.dumps(cfg) if item == "config.json" else src.read(item))
    return out


def test_keras3_compile_config_is_carried_over(zoo, tmp_path):
    """The file's loss (a name, or a configured Keras 3 loss object) and metrics compile the translated
    model, so fine-tuning uses the saved loss instead of inferring one."""
    from optimize_cli.models import compile_info, load_model
    from optimize_cli.recipe import TrainingConfig

    lm = load_model(str(zoo / "cnn.keras"))  # compiled by Keras 3 with "sparse_categorical_crossentropy"
    assert lm.keras_model.loss == "sparse_categorical_crossentropy" and lm.warnings == []
    assert compile_info(lm.keras_model, TrainingConfig()).source == "saved"
    loss = {"module": "keras.losses", "class_name": "CategoricalCrossentropy", "registered_name": None,
            "config": {"name": "categorical_crossentropy", "reduction": "sum_over_batch_size", "from_logits": True,
                       "label_smoothing": 0.1, "axis": -1}}
    metric = {"module": "keras.metrics", "class_name": "CategoricalAccuracy", "registered_name": None,
              "config": {"name": "categorical_accuracy", "dtype": "float32"}}
    lm = load_model(str(_with_compile(zoo, tmp_path, {"loss": loss, "metrics": [metric, "mae"]})))
    got = lm.keras_model.loss
    assert type(got).__name__ == "CategoricalCrossentropy" and lm.warnings == []
    assert got.get_config()["label_smoothing"] == pytest.approx(0.1) and got.get_config()["from_logits"] is True
    assert [type(m).__name__ for m in lm.keras_model.compiled_metrics._user_metrics] == ["CategoricalAccuracy", "str"]  # noqa: SLF001
    info = compile_info(lm.keras_model, TrainingConfig())
    assert info.source == "saved" and info.from_logits is True and info.loss is got


def test_keras3_unknown_compile_loss_is_inferred_with_a_warning(zoo, tmp_path):
    from optimize_cli.models import compile_info, load_model
    from optimize_cli.recipe import TrainingConfig

    tversky = {"module": "keras.losses", "class_name": "Tversky", "registered_name": None,  # tf_keras has none
               "config": {"name": "tversky", "reduction": "sum_over_batch_size", "alpha": 0.5, "beta": 0.5}}
    lm = load_model(str(_with_compile(zoo, tmp_path, {"loss": tversky, "metrics": ["accuracy"]})))
    assert len(lm.warnings) == 1 and "'Tversky'" in lm.warnings[0] and "inferred" in lm.warnings[0]
    assert compile_info(lm.keras_model, TrainingConfig()).source == "inferred"


@pytest.mark.slow
def test_keras3_run_says_it_checks_the_translation_and_a_second_run_reuses_the_check(zoo, tmp_path):
    """The seconds the check against Keras 3 takes (a subprocess of about 10 s) are not silent: a line on
    stderr (not a terminal). It passed once for this file and these samples: a second run (a search's next
    trial, say) takes its record from the cache; --no-cache checks again."""
    rec = recipe(tmp_path, zoo / "mlp.keras", [])
    res = cli("run", str(rec), "--output", str(tmp_path / "o0"), "--json")
    assert res.exit_code == 0, res.output
    steps = [line.split("] ", 1)[-1] for line in res.stderr.splitlines()]
    assert "checking the Keras 3 translation…" in steps, res.stderr
    assert steps.index("loading the data…") < steps.index("checking the Keras 3 translation…")
    assert json.loads(res.stdout)["exit_code"] == 0
    reports = [json.loads((tmp_path / "o0" / "report.json").read_text())["model"]["translation"]]
    for i, extra in ((1, []), (2, ["--no-cache"])):
        res = cli("run", str(rec), "--output", str(tmp_path / f"o{i}"), "--quiet", *extra)
        assert res.exit_code == 0, res.output
        reports.append(json.loads((tmp_path / f"o{i}" / "report.json").read_text())["model"]["translation"])
    first, second, third = reports
    assert first["checked_against"].startswith("keras 3.") and "cached" not in first
    assert second == {**first, "cached": True}
    assert third == first
