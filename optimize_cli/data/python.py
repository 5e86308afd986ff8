"""type: python — a function named by the recipe returns a tf.data.Dataset: the source model, its check,
its loader. Runs code from the recipe, so only with `run --allow-code`; samples come as yielded."""
from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import Field

from ..errors import InputError, RecipeError
from ..strict import Strict
from .common import tf as _tf
from .paths import Finding, Show, folder_problem, resolve_path
from .split import Split, StreamSplit, dataset_specs

TYPE = "python"
_FUNCTION = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*")


class PythonSource(Strict):
    """A Python function `module.path:function` that returns a finite tf.data.Dataset of (x, y) (or x
    alone, for calibration), batched or not. Runs code named by the recipe: needs `run --allow-code`."""

    type: Literal["python"]
    function: str = Field(..., description="'module.path:function' returning a tf.data.Dataset of (x, y).")
    path: Optional[str] = Field(None, description="Folder added to sys.path before importing (relative to the recipe).")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="Keyword arguments for the function.")
    batched: Optional[bool] = Field(
        None, description="Whether the dataset yields batches (they are unbatched); default: detected from an "
        "unknown leading dimension.")


MODEL = PythonSource


def code_refused(where: str) -> RecipeError:
    """The error (exit 2) for a python source without `run --allow-code`."""
    return RecipeError(f"{where}: python data sources run code from the recipe; pass --allow-code to allow it")


def check(src: PythonSource, base: Path, check_paths: bool, show: Show) -> list[Finding]:
    """The function must be 'module.path:function'; path (resolved against the recipe's folder) a folder.
    Nothing is imported."""
    out: list[Finding] = []
    if not _FUNCTION.fullmatch(src.function):
        out.append((["function"], f"must be 'module.path:function', e.g. 'my_data:load' (got {show(src.function)})"))
    if src.path is not None:
        src.path = resolve_path(base, src.path)
        problem = folder_problem(src.path) if check_paths else None
        if problem is not None:
            out.append((["path"], problem))
    return out


def files(src: PythonSource) -> list[Path]:
    """[]: what a function reads cannot be named."""
    return []


def _call_function(where: str, src: PythonSource):
    """Import the module (from `path` first) and call the function with `kwargs`: what it returns."""
    mod_name, _, fn_name = src.function.partition(":")
    if src.path:
        p = str(Path(src.path))
        if p not in sys.path:
            sys.path.insert(0, p)
    try:
        mod = importlib.import_module(mod_name)
    except Exception as e:  # noqa: BLE001 - whatever the user's module raises
        raise InputError(f"{where}.function: cannot import {mod_name} ({type(e).__name__}: {e})") from None
    fn = getattr(mod, fn_name, None)
    if not callable(fn):
        raise InputError(f"{where}.function: {mod_name} has no function {fn_name}")
    try:
        return fn(**src.kwargs)
    except Exception as e:  # noqa: BLE001
        raise InputError(f"{where}.function: {src.function} raised {type(e).__name__}: {e}") from None


def _as_pairs(where: str, src: PythonSource, ds) -> tuple:
    """(dataset of (x, y) or x, x spec, y spec or None): {'x', 'y'} dicts and 1-tuples unpacked."""
    tf = _tf()
    spec = ds.element_spec
    if isinstance(spec, dict) and "x" in spec and set(spec) <= {"x", "y"}:
        ds = ds.map(lambda d: (d["x"], d["y"]) if "y" in d else d["x"])
        spec = ds.element_spec
    if isinstance(spec, (tuple, list)) and len(spec) == 1:
        ds = ds.map(lambda *t: t[0])
        spec = ds.element_spec
    if isinstance(spec, tf.TensorSpec):
        return ds, spec, None
    if isinstance(spec, (tuple, list)) and len(spec) == 2 and all(isinstance(s, tf.TensorSpec) for s in spec):
        return ds, spec[0], spec[1]
    raise InputError(f"{where}.function: {src.function} returned a dataset of {spec}; expected (x, y) pairs "
                     "of single tensors (or x alone, for calibration)")


def load(name: str, src: PythonSource, where: str, *, allow_code: bool = False) -> Split:
    """The split from the dataset the function returns (unbatched when it yields batches); a RecipeError
    (exit 2) without allow_code, exit 3 for what the function does or returns."""
    if not allow_code:
        raise code_refused(where)
    tf = _tf()  # TF_USE_LEGACY_KERAS before the user's module imports TensorFlow
    ds = _call_function(where, src)
    if not isinstance(ds, tf.data.Dataset):
        raise InputError(f"{where}.function: {src.function} returned {type(ds).__name__}, expected a "
                         "tf.data.Dataset of (x, y)")
    ds, xs, ys = _as_pairs(where, src, ds)
    batched = src.batched
    if batched is None:  # a batched dataset has an unknown leading dimension (batch without drop_remainder)
        batched = xs.shape.rank is not None and xs.shape.rank >= 1 and xs.shape[0] is None
    if batched:
        if xs.shape.rank == 0 or (ys is not None and ys.shape.rank == 0):
            raise InputError(f"{where}: batched: true, but the dataset yields single values")
        ds = ds.unbatch()
    ds = ds.map(lambda x: tf.cast(x, tf.float32)) if ys is None else ds.map(lambda x, y: (tf.cast(x, tf.float32), y))
    if int(ds.cardinality()) == int(tf.data.INFINITE_CARDINALITY):
        raise InputError(f"{where}: {src.function} returned an infinite dataset (does it call .repeat()?); "
                         "give a finite one")
    split = StreamSplit(name, src, lambda: ds, dataset_specs(ds), where)
    split.unbatched = bool(batched)
    return split
