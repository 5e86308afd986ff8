"""models/safety.py: models whose loading would run code are refused without --trust-model."""
from __future__ import annotations

import numpy as np
import pytest

from optimize_cli import models
from optimize_cli.errors import InputError


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
