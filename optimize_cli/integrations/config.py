"""The integrations' recipe keys: `tracking: {mlflow: URI, experiment: NAME}` (top level) and
`training.tensorboard: DIR`. Never imports MLflow, TensorBoard or TensorFlow.

Both say where a run is *reported*, not what it computes: they are left out of recipe.resolved.yaml and
of the checkpoint fingerprint (`exclude=True`), so changing them never invalidates `--resume`, and a search's
trial recipes do not carry them (the search logs its trials itself)."""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional

from pydantic import Field

from ..strict import Strict

#: what `pip install` needs for each integration
EXTRAS = {"mlflow": "pip install 'optimize-cli[mlflow]'", "tensorboard": "pip install 'optimize-cli[tensorboard]'"}

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


class TrackingConfig(Strict):
    """Where the run is tracked (MLflow, extra [mlflow]); `--mlflow URI` overrides."""

    mlflow: Optional[str] = Field(
        None, min_length=1, description="MLflow tracking URI: http(s)://host:port, file:///folder, or a folder "
        "(relative to the recipe); default $MLFLOW_TRACKING_URI.")
    experiment: Optional[str] = Field(
        None, min_length=1, description="MLflow experiment name (default: the recipe's name).")


def is_uri(value: str) -> bool:
    """A URI with a scheme (http:, file:, sqlite:, databricks ...); a Windows drive letter is a path."""
    return bool(_SCHEME.match(value)) and not re.match(r"^[A-Za-z]:[\\/]", value)


def tracking_uri(value: str, base: Optional[Path] = None) -> str:
    """`value` as MLflow takes it: a URI as it is, a folder (relative to `base`, else the current directory)
    as its file:// URI."""
    if is_uri(value):
        return value
    p = Path(os.path.expanduser(value))
    return (p if p.is_absolute() else (base or Path.cwd()) / p).resolve().as_uri()


def resolve_paths(recipe, base: Path) -> None:
    """The recipe's integration paths, made absolute against the recipe's folder (as the model's is)."""
    tracking = getattr(recipe, "tracking", None)
    if tracking is not None and tracking.mlflow:
        tracking.mlflow = tracking_uri(tracking.mlflow, base)
    tb = getattr(recipe.training, "tensorboard", None)
    if tb:
        p = Path(os.path.expanduser(tb))
        recipe.training.tensorboard = str(p if p.is_absolute() else (base / p).resolve())
