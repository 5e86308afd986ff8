"""search.html: one self-contained page (no external URL) in report.html's shell (report/page.py): the
front plot (inline SVG; tapping or clicking a trial's point opens its details), the trial table, the
sensitivity heatmap and table when the study had a sensitivity pre-pass, and the search space.
Everything shown is escaped.

The trial table shows on a phone what decides a trial: its number, its outcome, the size, the first
objective and the accuracy drop; every row opens on a tap (or a click, Enter or Space on its number) into
the trial's details: state, every figure, gates, seconds, parameters, reason and its report."""
from __future__ import annotations

import html

from ..report.page import PHONE_MAX_PX, page_head, plot_figure, scroll_box
from .plots import front_plot, sensitivity_plot
from .tables import is_fraction, kind, params_text, sensitivity_caption, sensitivity_table, show, size_key, trials_table

_EXTRA_CSS = """
table.trials { width: 100%; } table.trials td:first-child { white-space: nowrap; }
table.trials td:nth-last-child(-n+2) { min-width: 12em; }
table.trials td.feasible { color: var(--ok); font-weight: 700; } table.trials td.infeasible { color: var(--bad); }
table.trials td.failed { color: var(--bad); font-weight: 700; } table.trials td.pruned { color: var(--warn); }
table.trials tbody tr.trial { background: #fff; cursor: pointer; }
table.trials tbody tr.trial:hover, table.trials tbody tr.trial.opened { background: #f3f7fd; }
table.trials button.open { font: inherit; color: inherit; background: none; border: 0; padding: 0; cursor: pointer;
                           text-align: left; white-space: nowrap; }
table.trials button.open::after { content: " \\25b8"; color: var(--muted); }
table.trials tr.opened button.open::after { content: " \\25be"; }
table.trials tr.details > td { background: var(--alt); padding: 8px 12px; }
.js table.trials tr.details:not(.open) { display: none; }
dl.trial-details { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 2px 14px; margin: 0; }
dl.trial-details dt { color: var(--muted); } dl.trial-details dd { margin: 0; overflow-wrap: anywhere; white-space: pre-line; }
table.trials .phone, table.trials .short { display: none; }
#front-plot g[id^="trial-"] { cursor: pointer; }
.badge.none { background: var(--warn); }
@media (max-width: %(phone)dpx) {
  table.trials .wide, table.trials .long { display: none; }
  table.trials .phone { display: table-cell; } table.trials .short { display: inline; }
  table.trials td:nth-last-child(-n+2) { min-width: 0; }
}
""".replace("%(phone)d", str(PHONE_MAX_PX))

_SCRIPT = """
function optimizeCliTrial(number, open) {
  var row = document.getElementById('trial-' + number + '-row');
  var details = document.getElementById('trial-' + number + '-details');
  if (!row || !details) return null;
  var show = open === undefined ? !details.classList.contains('open') : open;
  details.classList.toggle('open', show);
  row.classList.toggle('opened', show);
  var button = row.querySelector('button.open');
  if (button) button.setAttribute('aria-expanded', show ? 'true' : 'false');
  if (typeof optimizeCliCues === 'function') optimizeCliCues();
  return row;
}
document.addEventListener('click', function (ev) {
  if (!ev.target.closest) return;
  var row = ev.target.closest('tr.trial');
  if (row) { optimizeCliTrial(row.getAttribute('data-trial')); return; }
  var point = ev.target.closest('#front-plot g[id^="trial-"]');
  if (point) {
    var opened = optimizeCliTrial(point.id.slice(6, 10), true);
    if (opened) opened.scrollIntoView({block: 'center'});
  }
});
"""

#: the trial table's columns a phone shows, and their short headers there
_SHORT = {"compressed_bytes": "zip bytes", "tflite_bytes": "bytes", "accuracy_drop": "drop", "accuracy": "metric",
          "latency_ms": "ms"}
#: a trial's outcome in one word or two (the phone's column instead of state and gates)
_OUTCOME = {"feasible": "passed", "infeasible": "missed a gate", "pruned": "pruned", "failed": "failed"}


def _phone_columns(doc: dict, headers: list[str]) -> set[str]:
    """The columns that stay on a phone: the trial, the size, the first objective and the accuracy drop."""
    keep = {"trial", size_key(doc["objectives"]), "accuracy_drop", *doc["objectives"][:1]}
    return {h for h in headers if h in keep}


def _details(r: dict, doc: dict, headers: list[str], row: list[str]) -> str:
    """The trial's details: every column of its row, the figures the table leaves out, and its report."""
    e = html.escape
    items = [(h, c) for h, c in zip(headers, row, strict=True) if h not in ("trial", "parameters")]
    figs = r.get("figures") or {}
    items += [(k, show(k, figs[k], is_fraction(doc.get("metric")))) for k in ("tflite_bytes", "latency_ms")
              if k not in headers and figs.get(k) is not None]
    params = params_text(r, "\n")
    if params:
        items.append(("parameters", params))
    if r.get("duplicate_of") is not None:  # not run again: the report is the earlier trial's
        items.append(("report", f"trials/{r['duplicate_of']:04d}/report.html (the same recipe as trial "
                                f"{r['duplicate_of']:04d}; not run again)"))
    elif r.get("output"):
        items.append(("report", f"trials/{r['number']:04d}/report.html"))
    return '<dl class="trial-details">' + "".join(f"<dt>{e(k)}</dt><dd>{e(v) if v else '—'}</dd>" for k, v in items) + "</dl>"


def trials_html(doc: dict) -> str:
    """The trial table: one tappable row per trial (the columns a phone does not show carry class "wide"),
    each followed by its details row (id "trial-NNNN-details"), open when tapped."""
    e = html.escape
    table = trials_table(doc)
    phone = _phone_columns(doc, table.headers)

    def head(h: str, a: str) -> str:
        cls = ("num " if a == "r" else "") + ("" if h in phone else "wide")
        text = (f'<span class="long">{e(h)}</span><span class="short">{e(_SHORT[h])}</span>' if h in _SHORT and h in phone
                else e(h))
        return f'<th class="{cls.strip()}">{text}</th>'

    out = ['<table class="trials">', "<thead><tr>"]
    out += [head(h, a) for h, a in zip(table.headers, table.align, strict=True)]
    out.append('<th class="phone">outcome</th></tr></thead><tbody>')
    for r, row, classes in zip(doc["trials"], table.rows, table.classes or [], strict=True):
        n = f"{r['number']:04d}"
        cells = []
        for ci, (h, a, c) in enumerate(zip(table.headers, table.align, row, strict=True)):
            cls = " ".join(x for x in (classes[ci], "num" if a == "r" else "", "" if h in phone else "wide") if x)
            inner = (f'<button type="button" class="open" aria-expanded="false" aria-controls="trial-{n}-details">'
                     f"{e(c)}</button>" if ci == 0 else e(c))
            cells.append(f'<td class="{cls}">{inner}</td>')
        cells.append(f'<td class="phone {kind(r)}">{e(_OUTCOME.get(kind(r), str(r["state"])))}</td>')
        out.append(f'<tr class="trial {kind(r)}" id="trial-{n}-row" data-trial="{n}">' + "".join(cells) + "</tr>")
        out.append(f'<tr class="details" id="trial-{n}-details"><td colspan="{len(table.headers) + 1}">'
                   f"{_details(r, doc, table.headers, row)}</td></tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def render_search_html(doc: dict) -> str:
    """The page for a search.json document (with its optional "sensitivity" and "metric")."""
    e = html.escape
    best = doc["recommended"]
    counts: dict[str, int] = {}
    for r in doc["trials"]:
        counts[kind(r)] = counts.get(kind(r), 0) + 1
    words = {"feasible": "passed every gate", "infeasible": "missed a gate", "pruned": "pruned",
             "failed": "failed", "other": "interrupted or running"}
    parts = page_head(f"optimize-cli search: {doc['study']}", _EXTRA_CSS, _SCRIPT)
    parts.append(f"<h1>optimize-cli search: {e(str(doc['study']))}</h1>")
    badge = (f'<span class="badge pass">RECOMMENDED {best:04d}</span> <code>best.yaml</code>' if best is not None
             else '<span class="badge none">NOTHING RECOMMENDED</span> no trial passed every gate')
    parts.append(f'<p class="summary" id="verdict">{badge}</p>')
    parts.append(f'<p class="meta">Recipe <code>{e(str(doc["recipe"]))}</code> · sampler {e(str(doc["sampler"]))} · '
                 f'objectives (minimized): {e(", ".join(doc["objectives"]))} · {len(doc["trials"])} trials: '
                 + e(", ".join(f"{n} {words[k]}" for k, n in counts.items())) +
                 (" · interrupted" if doc.get("interrupted") else "") + "</p>")
    parts.append("<h2>Size against accuracy</h2>")
    svg = front_plot(doc)
    if svg:
        parts.append(plot_figure(svg, "Each trial is a point (tap or click it, or its row in the table below, for its "
                                 f"parameters and figures): {e(size_key(doc['objectives']))} (x) against the "
                                 "accuracy drop (y); the red line is the gate; circled points are the Pareto front over "
                                 "the objectives; the star is the recommended trial (the best on the first objective "
                                 "among those that pass every gate).", "front-plot"))
    else:
        parts.append('<p class="meta">No trial ran.</p>')
    parts.append("<h2>Trials</h2>")
    parts.append(scroll_box(trials_html(doc)))
    parts.append('<ul class="notes"><li>◆ recommended · ★ on the Pareto front.</li>'
                 "<li>Tap or click a trial for its details.</li>"
                 "<li>Each trial is a normal run in <code>trials/NNNN/</code> with its own report.</li></ul>")
    sens = doc.get("sensitivity")
    if sens and sens.get("layers"):
        parts.append("<h2>Per-layer sensitivity</h2>")
        plot = sensitivity_plot(sens)
        if plot:
            parts.append(plot_figure('<img id="sensitivity-plot" alt="Heatmap of the drop per layer and pruning '
                                     f'sparsity or cluster count" src="data:image/svg+xml;base64,{plot}">',
                                     e(sensitivity_caption(sens)), "sensitivity-box"))
        parts.append(scroll_box(sensitivity_table(sens).html("sensitivity")))
    space = (doc.get("space") or {}).get("params") or []
    if space:
        parts.append("<h2>Search space</h2><ul>")
        parts += [f"<li><code>{e(str(p.get('name')))}</code>: {e(_describe(p))}</li>" for p in space]
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _describe(p: dict) -> str:
    if p.get("kind") == "optional":
        return "stage on or off"
    if p.get("kind") == "choice":
        return "one of " + ", ".join(str(c) for c in p.get("choices") or [])
    return f"{p.get('kind')} in [{p.get('low')}, {p.get('high')}]" + (" (log)" if p.get("log") else "")
