"""`optimize-cli compare REPORT.json...`: one table across runs, laid out like the seed results tables —
one row per metric, a Baseline column (the first report's baseline) and one column per run.
Never imports TensorFlow."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Optional

from .errors import InputError, RecipeError
from .measure.metrics import FRACTION_METRICS
from .models.files import path_problem, read_bounded
from .report.figures import (
    compression_ratio,
    deployable,
    measurement_saved_percent,
    number,
    path_label,
    result_accuracy_drop,
    result_max_unique,
    result_sparsity,
    speedup,
)
from .report.format import (
    fmt_change,
    fmt_compressed,
    fmt_int,
    fmt_ms,
    fmt_pct,
    fmt_points,
    fmt_ratio,
    fmt_sig,
    fmt_speed,
    fmt_value,
    text_width,
)
from .report.schema import SCHEMA_VERSION
from .report.targets import compare_target_figures, compare_target_rows

_REQUIRED = ("baseline", "result")


#: the largest report.json compare reads (a real one is a few KB)
MAX_REPORT_BYTES = 64 * 2**20
#: digits of the largest integer a report may hold (float64 reaches 1.8e308)
_MAX_DIGITS = 300


class NotAReport(RecipeError, InputError):
    """A file given to compare is missing, not JSON or not a report: a usage error (exit 2). Still an
    InputError for callers that catch that."""


class _TooLarge(Exception):
    pass


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_DIGITS:
        raise _TooLarge(f"an integer of {len(text.lstrip('-'))} digits")
    return int(text)


def _parse_float(text: str) -> float:
    f = float(text)
    if not math.isfinite(f):
        raise _TooLarge(f"the number {text[:40]}")
    return f


def _report_file(p: Path) -> Path:
    """`p` or, for a run directory, its report.json: a regular file (never a device or a FIFO)."""
    why = path_problem(p)
    if why is not None:
        if why.startswith("no such"):
            raise NotAReport(f"{p}: no such file")
        raise InputError(f"{p}: {why}")  # a device, a FIFO, unreadable: it cannot be loaded (exit 3)
    if p.is_dir():
        cand = p / "report.json"
        if path_problem(cand, dir_ok=False) is not None:
            raise NotAReport(f"{p}: a directory without report.json")
        return cand
    return p


def _load(path) -> dict:
    p = _report_file(Path(path))
    try:
        text = read_bounded(p, MAX_REPORT_BYTES, "report").decode("utf-8")
    except UnicodeDecodeError as e:
        raise NotAReport(f"{p}: cannot read ({e})") from e
    try:
        data = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_float)
    except json.JSONDecodeError as e:
        raise NotAReport(f"{p}: not valid JSON (line {e.lineno}: {e.msg})") from e
    except _TooLarge as e:
        raise InputError(f"{p}: not an optimize-cli report: it holds {e}, beyond any figure a run records") from None
    except RecursionError:
        raise NotAReport(f"{p}: not an optimize-cli report (JSON nested too deeply)") from None
    if not isinstance(data, dict):
        raise NotAReport(f"{p}: not an optimize-cli report (expected a JSON object)")
    version = data.get("schema_version")
    if version != SCHEMA_VERSION:
        raise NotAReport(f"{p}: not an optimize-cli report.json with schema_version {SCHEMA_VERSION} "
                         f"(found schema_version {version!r})")
    for key in _REQUIRED:
        if not isinstance(data.get(key), dict):
            raise NotAReport(f"{p}: report has no {key!r} object")
    data["_file"] = str(p)
    return data


def _int(v: Any) -> Optional[int]:
    f = number(v)
    return None if f is None or not math.isfinite(f) else int(f)


def _run_figures(rep: dict, name: str) -> dict:
    """The figures of one run, each read from report/figures.py like report.md's."""
    base, res = rep["baseline"], rep["result"]
    metric = rep.get("metric") if isinstance(rep.get("metric"), dict) else {}
    recipe = rep.get("recipe") or {}
    return {
        "name": name,
        "report": rep["_file"],
        "metric": metric.get("name") or "accuracy",
        "recipe": recipe.get("name"),
        "path": path_label(rep),
        "quantization": res.get("quantization"),
        "accuracy": number(res.get("accuracy")),
        "accuracy_drop": result_accuracy_drop(rep),
        "tflite_bytes": _int(res.get("tflite_bytes")),
        "compressed_bytes": _int(res.get("compressed_bytes")),
        "compression_saved_percent": measurement_saved_percent(res),
        "compression_ratio": compression_ratio(rep),
        "sparsity": result_sparsity(rep),
        "max_unique_weights": result_max_unique(rep),
        "latency_ms": number(res.get("latency_ms")),
        "speedup": speedup(rep),
        "passed": rep.get("passed"),
        "targets": compare_target_figures(rep),
        "deployable": {d["name"]: {"bytes": d["bytes"], "ptq_bytes": d["ptq_bytes"], "ratio": d["ratio"]}
                       for d in deployable(rep)},
        "baseline": {
            "accuracy": number(base.get("accuracy")),
            "tflite_bytes": _int(base.get("tflite_bytes")),
            "compressed_bytes": _int(base.get("compressed_bytes")),
            "latency_ms": number(base.get("latency_ms")),
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


# ---------------------------------------------------------------------------------- rendering

#: missing value in compare's table (report.md uses "—")
MISSING = "–"
#: latency decimals in compare's table: "0.250", "12.3"
COMPARE_MS = ((10, 3), (math.inf, 1))
#: what `compare --format` accepts
FORMATS = ("md", "table", "json")


def _cell(s: str) -> str:
    return s.replace("|", "\\|").replace("\n", " ")


def _f_metric(v, metric: str) -> str:
    """A metric value as report.md shows it: an accuracy as percent ("95.37%")."""
    return fmt_value(v, metric in FRACTION_METRICS, MISSING)


def _f_change(d, metric: str) -> str:
    """A metric change as report.md words it: "worse by 1.37 pts"."""
    return fmt_change(d, lambda v: fmt_points(v, metric in FRACTION_METRICS), MISSING)


def _f_int(v) -> str:
    return fmt_int(v, MISSING)


def _f_x(v) -> str:
    return fmt_ratio(v, MISSING, sign="x")


def _deployable_rows(runs: list) -> list:
    """"Deployable bytes, <target>": what each runtime loads, with the fraction of the int8 PTQ's figure."""
    names = list(dict.fromkeys(n for r in runs for n in r["deployable"]))

    def cell(d) -> str:
        if d is None:
            return MISSING
        return f"{d['bytes']:,}" + (f" ({fmt_sig(d['ratio'])} of PTQ)" if d["ratio"] is not None else "")
    return [(f"Deployable bytes, {n}", MISSING, [cell(r["deployable"].get(n)) for r in runs]) for n in names]


def _grid(runs: list, first: dict) -> tuple[list[str], list[tuple[str, str, list[str]]], list[str]]:
    """(header, rows of (label, baseline cell, run cells), notes): what both renderings show."""
    b = first["baseline"]
    bsaved = measurement_saved_percent({"tflite_bytes": b["tflite_bytes"], "compressed_bytes": b["compressed_bytes"]})
    metrics = {r["metric"] for r in runs}
    label = "Accuracy" if metrics == {"accuracy"} else (
        f"Metric ({first['metric']})" if len(metrics) == 1 else "Metric (" + ", ".join(sorted(metrics)) + ")")
    rows = [
        ("Path", "float32 TFLite", [r["path"] for r in runs]),
        *_deployable_rows(runs),
        (label, _f_metric(b["accuracy"], first["metric"]), [_f_metric(r["accuracy"], r["metric"]) for r in runs]),
        (f"{label} vs baseline", MISSING, [_f_change(r["accuracy_drop"], r["metric"]) for r in runs]),
        ("TFLite bytes", _f_int(b["tflite_bytes"]), [_f_int(r["tflite_bytes"]) for r in runs]),
        ("Compressed bytes (saved)", fmt_compressed(b["compressed_bytes"], bsaved, MISSING),
         [fmt_compressed(r["compressed_bytes"], r["compression_saved_percent"], MISSING) for r in runs]),
        ("Compression ratio", _f_x(1.0), [_f_x(r["compression_ratio"]) for r in runs]),
        ("Sparsity", MISSING, [fmt_pct(r["sparsity"], MISSING) for r in runs]),
        ("Max unique weights", MISSING, [_f_int(r["max_unique_weights"]) for r in runs]),
        ("Latency (ms)", fmt_ms(b["latency_ms"], MISSING, COMPARE_MS), [fmt_ms(r["latency_ms"], MISSING, COMPARE_MS) for r in runs]),
        ("Speedup / slowdown", fmt_speed(1.0, MISSING, "x") if b["latency_ms"] else MISSING,
         [fmt_speed(r["speedup"], MISSING, "x") for r in runs]),
        *compare_target_rows(runs, MISSING),
    ]
    notes = []
    for r in runs[1:]:
        rb = r["baseline"]
        if (rb["tflite_bytes"], rb["accuracy"]) != (b["tflite_bytes"], b["accuracy"]):
            notes.append(f"{r['name']} was measured against a different baseline (accuracy "
                         f"{_f_metric(rb['accuracy'], r['metric'])}, {_f_int(rb['tflite_bytes'])} bytes); its ratio, change and "
                         f"speedup are relative to its own baseline.")
    return ["", "Baseline"] + [r["name"] for r in runs], rows, notes


def _markdown(runs: list, first: dict) -> str:
    header, rows, notes = _grid(runs, first)
    lines = ["| " + " | ".join(_cell(h) for h in header) + " |",
             "|---|" + "---:|" * (len(header) - 1)]
    for label, base_cell, cells in rows:
        lines.append("| " + " | ".join(_cell(c) for c in [label, base_cell] + cells) + " |")
    if notes:
        lines.append("")
        lines.extend(f"Note: {n}" for n in notes)
    return "\n".join(lines)


def _table(runs: list, first: dict, width: Optional[int] = None) -> str:
    """An aligned terminal table (rich): labels on the left, figures right-aligned, cells never split
    inside a word; wider than the terminal, the columns wrap between words. A run's name (a column
    header) is not split either while the names fit: rich's layout first, and where it would fold a name,
    the run columns as wide as their names' longest words (the others wrap to make room)."""
    import io

    from rich.console import Console
    from rich.text import Text

    header, rows, notes = _grid(runs, first)
    mins = [max(text_width(w) for w in h.split() or [""]) for h in header[1:]]
    words = [w for h in header[1:] for w in h.split()]
    for fixed in (None, mins):
        buf = io.StringIO()
        console = Console(file=buf, width=width or 200, highlight=False, no_color=True, soft_wrap=False)
        console.print(_rich_grid(header, rows, fixed))
        shown = set(buf.getvalue().split())
        if all(w in shown for w in words):
            break
    for n in notes:
        console.print(Text(f"Note: {n}"), soft_wrap=True)
    return "\n".join(line.rstrip() for line in buf.getvalue().rstrip("\n").splitlines())


def _rich_grid(header: list[str], rows: list, widths: Optional[list[int]]):
    """The rich Table of `_table`; `widths`: the run columns' fixed widths (None: rich chooses)."""
    from rich.table import Table
    from rich.text import Text

    t = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    t.add_column(header[0], overflow="fold")
    for i, h in enumerate(header[1:]):
        t.add_column(h, justify="right", overflow="fold", width=None if widths is None or i == 0 else widths[i])
    for label, base_cell, cells in rows:
        t.add_row(*(Text(c) for c in [label, base_cell] + cells))
    return t


def compare_reports(paths, as_json: bool = False, fmt: str = "md", width: Optional[int] = None) -> str:
    """Read report.json files (schema_version 1; a run directory is read as DIR/report.json) and render one
    table across runs (rows = metrics; columns = Baseline from the first report, then one per run named by
    recipe.name): ``fmt`` "md" a Markdown table, "table" an aligned terminal table ``width`` columns wide,
    "json" (or ``as_json``) a JSON list with one object of the same figures per run.
    Raises NotAReport (exit 2) naming the file when one is missing or is not a report, InputError (exit 3)
    for a report holding an impossible figure."""
    paths = list(paths)
    if not paths:
        raise InputError("compare: no report.json given")
    reports = [_load(p) for p in paths]
    names = _names(reports)
    runs = [_run_figures(rep, n) for rep, n in zip(reports, names, strict=True)]
    if as_json or fmt == "json":
        return json.dumps(runs, indent=2)
    if fmt == "table":
        return _table(runs, runs[0], width)
    return _markdown(runs, runs[0])


__all__ = ["FORMATS", "NotAReport", "compare_reports"]
