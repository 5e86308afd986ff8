"""Hostile model files (issue 11, items 1 and 2): code hidden anywhere in a Keras config is refused before
tf_keras deserializes anything, by `run` and by `inspect` alike. Each payload writes a marker file when
its code runs; the tests assert the marker does not exist after the refusal, and (once per payload, with
--trust-model) that the payload is live, i.e. that the refusal is what kept it from running."""
from __future__ import annotations

import json
import shutil
import sys
import zipfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from optimize_cli import models
from optimize_cli.cli import main
from optimize_cli.errors import InputError

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "sample_models" / "digits.npz"


def _payload_lambda(keras, marker: Path, name: str):
    """A Lambda whose Python code writes `marker` whenever it is called (building the model calls it)."""
    path = str(marker)
    return keras.layers.Lambda(lambda t: t + float(len(open(path, "w").name) * 0), name=name)


def _rewrite_h5_config(path: Path, edit) -> None:
    import h5py

    with h5py.File(path, "r+") as f:
        cfg = json.loads(f.attrs["model_config"])
        f.attrs["model_config"] = json.dumps(edit(cfg))


def _mark_passive(obj):
    if isinstance(obj, dict):
        if obj.get("class_name") == "Lambda":
            obj["__passive_serialization__"] = True
        for v in obj.values():
            _mark_passive(v)
    elif isinstance(obj, list):
        for v in obj:
            _mark_passive(v)


def _rewrite_keras_metadata(sm_dir: Path, edit) -> None:
    from tf_keras.protobuf import saved_metadata_pb2

    meta = saved_metadata_pb2.SavedMetadata()
    meta.ParseFromString((sm_dir / "keras_metadata.pb").read_bytes())
    for n in meta.nodes:
        d = json.loads(n.metadata)
        edit(d)
        n.metadata = json.dumps(d)
    (sm_dir / "keras_metadata.pb").write_bytes(meta.SerializeToString())


def _rewrite_keras_config(src: Path, dst: Path, edit) -> None:
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename == "config.json":
                new = edit(json.loads(data))
                data = new.encode() if isinstance(new, str) else json.dumps(new).encode()
            zout.writestr(item, data)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """{name: (path, marker)} of hostile models, built here; no marker exists when the fixture returns."""
    from optimize_cli.tf import keras

    d = tmp_path_factory.mktemp("hostile")
    out = {}
    L = keras.layers

    # (b) a Lambda given as a Dense activation: tf_keras builds and calls it while constructing the model
    marker = d / "activation_ran"
    inp = keras.Input((4,))
    m = keras.Model(inp, L.Dense(2, activation=_payload_lambda(keras, marker, "evil_act"), name="head")(inp))
    for name in ("act.h5", "act.keras", "act_sm"):
        m.save(str(d / name), **({"save_format": "tf"} if name.endswith("_sm") else {}))
        out[name] = (d / name, marker)
    # ... and marked `__passive_serialization__` in keras_metadata.pb: tf_keras revives it and calls it
    shutil.copytree(d / "act_sm", d / "passive_sm")
    _rewrite_keras_metadata(d / "passive_sm", _mark_passive)
    out["passive_sm"] = (d / "passive_sm", marker)

    # a plain Lambda layer (inspect loaded these with no check at all)
    marker = d / "layer_ran"
    inp = keras.Input((4,))
    m = keras.Model(inp, L.Dense(2, name="head")(_payload_lambda(keras, marker, "evil_layer")(inp)))
    for name in ("layer.h5", "layer_sm"):
        m.save(str(d / name), **({"save_format": "tf"} if name.endswith("_sm") else {}))
        out[name] = (d / name, marker)

    # (a) the Keras-2.0 form of a Sequential: its config is the list of layers
    marker = d / "sequential_ran"
    seq = keras.Sequential([keras.Input((4,)), _payload_lambda(keras, marker, "evil_seq"), L.Dense(2, name="d")])
    seq.save(str(d / "seq20.h5"))
    _rewrite_h5_config(d / "seq20.h5", lambda c: {"class_name": "Sequential", "config": c["config"]["layers"]})
    out["seq20.h5"] = (d / "seq20.h5", marker)

    # a .keras naming a planted Python module: tf_keras imports it (running its code) to find the class
    marker = d / "module_ran"
    (d / "planted_mod_x1.py").write_text(f"open({str(marker)!r}, 'w').close()\nclass Dense: pass\n")
    plain = keras.Sequential([keras.Input((4,)), L.Dense(2, name="d")], name="plain")
    plain.save(str(d / "plain.keras"))

    def plant(cfg):
        cfg.update({"module": "planted_mod_x1", "registered_name": "Planted"})
        return cfg

    _rewrite_keras_config(d / "plain.keras", d / "module.keras", plant)
    out["module.keras"] = (d / "module.keras", marker)

    for _, mk in out.values():
        if mk.exists():
            mk.unlink()
    return d, out


CASES = {
    "act.h5": r"layer 'evil_act' is a Lambda layer \(at model_config\.config\.layers\[1\]\.config\.activation\)",
    "act.keras": r"layer 'evil_act' is a Lambda layer \(at config\.config\.layers\[1\]\.config\.activation\)",
    "act_sm": r"layer 'evil_act' is a Lambda layer \(at keras_metadata\.pb node \d+ .*\)",
    "passive_sm": r"layer 'evil_act' is a Lambda layer \(at keras_metadata\.pb node \d+ .*\)",
    "layer.h5": r"layer 'evil_layer' is a Lambda layer \(at model_config\.config\.layers\[1\]\)",
    "layer_sm": r"layer 'evil_layer' is a Lambda layer \(at keras_metadata\.pb node \d+ .*\)",
    "seq20.h5": r"layer 'evil_seq' is a Lambda layer \(at model_config\.config\[1\]\)",
    "module.keras": r"'plain' names the Python module 'planted_mod_x1' \(at config\)",
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_model_is_refused_before_any_code_runs(hostile, name, monkeypatch):
    d, out = hostile
    path, marker = out[name]
    monkeypatch.syspath_prepend(str(d))
    with pytest.raises(InputError, match=CASES[name] + r".*--trust-model") as e:
        models.load_model(str(path))
    assert "\n" not in str(e.value) and str(path) in str(e.value)
    assert not marker.exists(), "the hidden code ran while the model was refused"


@pytest.mark.parametrize("name", ["layer.h5", "layer_sm", "passive_sm", "seq20.h5", "module.keras"])
def test_hostile_payload_is_live_with_trust_model(hostile, name, monkeypatch):
    """The payloads do run when trusted: the refusal above is what protects the user."""
    d, out = hostile
    path, marker = out[name]
    monkeypatch.syspath_prepend(str(d))
    try:
        models.load_model(str(path), trust_model=True)
    except InputError:
        pass  # the planted class is not a layer; its module was imported all the same
    assert marker.exists()
    marker.unlink()
    sys.modules.pop("planted_mod_x1", None)


def _recipe(tmp_path: Path, model: Path) -> Path:
    """A recipe whose data fits the hostile models' (4,) input, so that the model's refusal is what stops
    it (validate's header check would stop misfitting data first)."""
    import numpy as np

    data = tmp_path / "x4.npz"
    np.savez(data, x_test=np.zeros((50, 4), np.float32), y_test=np.zeros(50, np.int64))
    doc = {"version": 1, "name": "hostile", "model": str(model), "stages": [],
           "data": {"eval": {"type": "npz", "path": str(data), "x": "x_test", "y": "y_test"}},
           "export": {"quantization": "dynamic"}}
    p = tmp_path / "recipe.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


@pytest.mark.parametrize("name", ["layer.h5", "layer_sm", "act.h5", "passive_sm", "seq20.h5", "module.keras"])
def test_run_and_inspect_refuse_hostile_models_with_exit_3(hostile, name, tmp_path, monkeypatch):
    d, out = hostile
    path, marker = out[name]
    monkeypatch.syspath_prepend(str(d))
    monkeypatch.chdir(tmp_path)
    runner = CliRunner(env={"NO_COLOR": "1"})
    for args in (["run", str(_recipe(tmp_path, path)), "--output", str(tmp_path / "out")],
                 ["inspect", str(path)], ["inspect", str(path), "--json"]):
        r = runner.invoke(main, args)
        assert r.exit_code == 3, (args, r.output)
        err = [line for line in r.stderr.splitlines() if line.startswith("error")]
        assert len(err) == 1 and "--trust-model" in err[0] and str(path) in err[0], r.stderr
        assert not marker.exists(), f"{args[0]}: the hidden code ran"


def test_inspect_trust_model_loads_a_lambda_model(hostile):
    d, out = hostile
    path, marker = out["passive_sm"]
    r = CliRunner().invoke(main, ["inspect", str(path), "--json", "--trust-model"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["format"] == "saved_model"
    assert marker.exists()
    marker.unlink()


def test_function_and_nested_json_configs_are_refused_without_deserializing(tmp_path, small_model):
    """A `__lambda__` activation in a .keras, and a config nested deeper than json's recursion limit."""
    m = small_model(compile_loss=None)
    m.save(str(tmp_path / "m.keras"))

    def lam(cfg):
        cfg["config"]["layers"][-1]["config"]["activation"] = {
            "class_name": "__lambda__", "config": {"value": "AAAA"}}
        return cfg

    _rewrite_keras_config(tmp_path / "m.keras", tmp_path / "lam.keras", lam)
    with pytest.raises(InputError, match=r"'head' holds a Python function .*--trust-model"):
        models.load_model(str(tmp_path / "lam.keras"))
    _rewrite_keras_config(tmp_path / "m.keras", tmp_path / "deep.keras", lambda c: "[" * 100_000 + "]" * 100_000)
    with pytest.raises(InputError, match="deep.keras: .*config.json"):
        models.load_model(str(tmp_path / "deep.keras"))
