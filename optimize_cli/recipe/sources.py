"""The data-source models of a recipe (`data.train`, `data.eval`, `data.representative`) and their path
checks, moved here unchanged from recipe.py.

Placeholder for the integrator: the data helper moves these models into `optimize_cli/data/` in
parallel; this file then becomes an import from there. Never imports TensorFlow.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BaseModel, Field, field_validator, model_validator

from ..errors import RecipeError
from ..strict import Scale
from ..strict import Strict as _Strict
from .paths import Rule as _Rule
from .paths import path_exists as _exists
from .paths import resolve_path as _resolve
from .paths import show_path as _show_path
from .text import show_value as _show

# --------------------------------------------------------------------------------------------- data
#
# Every source yields (x, y) samples: x as float32 (scaled where the source says so), y as stored. The
# loaders (optimize_cli/data.py) stream them into batched tf.data pipelines; nothing here imports TF.



class NpzSource(_Strict):
    """Arrays from a NumPy `.npz` file, picked by key; optionally a slice of them. Arrays stored
    uncompressed (np.savez) are memory-mapped, compressed ones are read into memory."""

    type: Literal["npz"] = "npz"
    path: str = Field(..., description="Path of the .npz file (relative to the recipe file).")
    x: str = Field("x", description="Key of the input array.")
    y: str = Field("y", description="Key of the label array.")
    start: Optional[int] = Field(None, ge=0, description="First sample to use (slice start).")
    stop: Optional[int] = Field(None, ge=1, description="One past the last sample to use (slice stop).")


class ImageDirSource(_Strict):
    """Images in one subfolder per class (`path/<class>/*.png`). Label i is the i-th class folder in sorted
    order (Python string order of the folder names), or the i-th entry of `class_names`. Images of another
    size are resized; pixel values 0..255 become `x = pixel * scale + offset`."""

    type: Literal["image_dir"]
    path: str = Field(..., description="Folder with one subfolder per class (relative to the recipe file).")
    image_size: tuple[Annotated[int, Field(ge=1, le=16384)], Annotated[int, Field(ge=1, le=16384)]] = Field(
        ..., description="[height, width] the images are resized to (the model's input size).")
    color_mode: Literal["grayscale", "rgb"] = Field(
        "rgb", description="grayscale: 1 channel; rgb: 3 channels (images are converted as needed).")
    scale: Scale = Field(1 / 255, description="x = pixel * scale + offset; default 1/255 maps 0..255 to 0..1.")
    offset: float = Field(0.0, description="x = pixel * scale + offset (e.g. scale: 1/127.5, offset: -1 for -1..1).")
    class_names: Optional[list[Annotated[str, Field(min_length=1)]]] = Field(
        None, min_length=1, description="Class folders to read, in label order (default: every subfolder, sorted).")
    interpolation: Literal["bilinear", "nearest", "area", "bicubic"] = Field(
        "bilinear", description="Resize method for images that are not image_size already.")


#: TFRecord element types: numbers in a value list (no encoding), or bytes (raw / png / jpeg)
_LIST_DTYPES = ("float32", "int64")
_RAW_DTYPES = ("uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64")


class FeatureSpec(_Strict):
    """One feature of a tf.train.Example: how to parse it and its shape per sample."""

    dtype: Optional[Literal["float32", "int64", "uint8", "int8", "int16", "int32", "float16", "float64"]] = Field(
        None, description="Element type: float32 or int64 for value lists (default float32); any numeric type "
        "for encoding raw; uint8 for png/jpeg (the default there).")
    shape: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=list, description="Shape of one sample ([] for a scalar label); png/jpeg: [h, w, channels].")
    encoding: Optional[Literal["png", "jpeg", "raw"]] = Field(
        None, description="null: a float/int64 value list; raw: bytes of `dtype` (tf.io.decode_raw); png/jpeg: an "
        "encoded image (decoded to uint8 with shape[-1] channels).")

    @model_validator(mode="after")
    def _consistent(self):
        if self.encoding is None:
            if self.dtype is None:
                self.dtype = "float32"
            elif self.dtype not in _LIST_DTYPES:
                raise ValueError(f"dtype ({self.dtype}) cannot be a value list (those hold float32 or int64); "
                                 "use encoding: raw for bytes of another type")
        elif self.encoding in ("png", "jpeg"):
            if self.dtype is None:
                self.dtype = "uint8"
            elif self.dtype != "uint8":
                raise ValueError(f"dtype ({self.dtype}) must be uint8 for {self.encoding} images")
            if len(self.shape) != 3 or self.shape[-1] not in (1, 3):
                raise ValueError(f"shape ({self.shape}) must be [height, width, channels] with 1 or 3 channels for "
                                 f"{self.encoding} images")
        elif self.dtype is None:
            raise ValueError("dtype (null) is required with encoding: raw: the type of the stored bytes")
        return self


class TfrecordSource(_Strict):
    """tf.train.Example records in TFRecord files, parsed with tf.io.parse_single_example: `features`
    describes each feature; `x` and `y` name the input and the label. Files are read in sorted order."""

    type: Literal["tfrecord"]
    path: str = Field(..., description="A .tfrecord file or a glob such as data/train-*.tfrecord (relative to the recipe).")
    features: dict[str, FeatureSpec] = Field(..., min_length=1, description="Feature name → {dtype, shape, encoding}.")
    x: str = Field("x", description="Feature that holds the input.")
    y: Optional[str] = Field("y", description="Feature that holds the label (null: no labels, calibration only).")
    compression: Optional[Literal["GZIP", "ZLIB"]] = Field(None, description="Compression of the files (default none).")
    scale: Scale = Field(1.0, description="x = value * scale + offset (e.g. 1/255 for png/jpeg images).")
    offset: float = Field(0.0, description="x = value * scale + offset.")


class TfdsSource(_Strict):
    """A TensorFlow Datasets dataset that is already prepared in a local `data_dir` (never downloaded;
    needs `pip install tensorflow-datasets`)."""

    type: Literal["tfds"]
    name: str = Field(..., pattern=r"^[A-Za-z0-9_]+(/[A-Za-z0-9_.+-]+)?(:[0-9]+\.[0-9]+\.[0-9]+)?$",
                      description="Dataset name, optionally with config and version: mnist, my_ds/cfg:1.0.0.")
    split: str = Field("train", min_length=1, description="TFDS split, slicing allowed: train, test, train[:80%].")
    data_dir: str = Field(..., description="Folder the dataset was prepared in (tfds build --data_dir ...).")
    x: Optional[str] = Field(None, description="Feature for the input (default: the dataset's supervised keys).")
    y: Optional[str] = Field(None, description="Feature for the label (default: the dataset's supervised keys).")
    scale: Scale = Field(1.0, description="x = value * scale + offset (e.g. 1/255 for uint8 images).")
    offset: float = Field(0.0, description="x = value * scale + offset.")


class PythonSource(_Strict):
    """A Python function `module.path:function` that returns a finite tf.data.Dataset of (x, y) (or x
    alone, for calibration), batched or not. Runs code named by the recipe: needs `run --allow-code`."""

    type: Literal["python"]
    function: str = Field(..., description="'module.path:function' returning a tf.data.Dataset of (x, y).")
    path: Optional[str] = Field(None, description="Folder added to sys.path before importing (relative to the recipe).")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments for the function.")
    batched: Optional[bool] = Field(
        None, description="Whether the dataset yields batches (they are unbatched); default: detected from an "
        "unknown leading dimension.")


class ValidationSplit(_Strict):
    """`data.eval: {validation_split: 0.2}`: hold out a fraction of data.train for evaluation. Exactly
    round(fraction * n) samples are held out, chosen by numpy.random.default_rng(seed).permutation(n) over
    the source's order; data.train uses the rest, in order."""

    type: Literal["validation_split"] = "validation_split"
    validation_split: float = Field(..., gt=0, lt=1, description="Fraction of data.train held out for evaluation.")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Seed that picks the held-out samples (independent of "
                      "training.seed, so the evaluation set stays the same across training seeds).")


_SOURCES = (NpzSource, ImageDirSource, TfrecordSource, TfdsSource, PythonSource)
#: data source `type` → model (the union below is built from it)
DATA_SOURCES: dict[str, type[BaseModel]] = {
    "npz": NpzSource, "image_dir": ImageDirSource, "tfrecord": TfrecordSource, "tfds": TfdsSource, "python": PythonSource,
}
DataSource = Annotated[Union[NpzSource, ImageDirSource, TfrecordSource, TfdsSource, PythonSource],
                       Field(discriminator="type")]
EvalSource = Annotated[Union[NpzSource, ImageDirSource, TfrecordSource, TfdsSource, PythonSource, ValidationSplit],
                       Field(discriminator="type")]


class DataConfig(_Strict):
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
            raise RecipeError(f"data.{code[0]}: python data sources run code from the recipe; pass --allow-code "
                              "to allow it")



_GLOB_CHARS = re.compile(r"[*?\[]")
_FUNCTION = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*")


def _is_dir(p: str) -> bool:
    try:
        return Path(p).is_dir()
    except (OSError, ValueError):
        return False


def _glob(pattern: str) -> list[str]:
    import glob

    try:
        return sorted(glob.glob(pattern))
    except (OSError, ValueError, RecursionError):
        return []


def _check_source(split: str, src, base: Path, check_paths: bool) -> list[_Rule]:
    """Resolve a data source's paths against the recipe folder and check what can be checked without
    reading the data (the loaders in data.py check the contents, exit 3)."""
    out: list[_Rule] = []
    at = ["data", split]
    if isinstance(src, ValidationSplit):
        return out
    if isinstance(src, TfdsSource):
        src.data_dir = _resolve(base, src.data_dir)
        if check_paths and not _is_dir(src.data_dir):
            what = "is not a folder" if _exists(src.data_dir) else "path does not exist"
            out.append(_Rule(at + ["data_dir"], f"{what}: {_show_path(src.data_dir)}"))
        return out
    if isinstance(src, PythonSource):
        if not _FUNCTION.fullmatch(src.function):
            out.append(_Rule(at + ["function"], f"must be 'module.path:function', e.g. 'my_data:load' (got "
                             f"{_show(src.function)})"))
        if src.path is not None:
            src.path = _resolve(base, src.path)
            if check_paths and not _is_dir(src.path):
                what = "is not a folder" if _exists(src.path) else "path does not exist"
                out.append(_Rule(at + ["path"], f"{what}: {_show_path(src.path)}"))
        return out
    src.path = _resolve(base, src.path)
    if isinstance(src, TfrecordSource):
        for key in ("x", "y"):
            name = getattr(src, key)
            if name is not None and name not in src.features:
                out.append(_Rule(at + [key], f"'{name}' is not in features (features: {', '.join(src.features)})"))
        if check_paths:
            if _GLOB_CHARS.search(src.path):
                if not _glob(src.path):
                    out.append(_Rule(at + ["path"], f"no file matches {_show_path(src.path)}"))
            elif not _exists(src.path):
                out.append(_Rule(at + ["path"], f"path does not exist: {_show_path(src.path)}"))
            elif _is_dir(src.path):
                out.append(_Rule(at + ["path"], f"is a folder: {_show_path(src.path)}; give a file or a glob such "
                                 "as DIR/*.tfrecord"))
        return out
    if check_paths and not _exists(src.path):
        out.append(_Rule(at + ["path"], f"path does not exist: {_show_path(src.path)}"))
    elif check_paths and isinstance(src, ImageDirSource) and not _is_dir(src.path):
        out.append(_Rule(at + ["path"], f"is not a folder: {_show_path(src.path)} (image_dir reads one subfolder "
                         "per class)"))
    if isinstance(src, ImageDirSource) and src.class_names:
        seen: set[str] = set()
        for i, c in enumerate(src.class_names):
            if c in seen:
                out.append(_Rule(at + ["class_names", i], f"'{c}' is listed twice"))
            elif c in (".", "..") or "/" in c or "\\" in c or "\x00" in c:
                out.append(_Rule(at + ["class_names", i], f"must be a folder name, not a path (got {_show(c)})"))
            seen.add(c)
    if getattr(src, "start", None) is not None and getattr(src, "stop", None) is not None and src.stop <= src.start:
        out.append(_Rule(at + ["stop"], f"must be after start ({src.start})"))
    return out



#: the public name of the path checks (resolve.py calls them for each data split)
check_source = _check_source
