"""The deployment-target tables of report.md and report.html (recipe `targets:`): one table per target,
baseline beside result, from report.json's `baseline.targets.<name>` and `result.targets.<name>`; and
`compare`'s rows for them. What each table holds is the target module's (targets/<type>.py)."""
from __future__ import annotations

import html
from typing import Callable, Optional

from .. import targets
from .table import Table

MISSING = "—"


def _generic_rows(b: dict, r: dict) -> list[list[str]]:
    """A target type this version does not know (a report written elsewhere): its numeric figures."""
    keys = [k for k, v in {**b, **r}.items() if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return [[k, *(MISSING if f.get(k) is None else f"{f[k]:,}" for f in (b, r)), MISSING] for k in keys]


def target_tables(report: dict) -> list[tuple[str, Table, str]]:
    """(title, table, note) per target, in the order of `result.targets`."""
    res_t = (report.get("result") or {}).get("targets") or {}
    base_t = (report.get("baseline") or {}).get("targets") or {}
    out = []
    for name, r in res_t.items():
        b = base_t.get(name) or {}
        head = ["", f"baseline ({b.get('model', MISSING)})", "result", "change"]
        m = targets.module_for(r.get("type"))
        if m is not None and hasattr(m, "report_rows"):
            rows, what = m.report_rows(report, b, r), m.report_note(name, r)
        else:
            rows, what = _generic_rows(b, r), f"{r.get('type', '?')} {r.get('version', '')}".strip()
        out.append((f"Target {name}", Table(head, rows, "lrrr"), f"Measured with {what}."))
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


def compare_target_figures(report: dict) -> dict:
    """{"baseline": {name: figures}, "result": {name: figures}} of one report (compare's JSON)."""
    return {side: dict((report.get(side) or {}).get("targets") or {}) for side in ("baseline", "result")}


def compare_target_rows(runs: list, missing: str = "–") -> list[tuple[str, str, list[str]]]:
    """compare's rows for the targets the runs measured: (label, baseline cell of the first run, cells),
    the rows of each target type from its module's COMPARE_ROWS."""
    def cell(f: Optional[dict], key: str, unit: str) -> str:
        return targets.fmt_compare(None if f is None else f.get(key), unit, missing)

    names: dict[str, str] = {}
    for r in runs:
        for name, f in r["targets"]["result"].items():
            names.setdefault(name, f.get("type", ""))
    rows = []
    for name, typ in names.items():
        for key, label, unit in targets.compare_rows(typ):
            base = runs[0]["targets"]["baseline"].get(name)
            rows.append((f"{name}: {label}", cell(base, key, unit),
                         [cell(r["targets"]["result"].get(name), key, unit) for r in runs]))
    return rows
