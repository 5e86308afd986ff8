"""report.html: one self-contained page (no external URL; plots are data: SVGs) with report.md's tables
and the two plots. On a phone every table scrolls inside its own box and the plots keep a readable size
(a plot narrower than 640 px scrolls too)."""
from __future__ import annotations

import html
from typing import Optional

from .figures import path_label
from .gates import verdict
from .plots import density_png, size_accuracy_png
from .tables import (
    gates_table,
    layers_table,
    provenance_table,
    result_sentence,
    results_footnotes,
    results_table,
    skipped_table,
)
from .targets import targets_html
from .training import filters_summary, training_html

_CSS = """
:root { --fg:#1f2328; --muted:#59636e; --line:#d1d9e0; --bg:#ffffff; --alt:#f6f8fa; --ok:#1a7f37; --bad:#cf222e; --warn:#9a6700; }
* { box-sizing: border-box; }
body { font: 14px/1.5 -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; color: var(--fg);
       background: var(--bg); margin: 0; padding: 24px 32px 48px; max-width: 1240px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.path { font-size: 16px; font-weight: 600; margin: 0 0 8px; }
.meta { color: var(--muted); margin: 0 0 12px; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 12px; font-weight: 700; color: #fff; font-size: 13px; }
.badge.pass { background: var(--ok); } .badge.fail { background: var(--bad); }
.summary { margin: 8px 0 12px; }
.warning { border: 2px solid var(--bad); background: #ffebe9; border-radius: 6px; padding: 10px 14px; margin: 12px 0;
           font-weight: 600; }
table { border-collapse: collapse; margin: 8px 0; font-size: 13px; }
th, td { border: 1px solid var(--line); padding: 5px 10px; vertical-align: top; }
thead th { background: var(--alt); text-align: left; }
tbody tr:nth-child(even) { background: #fbfcfd; }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.results { width: 100%; }
table.results th, table.results td { padding: 5px 7px; }
table.results td.num, table.results thead th { white-space: normal; }
table.results tbody th { text-align: left; font-weight: 600; background: var(--alt); white-space: nowrap; }
table.results thead th:last-child, table.results td:last-child { background: #fff8e6; }
td.pass { color: var(--ok); font-weight: 700; } td.fail { color: var(--bad); font-weight: 700; }
ul.notes { color: var(--muted); font-size: 12.5px; margin: 4px 0 0; padding-left: 18px; }
ul.checks { list-style: none; padding-left: 0; } ul.checks li { margin: 4px 0; }
li.ok::before { content: "✔ "; color: var(--ok); font-weight: 700; }
li.bad { color: var(--bad); font-weight: 700; }
figure { margin: 12px 0; } figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
figcaption { color: var(--muted); font-size: 12.5px; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.scroll { overflow-x: auto; -webkit-overflow-scrolling: touch; max-width: 100%; }
.scroll > table { margin: 0; }
.plot img { min-width: 640px; width: 100%; }
@media (max-width: 700px) { body { padding: 12px 12px 32px; } table.results { width: auto; } }
"""


def _scroll(inner: str, cls: str = "") -> str:
    """A box that scrolls sideways on its own when its content is wider than the page (tables, plots)."""
    return f'<div class="scroll{" " + cls if cls else ""}">{inner}</div>'


#: the page style and scrolling box, shared with search.html
CSS, scroll_box = _CSS, _scroll



def render_html(report: dict, densities: Optional[dict] = None) -> str:
    """One self-contained page (no external URL; plots are data: SVGs) with the Markdown report's tables,
    the weight-density plot (id="density-plot", when `densities` is given) and the size-vs-accuracy
    plot (id="size-accuracy-plot")."""
    e = html.escape
    res = report["result"]
    metric = report["metric"]["name"]
    parts: list[str] = []
    parts.append("<!DOCTYPE html>")
    parts.append('<html lang="en"><head><meta charset="utf-8">')
    parts.append('<meta name="viewport" content="width=device-width, initial-scale=1">')
    parts.append(f"<title>optimize-cli: {e(report['recipe']['name'])}</title>")
    parts.append(f"<style>{_CSS}</style></head><body>")
    parts.append(f"<h1>optimize-cli: {e(report['recipe']['name'])}</h1>")
    parts.append(f'<p class="path">{e(path_label(report))}</p>')
    badge = '<span class="badge pass">PASSED</span>' if report["passed"] else '<span class="badge fail">FAILED</span>'
    parts.append(f'<p class="summary">{badge} {e(verdict(report))}</p>')
    code = lambda text: f"<code>{e(text)}</code>"  # noqa: E731
    parts.append(f'<p class="meta">{result_sentence(report, code, e)} Model {code(report["model"]["path"])}.</p>')
    if filters_summary(report):
        parts.append(f'<p class="meta">Filter pruning: {e(filters_summary(report))}.</p>')
    for c in report.get("checks", []):
        if not c["passed"]:
            parts.append(f'<div class="warning" role="alert">⚠ WARNING: {e(c["name"])} — FAILED. {e(c["message"])}</div>')
    for w in report.get("warnings") or []:
        parts.append(f'<div class="warning" role="alert">⚠ {e(w["source"])}: {e(w["message"])}</div>')

    parts.append("<h2>Results</h2>")
    parts.append(_scroll(results_table(report).html("results")))
    parts.append('<ul class="notes">' + "".join(f"<li>{e(n)}</li>" for n in results_footnotes(report)) + "</ul>")
    parts += targets_html(report, e)
    parts += training_html(report, e)

    parts.append(f"<h2>Size vs {e(metric)}</h2>")
    parts.append('<figure><div class="scroll plot"><img id="size-accuracy-plot" '
                 f'alt="Scatter plot of zipped .tflite size against {e(metric)} for the baseline, PTQ, stages and result" '
                 f'src="data:image/svg+xml;base64,{size_accuracy_png(report, fmt="svg")}"></div>'
                 "<figcaption>Zipped size (x, log scale) against the metric (y). Stage points use the Keras "
                 "model's metric and appear only where the stage was converted and sized.</figcaption></figure>")

    parts.append("<h2>Weight density</h2>")
    svg = density_png(densities, fmt="svg") if densities else None
    if svg:
        layer = str(densities.get("layer", "a kernel"))
        labels = ", ".join(str(s.get("label", "")) for s in densities.get("series", []))
        parts.append(f'<figure><div class="scroll plot"><img id="density-plot" alt="Histograms of the weight values of '
                     f'{e(layer)} after each stage ({e(labels)})" src="data:image/svg+xml;base64,{svg}"></div>'
                     "<figcaption>Histogram of one kernel's values per stage (240 bins, log count): pruning shows as a "
                     "spike at zero, clustering as a few discrete values.</figcaption></figure>")
    else:
        parts.append('<p class="meta">No weight data was given for a density plot.</p>')

    if report.get("checks"):
        parts.append("<h2>Checks</h2><ul class=\"checks\">")
        for c in report["checks"]:
            if c["passed"]:
                parts.append(f'<li class="ok"><b>{e(c["name"])}</b>: {e(c["message"])}</li>')
            else:
                parts.append(f'<li class="bad">⚠ {e(c["name"])}: FAILED — {e(c["message"])}</li>')
        parts.append("</ul>")

    parts.append("<h2>Gates</h2>")
    parts.append(_scroll(gates_table(report).html("gates")) if report.get("gates")
                 else '<p class="meta">No gates configured (recipe <code>gates:</code>).</p>')

    parts.append("<h2>Layers of the result</h2>")
    if res.get("layers"):
        parts.append(_scroll(layers_table(report).html("layers")))
        parts.append('<p class="meta">Measured in the .tflite weight buffers (not in Keras).</p>')
    else:
        parts.append('<p class="meta">No weight tensors reported.</p>')
    sk = skipped_table(report)
    if sk:
        parts.append("<h2>Skipped layers</h2>" + _scroll(sk.html("skipped")))
    parts.append("<h2>Provenance</h2>")
    parts.append(_scroll(provenance_table(report).html("provenance")))
    parts.append("</body></html>")
    return "\n".join(parts)

