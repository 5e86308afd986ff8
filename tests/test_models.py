"""Loading the input model in every supported format, refusing unsafe or unsupported ones, working out
the loss, and the per-stage checkpoints."""
from __future__ import annotations

import json
import os
import shutil
import zipfile

import numpy as np
import pytest

from optimize_cli import models
from optimize_cli.errors import InputError
from optimize_cli.recipe import TrainingConfig


def small_model(activation="softmax", units=3, compile_loss="sparse_categorical_crossentropy"):
    from optimize_cli.tf import keras

    L = keras.layers
    m = keras.Sequential([keras.Input((4,)), L.Dense(5, activation="relu", name="hidden"),
                          L.Dense(units, activation=activation, name="head")])
    if compile_loss:
        m.compile(optimizer="adam", loss=compile_loss)
    return m


def same_outputs(a, b):
    x = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
    np.testing.assert_allclose(np.asarray(a(x)), np.asarray(b(x)), atol=1e-6)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """One small Keras model saved in every format."""
    from optimize_cli.tf import keras, tf
    from tensorflow.core.protobuf import saved_model_pb2
    from tf_keras.protobuf import saved_metadata_pb2

    d = tmp_path_factory.mktemp("models")
    keras.utils.set_random_seed(0)
    m = small_model()
    m.save(str(d / "sm"), save_format="tf")
    m.save(str(d / "m.h5"))
    m.save(str(d / "m.keras"))
    # a pre-TF-2.5 SavedModel: the Keras metadata lives in saved_model.pb, there is no keras_metadata.pb
    shutil.copytree(d / "sm", d / "legacy")
    meta = saved_metadata_pb2.SavedMetadata()
    meta.ParseFromString((d / "legacy" / "keras_metadata.pb").read_bytes())
    sm = saved_model_pb2.SavedModel()
    sm.ParseFromString((d / "legacy" / "saved_model.pb").read_bytes())
    nodes = sm.meta_graphs[0].object_graph_def.nodes
    for n in meta.nodes:
        nodes[n.node_id].user_object.metadata = n.metadata
    (d / "legacy" / "saved_model.pb").write_bytes(sm.SerializeToString())
    os.remove(d / "legacy" / "keras_metadata.pb")

    class Scale(tf.Module):
        def __init__(self):
            self.w = tf.Variable(tf.ones((4, 2)))

        @tf.function(input_signature=[tf.TensorSpec([None, 4], tf.float32)])
        def __call__(self, x):
            return {"y": tf.nn.relu(tf.matmul(x, self.w))}

    mod = Scale()
    tf.saved_model.save(mod, str(d / "module"), signatures=mod.__call__)
    return d, m


@pytest.mark.parametrize("name,fmt", [("sm", "keras_savedmodel"), ("legacy", "legacy_savedmodel"),
                                      ("m.h5", "h5"), ("m.keras", "keras")])
def test_load_model_keras_formats(saved, name, fmt):
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


@pytest.fixture(scope="module")
def lambda_files(tmp_path_factory):
    """.h5 and .keras models with a Lambda whose code writes a marker file when it runs."""
    from optimize_cli.tf import keras

    d = tmp_path_factory.mktemp("lambda")
    marker = d / "code_ran"
    marker_path = str(marker)
    L = keras.layers
    inp = keras.Input((4,))
    h = L.Lambda(lambda t: t * 2.0 + float(len(open(marker_path, "w").name) * 0), name="doubler")(inp)
    m = keras.Model(inp, L.Dense(2, name="head")(h))
    m.save(str(d / "lam.h5"))
    m.save(str(d / "lam.keras"))
    m.save(str(d / "lam_sm"), save_format="tf")
    if marker.exists():
        marker.unlink()
    return d, marker


@pytest.mark.parametrize("name", ["lam.h5", "lam.keras", "lam_sm"])
def test_load_model_refuses_lambda_without_trust_and_runs_no_code(lambda_files, name):
    d, marker = lambda_files
    with pytest.raises(InputError, match=r"layer 'doubler' is a Lambda layer.*--trust-model"):
        models.load_model(str(d / name))
    assert not marker.exists(), "the Lambda's code ran while refusing the model"


def test_load_model_lambda_with_trust_loads(lambda_files):
    d, marker = lambda_files
    lm = models.load_model(str(d / "lam.h5"), trust_model=True)
    assert lm.keras_model.get_layer("doubler").__class__.__name__ == "Lambda"
    assert marker.exists()  # trusted: the stored code did run (which is why trust is required)
    marker.unlink()


def test_load_model_tf_ops_in_functional_model_are_not_custom(tmp_path):
    from optimize_cli.tf import keras

    inp = keras.Input((4,))
    m = keras.Model(inp, keras.layers.Dense(2, name="head")(inp * 2.0)[:, :1])  # TFOpLambda, SlicingOpLambda
    m.save(str(tmp_path / "ops.h5"))
    lm = models.load_model(str(tmp_path / "ops.h5"))
    same_outputs_shape = lm.keras_model(np.ones((1, 4), np.float32)).shape
    assert tuple(same_outputs_shape) == (1, 1)


def test_load_model_refuses_custom_layer_class(tmp_path):
    from optimize_cli.tf import keras

    class Twice(keras.layers.Layer):
        def call(self, x):
            return 2 * x

    inp = keras.Input((4,))
    m = keras.Model(inp, keras.layers.Dense(2)(Twice(name="twice")(inp)))
    m.save(str(tmp_path / "custom.h5"))
    with pytest.raises(InputError, match="layer 'twice' is of custom class 'Twice'.*--trust-model"):
        models.load_model(str(tmp_path / "custom.h5"))


# -------------------------------------------------------------------------------------- compile_info


@pytest.mark.parametrize("activation,units,loss,from_logits", [
    ("softmax", 3, "sparse_categorical_crossentropy", False),
    ("sigmoid", 1, "binary_crossentropy", False),
    ("linear", 3, "sparse_categorical_crossentropy", True),
    ("linear", 1, "mean_squared_error", False),
])
def test_compile_info_inferred_from_output_layer(activation, units, loss, from_logits):
    info = models.compile_info(small_model(activation, units, compile_loss=None), TrainingConfig())
    name = getattr(info.loss, "name", info.loss)
    assert (name, info.from_logits, info.source) == (loss, from_logits, "inferred")
    if "crossentropy" in loss:
        assert info.loss.get_config()["from_logits"] is from_logits
        assert info.metrics[0].name == "accuracy"


def test_compile_info_recipe_loss_wins_over_saved():
    m = small_model("softmax", 3, compile_loss="sparse_categorical_crossentropy")
    info = models.compile_info(m, TrainingConfig(loss="categorical_crossentropy"))
    assert (info.loss.name, info.source) == ("categorical_crossentropy", "recipe")
    info = models.compile_info(m, TrainingConfig())
    assert (info.loss.name, info.source) == ("sparse_categorical_crossentropy", "saved")


def test_compile_info_one_hot_labels_switch_to_categorical():
    info = models.compile_info(small_model(compile_loss=None), TrainingConfig(), label_shape=(3,))
    assert info.loss.name == "categorical_crossentropy"
    assert type(info.metrics[0]).__name__ == "CategoricalAccuracy"
    info = models.compile_info(small_model(compile_loss=None), TrainingConfig(), label_shape=())
    assert info.loss.name == "sparse_categorical_crossentropy"


def test_stage_model_round_trip_plain_model(saved, tmp_path):
    _, m = saved
    models.save_stage_model(m, tmp_path / "01_prune" / "model")
    back = models.load_stage_model(tmp_path / "01_prune" / "model", "prune")
    same_outputs(back, m)
    with pytest.raises(InputError, match="no saved stage model"):
        models.load_stage_model(tmp_path / "nowhere", "prune")
