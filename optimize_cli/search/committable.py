"""A trial's recipe as a file a user can commit (best.yaml, compact.yaml, balanced.yaml, quality.yaml,
pareto/NN.yaml):

- only the keys the search recipe itself spells, with the trial's values in place of its spaces (the
  search recipe's own raw content through `SearchSpace.concrete`, not the resolved recipe with every
  default);
- its paths relative to the folder the file is written to (a path is a string the trial's resolved recipe
  holds as an absolute path at the same place);
- the searched values rounded to what changes the result: a value of a log range to 2 significant digits,
  a linear range to the decimals of a twentieth of its width (a sparsity in [0.4, 0.8] to 0.01), ints and
  choices as they are;
- its own name and a description naming the study, the trial and its figures.

`run` on it takes the trial's path and choices (the rounded values); see tests/search/test_search_answers.py."""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Optional

import yaml

from ..recipe.space import Param, SearchSpace
from .tables import is_fraction, show


def rounded(p: Param, v: Any) -> Any:
    """`v` of parameter `p` rounded to what changes the result (inside the range)."""
    if p.kind != "float" or not isinstance(v, float) or v == 0:
        return v
    if p.log:
        r = float(f"{v:.2g}")
    else:
        decimals = max(0, -math.floor(math.log10((p.high - p.low) / 20)))
        r = round(v, decimals)
    return min(max(r, p.low), p.high)


def rounded_params(space: SearchSpace, params: dict) -> dict:
    by_name = {p.name: p for p in space.params}
    return {k: rounded(by_name[k], v) if k in by_name else v for k, v in params.items()}


def _relative_paths(node: Any, resolved: Any, dest: Path, base: Optional[Path]) -> Any:
    """`node` (the concrete raw recipe) with each path made relative to `dest`: a string whose place in
    the resolved recipe holds an absolute path. A relative one is taken from `base` (the search recipe's
    folder; links kept as the user wrote them), an absolute one as it is."""
    if isinstance(node, dict):
        return {k: _relative_paths(v, resolved.get(k) if isinstance(resolved, dict) else None, dest, base)
                for k, v in node.items()}
    if isinstance(node, list):
        return [_relative_paths(v, resolved[i] if isinstance(resolved, list) and i < len(resolved) else None,
                                dest, base) for i, v in enumerate(node)]
    if isinstance(node, str) and isinstance(resolved, str) and node and os.path.isabs(resolved) and (
            node != resolved or os.path.isabs(node)):
        mine = os.path.expanduser(node)
        if not os.path.isabs(mine):
            mine = os.path.normpath(os.path.join(base, mine)) if base is not None else resolved
        return os.path.relpath(mine, dest)
    return node


def describe(study: str, r: dict, label: str, metric: Optional[dict]) -> str:
    """"Trial 0003 of search study 'sq' (compact): compressed_bytes 12,345; accuracy 97.10% (drop 0.74
    pts); gates passed."""
    fraction = is_fraction(metric)
    figs = {**(r.get("figures") or {}), **(r.get("values") or {})}
    parts = [f"{k} {show(k, v, fraction)}" for k, v in (r.get("values") or {}).items() if k != "accuracy_drop"]
    if figs.get("accuracy") is not None:
        acc = f"accuracy {show('accuracy', figs['accuracy'], fraction)}"
        if figs.get("accuracy_drop") is not None:
            acc += f" (drop {show('accuracy_drop', figs['accuracy_drop'], fraction)})"
        parts.append(acc)
    verdict = "gates passed" if r.get("passed") else "gates missed"
    return f"Trial {r['number']:04d} of search study '{study}' ({label}): {'; '.join(parts)}; {verdict}."


def recipe_text(space: SearchSpace, r: dict, resolved_text: str, dest: Path, name: str, description: str) -> str:
    """The committable recipe of trial record `r` (its resolved recipe's text gives the absolute paths),
    to be written into folder `dest`."""
    raw = space.concrete(rounded_params(space, r["params"]))
    resolved = yaml.safe_load(resolved_text) or {}
    base = Path(os.path.abspath(space.source)).parent if space.source is not None else None
    raw = _relative_paths(raw, resolved, Path(os.path.abspath(dest)), base)
    out = {"version": raw.pop("version", 1), "name": name, "description": description}
    raw.pop("name", None)
    raw.pop("description", None)
    out.update(raw)
    return yaml.safe_dump(out, sort_keys=False, allow_unicode=True, width=1000)


def resolved_of(r: dict, kept: Optional[str]) -> Optional[str]:
    """The trial's resolved recipe: its run's recipe.resolved.yaml, its trials/NNNN.yaml, or the text its
    worker kept in the study; None when none is here."""
    for candidate in ([Path(r["output"]) / "recipe.resolved.yaml"] if r.get("output") else []) + (
            [Path(r["recipe"])] if r.get("recipe") else []):
        try:
            return candidate.read_text(encoding="utf-8")
        except OSError:
            continue
    return kept
