"""Fixtures of the models tests: a small Keras model factory, an output comparison, and one small model
saved in every format."""
from __future__ import annotations

import os
import shutil

import numpy as np
import pytest


def _small_model(activation="softmax", units=3, compile_loss="sparse_categorical_crossentropy"):
    from optimize_cli.tf import keras

    L = keras.layers
    m = keras.Sequential([keras.Input((4,)), L.Dense(5, activation="relu", name="hidden"),
                          L.Dense(units, activation=activation, name="head")])
    if compile_loss:
        m.compile(optimizer="adam", loss=compile_loss)
    return m


def _same_outputs(a, b):
    x = np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)
    np.testing.assert_allclose(np.asarray(a(x)), np.asarray(b(x)), atol=1e-6)


@pytest.fixture(scope="session")
def small_model():
    """small_model(activation="softmax", units=3, compile_loss=...): 4 inputs → Dense 5 → Dense `units`."""
    return _small_model


@pytest.fixture(scope="session")
def same_outputs():
    """same_outputs(a, b): both models give the same outputs on a few inputs."""
    return _same_outputs


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """One small Keras model saved in every format."""
    from tensorflow.core.protobuf import saved_model_pb2
    from tf_keras.protobuf import saved_metadata_pb2

    from optimize_cli.tf import keras, tf

    d = tmp_path_factory.mktemp("models")
    keras.utils.set_random_seed(0)
    m = _small_model()
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
