"""What `run` and `search` call, before and after their work: the integrations the command line and the
recipe ask for, checked before any TensorFlow work (a missing extra or an unwritable folder is exit 2,
naming it), and the finished run handed to them. Imports neither MLflow nor TensorFlow at the start."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Callable, Optional

from ..errors import RecipeError
from .config import EXTRAS
from .mlflow import Tracking, log_run, log_search, start

Warn = Callable[[str], None]


def before_run(recipe, mlflow_uri: Optional[str], tensorboard: Optional[Path], warn: Warn) -> Optional[Tracking]:
    """`--tensorboard DIR` into the recipe (relative to the current directory) and checked with the
    recipe's own; the MLflow tracking to do after the run (None: none), its server probed now."""
    if tensorboard is not None:
        recipe.training.tensorboard = os.path.abspath(os.path.expanduser(str(tensorboard)))
    check_tensorboard(recipe.training.tensorboard)
    return start(mlflow_uri, recipe, warn)


def before_search(recipe, mlflow_uri: Optional[str], warn: Warn) -> Optional[Tracking]:
    return start(mlflow_uri, recipe, warn)


def after_run(tracking: Optional[Tracking], out_dir, warn: Warn, quiet: bool = False) -> Optional[str]:
    """The finished run in `out_dir` to MLflow; returns the line (for stderr) that says where, None with
    --quiet or when nothing was logged."""
    return _said(tracking, log_run(tracking, Path(out_dir), warn), "run", quiet)


def after_search(tracking: Optional[Tracking], out_dir, doc: dict, warn: Warn, quiet: bool = False) -> Optional[str]:
    return _said(tracking, log_search(tracking, Path(out_dir), doc, warn), "search", quiet)


def _said(tracking: Optional[Tracking], run_id: Optional[str], what: str, quiet: bool) -> Optional[str]:
    if run_id is None or quiet:
        return None
    return (f"MLflow: {what} logged as run {run_id} of experiment '{tracking.experiment}' at "
            f"{tracking.uri or 'the default tracking URI'}")


def check_tensorboard(folder: Optional[str]) -> None:
    """Exit 2 when TensorBoard logs are asked for without the extra, or into a folder that cannot be
    created or written (the message names it)."""
    if not folder:
        return
    import importlib.util

    try:
        missing = importlib.util.find_spec("tensorboard") is None
    except ValueError:  # sys.modules["tensorboard"] is None: blocked
        missing = True
    if missing:
        raise RecipeError(f"TensorBoard logs (--tensorboard / training.tensorboard) need TensorBoard: "
                          f"{EXTRAS['tensorboard']}")
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise RecipeError(f"TensorBoard log folder {folder}: cannot write there ({e.strerror or e})") from None
