"""`data.eval: {validation_split: 0.2}` — hold out part of data.train for evaluation: the model and how the
two parts are made (Split.split_off). Not a source of its own: only data.eval takes it."""
from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from ..strict import Strict
from .paths import Finding, Show
from .split import Split

TYPE = "validation_split"


class ValidationSplit(Strict):
    """`data.eval: {validation_split: 0.2}`: hold out a fraction of data.train for evaluation. Exactly
    round(fraction * n) samples are held out, chosen by numpy.random.default_rng(seed).permutation(n) over
    the source's order; data.train uses the rest, in order."""

    type: Literal["validation_split"] = "validation_split"
    validation_split: float = Field(..., gt=0, lt=1, description="Fraction of data.train held out for evaluation.")
    seed: int = Field(0, ge=0, le=2**32 - 1, description="Seed that picks the held-out samples (independent of "
                      "training.seed, so the evaluation set stays the same across training seeds).")


MODEL = ValidationSplit


def check(src: ValidationSplit, base: Path, check_paths: bool, show: Show) -> list[Finding]:
    """Nothing to check: it names no path (the recipe checks that data.train is there)."""
    return []


def files(src: ValidationSplit) -> list[Path]:
    """[]: the files are data.train's."""
    return []


def hold_out(train: Split, src: ValidationSplit) -> tuple[Split, Split]:
    """(the rest of data.train, the held-out evaluation split); deterministic, so every call agrees."""
    return train.split_off(src.validation_split, src.seed)
