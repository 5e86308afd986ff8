"""`optimize-cli compare REPORT.json...`: one table across runs, laid out like the seed results tables —
one row per metric, a Baseline column (the first report's baseline) and one column per run.
Never imports TensorFlow."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Optional

from .errors import InputError

SCHEMA_VERSION = 1
_REQUIRED = ("baseline", "result")


def _load(path) -> dict:
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file")
    if p.is_dir():
        cand = p / "report.json"
        if not cand.is_file():
            raise InputError(f"{p}: a directory without report.json")
        p = cand
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{p}: cannot read ({getattr(e, 'strerror', None) or e})") from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(f"{p}: not valid JSON (line {e.lineno}: {e.msg})") from e
    if not isinstance(data, dict):
        raise InputError(f"{p}: not an optimize-cli report (expected a JSON object)")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise InputError(f"{p}: not an optimize-cli report.json with schema_version {SCHEMA_VERSION} "
                         f"(found schema_version {version!r})")
    for key in _REQUIRED:
        if not isinstance(data.get(key), dict):
            raise InputError(f"{p}: report has no {key!r} object")
    data["_file"] = str(p)
    return data


def _num(v: Any) -> Optional[float]:
    if isinstance(v, dict):  # tolerate {"median_ms": …} where a number is expected
        v = v.get("median_ms", v.get("value"))
    if isinstance(v, bool) or v is None:
        return None
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _sparsity(rep: dict) -> Optional[float]:
    res = rep.get("result", {})
    if _num(res.get("sparsity")) is not None:
        return _num(res.get("sparsity"))
    layers = [lay for lay in res.get("layers") or [] if isinstance(lay, dict)]
    if layers and all(_num(lay.get("params")) and _num(lay.get("sparsity")) is not None for lay in layers):
        total = sum(_num(lay["params"]) for lay in layers)
        return sum(_num(lay["params"]) * _num(lay["sparsity"]) for lay in layers) / total if total else None
    stages = rep.get("stages") or []
    if stages and isinstance(stages[-1], dict):
        return _num(stages[-1].get("sparsity"))
    return None


def _max_unique(rep: dict) -> Optional[int]:
    res = rep.get("result", {})
    v = _num(res.get("max_unique_weights"))
    if v is None:
        stages = rep.get("stages") or []
        v = _num(stages[-1].get("max_unique_weights")) if stages and isinstance(stages[-1], dict) else None
    return None if v is None else int(v)


def _path(rep: dict) -> str:
    types = [str(s.get("type")) for s in rep.get("stages") or [] if isinstance(s, dict) and s.get("type")]
    q = rep.get("result", {}).get("quantization") or "none"
    return " → ".join(types + [f"tflite({q})"])


def _run_figures(rep: dict, name: str) -> dict:
    base, res = rep["baseline"], rep["result"]
    bc, rc = _num(base.get("compressed_bytes")), _num(res.get("compressed_bytes"))
    rb = _num(res.get("tflite_bytes"))
    bl, rl = _num(base.get("latency_ms")), _num(res.get("latency_ms"))
    saved = _num(res.get("compression_saved_percent"))
    if saved is None and rb and rc is not None:
        saved = 100.0 * (1.0 - rc / rb)
    ratio = _num(res.get("compression_ratio"))
    if ratio is None and bc and rc:
        ratio = bc / rc
    speedup = _num(res.get("speedup"))
    if speedup is None and bl and rl:
        speedup = bl / rl
    acc, bacc = _num(res.get("accuracy")), _num(base.get("accuracy"))
    metric = rep.get("metric") if isinstance(rep.get("metric"), dict) else {}
    higher = metric.get("higher_is_better", metric.get("name") not in ("mae", "mse"))
    drop = _num(res.get("accuracy_drop"))
    if drop is None and acc is not None and bacc is not None:
        drop = (bacc - acc) if higher else (acc - bacc)
    recipe = rep.get("recipe") or {}
    return {
        "name": name,
        "report": rep["_file"],
        "metric": metric.get("name") or "accuracy",
        "recipe": recipe.get("name"),
        "path": _path(rep),
        "quantization": res.get("quantization"),
        "accuracy": acc,
        "accuracy_drop": drop,
        "tflite_bytes": None if rb is None else int(rb),
        "compressed_bytes": None if rc is None else int(rc),
        "compression_saved_percent": saved,
        "compression_ratio": ratio,
        "sparsity": _sparsity(rep),
        "max_unique_weights": _max_unique(rep),
        "latency_ms": rl,
        "speedup": speedup,
        "passed": rep.get("passed"),
        "baseline": {
            "accuracy": bacc,
            "tflite_bytes": None if _num(base.get("tflite_bytes")) is None else int(_num(base["tflite_bytes"])),
            "compressed_bytes": None if bc is None else int(bc),
            "latency_ms": bl,
        },
    }


def _names(reports: list) -> list:
    names = []
    for rep in reports:
        recipe = rep.get("recipe") or {}
        names.append(str(recipe.get("name") or Path(rep["_file"]).parent.name or Path(rep["_file"]).stem))
    # disambiguate repeated recipe names by their run directory, then by position
    base = list(names)
    for i, n in enumerate(base):
        parent = Path(reports[i]["_file"]).parent.name
        if base.count(n) > 1 and parent and parent != n:
            names[i] = f"{n} ({parent})"
    dup = list(names)
    seen: dict = {}
    for i, n in enumerate(dup):
        if dup.count(n) > 1:
            seen[n] = seen.get(n, 0) + 1
            names[i] = f"{n} #{seen[n]}"
    return names


# ------------------------------------------------------------------------------------- Markdown


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def _f_int(v) -> str:
    return "–" if v is None else f"{int(v):,}"


def _f_acc(v) -> str:
    return "–" if v is None else f"{v:.4f}"


def _f_drop(v) -> str:
    return "–" if v is None else f"{v:+.4f}"


def _f_pct(v) -> str:
    return "–" if v is None else f"{100.0 * v:.1f}%"


def _f_x(v) -> str:
    return "–" if v is None else f"{v:.2f}x"


def _f_ms(v) -> str:
    return "–" if v is None else (f"{v:.3f}" if v < 10 else f"{v:.1f}")


def _f_comp(b, saved) -> str:
    if b is None:
        return "–"
    return f"{int(b):,}" + ("" if saved is None else f" ({saved:.2f}%)")


def _markdown(runs: list, first: dict) -> str:
    b = first["baseline"]
    bsaved = None
    if b["tflite_bytes"] and b["compressed_bytes"] is not None:
        bsaved = 100.0 * (1.0 - b["compressed_bytes"] / b["tflite_bytes"])
    metrics = {r["metric"] for r in runs}
    label = "Accuracy" if metrics == {"accuracy"} else (
        f"Metric ({first['metric']})" if len(metrics) == 1 else "Metric (" + ", ".join(sorted(metrics)) + ")")
    rows = [
        ("Path", "float32 TFLite", [r["path"] for r in runs]),
        (label, _f_acc(b["accuracy"]), [_f_acc(r["accuracy"]) for r in runs]),
        (f"{label} drop", "–", [_f_drop(r["accuracy_drop"]) for r in runs]),
        ("TFLite bytes", _f_int(b["tflite_bytes"]), [_f_int(r["tflite_bytes"]) for r in runs]),
        ("Compressed bytes (saved)", _f_comp(b["compressed_bytes"], bsaved),
         [_f_comp(r["compressed_bytes"], r["compression_saved_percent"]) for r in runs]),
        ("Compression ratio", _f_x(1.0), [_f_x(r["compression_ratio"]) for r in runs]),
        ("Sparsity", "–", [_f_pct(r["sparsity"]) for r in runs]),
        ("Max unique weights", "–", [_f_int(r["max_unique_weights"]) for r in runs]),
        ("Latency (ms)", _f_ms(b["latency_ms"]), [_f_ms(r["latency_ms"]) for r in runs]),
        ("Speedup", _f_x(1.0) if b["latency_ms"] else "–", [_f_x(r["speedup"]) for r in runs]),
    ]
    header = ["", "Baseline"] + [r["name"] for r in runs]
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |",
             "|---|" + "---:|" * (len(header) - 1)]
    for label, base_cell, cells in rows:
        lines.append("| " + " | ".join(_cell(c) for c in [label, base_cell] + cells) + " |")
    notes = []
    for r in runs[1:]:
        rb = r["baseline"]
        if (rb["tflite_bytes"], rb["accuracy"]) != (b["tflite_bytes"], b["accuracy"]):
            notes.append(f"{r['name']} was measured against a different baseline (accuracy "
                         f"{_f_acc(rb['accuracy'])}, {_f_int(rb['tflite_bytes'])} bytes); its ratio, drop and "
                         f"speedup are relative to its own baseline.")
    if notes:
        lines.append("")
        lines.extend(f"Note: {n}" for n in notes)
    return "\n".join(lines)


def compare_reports(paths, as_json: bool = False) -> str:
    """Read report.json files (schema_version 1; a run directory is read as DIR/report.json) and render one
    table across runs: Markdown (rows = metrics; columns = Baseline from the first report, then one per
    run named by recipe.name) or, with ``as_json``, a JSON list with one object of the same figures per run.
    Raises InputError naming the file when one is missing or is not a report."""
    paths = list(paths)
    if not paths:
        raise InputError("compare: no report.json given")
    reports = [_load(p) for p in paths]
    names = _names(reports)
    runs = [_run_figures(rep, n) for rep, n in zip(reports, names, strict=True)]
    if as_json:
        return json.dumps(runs, indent=2)
    return _markdown(runs, runs[0])


__all__ = ["compare_reports"]
