"""models/load.py: loading the input model in every supported format; unsupported or broken ones are
InputErrors naming the file."""
from __future__ import annotations

import json
import zipfile

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


def test_load_model_refuses_keras3_file(tmp_path):
    p = tmp_path / "k3.keras"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": "3.6.0", "date_saved": "2024-10-01"}))
        z.writestr("config.json", json.dumps({"module": "keras", "class_name": "Functional", "config": {}}))
        z.writestr("model.weights.h5", b"")
    with pytest.raises(InputError, match=r"k3\.keras: saved by Keras 3\.6\.0.*Re-save it with tf_keras.*SavedModel") as e:
        models.load_model(str(p))
    assert e.value.exit_code == 3


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
