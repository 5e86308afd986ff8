"""Shared helpers of the recipe tests: writing recipes and catching their problems."""
from __future__ import annotations

from pathlib import Path

import pytest

from optimize_cli.errors import RecipeError
from optimize_cli.recipe import RecipeProblems, load_recipe

ROOT = Path(__file__).resolve().parent.parent.parent
ALL_BUILTIN = sorted((ROOT / "recipes").glob("*.yaml"))
#: search recipes (`optimize-cli search`) are named search-*.yaml; the others are plain recipes
SEARCH_BUILTIN = [p for p in ALL_BUILTIN if p.stem.startswith("search-")]
BUILTIN = [p for p in ALL_BUILTIN if p not in SEARCH_BUILTIN]



def write(folder: Path, text: str, name: str = "recipe.yaml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


SHORTEST = """\
version: 1
model: model
data:
  train: {path: data.npz}
stages: [prune, cluster, qat]
"""

FULL_HEAD = """\
version: 1
model: model
data:
  train: {type: npz, path: data.npz, x: x_train, y: y_train}
  eval: {type: npz, path: data.npz, x: x_test, y: y_test}
"""


def problems_of(path: Path, **kw) -> RecipeProblems:
    with pytest.raises(RecipeProblems) as info:
        load_recipe(path, **kw)
    return info.value


def error_of(path: Path, **kw) -> str:
    with pytest.raises(RecipeError) as info:
        load_recipe(path, **kw)
    text = str(info.value)
    assert "\n" not in text
    return text
