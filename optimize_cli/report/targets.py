"""The deployment-target tables of report.md and report.html (recipe `targets:`): one table per target,
baseline beside result, from report.json's `baseline.targets.<name>` and `result.targets.<name>`."""
from __future__ import annotations

import html
from typing import Callable, Optional

from .format import fmt_metric
from .table import Table


def _int(v, unit: str = "") -> str:
    return "—" if v is None else f"{int(v):,}{unit}"


def _change(b, r) -> str:
    if b is None or r is None or not isinstance(b, (int, float)) or not isinstance(r, (int, float)) or not b:
        return "—"
    return f"{(r - b) / b:+.1%}"


def _ops(f: dict) -> str:
    npu, cpu = f.get("npu_ops"), f.get("cpu_ops")
    if npu is None:
        return "—"
    share = f.get("npu_ops_share")
    return f"{npu} of {npu + (cpu or 0)}" + (f" ({share:.0%})" if share is not None else "")


def _tflm_rows(report: dict, b: dict, r: dict) -> list[list[str]]:
    def acc(f):
        return "—" if f.get("accuracy") is None else fmt_metric(report, f["accuracy"])

    def unsupported(f):
        return ", ".join(f.get("unsupported_ops") or []) or ("none" if f.get("runs", True) else f.get("error", "?"))

    rows = [[label, _int(b.get(k), " B"), _int(r.get(k), " B"), _change(b.get(k), r.get(k))]
            for label, k in (("arena bytes", "arena_bytes"), ("arena head (non-persistent)", "arena_head_bytes"),
                             ("arena tail (persistent)", "arena_tail_bytes"))]
    rows.append([f"{report['metric']['name']} on TFLM kernels", acc(b), acc(r), "—"])
    if b.get("litert_reference_accuracy") is not None or r.get("litert_reference_accuracy") is not None:
        ref = [fmt_metric(report, f["litert_reference_accuracy"]) if f.get("litert_reference_accuracy") is not None
               else "—" for f in (b, r)]
        rows.append([f"{report['metric']['name']} on LiteRT's reference kernels", *ref, "—"])
    secs = [f.get("accuracy_seconds") for f in (b, r)]
    rows.append(["eval time on TFLM (batch 1)", *("—" if s is None else f"{s:.2f} s" for s in secs), "—"])
    rows.append(["ops without a TFLM kernel", unsupported(b), unsupported(r), "—"])
    return rows


def _ethos_rows(b: dict, r: dict) -> list[list[str]]:
    def ms(f):
        return "—" if f.get("npu_ms") is None else f"{f['npu_ms']:.4g} ms"

    def fallback(f):
        return f.get("error") or ", ".join(f.get("cpu_fallback_ops") or []) or "none"

    rows = [["operators on the NPU", _ops(b), _ops(r), "—"],
            ["CPU fallback ops", fallback(b), fallback(r), "—"]]
    for label, k, unit in (("SRAM", "sram_bytes", " B"), ("flash", "flash_bytes", " B"), ("DRAM", "dram_bytes", " B"),
                           ("NPU-encoded weights", "npu_encoded_weights_bytes", " B"), ("MACs", "macs", ""),
                           ("cycles", "npu_cycles", "")):
        if k == "dram_bytes" and not (b.get(k) or r.get(k)):
            continue
        rows.append([label, _int(b.get(k), unit), _int(r.get(k), unit), _change(b.get(k), r.get(k))])
    rows.append(["inference time", ms(b), ms(r), _change(b.get("npu_ms"), r.get("npu_ms"))])
    return rows


def target_tables(report: dict) -> list[tuple[str, Table, str]]:
    """(title, table, note) per target, in the order of `result.targets`."""
    res_t = (report.get("result") or {}).get("targets") or {}
    base_t = (report.get("baseline") or {}).get("targets") or {}
    out = []
    for name, r in res_t.items():
        b = base_t.get(name) or {}
        head = ["", f"baseline ({b.get('model', '—')})", "result", "change"]
        if r.get("type") == "tflm":
            rows, what = _tflm_rows(report, b, r), f"TensorFlow Lite Micro {r.get('version', '')}"
        else:
            rows = _ethos_rows(b, r)
            what = (f"Arm Vela {r.get('version', '')}, {r.get('accelerator', name)}, {r.get('system_config') or '—'}, "
                    f"{r.get('memory_mode') or '—'}")
        vela = f"; Vela's optimized model: {r['vela_path']}" if r.get("vela_path") else ""
        out.append((f"Target {name}", Table(head, rows, "lrrr"), f"Measured with {what}{vela}."))
    return out


def targets_markdown(report: dict) -> list[str]:
    """report.md lines: a `## Target <name>` section per target (none without `targets:`)."""
    md: list[str] = []
    for title, table, note in target_tables(report):
        md += ["", f"## {title}", "", table.markdown(), "", note]
    return md


def targets_html(report: dict, escape: Optional[Callable[[str], str]] = None) -> list[str]:
    """report.html parts: an `<h2>Target <name></h2>` section per target."""
    e = escape or html.escape
    parts: list[str] = []
    for title, table, note in target_tables(report):
        parts += [f"<h2>{e(title)}</h2>", '<div class="scroll">' + table.html("target") + "</div>",
                  f'<p class="meta">{e(note)}</p>']
    return parts


#: compare's target rows: (figure, label, bytes?) per target type
_COMPARE = {"tflm": (("arena_bytes", "arena bytes"),),
            "ethos-u": (("sram_bytes", "SRAM bytes"), ("flash_bytes", "flash bytes"), ("npu_cycles", "cycles"),
                        ("npu_ms", "NPU ms"), ("npu_ops_share", "ops on the NPU"))}


def compare_target_figures(report: dict) -> dict:
    """{"baseline": {name: figures}, "result": {name: figures}} of one report (compare's JSON)."""
    return {side: dict((report.get(side) or {}).get("targets") or {}) for side in ("baseline", "result")}


def compare_target_rows(runs: list, missing: str = "–") -> list[tuple[str, str, list[str]]]:
    """compare's rows for the targets the runs measured: (label, baseline cell of the first run, cells)."""
    def cell(f: Optional[dict], key: str) -> str:
        v = None if f is None else f.get(key)
        if v is None:
            return missing
        if key == "npu_ms":
            return f"{v:.4g}"
        return f"{v:.0%}" if key == "npu_ops_share" else f"{int(v):,}"

    names: dict[str, str] = {}
    for r in runs:
        for name, f in r["targets"]["result"].items():
            names.setdefault(name, f.get("type", ""))
    rows = []
    for name, typ in names.items():
        for key, label in _COMPARE.get(typ, ()):
            base = runs[0]["targets"]["baseline"].get(name)
            rows.append((f"{name}: {label}", cell(base, key), [cell(r["targets"]["result"].get(name), key) for r in runs]))
    return rows
