"""models/compile.py: the loss and metrics for fine-tuning."""
from __future__ import annotations

import pytest

from optimize_cli import models
from optimize_cli.recipe import TrainingConfig

# -------------------------------------------------------------------------------------- compile_info


@pytest.mark.parametrize("activation,units,loss,from_logits", [
    ("softmax", 3, "sparse_categorical_crossentropy", False),
    ("sigmoid", 1, "binary_crossentropy", False),
    ("linear", 3, "sparse_categorical_crossentropy", True),
    ("linear", 1, "mean_squared_error", False),
])
def test_compile_info_inferred_from_output_layer(activation, units, loss, from_logits, small_model):
    info = models.compile_info(small_model(activation, units, compile_loss=None), TrainingConfig())
    name = getattr(info.loss, "name", info.loss)
    assert (name, info.from_logits, info.source) == (loss, from_logits, "inferred")
    if "crossentropy" in loss:
        assert info.loss.get_config()["from_logits"] is from_logits
        assert info.metrics[0].name == "accuracy"


def test_compile_info_recipe_loss_wins_over_saved(small_model):
    m = small_model("softmax", 3, compile_loss="sparse_categorical_crossentropy")
    info = models.compile_info(m, TrainingConfig(loss="categorical_crossentropy"))
    assert (info.loss.name, info.source) == ("categorical_crossentropy", "recipe")
    info = models.compile_info(m, TrainingConfig())
    assert (info.loss.name, info.source) == ("sparse_categorical_crossentropy", "saved")


def test_compile_info_one_hot_labels_switch_to_categorical(small_model):
    info = models.compile_info(small_model(compile_loss=None), TrainingConfig(), label_shape=(3,))
    assert info.loss.name == "categorical_crossentropy"
    assert type(info.metrics[0]).__name__ == "CategoricalAccuracy"
    info = models.compile_info(small_model(compile_loss=None), TrainingConfig(), label_shape=())
    assert info.loss.name == "sparse_categorical_crossentropy"


def test_compile_info_says_which_loss_and_why(small_model):
    """One-hot labels with a saved sparse loss: the switch is said (log line, report.json's model.loss)."""
    m = small_model("softmax", 3, compile_loss="sparse_categorical_crossentropy")
    info = models.compile_info(m, TrainingConfig(), label_shape=(3,))
    assert info.dump() == {"name": "categorical_crossentropy", "from_logits": False, "source": "saved",
                           "reason": "the model was saved with sparse_categorical_crossentropy, but the labels "
                                     "are one-hot vectors of 3"}
    assert info.log_line() == f"loss: categorical_crossentropy ({info.reason})"
    info = models.compile_info(m, TrainingConfig(), label_shape=())
    assert (info.name, info.reason) == ("sparse_categorical_crossentropy", "the model's saved compile config")
    info = models.compile_info(small_model("linear", 3, compile_loss=None), TrainingConfig(), label_shape=())
    assert info.dump()["from_logits"] is True and info.reason.startswith("inferred from the model's output")
    assert "from logits" in info.log_line()
    info = models.compile_info(m, TrainingConfig(loss="sparse_categorical_crossentropy"), label_shape=(3,))
    assert info.reason == "training.loss is sparse_categorical_crossentropy, but the labels are one-hot vectors of 3"
