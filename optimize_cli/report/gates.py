"""Gates (recipe `gates:`): which result field each one reads, how it compares, its verdict, and how
its limit and measured value are shown."""
from __future__ import annotations

from typing import Any, Optional

from .. import targets
from .format import fmt_drop_amount, fmt_ms, fmt_ratio, is_fraction_metric

#: the report's own gates: name → (report field in `result`, comparison). "max" passes when value <= limit.
CORE_GATES: dict[str, tuple[str, str]] = {
    "max_accuracy_drop": ("accuracy_drop", "max"),
    "min_compression_ratio": ("compression_ratio", "min"),
    "max_compressed_bytes": ("compressed_bytes", "max"),
    "max_latency_ms": ("latency_ms", "max"),
    # what the device stores, per target (`result.targets.<name>.deployable_bytes`): a number is the worst
    # over the targets, `{target: number}` one gate per target (named `max_deployable_bytes.<target>`)
    "max_deployable_bytes": ("targets.deployable_bytes", "max"),
}
#: every gate, in the order they are evaluated: the report's own, then the target registry's
#: (`result.targets.<name>.<figure>`: the worst over the targets that measured it); kept up to date by
#: gate_table() when a target type is registered
GATE_FIELDS: dict[str, tuple[str, str]] = {}


def gate_table() -> dict[str, tuple[str, str]]:
    """The one gate table: gate name → (field, "max" | "min"), the target gates from the registry."""
    table = {**CORE_GATES, **{g: (f"targets.{gate.figure}", gate.kind) for g, (_, gate) in targets.GATES.items()}}
    if table != GATE_FIELDS:
        GATE_FIELDS.clear()
        GATE_FIELDS.update(table)
    return GATE_FIELDS


gate_table()


def gate_kind(name: str) -> str:
    """"max" (passes when value <= limit) or "min" (value >= limit); an unknown name by its prefix."""
    known = gate_table().get(str(name).split(".")[0])
    if known is not None:
        return known[1]
    return "min" if str(name).startswith("min_") else "max"


def gate_miss(name: str, value: float, limit: float) -> float:
    """How far `value` is on the failing side of `limit` (positive = missed), in the gate's units."""
    return (value - limit) if gate_kind(name) == "max" else (limit - value)


#: relative slack for float comparisons at a gate's boundary: 0.90 − 0.88 is 0.020000000000000018 in
#: binary floating point and must still pass `max_accuracy_drop: 0.02`.
GATE_REL_TOLERANCE = 1e-9


def _field_value(result: dict, field: str, kind: str) -> Optional[float]:
    """A `result` field, or for `targets.<figure>` the worst value over the targets that report it."""
    if not field.startswith("targets."):
        return result.get(field)
    figure = field.split(".", 1)[1]
    values = [t[figure] for t in (result.get("targets") or {}).values() if t.get(figure) is not None]
    if not values:
        return None
    return max(values) if kind == "max" else min(values)


def evaluate_gates(gates: Any, report: dict) -> list[dict]:
    """One `{name, limit, value, passed}` per configured gate (a `None` limit = not configured), in the
    order of the gate table. `value` is the measured `result` field; it is null and the gate fails when it
    was not measured (e.g. no eval data for `max_accuracy_drop`). Boundaries pass: a drop equal to
    `max_accuracy_drop`, a ratio equal to `min_compression_ratio`. Accepts a dict or a GatesConfig."""
    if gates is None:
        return []
    if hasattr(gates, "model_dump"):
        gates = gates.model_dump()
    table = gate_table()
    unknown = [k for k in gates if k not in table]
    if unknown:
        raise ValueError(f"unknown gate {unknown[0]!r}; known gates: {', '.join(table)}")
    result = report.get("result") or {}
    out = []
    for name, (field, kind) in table.items():
        limit = gates.get(name)
        if limit is None:
            continue
        if isinstance(limit, dict):  # one limit per target: `{tflm: 26000}`
            per = (result.get("targets") or {})
            figure = field.split(".", 1)[1]
            out += [_gate(f"{name}.{t}", lim, (per.get(t) or {}).get(figure), kind) for t, lim in limit.items()]
            continue
        out.append(_gate(name, limit, _field_value(result, field, kind), kind))
    return out


def _gate(name: str, limit: float, value: Optional[float], kind: str) -> dict:
    if value is None:
        passed = False
    else:
        slack = GATE_REL_TOLERANCE * max(1.0, abs(limit))
        passed = value <= limit + slack if kind == "max" else value >= limit - slack
    return {"name": name, "limit": limit, "value": value, "passed": bool(passed)}


def gate_op(name: str) -> str:
    """"≥" for a minimum gate, "≤" for a maximum gate."""
    return "≥" if gate_kind(name) == "min" else "≤"


def fmt_gate(report: dict, name: str, v: Optional[float]) -> str:
    """A gate's limit or measured value in the unit of its field ("1.20 pts (0.012)", "7.10×", "61,244 B")."""
    if v is None:
        return "not measured"
    if name == "max_accuracy_drop":
        return fmt_drop_amount(report, v) + (f" ({v:.4g})" if is_fraction_metric(report) else "")
    if name == "min_compression_ratio":
        return fmt_ratio(v)
    if name == "max_compressed_bytes" or name.split(".")[0] == "max_deployable_bytes":
        return f"{int(v):,} B"
    target = targets.fmt_gate_value(name, v)
    if target is not None:
        return target
    if name == "max_latency_ms":
        return f"{fmt_ms(v)} ms"
    return f"{v:g}"


def verdict(report: dict) -> str:
    """"2 of 2 gates passed", "1 of 2 gates failed: …" or "no gates configured"."""
    gates = report.get("gates", [])
    failed = [g for g in gates if not g["passed"]]
    if not gates:
        return "no gates configured"
    if not failed:
        return f"{len(gates)} of {len(gates)} gates passed"
    what = ", ".join(
        f"{g['name']} {fmt_gate(report, g['name'], g['value'])} vs {gate_op(g['name'])} "
        f"{fmt_gate(report, g['name'], g['limit'])}"
        for g in failed)
    return f"{len(failed)} of {len(gates)} gates failed: {what}"
