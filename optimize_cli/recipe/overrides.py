"""`--set KEY=VALUE`: command-line overrides of any recipe value, applied to the raw recipe. A path given
on the command line is relative to the current directory (like --model), not to the recipe's folder:
`from_cwd` makes it absolute before it is set."""
from __future__ import annotations

import os
import re
from typing import Any

import yaml

from ..errors import RecipeError
from .text import format_loc

_INDEX = re.compile(r"-?[0-9]+")
#: the recipe keys that hold a path (the recipe's own are relative to its folder; --set's to the current one)
CLI_PATH_KEYS = re.compile(r"model|data\.(train|eval|representative)\.(path|data_dir)|training\.tensorboard"
                           r"|tracking\.mlflow|targets\.-?[0-9]+\.config")


def set_path(data: Any, key: str, value: Any) -> str:
    """Apply one `--set a.b.0.c=value` override to the raw recipe; return the key with indexes made
    non-negative. Containers on the way are copied, so that a YAML alias shared elsewhere is untouched."""
    parts = [int(p) if _INDEX.fullmatch(p) else p for p in key.split(".")]
    if not key or any(p == "" for p in parts):
        raise RecipeError(f"--set {key}: the key must be a dotted path such as stages.0.target_sparsity")
    node = data
    for i, p in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(p, int):
            if not isinstance(node, list):
                raise RecipeError(f"--set {key}: {format_loc(parts[:i]) or 'recipe'} is not a list")
            if not -len(node) <= p < len(node):
                raise RecipeError(f"--set {key}: {format_loc(parts[: i + 1])} does not exist (the list has "
                                  f"{len(node)} item{'' if len(node) == 1 else 's'})")
            p = parts[i] = p % len(node)
            if last:
                node[p] = value
                break
            if isinstance(node[p], str) and format_loc(parts[:i]) == "stages":
                node[p] = {"type": node[p]}
        else:
            if not isinstance(node, dict):
                raise RecipeError(f"--set {key}: {format_loc(parts[:i]) or 'recipe'} is not a mapping")
            if last:
                node[p] = value
                break
            if node.get(p) is None:
                node[p] = {}
        child = node[p]
        node[p] = child = dict(child) if isinstance(child, dict) else list(child) if isinstance(child, list) else child
        node = child
    return ".".join(str(p) for p in parts)


def parse_set(item: str) -> tuple[str, Any]:
    """`KEY=VALUE` → (key, YAML-typed value)."""
    if "=" not in item:
        raise RecipeError(f"--set {item}: expected KEY=VALUE, e.g. --set stages.0.target_sparsity=0.6")
    key, text = item.split("=", 1)
    try:
        value = yaml.safe_load(text) if text.strip() else ""
    except yaml.YAMLError as e:
        problem = " ".join(str(getattr(e, "problem", None) or e).split())
        raise RecipeError(f"--set {key}: value {text!r} is not valid YAML ({problem})") from None
    except Exception as e:  # noqa: BLE001 - huge numbers, deep nesting
        raise RecipeError(f"--set {key}: value cannot be read ({type(e).__name__})") from None
    return key.strip(), value


def from_cwd(key: str, value: Any) -> Any:
    """`value` of `--set key=value` with the paths in it (CLI_PATH_KEYS, also inside a mapping or list given
    whole, e.g. `--set 'data.train={path: x.npz}'`) made absolute against the current directory."""
    if isinstance(value, (dict, list)) and key.count(".") < 2:  # no path key is deeper (a.b.c)
        if isinstance(value, dict):
            return {k: from_cwd(f"{key}.{k}", v) for k, v in value.items()}
        return [from_cwd(f"{key}.{i}", v) for i, v in enumerate(value)]
    if not isinstance(value, str) or not value or not CLI_PATH_KEYS.fullmatch(key):
        return value
    if key == "tracking.mlflow":
        from ..integrations.config import tracking_uri

        return tracking_uri(value)  # a URI as it is; a folder from here
    try:
        return os.path.abspath(os.path.expanduser(value))
    except (OSError, ValueError, RuntimeError):
        return value
