"""The per-stage checkpoints: save a stage's model, and load it back for --resume.

Each checkpoint folder holds the model (`model.keras`, or a SavedModel for a model with quantize
wrappers) and `optimize_cli_stage.json`, which records how it was saved (`qat`: with quantize wrappers,
so loading needs tfmot's quantize_scope)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from ..errors import InputError, StageError, one_line

#: the file in a checkpoint folder that records how the model was saved
STAGE_META = "optimize_cli_stage.json"
#: a stripped stage model, saved as one tf_keras file
STAGE_KERAS = "model.keras"
#: the files of which one marks a checkpoint folder as holding a saved model
SAVED_MODEL_FILES = ("saved_model.pb", STAGE_KERAS)


def save_stage_model(model, directory) -> None:
    """Save a stage's model into `directory`: a stripped model as one tf_keras `.keras` file (fast:
    ~0.05 s against ~0.9 s for a SavedModel), a QAT model with its quantize wrappers as a SavedModel
    without traces (tfmot's cluster-preserving QAT wrappers do not round-trip through .h5 or .keras: their variable
    count differs on reload)."""
    from ..export import is_qat_model
    from ..tf import tf

    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    qat = is_qat_model(model)
    try:
        if qat:
            # without traced functions: 0.4 s instead of 2-3 s; loading rebuilds the layers from their
            # config inside tfmot's quantize_scope (load_stage_model), which round-trips exactly
            model.save(str(d), save_format="tf", include_optimizer=False, save_traces=False)
        else:
            model.save(str(d / STAGE_KERAS))
    except Exception as e:
        raise StageError(f"cannot save the stage model to {d} ({one_line(e)})") from None
    (d / STAGE_META).write_text(json.dumps({"qat": qat, "tensorflow": tf.__version__}))


def _stage_saved(d: Path) -> bool:
    return any((d / name).is_file() for name in SAVED_MODEL_FILES)


def _saved_with_quantize_wrappers(d: Path) -> bool:
    """What the checkpoint says of itself: its metadata's `qat`, else its form (only a model with quantize
    wrappers is saved as a SavedModel rather than `model.keras`)."""
    try:
        return bool(json.loads((d / STAGE_META).read_text()).get("qat", False))
    except (OSError, ValueError, AttributeError):
        return not (d / STAGE_KERAS).is_file()


def load_stage_model(directory, stage_type: Optional[str] = None):
    """Load what `save_stage_model` wrote (QAT models inside tfmot's quantize_scope). `stage_type` is not
    used (the checkpoint records how it was saved); it is accepted for callers that still pass it."""
    from ..tf import keras, tfmot

    d = Path(directory)
    if not _stage_saved(d) and _stage_saved(d / "model"):
        d = d / "model"  # the stage folder was given instead of its model folder
    if not _stage_saved(d):
        raise InputError(f"{d}: no saved stage model here (run again without --resume)")
    target = str(d / STAGE_KERAS) if (d / STAGE_KERAS).is_file() else str(d)
    try:
        if _saved_with_quantize_wrappers(d):
            with tfmot.quantization.keras.quantize_scope():
                return keras.models.load_model(target, compile=False)
        return keras.models.load_model(target, compile=False)
    except Exception as e:
        raise InputError(f"{d}: cannot load the stage model ({one_line(e)})") from None
