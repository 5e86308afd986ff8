"""models/load.py: loading the input model in every supported format; unsupported or broken ones are
InputErrors naming the file."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from optimize_cli import models
from optimize_cli.errors import InputError
from optimize_cli.recipe import TrainingConfig


@pytest.mark.parametrize("name,fmt", [("sm", "keras_savedmodel"), ("legacy", "legacy_savedmodel"),
                                      ("m.h5", "h5"), ("m.keras", "keras")])
def test_load_model_keras_formats(saved, name, fmt, same_outputs):
    d, original = saved
    lm = models.load_model(str(d / name))
    assert lm.format == fmt and lm.path == str(d / name)
    same_outputs(lm.keras_model, original)
    assert models.compile_info(lm.keras_model, TrainingConfig()).source == "saved"
    if fmt == "legacy_savedmodel":
        assert any("before TF 2.5" in w for w in lm.warnings)


def test_load_model_tf_module_savedmodel_has_no_keras_model(saved):
    d, _ = saved
    lm = models.load_model(str(d / "module"))
    assert lm.format == "tf_savedmodel" and lm.keras_model is None
    assert lm.signature_key == "serving_default" and lm.concrete_function is not None


def test_load_model_translates_keras3_file(tmp_path):
    """A Keras 3 .keras file (written here from its JSON config and HDF5 weights) becomes format keras3."""
    import h5py

    dense = {"class_name": "Dense", "config": {"name": "dense", "units": 2, "activation": "relu",
                                               "dtype": {"class_name": "DTypePolicy", "config": {"name": "float32"}}},
             "name": "dense", "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {
                 "shape": [None, 3], "dtype": "float32", "keras_history": ["x", 0, 0]}}], "kwargs": {}}]}
    cfg = {"module": "keras.src.models.functional", "class_name": "Functional", "config": {
        "name": "m", "layers": [{"class_name": "InputLayer", "name": "x",
                                 "config": {"name": "x", "batch_shape": [None, 3], "dtype": "float32"}}, dense],
        "input_layers": ["x", 0, 0], "output_layers": ["dense", 0, 0]}}
    kernel, bias = np.arange(6, dtype=np.float32).reshape(3, 2), np.array([0.5, -1.0], np.float32)
    h5 = tmp_path / "w.h5"
    with h5py.File(h5, "w") as f:
        f["layers/dense/vars/0"], f["layers/dense/vars/1"] = kernel, bias
    p = tmp_path / "k3.keras"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.6.0", "date_saved": "2024-10-01"}))
        z.writestr("config.json", json.dumps(cfg))
        z.write(h5, "model.weights.h5")
    lm = models.load_model(str(p))
    assert lm.format == "keras3" and lm.verify is not None
    got = lm.keras_model.get_layer("dense").get_weights()
    np.testing.assert_array_equal(got[0], kernel)
    np.testing.assert_array_equal(got[1], bias)


@pytest.mark.parametrize("name,content", [
    ("broken.h5", b"\x89HDF\r\n\x1a\n" + b"\0" * 64),
    ("broken.keras", b"PK\x03\x04 not really a zip"),
    ("weights.bin", b"\x00\x01\x02"),
])
def test_load_model_corrupt_file_is_input_error(tmp_path, name, content):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(InputError, match=str(p).replace(".", r"\.")) as e:
        models.load_model(str(p))
    assert e.value.exit_code == 3


def test_load_model_missing_or_not_savedmodel_dir(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        models.load_model(str(tmp_path / "nothing"))
    (tmp_path / "dir").mkdir()
    with pytest.raises(InputError, match="not a SavedModel"):
        models.load_model(str(tmp_path / "dir"))
    broken = tmp_path / "badsm"
    broken.mkdir()
    (broken / "saved_model.pb").write_bytes(b"garbage")
    with pytest.raises(InputError, match="badsm"):
        models.load_model(str(broken))
