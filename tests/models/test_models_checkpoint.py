"""models/checkpoint.py: the per-stage checkpoints round-trip."""
from __future__ import annotations

import pytest

from optimize_cli import models
from optimize_cli.errors import InputError


def test_stage_model_round_trip_plain_model(saved, tmp_path, same_outputs):
    _, m = saved
    models.save_stage_model(m, tmp_path / "01_prune" / "model")
    back = models.load_stage_model(tmp_path / "01_prune" / "model", "prune")
    same_outputs(back, m)
    with pytest.raises(InputError, match="no saved stage model"):
        models.load_stage_model(tmp_path / "nowhere", "prune")


def test_stage_model_quantize_wrapped_model_loads_by_what_its_checkpoint_records(small_model, same_outputs, tmp_path):
    """No stage type is needed: the checkpoint's metadata (or, without it, its SavedModel form) says the
    model has quantize wrappers and must be loaded inside tfmot's quantize_scope."""
    from optimize_cli.models import STAGE_META
    from optimize_cli.tf import tfmot

    m = tfmot.quantization.keras.quantize_model(small_model(compile_loss=None))
    models.save_stage_model(m, tmp_path / "01_qat" / "model")
    assert (tmp_path / "01_qat" / "model" / "saved_model.pb").is_file()
    same_outputs(models.load_stage_model(tmp_path / "01_qat" / "model"), m)
    (tmp_path / "01_qat" / "model" / STAGE_META).unlink()  # a checkpoint without its metadata file
    same_outputs(models.load_stage_model(tmp_path / "01_qat"), m)
