"""The search reports' figures and tables (search.md and search.html share them): which figure is the
size and which the accuracy, how a trial's figures are shown, the trial table and the per-layer
sensitivity table (search.json's optional "sensitivity": {"metric", "baseline", "layers": [{"name",
"params", "prune": {"0.5": drop, …}, "cluster": {"8": drop, …}}]})."""
from __future__ import annotations

from typing import Optional

from ..measure.metrics import FRACTION_METRICS
from ..report.format import DASH, fmt_int, fmt_ms, fmt_points, fmt_ratio, fmt_value
from ..report.gates import gate_kind
from ..report.table import Table

#: size-like figures, in the order the front plot prefers them as its x axis
SIZE_FIGURES = ("compressed_bytes", "tflite_bytes")
#: what a state is called where a trial's state is shown
STATE_WORDS = {"complete": "complete", "fail": "failed", "failed": "failed", "pruned": "pruned",
               "interrupted": "interrupted", "running": "running"}


def size_key(objectives: list[str]) -> str:
    """The front plot's x: the first size-like objective, else compressed_bytes."""
    return next((k for k in objectives if k in SIZE_FIGURES or k.startswith("deployable_bytes")), "compressed_bytes")


def is_fraction(metric: Optional[dict]) -> bool:
    """Whether drops are shown in percentage points (an accuracy-type metric; unknown metric: no)."""
    return bool(metric) and metric.get("name") in FRACTION_METRICS


def kind(r: dict) -> str:
    """feasible (passed every gate) · infeasible (measured, missed a gate) · pruned · failed · other."""
    if r["state"] == "complete":
        return "feasible" if r["passed"] else "infeasible"
    return {"fail": "failed", "failed": "failed", "pruned": "pruned"}.get(r["state"], "other")


def show(key: str, v, fraction: bool) -> str:
    """One figure or parameter as people read it (report/format.py, the one formatter family): bytes with
    separators, drops in points, ratios to 3 significant digits, other numbers to 4."""
    if v is None:
        return DASH
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    figure = key.split(":", 1)[0]  # deployable_bytes:tflm
    if figure.endswith("_bytes"):
        return fmt_int(v)
    if figure == "accuracy_drop":
        return fmt_points(v, fraction)
    if figure == "accuracy":
        return fmt_value(v, fraction)
    if figure.endswith("_ms"):
        return f"{fmt_ms(v)} ms"
    if figure in ("compression_ratio", "speedup"):
        return fmt_ratio(v)
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) >= 1 else f"{v:.4g}"
    return str(v)


def figures_text(values: dict, fraction: bool) -> str:
    """A trial's objectives as the search's lines show them: "compressed_bytes=15,000 accuracy_drop=1.00 pts"."""
    return " ".join(f"{k}={show(k, v, fraction)}" for k, v in values.items())


def params_text(r: dict, sep: str = ", ") -> str:
    return sep.join(f"{k}={show(k, v, False)}" for k, v in r["params"].items())


def gates_text(r: dict, fraction: bool) -> str:
    """"passed", or the gates missed with their values ("missed max_accuracy_drop: 3.10 pts > 2.00 pts")."""
    if r["state"] != "complete":
        return DASH
    if r["passed"]:
        return "passed"
    missed = []
    for g in r.get("gates") or []:
        if not g.get("passed"):
            field = str(g.get("name", "")).split("_", 1)[-1]
            op = ">" if gate_kind(str(g.get("name", ""))) == "max" else "<"
            missed.append(f"{g.get('name')}: {show(field, g.get('value'), fraction)} {op} "
                          f"{show(field, g.get('limit'), fraction)}")
    return "missed " + "; ".join(missed) if missed else "missed"


def trials_table(doc: dict) -> Table:
    """Every trial: number (★ front, ◆ recommended), state, objectives, other figures, gates, seconds,
    parameters, reason."""
    objectives, fraction = doc["objectives"], is_fraction(doc.get("metric"))
    extra = [k for k in ("compressed_bytes", "accuracy", "accuracy_drop") if k not in objectives]
    front, best = set(doc["pareto"]), doc["recommended"]
    rows, classes = [], []
    for r in doc["trials"]:
        figs = {**(r.get("figures") or {}), **(r.get("values") or {})}
        mark = (" ◆" if r["number"] == best else "") + (" ★" if r["number"] in front else "")
        if r.get("retry_of") is not None:
            mark += f" (retry of {r['retry_of']:04d})"
        elif r.get("builtin"):
            mark += f" (built-in {r['builtin']})"
        secs = f"{r['seconds']:.1f}" if r.get("seconds") is not None else DASH
        rows.append([f"{r['number']:04d}{mark}", STATE_WORDS.get(r["state"], r["state"]),
                     *(show(k, figs.get(k), fraction) for k in objectives + extra), gates_text(r, fraction), secs,
                     params_text(r), r.get("reason") or ""])
        classes.append([kind(r)] + [""] * (len(rows[-1]) - 1))
    headers = ["trial", "state", *objectives, *extra, "gates", "seconds", "parameters", "reason"]
    align = "ll" + "r" * (len(objectives) + len(extra)) + "lrll"
    return Table(headers, rows, align, classes)


def _levels(layers: list[dict], key: str) -> list[str]:
    seen = {str(k) for layer in layers for k in (layer.get(key) or {})}

    def num(s: str) -> float:
        try:
            return float(s)
        except ValueError:
            return float("inf")

    return sorted(seen, key=lambda s: (num(s), s))


def sensitivity_columns(sens: dict) -> list[tuple[str, str, str]]:
    """(key, level, header) per column: each pruning sparsity, then each cluster count."""
    layers = sens.get("layers") or []
    return ([("prune", lv, f"prune {lv}") for lv in _levels(layers, "prune")]
            + [("cluster", lv, f"cluster {lv}") for lv in _levels(layers, "cluster")])


def sensitivity_table(sens: dict) -> Table:
    """One row per layer: its name, weights, and the drop when it alone is pruned / clustered."""
    fraction = is_fraction({"name": sens.get("metric")})
    cols = sensitivity_columns(sens)
    rows = []
    for layer in sens.get("layers") or []:
        rows.append([str(layer.get("name")), show("params_bytes", layer.get("params"), False),
                     *(show("accuracy_drop", (layer.get(k) or {}).get(lv), fraction) for k, lv, _ in cols)])
    return Table(["layer", "weights", *(h for _, _, h in cols)], rows, "lr" + "r" * len(cols))


def sensitivity_caption(sens: dict) -> str:
    fraction = is_fraction({"name": sens.get("metric")})
    base = sens.get("baseline")
    return (f"Drop of {sens.get('metric', 'the metric')} (from {show('accuracy', base, fraction)}) when one layer "
            "alone is pruned to a sparsity or clustered to a number of clusters, without fine-tuning.")
