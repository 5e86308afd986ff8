"""The report's plots as base64 PNG or SVG (matplotlib, Agg, imported lazily): the weight density of one
kernel per stage, and zipped size against the metric along the path. report.html embeds the SVGs
(sharp at any zoom, text kept as text); each title is built from what the plot draws."""
from __future__ import annotations

import base64
import io
from typing import Optional

from .figures import quant_label
from .format import fmt_metric, is_fraction_metric


def _mpl():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure


def _encoded(fig, fmt: str = "png") -> str:
    """The figure as base64 PNG (150 dpi) or SVG (text as <text>, no date: reproducible)."""
    import matplotlib

    buf = io.BytesIO()
    if fmt == "svg":
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "optimize-cli"}):
            fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    else:
        fig.savefig(buf, format="png", dpi=150, metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


def new_figure(**kwargs):
    """A matplotlib Figure (Agg, no pyplot state) in the house style's backend."""
    return _mpl()(**kwargs)


def encoded(fig, fmt: str = "png") -> str:
    """The figure as base64 PNG or SVG, as every plot of the reports is encoded."""
    return _encoded(fig, fmt)


def density_title(densities: dict) -> str:
    """"Weight density of dense: baseline, prune, cluster (log count)": the layer and the series drawn."""
    labels = [str(s.get("label", "")) for s in densities.get("series", [])]
    return f"Weight density of {densities.get('layer', 'a kernel')}: {', '.join(labels)} (log count)"


def size_accuracy_title(report: dict, pts: list[dict]) -> str:
    """The size plot's title, naming only the kinds of point it draws."""
    metric = report["metric"]["name"]
    known = [p for p in pts if p["acc"] is not None]
    if not known:
        return f"Zipped size along the path ({metric} not measured)"
    kinds = {p["kind"] for p in known}
    path = [name for kind, name in (("baseline", "baseline"), ("result", "result")) if kind in kinds]
    return f"Size vs {metric}: {' → '.join(path)}" + (" (PTQ int8 for reference)" if "ptq" in kinds else "")


_COLORS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]


def density_png(densities: dict, fmt: str = "png") -> Optional[str]:
    """Base64 PNG (or ``fmt="svg"``): one histogram of the kernel's values per series (log counts), stacked so the spike
    at zero after pruning and the discrete values after clustering stand out. None if no data."""
    import numpy as np

    series = []
    for s in densities.get("series", []):
        v = np.asarray(s.get("values"), dtype=np.float64).ravel()
        series.append((str(s.get("label", "")), v[np.isfinite(v)]))
    if not series:
        return None
    Figure = _mpl()
    nonempty = [v for _, v in series if v.size]
    spans = [float(v.max() - v.min()) for v in nonempty]
    shared = bool(nonempty) and min(spans) > 0 and max(spans) / min(spans) <= 4
    if shared:
        lo = min(float(v.min()) for v in nonempty)
        hi = max(float(v.max()) for v in nonempty)
    n = len(series)
    fig = Figure(figsize=(10, 1.55 * n + 0.9))
    axes = fig.subplots(n, 1, sharex=shared, sharey=True, squeeze=False)[:, 0]
    top = 1.0
    for i, ((label, v), ax) in enumerate(zip(series, axes, strict=True)):
        color = _COLORS[i % len(_COLORS)]
        if not v.size:
            ax.text(0.5, 0.5, "no values", transform=ax.transAxes, ha="center", va="center")
        else:
            a, b = (lo, hi) if shared else (float(v.min()), float(v.max()))
            if a == b:
                a, b = a - 0.5, b + 0.5
            counts, _, _ = ax.hist(v, bins=np.linspace(a, b, 241), histtype="stepfilled", log=True, color=color,
                                   alpha=0.85, edgecolor=color, linewidth=0.6)
            top = max(top, float(counts.max()))
            zeros = float(np.mean(v == 0))
            unique = int(np.unique(v).size)
            ax.text(0.995, 0.93, f"{v.size:,} values · zeros {100 * zeros:.1f}% · {unique:,} unique",
                    transform=ax.transAxes, ha="right", va="top", fontsize=9,
                    bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "#cccccc", "alpha": 0.9})
            ax.axvline(0, color="#888888", linewidth=0.6, linestyle=":")
        ax.set_ylabel("count", fontsize=9)
        ax.text(0.005, 0.93, label, transform=ax.transAxes, ha="left", va="top", fontsize=10, fontweight="bold",
                bbox={"boxstyle": "round,pad=0.25", "fc": "white", "ec": "none", "alpha": 0.85})
        ax.tick_params(labelsize=8)
        ax.set_axisbelow(True)
        ax.grid(axis="x", color="#e6e6e6", linewidth=0.6)
    for ax in axes:  # shared log y from one count to above the tallest spike, room for the labels
        ax.set_yscale("log")
        ax.set_ylim(0.7, top * 12)
    axes[-1].set_xlabel("weight value", fontsize=9)
    fig.suptitle(density_title(densities), fontsize=11)
    fig.tight_layout()
    return _encoded(fig, fmt)


def size_accuracy_points(report: dict) -> list[dict]:
    """(label, compressed bytes, accuracy, kind) for every .tflite of the run: the baseline, the int8 PTQ
    reference and the result (a stage's model is measured in Keras: it has no size of its own)."""
    pts = []
    base, ptq, res = report["baseline"], report.get("ptq_baseline"), report["result"]
    pts.append({"label": "baseline (float32)", "bytes": base["compressed_bytes"], "acc": base["accuracy"], "kind": "baseline"})
    if ptq:
        pts.append({"label": "PTQ int8", "bytes": ptq["compressed_bytes"], "acc": ptq["accuracy"], "kind": "ptq"})
    pts.append({"label": f"result ({quant_label(res['quantization'])})", "bytes": res["compressed_bytes"],
                "acc": res["accuracy"], "kind": "result"})
    return pts


def size_accuracy_png(report: dict, fmt: str = "png") -> str:
    """Base64 PNG (or ``fmt="svg"``): zipped size (x) against the metric (y) for baseline, PTQ and result.
    Without any measured metric it falls back to a bar chart of zipped sizes."""
    Figure = _mpl()
    pts = size_accuracy_points(report)
    metric = report["metric"]["name"]
    frac = is_fraction_metric(report)
    fig = Figure(figsize=(10, 4.6))
    ax = fig.subplots()
    styles = {"baseline": ("o", "#4c72b0"), "ptq": ("s", "#8172b3"), "result": ("*", "#c44e52")}
    known = [p for p in pts if p["acc"] is not None]
    if not known:
        ax.barh([p["label"] for p in pts], [p["bytes"] / 1024 for p in pts], color=[styles[p["kind"]][1] for p in pts])
        ax.invert_yaxis()
        ax.set_xlabel("zipped .tflite size (KiB)")
        ax.set_title(size_accuracy_title(report, pts), fontsize=11)
        for i, p in enumerate(pts):
            ax.text(p["bytes"] / 1024, i, f"  {p['bytes']:,} B", va="center", fontsize=9)
    else:
        def y_of(p):
            return 100 * p["acc"] if frac else p["acc"]

        # the path the run walked: baseline → result; PTQ int8 is a reference point
        path = [p for p in known if p["kind"] != "ptq"]
        ax.plot([p["bytes"] / 1024 for p in path], [y_of(p) for p in path], color="#aaaaaa", linewidth=1,
                linestyle="--", zorder=1)
        for p in known:
            marker, color = styles[p["kind"]]
            ax.scatter([p["bytes"] / 1024], [y_of(p)], marker=marker, s=300 if p["kind"] == "result" else 90,
                       color=color, zorder=3, edgecolor="white", linewidth=0.8)
        # labels: in order of size, alternately above and below, so neighbours do not collide
        for i, p in enumerate(sorted(known, key=lambda q: q["bytes"])):
            dy = 13 if i % 2 == 0 else -15
            ax.annotate(f"{p['label']}\n{p['bytes']:,} B · {fmt_metric(report, p['acc'])}", (p["bytes"] / 1024, y_of(p)),
                        textcoords="offset points", xytext=(0, dy), ha="center", fontsize=8.5,
                        va="bottom" if dy > 0 else "top", color=styles[p["kind"]][1] if p["kind"] == "result" else "#222222",
                        fontweight="bold" if p["kind"] == "result" else "normal")
        xs = [p["bytes"] / 1024 for p in known]
        ys = [y_of(p) for p in known]
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

        ax.set_xscale("log")
        lo, hi = min(xs), max(xs)
        ax.set_xlim(lo / 1.5, hi * 1.5)
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:.2g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("zipped .tflite size (KiB, log scale) — left is smaller")
        ax.set_ylabel(f"{metric} (%)" if frac else f"{metric} ({'higher' if report['metric']['higher_is_better'] else 'lower'} is better)")
        ax.set_title(size_accuracy_title(report, pts), fontsize=11)
        ylo, yhi = min(ys), max(ys)
        pad = max((yhi - ylo) * 0.4, abs(yhi) * 0.01 or 0.5)
        ax.set_ylim(ylo - pad, yhi + pad)
        ax.set_axisbelow(True)
        ax.grid(color="#eeeeee", linewidth=0.6)
    fig.tight_layout()
    return _encoded(fig, fmt)

