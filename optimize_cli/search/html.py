"""search.html: one self-contained page (no external URL) in report.html's style: the front plot (inline
SVG: hovering a trial shows its figures and parameters), the trial table, the sensitivity heatmap and
table when the study had a sensitivity pre-pass, and the search space. Everything shown is escaped."""
from __future__ import annotations

import html

from ..report.html import CSS, scroll_box
from .plots import front_plot, sensitivity_plot
from .tables import kind, sensitivity_caption, sensitivity_table, size_key, trials_table

_EXTRA_CSS = """
.plot svg { min-width: 640px; width: 100%; height: auto; border: 1px solid var(--line); border-radius: 4px; }
table.trials { width: 100%; } table.trials td:first-child { white-space: nowrap; } table.trials td:nth-last-child(-n+2) { min-width: 12em; }
table.trials td.feasible { color: var(--ok); font-weight: 700; } table.trials td.infeasible { color: var(--bad); }
table.trials td.failed { color: var(--bad); font-weight: 700; } table.trials td.pruned { color: var(--warn); }
.badge.none { background: var(--warn); }
"""


def render_search_html(doc: dict) -> str:
    """The page for a search.json document (with its optional "sensitivity" and "metric")."""
    e = html.escape
    best = doc["recommended"]
    counts: dict[str, int] = {}
    for r in doc["trials"]:
        counts[kind(r)] = counts.get(kind(r), 0) + 1
    words = {"feasible": "passed every gate", "infeasible": "missed a gate", "pruned": "pruned",
             "failed": "failed", "other": "interrupted or running"}
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>optimize-cli search: {e(str(doc['study']))}</title>",
             f"<style>{CSS}{_EXTRA_CSS}</style></head><body>",
             f"<h1>optimize-cli search: {e(str(doc['study']))}</h1>"]
    badge = (f'<span class="badge pass">RECOMMENDED {best:04d}</span> <code>best.yaml</code>' if best is not None
             else '<span class="badge none">NOTHING RECOMMENDED</span> no trial passed every gate')
    parts.append(f'<p class="summary">{badge}</p>')
    parts.append(f'<p class="meta">Recipe <code>{e(str(doc["recipe"]))}</code> · sampler {e(str(doc["sampler"]))} · '
                 f'objectives (minimized): {e(", ".join(doc["objectives"]))} · {len(doc["trials"])} trials: '
                 + e(", ".join(f"{n} {words[k]}" for k, n in counts.items())) +
                 (" · interrupted" if doc.get("interrupted") else "") + "</p>")
    parts.append("<h2>Size against accuracy</h2>")
    svg = front_plot(doc)
    if svg:
        parts.append(f'<figure><div class="scroll plot" id="front-plot">{svg}</div><figcaption>Each trial is a point '
                     f"(hover for its parameters and figures): {e(size_key(doc['objectives']))} (x) against the "
                     "accuracy drop (y); the red line is the gate; circled points are the Pareto front over the "
                     "objectives; the star is the recommended trial (the best on the first objective among those "
                     "that pass every gate).</figcaption></figure>")
    else:
        parts.append('<p class="meta">No trial ran.</p>')
    parts.append("<h2>Trials</h2>")
    parts.append(scroll_box(trials_table(doc).html("trials")))
    parts.append('<ul class="notes"><li>◆ recommended · ★ on the Pareto front.</li>'
                 "<li>Each trial is a normal run in <code>trials/NNNN/</code> with its own report.</li></ul>")
    sens = doc.get("sensitivity")
    if sens and sens.get("layers"):
        parts.append("<h2>Per-layer sensitivity</h2>")
        plot = sensitivity_plot(sens)
        if plot:
            parts.append('<figure><div class="scroll plot"><img id="sensitivity-plot" alt="Heatmap of the drop per '
                         f'layer and pruning sparsity or cluster count" src="data:image/svg+xml;base64,{plot}">'
                         f"</div><figcaption>{e(sensitivity_caption(sens))}</figcaption></figure>")
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
