"""Figures derived from a report, defined once and read by report.md / report.html and by `compare`:
the path label, the result's sparsity and max unique weights (per output channel, without the layers a
stage skipped), the saved percent, compression ratio, speedup and accuracy drop.

Every function accepts any report.json dict (compare reads files it did not write): a missing or
non-numeric field gives None rather than an error.
"""
from __future__ import annotations

import math
from typing import Any, Optional

from .. import tree
from ..measure import metrics
from ..measure.metrics import accuracy_drop, higher_is_better, saved_percent
from ..tree import quant_label  # noqa: F401 - the export label, shown by tables and plots
from .format import fmt_sig


def number(v: Any) -> Optional[float]:
    """``v`` as a float; None for null, booleans, NaN and anything that is not a number. Tolerates
    {"median_ms": …} where a number is expected."""
    if isinstance(v, dict):
        v = v.get("median_ms", v.get("value"))
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _stages(report: dict) -> list[dict]:
    return [st for st in report.get("stages") or [] if isinstance(st, dict)]


def _layers(report: dict) -> list[dict]:
    return [lay for lay in (report.get("result") or {}).get("layers") or [] if isinstance(lay, dict)]


# ----------------------------------------------------------------------------------------- path


def stage_name(stage: dict) -> str:
    """A stage as shown in the path ("qat (PCQAT)"): tree.stage_name of its record."""
    return tree.stage_name(stage.get("type"), stage.get("scheme") or "")


def path_label(report: dict) -> str:
    """The tree path the run walked, e.g. "prune → cluster → qat (PCQAT) → int8" (tree.path_label)."""
    return tree.path_label([st for st in _stages(report) if st.get("type")],
                           (report.get("result") or {}).get("quantization"))


# ------------------------------------------------------------------------------ result weights


def skipped_names(report: dict) -> set[str]:
    """Names of the Keras layers any stage skipped (e.g. DepthwiseConv2D, which tfmot cannot cluster)."""
    return {s["name"] for st in _stages(report) for s in st.get("skipped_layers") or []
            if isinstance(s, dict) and s.get("name")}


def is_skipped(layer_name: str, skipped: set[str]) -> bool:
    """A .tflite tensor comes from a skipped Keras layer when the layer's name is one of its path parts
    (tensor names look like "sequential/depthwise_conv2d/depthwise")."""
    parts = set(str(layer_name).replace(";", "/").split("/"))
    return any(name in parts for name in skipped)


def result_sparsity(report: dict) -> Optional[float]:
    """Params-weighted sparsity of the result's weight tensors (measured in the .tflite buffers)."""
    layers = _layers(report)
    params = [number(lay.get("params")) for lay in layers]
    sparsity = [number(lay.get("sparsity")) for lay in layers]
    if not layers or any(p is None for p in params) or any(s is None for s in sparsity):
        return None
    total = sum(params)
    if not total:
        return None
    return sum(p * s for p, s in zip(params, sparsity, strict=True)) / total


def result_max_unique(report: dict) -> Optional[int]:
    """Max unique weights of the result: the most distinct values in one output channel of a weight
    tensor of the .tflite (int8 kernels are quantized per channel, so at most 256, and at most N after
    clustering to N), over the tensors of layers no stage skipped. Whole-tensor counts
    (``unique_weights``) are not this figure: a clustered int8 kernel shows more distinct values over
    the tensor than in any channel."""
    skipped = skipped_names(report)
    values = [number(lay.get("max_unique_per_channel")) for lay in _layers(report)
              if not is_skipped(lay.get("name", ""), skipped)]
    values = [int(v) for v in values if v is not None]
    return max(values) if values else None


# -------------------------------------------------------------------------- sizes and metric


def measurement_saved_percent(m: dict) -> Optional[float]:
    """A measurement's `compression_saved_percent`, or 100 * (1 - compressed / raw) from its bytes."""
    saved = number(m.get("compression_saved_percent"))
    raw, comp = number(m.get("tflite_bytes")), number(m.get("compressed_bytes"))
    if saved is None and raw and comp is not None:
        saved = saved_percent(raw, comp)
    return saved


def compression_ratio(report: dict) -> Optional[float]:
    """`result.compression_ratio`, or metrics.compression_ratio of the baseline and result compressed bytes."""
    base, res = report.get("baseline") or {}, report.get("result") or {}
    value = number(res.get("compression_ratio"))
    return value if value is not None else metrics.compression_ratio(
        number(base.get("compressed_bytes")), number(res.get("compressed_bytes")))


def speedup(report: dict) -> Optional[float]:
    """`result.speedup`, or metrics.speedup of the baseline and result median latency."""
    base, res = report.get("baseline") or {}, report.get("result") or {}
    value = number(res.get("speedup"))
    return value if value is not None else metrics.speedup(number(base.get("latency_ms")), number(res.get("latency_ms")))


def measurement_ratio(baseline: dict, m: dict) -> Optional[float]:
    """metrics.compression_ratio of a measurement (ptq_baseline) against the baseline."""
    return metrics.compression_ratio(number(baseline.get("compressed_bytes")), number(m.get("compressed_bytes")))


def measurement_speedup(baseline: dict, m: dict) -> Optional[float]:
    """metrics.speedup of a measurement (ptq_baseline) against the baseline."""
    return metrics.speedup(number(baseline.get("latency_ms")), number(m.get("latency_ms")))


def metric_higher_is_better(report: dict) -> bool:
    """`metric.higher_is_better`, or the direction of `metric.name`."""
    metric = report.get("metric") if isinstance(report.get("metric"), dict) else {}
    return bool(metric.get("higher_is_better", higher_is_better(metric.get("name"))))


def result_accuracy_drop(report: dict) -> Optional[float]:
    """`result.accuracy_drop`, or the drop from the baseline and result metric (positive = worse)."""
    base, res = report.get("baseline") or {}, report.get("result") or {}
    drop = number(res.get("accuracy_drop"))
    if drop is None:
        drop = accuracy_drop(number(base.get("accuracy")), number(res.get("accuracy")),
                             metric_higher_is_better(report))
    return drop


def deployable(report: dict) -> list[dict]:
    """Per target of the report (LiteRT first): {"name", "bytes", "ptq_bytes", "baseline_bytes", "ratio",
    "file"}: the deployable bytes of the result, of the int8 PTQ (None without one) and of the float32
    baseline, and result / int8 PTQ (metrics.deployable_ratio)."""
    res = report.get("result") or {}
    ptq = (report.get("ptq_baseline") or {}).get("targets") or {}
    base = (report.get("baseline") or {}).get("targets") or {}
    out = []
    for name, f in (res.get("targets") or {}).items():
        if not isinstance(f, dict) or number(f.get("deployable_bytes")) is None:
            continue
        p = number((ptq.get(name) or {}).get("deployable_bytes"))
        out.append({"name": name, "bytes": int(f["deployable_bytes"]), "ptq_bytes": None if p is None else int(p),
                    "baseline_bytes": number((base.get(name) or {}).get("deployable_bytes")),
                    "ratio": metrics.deployable_ratio(number(f["deployable_bytes"]), p),
                    "file": f.get("tflm_path") or f.get("vela_path") or res.get("path")})
    return out


def deployable_text(report: dict) -> str:
    """"litert 29,920 B (0.96 of int8 PTQ's 31,024 B) · tflm 14,864 B (0.53 of int8 PTQ's 28,032 B)"."""
    parts = []
    for d in deployable(report):
        vs = f" ({fmt_sig(d['ratio'])} of int8 PTQ's {d['ptq_bytes']:,} B)" if d["ratio"] is not None else ""
        parts.append(f"{d['name']} {d['bytes']:,} B{vs}")
    return " · ".join(parts)
