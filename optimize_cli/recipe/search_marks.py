"""How a search recipe is told from a plain one (read by the loader, which refuses it, and by the search
space, recipe/space.py). Never imports TensorFlow."""
from __future__ import annotations

from typing import Any

from ..errors import RecipeError


class SearchRecipeError(RecipeError):
    """`run` (or anything that needs a plain recipe) was given a search recipe (exit 2)."""


def has_search(raw: Any) -> bool:
    """Whether a raw recipe has a `search:` section, a `{search: ...}` value or an optional stage."""
    if not isinstance(raw, dict):
        return False
    if "search" in raw:
        return True
    stages = raw.get("stages")
    if isinstance(stages, list) and any(isinstance(s, dict) and "optional" in s for s in stages):
        return True
    return any(search_markers(raw.get(k), [k]) for k in raw)


def search_markers(node, parts) -> list:
    """(dotted parts, node) of every `{search: ...}` value under `node` (iterative: any depth; a node that
    YAML aliases share is walked once, so an alias bomb costs its size in the file, not its expansion)."""
    out, todo, seen = [], [(parts, node)], set()
    while todo:
        here, n = todo.pop()
        if isinstance(n, (dict, list)):
            if id(n) in seen:
                continue
            seen.add(id(n))
        if isinstance(n, dict):
            if "search" in n:
                out.append((here, n))
            else:
                todo += [([*here, k], v) for k, v in reversed(list(n.items()))]
        elif isinstance(n, list):
            todo += [([*here, i], v) for i, v in reversed(list(enumerate(n)))]
    return out
