"""Loading a recipe's data: each split from its source's module (config.SOURCES), the validation split
held out of data.train, and the files a source reads (for the resume fingerprint)."""
from __future__ import annotations

from pathlib import Path

from ..errors import InputError, RecipeError
from .config import EVAL_ONLY, SOURCES
from .split import Split
from .validation_split import hold_out


def load_split(name: str, src, *, allow_code: bool = False, validation=None) -> Split:
    """Load `data.<name>` from its source. `validation` (a recipe ValidationSplit) holds out part of it:
    the held-out part for name 'eval', the rest otherwise (deterministic: both calls agree)."""
    if src.type not in SOURCES:
        raise RecipeError(f"data.{name}: validation_split is split off data.train; use load_splits(recipe.data)")
    split = SOURCES[src.type].load(name, src, f"data.{name}", allow_code=allow_code)
    if validation is not None:
        rest, held = hold_out(split, validation)
        return held if name == "eval" else rest
    if name in ("train", "eval") and not split.has_labels:
        raise InputError(f"data.{name}: the source gives inputs only (no labels); {name} needs (x, y) pairs")
    return split


def load_splits(data, *, allow_code: bool = False) -> dict[str, Split]:
    """Every split a recipe's `data` section names: {'train', 'eval', 'representative'} (those present).
    `data.eval: {validation_split: f}` splits data.train into 'train' (the rest) and 'eval'."""
    data.require_allow_code(allow_code)
    out: dict[str, Split] = {}
    if data.train is not None:
        out["train"] = load_split("train", data.train, allow_code=allow_code)
    ev = data.eval
    if ev is not None and ev.type not in SOURCES:
        if "train" not in out:
            raise RecipeError("data.eval.validation_split: needs data.train: it holds out part of data.train")
        out["train"], out["eval"] = hold_out(out["train"], ev)
    elif ev is not None:
        out["eval"] = load_split("eval", ev, allow_code=allow_code)
    if data.representative is not None:
        out["representative"] = load_split("representative", data.representative, allow_code=allow_code)
    return out


def source_files(src) -> list[Path]:
    """The files a source reads (for fingerprints); [] where they cannot be named (python)."""
    t = getattr(src, "type", None)
    module = SOURCES.get(t) or EVAL_ONLY.get(t)
    if module is None:
        return []
    try:
        return module.files(src)
    except (OSError, InputError):
        return []
