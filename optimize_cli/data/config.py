"""The `data` section of a recipe: the registry of source types, the source unions built from it, and
DataConfig. Never imports TensorFlow (`validate` uses it).

A source type is one module (npz.py, ...) that defines TYPE, MODEL (its pydantic model), `check(src,
base, check_paths, show)` (paths, see paths.py), `files(src)` (what the loader reads, for the resume
fingerprint) and `load(name, src, where, *, allow_code)` (a Split); adding one is that module and its
line in SOURCES."""
from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Annotated, Optional, Union

from pydantic import BaseModel, Field, field_validator

from ..strict import Strict
from . import image_dir, npz, python, tfds, tfrecord, validation_split
from .paths import Finding, Show
from .python import PythonSource, code_refused

#: source `type` → its module, in the order the schema and the error messages list them
SOURCES: dict[str, ModuleType] = {m.TYPE: m for m in (npz, image_dir, tfrecord, tfds, python)}
#: what data.eval takes besides a source
EVAL_ONLY: dict[str, ModuleType] = {validation_split.TYPE: validation_split}
#: data source `type` → model (the unions below are built from it)
DATA_SOURCES: dict[str, type[BaseModel]] = {t: m.MODEL for t, m in SOURCES.items()}

DataSource = Annotated[Union[tuple(DATA_SOURCES.values())], Field(discriminator="type")]
EvalSource = Annotated[Union[(*DATA_SOURCES.values(), *(m.MODEL for m in EVAL_ONLY.values()))],
                       Field(discriminator="type")]


def source_module(src) -> ModuleType:
    """The module of a source (or of a validation split) by its `type`."""
    return SOURCES.get(src.type) or EVAL_ONLY[src.type]


def check_source(src, base: Path, check_paths: bool, show: Show, *, input_shape=None, split: str = "") -> list[Finding]:
    """Resolve a source's paths against the recipe folder and check what can be checked without reading
    the data (the loaders check the contents, exit 3). A module with HINTS also gets the model's input
    shape (without the batch axis; None when unknown) and the split's name."""
    module = source_module(src)
    if getattr(module, "HINTS", False):
        return module.check(src, base, check_paths, show, input_shape=input_shape, split=split)
    return module.check(src, base, check_paths, show)


class DataConfig(Strict):
    """Where training, evaluation and calibration samples come from."""

    train: Optional[DataSource] = Field(None, description="Training data for the fine-tuning stages.")
    eval: Optional[EvalSource] = Field(
        None, description="Evaluation data: accuracy is measured on all of it; or {validation_split: 0.2} to hold "
        "out part of data.train.")
    representative: Optional[DataSource] = Field(
        None, description="Calibration data for int8/int16x8 (default: drawn from data.train)."
    )
    representative_samples: int = Field(
        256, ge=1, le=100_000, description="How many samples calibrate int8/int16x8 quantization."
    )

    @field_validator("train", "eval", "representative", mode="before")
    @classmethod
    def _default_type(cls, v, info):
        # `train: {path: digits.npz, x: x_train, y: y_train}` is an npz source; `eval: {validation_split: 0.2}`
        if isinstance(v, dict) and "type" not in v:
            if "validation_split" in v:
                if info.field_name != "eval":
                    raise ValueError("only data.eval takes validation_split (it holds out part of data.train "
                                     "for evaluation)")
                return {"type": "validation_split", **v}
            return {"type": "npz", **v}
        return v

    def code_sources(self) -> list[str]:
        """Splits whose source runs Python code named by the recipe (type: python)."""
        return [s for s in ("train", "eval", "representative") if isinstance(getattr(self, s), PythonSource)]

    def require_allow_code(self, allow_code: bool) -> None:
        """RecipeError (exit 2) unless code from the recipe may run (`run --allow-code`)."""
        code = self.code_sources()
        if code and not allow_code:
            raise code_refused(f"data.{code[0]}")
