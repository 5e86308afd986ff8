"""Three answers from the feasible trials (those that passed every gate), not one:

- *compact*: the smallest on the first objective (the recommended trial, best.yaml);
- *balanced*: the knee of the trade-off between size and accuracy drop — among the feasible trials that
  no other beats on both, the one closest to the ideal corner once both are scaled to [0, 1] over them;
- *quality*: the smallest accuracy drop at no more than the int8 PTQ baseline's size (report.json's
  `ptq_baseline`, same size figure) when that is known, else the smallest drop among them.

Size is the first size-like objective (compressed_bytes, tflite_bytes; default compressed_bytes); ties go
to the smaller objectives, then the smaller trial number."""
from __future__ import annotations

import math
from typing import Optional

from .tables import size_key

ANSWERS = ("compact", "balanced", "quality")


def _fig(r: dict, key: str) -> Optional[float]:
    v = {**(r.get("figures") or {}), **(r.get("values") or {})}.get(key)
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _order(r: dict, objectives: list[str]) -> tuple:
    return (*[r["values"][k] for k in objectives], r["number"])


def tradeoff(feasible: list[dict], size: str) -> list[dict]:
    """The feasible trials with both figures that no other beats on both size and accuracy drop."""
    pts = [r for r in feasible if _fig(r, size) is not None and _fig(r, "accuracy_drop") is not None]

    def beats(a, b):
        fa, fb = (_fig(a, size), _fig(a, "accuracy_drop")), (_fig(b, size), _fig(b, "accuracy_drop"))
        return fa[0] <= fb[0] and fa[1] <= fb[1] and fa != fb

    return [r for r in pts if not any(beats(o, r) for o in pts if o is not r)]


def knee(front: list[dict], size: str) -> Optional[dict]:
    if not front:
        return None
    xs, ys = [_fig(r, size) for r in front], [_fig(r, "accuracy_drop") for r in front]

    def scaled(v, lo, hi):
        return 0.0 if hi == lo else (v - lo) / (hi - lo)

    return min(front, key=lambda r: (math.hypot(scaled(_fig(r, size), min(xs), max(xs)),
                                                scaled(_fig(r, "accuracy_drop"), min(ys), max(ys))), r["number"]))


def pick(records: list[dict], objectives: list[str], ptq_size: Optional[float] = None) -> dict:
    """answer name → the trial record it picks (None when no trial is feasible)."""
    feasible = [r for r in records if r["passed"] and r.get("values")]
    if not feasible:
        return dict.fromkeys(ANSWERS)
    size = size_key(objectives)
    compact = min(feasible, key=lambda r: _order(r, objectives))
    front = tradeoff(feasible, size)
    within = [r for r in feasible if _fig(r, "accuracy_drop") is not None and (
        ptq_size is None or (_fig(r, size) is not None and _fig(r, size) <= ptq_size))] or [
        r for r in feasible if _fig(r, "accuracy_drop") is not None]
    quality = min(within, key=lambda r: (_fig(r, "accuracy_drop"), *_order(r, objectives))) if within else compact
    return {"compact": compact, "balanced": knee(front, size) or compact, "quality": quality}


def ptq_size(records: list[dict], objectives: list[str]) -> Optional[float]:
    """The int8 PTQ baseline's size (the same figure as the trials'), from the first trial that has it."""
    key = f"ptq_{size_key(objectives)}"
    for r in records:
        v = (r.get("figures") or {}).get(key)
        if isinstance(v, (int, float)):
            return float(v)
    return None
