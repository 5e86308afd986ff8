"""The report's sections on what the training stages did beyond tfmot: filter_prune's `filters` record
(parameters, MACs and latency before and after, the filters each layer kept) and each stage's `distill`
settings. Shared by report.md, report.html and the stdout summary; pure."""
from __future__ import annotations

import html
from typing import Callable, Optional

from .format import fmt_int, fmt_ms, fmt_number
from .table import Table


def _filter_stages(report: dict) -> list[dict]:
    return [st for st in report.get("stages") or [] if st.get("filters")]


def _change(before, after) -> str:
    """"24,908 → 14,097 (−43.4%)"."""
    if before is None or after is None:
        return "—"
    pct = f" ({(after - before) / before * 100:+.1f}%)".replace("-", "−") if before else ""
    return f"{fmt_int(before)} → {fmt_int(after)}{pct}"


def _latency_before(report: dict) -> Optional[dict]:
    """The input model's .tflite figures at the result's quantization (PTQ or float32 baseline), or None."""
    res = report["result"]
    for key in ("ptq_baseline", "baseline"):
        m = report.get(key)
        if m and m.get("quantization") == res.get("quantization") and m.get("latency_ms") is not None:
            return m
    return None


def filters_summary(report: dict) -> Optional[str]:
    """"parameters 24,908 → 14,097 (−43.4%), MACs … , latency 0.044 → 0.039 ms (…)" when a filter_prune
    stage ran, else None."""
    stages = _filter_stages(report)
    if not stages:
        return None
    first, last = stages[0]["filters"], stages[-1]["filters"]
    text = (f"parameters {_change(first.get('params_before'), last.get('params_after'))}, "
            f"MACs {_change(first.get('macs_before'), last.get('macs_after'))}")
    before = _latency_before(report)
    res = report["result"]
    if before is not None and res.get("latency_ms") is not None:
        pct = (res["latency_ms"] - before["latency_ms"]) / before["latency_ms"] * 100 if before["latency_ms"] else 0.0
        text += (f", latency {fmt_ms(before['latency_ms'])} → {fmt_ms(res['latency_ms'])} ms "
                 f"({pct:+.1f}%; the input model's and the result's {res['quantization']} .tflite)").replace("-", "−")
    return text


def _stage_note(st: dict) -> str:
    f = st["filters"]
    target = f.get("target")
    how = (f"target {100 * target['fraction']:.0f}% of the {'MACs' if target['metric'] == 'macs' else 'parameters'}, "
           f"reached {100 * target['reached']:.1f}% ({100 * (f.get('ratio') or 0):.1f}% of the filters removed)"
           if target else f"ratio {100 * (f.get('ratio') or 0):.0f}% per layer")
    skipped = st.get("skipped_layers") or []
    return (f"{st['index']}. {st['type']}: {f.get('criterion', '—')}, {how}; "
            f"{len(f.get('layers') or {})} layer(s) thinned, {len(skipped)} not"
            + (f" ({', '.join(s.get('name', '') for s in skipped)}: see Skipped layers)" if skipped else "") + ".")


def filters_table(report: dict) -> Optional[Table]:
    """One row per thinned layer: filters before → after, kept share, kernel parameters in the result."""
    rows = []
    for st in _filter_stages(report):
        for name, lay in (st["filters"].get("layers") or {}).items():
            before, after = (lay.get("filters") or [None, None])[:2]
            kept = f"{100 * after / before:.0f}%" if before else "—"
            rows.append([f"{st['index']}. {st['type']}", name, f"{fmt_int(before)} → {fmt_int(after)}", kept,
                         fmt_int(lay.get("kernel_params"))])
    return Table(["stage", "layer", "filters", "kept", "kernel params"], rows, "lllrr") if rows else None


def distill_table(report: dict) -> Optional[Table]:
    """One row per stage that distilled from the input model."""
    rows = [[f"{st['index']}. {st['type']}", fmt_number(d.get("alpha"), 2), fmt_number(d.get("temperature"), 1),
             str(d.get("loss") or "—")]
            for st in report.get("stages") or [] if (d := st.get("distill"))]
    return Table(["stage", "alpha", "temperature", "soft loss"], rows, "lrrl") if rows else None


_DISTILL_NOTE = ("The input model (frozen) teaches the stage: loss = alpha × label loss + (1 − alpha) × T² × "
                 "KL(teacher‖student) at temperature T (kl), or an MSE to the teacher's output (mse).")


def _sections(report: dict) -> list[tuple[str, list[str], Optional[Table]]]:
    """(title, sentences, table) of each section that applies."""
    out = []
    if _filter_stages(report):
        out.append(("Filter pruning", [_stage_note(st) for st in _filter_stages(report)], filters_table(report)))
    dt = distill_table(report)
    if dt:
        out.append(("Distillation", [_DISTILL_NOTE], dt))
    return out


def training_markdown(report: dict) -> list[str]:
    """report.md lines: `## Filter pruning` and `## Distillation` when those ran."""
    md: list[str] = []
    for title, notes, table in _sections(report):
        md += ["", f"## {title}", ""] + [f"- {n}" for n in notes]
        if table:
            md += ["", table.markdown()]
    return md


def training_html(report: dict, escape: Optional[Callable[[str], str]] = None) -> list[str]:
    """report.html parts of the same sections."""
    e = escape or html.escape
    parts: list[str] = []
    for title, notes, table in _sections(report):
        parts.append(f"<h2>{e(title)}</h2>")
        parts += [f'<p class="meta">{e(n)}</p>' for n in notes]
        if table:
            parts.append('<div class="scroll">' + table.html(title.lower().replace(" ", "-")) + "</div>")
    return parts
