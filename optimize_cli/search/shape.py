"""The search side of `search.sensitivity: true` (never imports TensorFlow): run the pre-pass in its own
subprocess (sensitivity.py) into DIR/sensitivity.json, and shape the space with it — each trial's prune
stage gets `layer_sparsity` derived from its one (searched) global `target_sparsity`:

- a layer whose drop pruned alone at the lowest tested sparsity (0.5) is above the fragility limit (the
  recipe's gates.max_accuracy_drop, else 0.02) and at least 4× the median layer's is left dense (0);
- the others share one drop threshold τ: each layer's sparsity is the largest on its measured curve
  (drop against sparsity, piecewise linear from (0, 0), made non-decreasing) whose drop is ≤ τ, capped at
  the highest tested level; τ is chosen (bisection) so that the weighted mean over all prunable weights
  equals the global level. So the layers that lose least pruned alone prune most, and the study still
  searches one number. Sparsities below 0.05 are left dense (0).
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..errors import StageError
from ..stages import STAGES
from .objective import parse_stdout

SENSITIVITY_FILE = "sensitivity.json"
RECIPE_FILE = "sensitivity.yaml"
LOG_FILE = "sensitivity.log"
DEFAULT_FRAGILE = 0.02
FRAGILE_TIMES = 4.0
MIN_SPARSITY = 0.05


def read(out_dir: Path) -> Optional[dict]:
    """DIR/sensitivity.json, or None when the pass did not run there (the reader search.json uses)."""
    from .front import read_sensitivity

    return read_sensitivity(Path(out_dir))


def run_pass(recipe_yaml: str, out_dir: Path, log: Callable[[str], None]) -> dict:
    """Write the concrete recipe to DIR/sensitivity.yaml, run the pass in a subprocess (its stderr in
    DIR/sensitivity.log) and return its document; a failed pass is a StageError with its one line."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    recipe = out_dir / RECIPE_FILE
    recipe.write_text(recipe_yaml, encoding="utf-8")
    logfile = out_dir / LOG_FILE
    log("sensitivity: pruning and clustering each layer alone (no fine-tuning)")
    with open(logfile, "wb") as err:
        proc = subprocess.run([sys.executable, "-m", "optimize_cli", "search-sensitivity", str(recipe),
                               str(out_dir / SENSITIVITY_FILE), "--json"], stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=err, check=False)
    if proc.returncode != 0:
        answer = parse_stdout(proc.stdout)  # {"error", "exit_code"}: the command's own one line
        reason = str(answer["error"]) if answer and answer.get("error") else \
            f"the pass ended with exit code {proc.returncode}"
        raise StageError(f"{reason.removeprefix('search.sensitivity: ')} (search.sensitivity; log: {logfile})")
    doc = read(out_dir)
    if doc is None:
        raise StageError(f"search.sensitivity: {out_dir / SENSITIVITY_FILE} was not written (log: {logfile})")
    log(f"sensitivity: {len(doc['layers'])} layers measured in {doc['seconds']:.1f} s "
        f"(baseline {doc['metric']} {doc['baseline']:.4f})")
    return doc


def _curve(entry: dict) -> list[tuple[float, float]]:
    """(sparsity, drop) from (0, 0) through the tested levels; drops ≥ 0 and non-decreasing."""
    pts = [(0.0, 0.0)] + sorted((float(k), max(0.0, float(v))) for k, v in entry["prune"].items())
    out, top = [], 0.0
    for s, d in pts:
        top = max(top, d)
        out.append((s, top))
    return out


def _at(curve: list[tuple[float, float]], tau: float) -> float:
    """The largest sparsity on `curve` whose (interpolated) drop is ≤ tau."""
    best = 0.0
    for (s0, d0), (s1, d1) in zip(curve, curve[1:], strict=False):
        if d1 <= tau:
            best = s1
            continue
        if d0 <= tau:
            best = s0 + (tau - d0) / (d1 - d0) * (s1 - s0)
        break
    return best


def fragile(doc: dict, limit: Optional[float] = None) -> list[str]:
    """Layers left dense: their drop pruned alone at the lowest tested level is above `limit` (default: the
    gate, else 0.02) AND at least FRAGILE_TIMES the median layer's (an outlier: without fine-tuning most
    layers of a real model lose more than a 1-point gate at 0.5, and fine-tuning recovers it)."""
    lim = limit if limit is not None else (doc.get("gate") or DEFAULT_FRAGILE)
    low = {e["name"]: float(e["prune"][min(e["prune"], key=float)]) for e in doc["layers"] if e["prune"]}
    if not low:
        return []
    median = float(np.median(list(low.values())))
    return [n for n, d in low.items() if d > lim and d >= FRAGILE_TIMES * median]


def layer_plan(doc: dict, level: float, limit: Optional[float] = None) -> dict[str, float]:
    """name → sparsity for every measured layer, derived from the global `level` (see the module text)."""
    dense = set(fragile(doc, limit))
    live = [(e["name"], int(e["params"]), _curve(e)) for e in doc["layers"] if e["name"] not in dense and e["prune"]]
    total = sum(int(e["params"]) for e in doc["layers"]) or 1
    plan = {e["name"]: 0.0 for e in doc["layers"]}
    if not live:
        return plan

    def mean(tau: float) -> float:
        return sum(p * _at(c, tau) for _, p, c in live) / total

    top = max(c[-1][1] for _, _, c in live) + 1e-9
    lo, hi = 0.0, top
    at_zero = mean(0.0)
    scale = level / at_zero if at_zero > level else 1.0  # layers that lose nothing even at the cap: scale down
    if at_zero > level:
        hi = 0.0
    elif mean(hi) > level:
        for _ in range(60):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if mean(mid) < level else (lo, mid)
    for name, _, c in live:
        s = _at(c, hi) * scale
        plan[name] = round(s, 3) if s >= MIN_SPARSITY else 0.0
    return plan


class Shaper:
    """`SearchSpace.shape`: a trial's concrete raw recipe → the same with prune.layer_sparsity from the
    sensitivity document (a prune stage that sets layer_sparsity or sparsity_m_by_n itself is left as it
    is). A plain class of data, so that it pickles."""

    def __init__(self, doc: dict):
        self.doc = doc

    def __call__(self, raw: dict) -> dict:
        for st in raw.get("stages") or []:
            if not isinstance(st, dict) or "layer_sparsity" not in getattr(STAGES.get(st.get("type")), "model_fields", {}):
                continue
            if st.get("layer_sparsity") or st.get("sparsity_m_by_n") is not None:
                continue
            level = st.get("target_sparsity", 0.5)
            if isinstance(level, (int, float)) and not isinstance(level, bool):
                st["layer_sparsity"] = layer_plan(self.doc, float(level))
        return raw


def attach(space, first, out_dir: Path, resume: bool, log: Callable[[str], None], measure: bool = True) -> Optional[dict]:
    """With search.sensitivity: the pass's document (run now, or read back on --resume and by a worker
    process, `measure=False`), set as the space's shaper. None when the space has no sensitivity pass or
    the output directory holds a study that is not being resumed (the study refuses it)."""
    if not space.config.sensitivity:
        return None
    out_dir = Path(out_dir)
    if (out_dir / "study.db").exists() and not resume:
        return None
    doc = read(out_dir) if (resume or not measure) else None
    if doc is None:
        if not measure:
            raise StageError(f"search.sensitivity: {out_dir / SENSITIVITY_FILE} is missing (the search parent "
                             "writes it before its workers start)")
        doc = run_pass(first.resolved_yaml(), out_dir, log)
    space.shape = Shaper(doc)
    dense = fragile(doc)
    if dense:
        log(f"sensitivity: left dense (drop at the lowest sparsity above the limit): {', '.join(dense)}")
    return doc
