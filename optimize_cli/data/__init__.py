"""Data sources → streaming, batched, prefetched `tf.data.Dataset`s; representative samples; checks.

Every source becomes a `Split` (split.py): a re-iterable stream of (x, y) samples, x as float32 (as the
model's integer type for a model with an integer input: token ids), y as stored. One module per source type — npz, image_dir, tfrecord, tfds, python — holds its recipe model, its
path check (`validate`), its files (the resume fingerprint) and its loader; validation_split.py holds out
part of data.train; config.py registers the source types and builds the recipe's `data` section from them;
load.py loads a recipe's splits; fit.py checks them against the model.

Nothing reads a whole split into memory except `npz`, whose arrays are memory-mapped when the file stores
them uncompressed (np.savez) and read when compressed (np.savez_compressed). TensorFlow is imported inside
the functions that need it, never at import time (`validate` imports the models). Errors a user can cause
are `InputError` (exit 3) naming the split (`data.train`), and where it helps the sample index and file; a
python source without `allow_code` is a `RecipeError` (exit 2).
"""
from __future__ import annotations

from .common import CHUNK, tf_message
from .config import DATA_SOURCES, EVAL_ONLY, SOURCES, DataConfig, DataSource, EvalSource, check_source
from .fit import check_against_model, representative_sample, resolve_output
from .image_dir import IMAGE_EXTENSIONS, ImageDirSource, ImageDirSplit
from .load import load_split, load_splits, source_files
from .npz import ArraySplit, NpzSource
from .paths import Finding, path_exists, resolve_path, show_path
from .python import PythonSource
from .split import SHUFFLE_BUFFER, Split, StreamSplit
from .tfds import TfdsSource
from .tfrecord import FeatureSpec, TfrecordSource
from .validation_split import ValidationSplit

__all__ = [
    "CHUNK", "SHUFFLE_BUFFER", "tf_message",
    "DATA_SOURCES", "EVAL_ONLY", "SOURCES", "DataConfig", "DataSource", "EvalSource", "check_source",
    "check_against_model", "representative_sample", "resolve_output",
    "load_split", "load_splits", "source_files",
    "Split", "StreamSplit", "ArraySplit", "ImageDirSplit", "IMAGE_EXTENSIONS",
    "NpzSource", "ImageDirSource", "FeatureSpec", "TfrecordSource", "TfdsSource", "PythonSource",
    "ValidationSplit",
    "Finding", "path_exists", "resolve_path", "show_path",
]
