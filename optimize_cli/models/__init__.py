"""The input model and the stage checkpoints: load.py (formats, load_model), files.py (regular files and
directories only, bounded reads), configs.py (each format's config, read without deserializing),
safety.py (Lambda / function / module / custom class refusal), compile.py (loss and metric for fine-tuning), checkpoint.py (save / load a stage's model).

Callers use the names re-exported here (`models.load_model`, `models.save_stage_model`, ...)."""
from __future__ import annotations

from .checkpoint import SAVED_MODEL_FILES, STAGE_KERAS, STAGE_META, load_stage_model, save_stage_model
from .compile import CompileInfo, compile_info
from .files import check_path, path_problem
from .load import FORMATS, load_model
from .loaded import LoadedModel
from .safety import UnsafeModelError

__all__ = ["FORMATS", "CompileInfo", "LoadedModel", "load_model", "compile_info", "save_stage_model", "load_stage_model",
           "SAVED_MODEL_FILES", "STAGE_KERAS", "STAGE_META", "check_path", "path_problem",
           "UnsafeModelError"]
