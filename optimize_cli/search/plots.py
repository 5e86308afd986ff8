"""search.html's plots, in the reports' house style (report/plots.py: matplotlib, Agg, SVG with text as
text): the trials' size against accuracy drop with the gate drawn and the Pareto front highlighted
(inline SVG, each trial a <g> with a <title> tooltip), and the per-layer sensitivity heatmap."""
from __future__ import annotations

import html
import re
from typing import Optional

from ..report.plots import encoded, new_figure
from .tables import is_fraction, kind, params_text, sensitivity_columns, show, size_key

#: kind → (marker, face colour, label)
STYLES = {
    "feasible": ("o", "#55a868", "passed every gate"),
    "infeasible": ("o", "#c44e52", "missed a gate"),
    "pruned": ("v", "#dd8452", "pruned (stopped early)"),
    "failed": ("X", "#1f2328", "failed"),
    "other": ("s", "#8c8c8c", "interrupted / running"),
}


def plain(text: str) -> str:
    """Text that matplotlib draws as written (a `$` would start mathtext)."""
    return str(text).replace("$", r"\$")


def _y_key(doc: dict) -> str:
    has_drop = any((r.get("figures") or {}).get("accuracy_drop") is not None for r in doc["trials"])
    return "accuracy_drop" if has_drop else "accuracy"


def _gate(doc: dict, name: str) -> Optional[float]:
    for r in doc["trials"]:
        for g in r.get("gates") or []:
            if g.get("name") == name and isinstance(g.get("limit"), (int, float)):
                return float(g["limit"])
    return None


def tooltip(r: dict, doc: dict) -> str:
    """A trial's hover text: number, state, gates, figures, parameters, reason."""
    fraction = is_fraction(doc.get("metric"))
    head = f"trial {r['number']:04d}: {r['state']}"
    if r["state"] == "complete":
        head += ", gates passed" if r["passed"] else ", missed a gate"
    if r["number"] == doc["recommended"]:
        head += " (recommended)"
    figs = r.get("figures") or {}
    lines = [head] + [f"{k} = {show(k, figs[k], fraction)}" for k in
                      ("compressed_bytes", "tflite_bytes", "accuracy", "accuracy_drop", "latency_ms")
                      if figs.get(k) is not None]
    lines += params_text(r, "\n").splitlines()
    if r.get("seconds") is not None:
        lines.append(f"{r['seconds']:.1f} s")
    if r.get("reason"):
        lines.append(f"reason: {r['reason']}")
    return "\n".join(lines)


def _point(ax, r: dict, x: float, y: float, size: float = 70) -> None:
    marker, color, _ = STYLES[kind(r)]
    ax.scatter([x], [y], marker=marker, s=size, color=color, edgecolor="white", linewidth=0.8, zorder=3,
               gid=f"trial-{r['number']:04d}")


def front_plot(doc: dict) -> Optional[str]:
    """The front plot as SVG text (no XML prolog: ready to inline), each trial's marker a
    <g id="trial-NNNN"> with its <title>; None when no trial has any figure to draw."""
    from matplotlib.lines import Line2D
    from matplotlib.ticker import FuncFormatter

    xk, yk = size_key(doc["objectives"]), _y_key(doc)
    fraction = is_fraction(doc.get("metric"))
    scale = 100.0 if fraction else 1.0
    placed, unplaced = [], []
    for r in doc["trials"]:
        figs = r.get("figures") or {}
        (placed if figs.get(xk) is not None and figs.get(yk) is not None else unplaced).append(r)
    if not doc["trials"]:
        return None
    fig = new_figure(figsize=(10, 5.6 if unplaced else 4.8))
    if unplaced:
        ax, strip = fig.subplots(2, 1, gridspec_kw={"height_ratios": [6, 1]})
    else:
        ax, strip = fig.subplots(), None
    xy = {r["number"]: ((r["figures"][xk]) / 1024, r["figures"][yk] * scale) for r in placed}
    front = [n for n in doc["pareto"] if n in xy]
    if front:
        pts = sorted(xy[n] for n in front)
        ax.step([p[0] for p in pts], [p[1] for p in pts], where="post", color="#4c72b0", linewidth=1.2,
                linestyle="--", zorder=2)
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=260, facecolor="none", edgecolor="#4c72b0",
                   linewidth=1.6, zorder=4)
        for n in front:
            ax.annotate(f"{n:04d}", xy[n], textcoords="offset points", xytext=(9, 7), fontsize=8.5, color="#4c72b0")
    for r in placed:
        _point(ax, r, *xy[r["number"]])
    best = doc["recommended"]
    if best in xy:
        ax.scatter([xy[best][0]], [xy[best][1]], marker="*", s=420, color="#e3a21a", edgecolor="#1f2328",
                   linewidth=0.8, zorder=5, gid=f"trial-{best:04d}-best")
        ax.annotate(f"recommended {best:04d}", xy[best], textcoords="offset points", xytext=(0, -18),
                    ha="center", fontsize=9, fontweight="bold", color="#1f2328")
    handles = [Line2D([], [], marker=STYLES[k][0], linestyle="", color=STYLES[k][1], markersize=8, label=STYLES[k][2])
               for k in STYLES if any(kind(r) == k for r in doc["trials"])]
    handles.append(Line2D([], [], marker="o", linestyle="--", color="#4c72b0", markerfacecolor="none", markersize=11,
                          label="Pareto front"))
    if best is not None:
        handles.append(Line2D([], [], marker="*", linestyle="", color="#e3a21a", markeredgecolor="#1f2328",
                              markersize=13, label="recommended"))
    _gates(ax, doc, xk, yk, scale, fraction, handles)
    ax.legend(handles=handles, fontsize=8.5, loc="best", framealpha=0.9)
    ax.set_xlabel(f"{xk} (KiB) — left is smaller")
    ylabel = {"accuracy_drop": "accuracy drop" + (" (points)" if fraction else ""),
              "accuracy": "accuracy" + (" (%)" if fraction else "")}[yk]
    ax.set_ylabel(ylabel + (" — lower is better" if yk == "accuracy_drop" else ""))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.1f}"))
    ax.set_title(f"Search {plain(doc['study'])}: {len(doc['trials'])} trials, {xk} against {yk}", fontsize=11)
    ax.margins(x=0.08, y=0.12)
    ax.set_axisbelow(True)
    ax.grid(color="#eeeeee", linewidth=0.6)
    if not placed:
        ax.text(0.5, 0.5, "no trial measured a size and an accuracy", transform=ax.transAxes, ha="center")
    if strip is not None:
        _strip(strip, unplaced)
    fig.tight_layout()
    return with_tooltips(svg_text(fig), {f"trial-{r['number']:04d}": tooltip(r, doc) for r in doc["trials"]}
                         | ({f"trial-{best:04d}-best": tooltip(_by_number(doc, best), doc)} if best in xy else {}))


def _by_number(doc: dict, n: int) -> dict:
    return next(r for r in doc["trials"] if r["number"] == n)


def _gates(ax, doc, xk, yk, scale, fraction, handles) -> None:
    """The gates the plot's axes can show, as lines: max_accuracy_drop (y) and max_compressed_bytes (x)."""
    from matplotlib.lines import Line2D

    drop = _gate(doc, "max_accuracy_drop") if yk == "accuracy_drop" else None
    if drop is not None:
        ax.axhline(drop * scale, color="#cf222e", linewidth=1.2, linestyle="-", zorder=1)
        handles.append(Line2D([], [], color="#cf222e", label=f"gate max_accuracy_drop {show(yk, drop, fraction)}"))
    size = _gate(doc, "max_compressed_bytes") if xk == "compressed_bytes" else None
    if size is not None:
        ax.axvline(size / 1024, color="#cf222e", linewidth=1.2, linestyle=":", zorder=1)
        handles.append(Line2D([], [], color="#cf222e", linestyle=":", label=f"gate max_compressed_bytes {size:,.0f}"))


def _strip(ax, trials: list[dict]) -> None:
    """Trials without a size and an accuracy (failed, pruned, interrupted), by trial number."""
    for r in trials:
        _point(ax, r, r["number"], 0)
    from matplotlib.ticker import MaxNLocator

    ax.set_yticks([])
    ax.set_ylim(-1, 1)
    ns = [r["number"] for r in trials]
    ax.set_xlim(min(ns) - 1, max(ns) + 1)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial number — trials without a measured size and accuracy (failed, pruned, interrupted)",
                  fontsize=9)
    ax.tick_params(labelsize=8)


def svg_text(fig) -> str:
    """The figure's SVG without its XML prolog and DOCTYPE (to inline in HTML)."""
    import base64

    svg = base64.b64decode(encoded(fig, "svg")).decode("utf-8")
    return re.sub(r"\s*<metadata>.*?</metadata>", "", svg[svg.index("<svg"):], count=1, flags=re.S)


def with_tooltips(svg: str, titles: dict[str, str]) -> str:
    """Each `<g id="ID">` of `titles` gets its <title> (the browser's hover tooltip), escaped."""
    def add(m: re.Match) -> str:
        text = titles.get(m.group(1))
        return m.group(0) + (f"<title>{html.escape(text)}</title>" if text is not None else "")

    return re.sub(r'<g id="([^"]+)">', add, svg)


def sensitivity_plot(sens: dict) -> Optional[str]:
    """Base64 SVG: a heatmap of the drop per layer (rows) and pruning sparsity / cluster count (columns)."""
    import numpy as np

    layers, cols = sens.get("layers") or [], sensitivity_columns(sens)
    if not layers or not cols:
        return None
    fraction = is_fraction({"name": sens.get("metric")})
    scale = 100.0 if fraction else 1.0
    grid = np.array([[((layer.get(k) or {}).get(lv)) for k, lv, _ in cols] for layer in layers], dtype=float) * scale
    fig = new_figure(figsize=(max(6.0, 1.0 * len(cols) + 3.5), 0.38 * len(layers) + 1.9))
    ax = fig.subplots()
    finite = grid[np.isfinite(grid)]
    top = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    im = ax.imshow(np.nan_to_num(grid, nan=0.0), cmap="Reds", vmin=0, vmax=top, aspect="auto")
    for i in range(grid.shape[0]):
        for j in range(grid.shape[1]):
            v = grid[i, j]
            text = "—" if not np.isfinite(v) else f"{v:.2f}" if fraction else f"{v:.3g}"
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if np.isfinite(v) and v > 0.6 * top else "#1f2328")
    ax.set_xticks(range(len(cols)), [plain(h) for _, _, h in cols], fontsize=8.5)
    ax.set_yticks(range(len(layers)), [plain(layer.get("name")) for layer in layers], fontsize=8.5)
    ax.xaxis.tick_top()
    bar = fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    bar.set_label("drop (points)" if fraction else "drop", fontsize=9)
    ax.set_title(f"Per-layer sensitivity: drop of {plain(sens.get('metric', 'the metric'))} with one layer alone "
                 "pruned or clustered", fontsize=10, pad=22)
    fig.tight_layout()
    return encoded(fig, "svg")
