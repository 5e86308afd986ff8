"""report.html: one self-contained page (no external URL; plots are data: SVGs) with report.md's tables
and the two plots, in the page shell shared with search.html (report/page.py).

The result comes first: under the verdict, the result's figures (zipped size, ratio to the baseline, the
metric and its change, latency) as tiles that fit a phone. In the results table the Result column stays
pinned at the right edge (and the row labels at the left) while the columns between them scroll; every
other wide table scrolls in its own box under a "swipe sideways" cue, and each plot fits the column."""
from __future__ import annotations

import html
from typing import Optional

from . import figures
from .figures import path_label
from .format import fmt_drop, fmt_int, fmt_metric, fmt_ms, fmt_ratio, fmt_speed
from .gates import verdict
from .page import CSS as CSS  # noqa: F401 - re-exported: the page style, as before report/page.py
from .page import page_head, plot_figure, scroll_box
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

#: the cue above the results table when it is wider than the screen
RESULTS_CUE = "\u21c6 The Result column stays at the right: swipe the table for the baseline, PTQ and stages."


def result_figures_html(report: dict) -> str:
    """The result's headline figures as tiles (``<dl id="result-figures">``): zipped size (with the raw
    size and what zip saves on this file), how many times smaller than the float32 baseline's zip, the
    metric and its change, and the latency with its speedup."""
    e = html.escape
    res = report["result"]
    saved = figures.measurement_saved_percent(res)
    drop = figures.result_accuracy_drop(report)
    base_zip = (report.get("baseline") or {}).get("compressed_bytes")
    tiles = [
        ("zipped size", f"{fmt_int(res.get('compressed_bytes'))} B",
         f"raw {fmt_int(res.get('tflite_bytes'))} B" + (f"; zip saves {saved:.2f}% of this file" if saved is not None else "")),
        ("vs float32 baseline", f"{fmt_ratio(figures.compression_ratio(report))} smaller",
         f"zipped {fmt_int(base_zip)} → {fmt_int(res.get('compressed_bytes'))} B"),
        (str(report["metric"]["name"]), fmt_metric(report, res.get("accuracy")),
         fmt_drop(report, drop) + " vs baseline" if drop is not None else "not measured against the baseline"),
        ("latency (median)", f"{fmt_ms(res.get('latency_ms'))} ms", fmt_speed(figures.speedup(report))),
    ]
    cells = "".join(f'<div><dt>{e(name)}</dt><dd class="value">{e(value)}</dd><dd class="sub">{e(sub)}</dd></div>'
                    for name, value, sub in tiles)
    return f'<dl class="figures" id="result-figures" aria-label="Result figures">{cells}</dl>'


def _plots(report: dict, densities: Optional[dict]) -> list[str]:
    """The size-vs-metric plot and the weight-density plot (or why there is none), each fitting the column."""
    e = html.escape
    metric = report["metric"]["name"]
    parts = [f"<h2>Size vs {e(metric)}</h2>"]
    parts.append(plot_figure(
        f'<img id="size-accuracy-plot" alt="Scatter plot of zipped .tflite size against {e(metric)} for the baseline, '
        f'PTQ, stages and result" src="data:image/svg+xml;base64,{size_accuracy_png(report, fmt="svg")}">',
        "Zipped size (x, log scale) against the metric (y). Stage points use the Keras model's metric and appear "
        "only where the stage was converted and sized.", "size-accuracy-box"))
    parts.append("<h2>Weight density</h2>")
    svg = density_png(densities, fmt="svg") if densities else None
    if svg:
        layer = str(densities.get("layer", "a kernel"))
        labels = ", ".join(str(s.get("label", "")) for s in densities.get("series", []))
        parts.append(plot_figure(
            f'<img id="density-plot" alt="Histograms of the weight values of {e(layer)} after each stage '
            f'({e(labels)})" src="data:image/svg+xml;base64,{svg}">',
            "Histogram of one kernel's values per stage (240 bins, log count): pruning shows as a spike at zero, "
            "clustering as a few discrete values.", "density-box"))
    else:
        parts.append('<p class="meta">No weight data was given for a density plot.</p>')
    return parts


def render_html(report: dict, densities: Optional[dict] = None) -> str:
    """One self-contained page (no external URL; plots are data: SVGs) with the Markdown report's tables,
    the weight-density plot (id="density-plot", when `densities` is given) and the size-vs-accuracy
    plot (id="size-accuracy-plot"); the verdict (id="verdict") and the result's figures
    (id="result-figures") come first."""
    e = html.escape
    res = report["result"]
    parts: list[str] = page_head(f"optimize-cli: {report['recipe']['name']}")
    parts.append(f"<h1>optimize-cli: {e(report['recipe']['name'])}</h1>")
    parts.append(f'<p class="path">{e(path_label(report))}</p>')
    badge = '<span class="badge pass">PASSED</span>' if report["passed"] else '<span class="badge fail">FAILED</span>'
    parts.append(f'<p class="summary" id="verdict">{badge} {e(verdict(report))}</p>')
    parts.append(result_figures_html(report))
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
    parts.append(scroll_box(results_table(report).html("results"), "pinned", RESULTS_CUE))
    parts.append('<ul class="notes">' + "".join(f"<li>{e(n)}</li>" for n in results_footnotes(report)) + "</ul>")
    parts += targets_html(report, e)
    parts += training_html(report, e)
    parts += _plots(report, densities)

    if report.get("checks"):
        parts.append("<h2>Checks</h2><ul class=\"checks\">")
        for c in report["checks"]:
            if c["passed"]:
                parts.append(f'<li class="ok"><b>{e(c["name"])}</b>: {e(c["message"])}</li>')
            else:
                parts.append(f'<li class="bad">⚠ {e(c["name"])}: FAILED — {e(c["message"])}</li>')
        parts.append("</ul>")

    parts.append("<h2>Gates</h2>")
    parts.append(scroll_box(gates_table(report).html("gates")) if report.get("gates")
                 else '<p class="meta">No gates configured (recipe <code>gates:</code>).</p>')

    parts.append("<h2>Layers of the result</h2>")
    if res.get("layers"):
        parts.append(scroll_box(layers_table(report).html("layers")))
        parts.append('<p class="meta">Measured in the .tflite weight buffers (not in Keras).</p>')
    else:
        parts.append('<p class="meta">No weight tensors reported.</p>')
    sk = skipped_table(report)
    if sk:
        parts.append("<h2>Skipped layers</h2>" + scroll_box(sk.html("skipped")))
    parts.append("<h2>Provenance</h2>")
    parts.append(scroll_box(provenance_table(report).html("provenance")))
    parts.append("</body></html>")
    return "\n".join(parts)
