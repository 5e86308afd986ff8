"""report.json, report.md and report.html (DESIGN.md, report.json contract, `schema_version: 1`).

Everything here works on the plain report dict the pipeline assembles (and, for the density plot, numpy
arrays); nothing imports TensorFlow. matplotlib is imported lazily, only by `render_html`.

Definitions used throughout (the same as DESIGN.md and the tfmot seed tables):

- `compressed_bytes`: ZIP_DEFLATED size of the .tflite; `compression_saved_percent` =
  `100 * (1 - compressed_bytes / tflite_bytes)`, shown as "528,128 → 434,879 (17.66%)".
- `compression_ratio` = `baseline.compressed_bytes / result.compressed_bytes`.
- `speedup` = `baseline.latency_ms / result.latency_ms`.
- `accuracy_drop` is positive when the result is worse: `baseline − result` for metrics where higher is
  better (accuracy, top_k_accuracy, binary_accuracy) and `result − baseline` for error metrics where lower
  is better (mae, mse). The `max_accuracy_drop` gate therefore reads the same way for every metric.
"""
from __future__ import annotations

import base64
import html
import io
import json
import math
import os
import sys
import unicodedata
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

from .errors import OptimizeError

SCHEMA_VERSION = 1
SCHEMA_FILE = "report.schema.json"

#: gate name → (report field in `result`, comparison). "max" passes when value <= limit.
GATE_FIELDS: dict[str, tuple[str, str]] = {
    "max_accuracy_drop": ("accuracy_drop", "max"),
    "min_compression_ratio": ("compression_ratio", "min"),
    "max_compressed_bytes": ("compressed_bytes", "max"),
    "max_latency_ms": ("latency_ms", "max"),
}
#: relative slack for float comparisons at a gate's boundary: 0.90 − 0.88 is 0.020000000000000018 in
#: binary floating point and must still pass `max_accuracy_drop: 0.02`.
GATE_REL_TOLERANCE = 1e-9

ACCURACY_METRICS = ("accuracy", "top_k_accuracy", "binary_accuracy")
ERROR_METRICS = ("mae", "mse")

Warn = Callable[[str], None]


class ReportError(OptimizeError):
    """The report dict does not match report.schema.json (a bug in whoever built it: exit 1)."""


# ----------------------------------------------------------------------------------- definitions


def saved_percent(tflite_bytes: int, compressed_bytes: int) -> float:
    """`100 * (1 - compressed / raw)`: how much ZIP_DEFLATED saves on the file."""
    return 100.0 * (1.0 - compressed_bytes / tflite_bytes)


def accuracy_drop(baseline: Optional[float], result: Optional[float], higher_is_better: bool = True) -> Optional[float]:
    """How much worse `result` is than `baseline`, positive = worse, in metric units (None if unknown)."""
    if baseline is None or result is None:
        return None
    return (baseline - result) if higher_is_better else (result - baseline)


# ----------------------------------------------------------------------------------------- schema


def load_schema() -> dict:
    """The JSON Schema (draft 2020-12) of report.json, shipped as package data."""
    text = None
    try:  # works from wheels and zips as well as from a source tree
        from importlib.resources import files

        text = files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, TypeError, AttributeError):
        pass
    if text is None:
        text = (Path(__file__).with_name(SCHEMA_FILE)).read_text(encoding="utf-8")
    return json.loads(text)


def _loc(path: Iterable[Any]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _schema_problems(report: Any, schema: dict) -> list[tuple[str, str]]:
    """(location, message) for every schema violation, first one first. Uses jsonschema when it is
    installed, else the small built-in validator below (which knows every keyword the schema uses)."""
    try:
        import jsonschema
    except ImportError:
        return _MiniValidator(schema).problems(report)
    validator = jsonschema.Draft202012Validator(schema)
    errors = list(validator.iter_errors(report))
    if not errors:
        return []
    best = jsonschema.exceptions.best_match(errors)
    ordered = [best] + sorted((e for e in errors if e is not best), key=lambda e: [str(p) for p in e.absolute_path])
    return [(_loc(e.absolute_path), e.message) for e in ordered]


class _MiniValidator:
    """The subset of JSON Schema 2020-12 that report.schema.json uses, for installs without jsonschema."""

    KEYWORDS = {
        "$schema", "$id", "$defs", "$ref", "title", "description", "type", "properties", "required",
        "additionalProperties", "items", "enum", "const", "minimum", "maximum", "exclusiveMinimum",
        "pattern", "minLength", "anyOf",
    }

    def __init__(self, root: dict):
        self.root = root

    def _resolve(self, ref: str) -> dict:
        if not ref.startswith("#/"):
            raise ValueError(f"only local $ref is supported, not {ref}")
        node: Any = self.root
        for part in ref[2:].split("/"):
            node = node[part]
        return node

    @staticmethod
    def _is(value: Any, typ: str) -> bool:
        if typ == "null":
            return value is None
        if typ == "boolean":
            return isinstance(value, bool)
        if typ == "integer":
            return (isinstance(value, int) and not isinstance(value, bool)) or (
                isinstance(value, float) and value.is_integer()
            )
        if typ == "number":
            return isinstance(value, (int, float)) and not isinstance(value, bool)
        if typ == "string":
            return isinstance(value, str)
        if typ == "array":
            return isinstance(value, list)
        if typ == "object":
            return isinstance(value, dict)
        raise ValueError(f"unknown type {typ}")

    def problems(self, value: Any, schema: Optional[dict] = None, path: tuple = ()) -> list[tuple[str, str]]:
        import re

        schema = self.root if schema is None else schema
        out: list[tuple[str, str]] = []
        if "$ref" in schema:
            out += self.problems(value, self._resolve(schema["$ref"]), path)
        if "anyOf" in schema:
            if not any(not self.problems(value, s, path) for s in schema["anyOf"]):
                out.append((_loc(path), f"{value!r} is not valid under any of the given schemas"))
        if "type" in schema:
            types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
            if not any(self._is(value, t) for t in types):
                shown = types[0] if len(types) == 1 else types
                out.append((_loc(path), f"{value!r} is not of type {shown!r}"))
                return out
        if "const" in schema and not (value == schema["const"] and type(value) is type(schema["const"])):
            out.append((_loc(path), f"{schema['const']!r} was expected"))
        if "enum" in schema and value not in schema["enum"]:
            out.append((_loc(path), f"{value!r} is not one of {schema['enum']!r}"))
        if self._is(value, "number"):
            if "minimum" in schema and value < schema["minimum"]:
                out.append((_loc(path), f"{value!r} is less than the minimum of {schema['minimum']!r}"))
            if "maximum" in schema and value > schema["maximum"]:
                out.append((_loc(path), f"{value!r} is greater than the maximum of {schema['maximum']!r}"))
            if "exclusiveMinimum" in schema and value <= schema["exclusiveMinimum"]:
                out.append((_loc(path), f"{value!r} is less than or equal to the minimum of {schema['exclusiveMinimum']!r}"))
        if isinstance(value, str):
            if "minLength" in schema and len(value) < schema["minLength"]:
                out.append((_loc(path), f"{value!r} is too short"))
            if "pattern" in schema and not re.search(schema["pattern"], value):
                out.append((_loc(path), f"{value!r} does not match {schema['pattern']!r}"))
        if isinstance(value, dict):
            for key in schema.get("required", []):
                if key not in value:
                    out.append((_loc(path), f"{key!r} is a required property"))
            props = schema.get("properties", {})
            for key, sub in props.items():
                if key in value:
                    out += self.problems(value[key], sub, path + (key,))
            extra = schema.get("additionalProperties", True)
            if extra is False:
                unexpected = [k for k in value if k not in props]
                if unexpected:
                    out.append((_loc(path), f"Additional properties are not allowed ({', '.join(map(repr, unexpected))} "
                                            f"{'was' if len(unexpected) == 1 else 'were'} unexpected)"))
        if isinstance(value, list) and "items" in schema:
            for i, item in enumerate(value):
                out += self.problems(item, schema["items"], path + (i,))
        return out


def _plain(value: Any, path: tuple = ()) -> Any:
    """A JSON-ready copy: numpy scalars and arrays become Python numbers and lists, tuples lists, Paths
    strings. NaN and infinity are refused (JSON cannot hold them) with the location named."""
    if isinstance(value, dict):
        return {str(k): _plain(v, path + (str(k),)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, path + (i,)) for i, v in enumerate(value)]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "tolist") and type(value).__module__ == "numpy":  # numpy scalar or array
        return _plain(value.tolist(), path)
    if isinstance(value, float) and not math.isfinite(value):
        raise ReportError(f"report does not match schema v{SCHEMA_VERSION}: at {_loc(path)}: {value} is not a "
                          "finite number (use null for an unknown value)")
    return value


def consistency_problems(report: dict) -> list[str]:
    """Derived fields that disagree with the numbers they are defined from (DESIGN.md definitions).

    Not schema errors: rounding is tolerated (saved % to 0.05 points, ratio and speedup to 2 %, the
    accuracy drop to 0.0005 metric units)."""
    out = []

    def close(a, b, abs_tol=0.05, rel_tol=0.0):
        return a is None or b is None or abs(a - b) <= max(abs_tol, rel_tol * abs(b))

    for key in ("baseline", "ptq_baseline", "result"):
        m = report.get(key)
        if not m:
            continue
        expect = saved_percent(m["tflite_bytes"], m["compressed_bytes"])
        if not close(m["compression_saved_percent"], expect):
            out.append(f"{key}.compression_saved_percent is {m['compression_saved_percent']:.2f} but "
                       f"100*(1-{m['compressed_bytes']}/{m['tflite_bytes']}) is {expect:.2f}")
    base, res = report["baseline"], report["result"]
    expect = base["compressed_bytes"] / res["compressed_bytes"]
    if not close(res["compression_ratio"], expect, 0.0, 0.02):
        out.append(f"result.compression_ratio is {res['compression_ratio']:.3f} but baseline/result compressed "
                   f"bytes is {expect:.3f}")
    expect = base["latency_ms"] / res["latency_ms"]
    if not close(res["speedup"], expect, 0.0, 0.02):
        out.append(f"result.speedup is {res['speedup']:.3f} but baseline/result latency is {expect:.3f}")
    expect = accuracy_drop(base["accuracy"], res["accuracy"], report["metric"]["higher_is_better"])
    if (expect is None) != (res["accuracy_drop"] is None) or not close(res["accuracy_drop"], expect, 5e-4):
        sign = "baseline - result" if report["metric"]["higher_is_better"] else "result - baseline (error metric)"
        out.append(f"result.accuracy_drop is {res['accuracy_drop']} but {sign} is {expect}")
    hib = report["metric"]["higher_is_better"]
    name = report["metric"]["name"]
    if (name in ACCURACY_METRICS and not hib) or (name in ERROR_METRICS and hib):
        out.append(f"metric.higher_is_better is {hib} for {name}")
    return out


def validate_report(report: dict, schema: Optional[dict] = None) -> list[str]:
    """Raise `ReportError` naming the first schema problem (and how many there are); otherwise return
    the consistency warnings (derived fields that disagree with their definition), usually []."""
    plain = _plain(report)
    problems = _schema_problems(plain, schema or load_schema())
    if problems:
        where, msg = problems[0]
        more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
        raise ReportError(f"report does not match schema v{SCHEMA_VERSION}: at {where}: {msg}{more}")
    return consistency_problems(plain)


# ------------------------------------------------------------------------------------------ gates


def evaluate_gates(gates: Any, report: dict) -> list[dict]:
    """One `{name, limit, value, passed}` per configured gate (a `None` limit = not configured), in the
    order of GATE_FIELDS. `value` is the measured `result` field; it is null and the gate fails when it
    was not measured (e.g. no eval data for `max_accuracy_drop`). Boundaries pass: a drop equal to
    `max_accuracy_drop`, a ratio equal to `min_compression_ratio`. Accepts a dict or a GatesConfig."""
    if gates is None:
        return []
    if hasattr(gates, "model_dump"):
        gates = gates.model_dump()
    unknown = [k for k in gates if k not in GATE_FIELDS]
    if unknown:
        raise ValueError(f"unknown gate {unknown[0]!r}; known gates: {', '.join(GATE_FIELDS)}")
    result = report.get("result") or {}
    out = []
    for name, (field, kind) in GATE_FIELDS.items():
        limit = gates.get(name)
        if limit is None:
            continue
        value = result.get(field)
        if value is None:
            passed = False
        else:
            slack = GATE_REL_TOLERANCE * max(1.0, abs(limit))
            passed = value <= limit + slack if kind == "max" else value >= limit - slack
        out.append({"name": name, "limit": limit, "value": value, "passed": bool(passed)})
    return out


# ------------------------------------------------------------------------------------- formatting


def _width(text: str) -> int:
    """Terminal cell width (wide East Asian characters and emoji count 2, combining marks 0)."""
    w = 0
    for ch in text:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        w += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return w


def fmt_int(n: Optional[int]) -> str:
    return "—" if n is None else f"{n:,}"


def fmt_bytes(raw: Optional[int], compressed: Optional[int]) -> str:
    """"528,128 → 434,879 (17.66%)": raw .tflite bytes → ZIP_DEFLATED bytes (saved %)."""
    if raw is None or compressed is None:
        return "—"
    return f"{raw:,} → {compressed:,} ({saved_percent(raw, compressed):.2f}%)"


def fmt_ratio(x: Optional[float]) -> str:
    return "—" if x is None else f"{x:.2f}×"


def fmt_ms(x: Optional[float]) -> str:
    if x is None:
        return "—"
    return f"{x:.3f}" if x < 1 else f"{x:.2f}" if x < 100 else f"{x:.1f}"


def fmt_pct(fraction: Optional[float]) -> str:
    return "—" if fraction is None else f"{100 * fraction:.1f}%"


def fmt_seconds(s: Optional[float]) -> str:
    if s is None:
        return "—"
    if s < 60:
        return f"{s:.1f} s"
    m, s = divmod(int(round(s)), 60)
    return f"{m} min {s:02d} s" if m < 60 else f"{m // 60} h {m % 60:02d} min"


def _is_fraction_metric(report: dict) -> bool:
    return report["metric"]["name"] in ACCURACY_METRICS


def fmt_metric(report: dict, v: Optional[float]) -> str:
    """Accuracy-type metrics as percent ("92.00%"), error metrics as plain numbers ("0.1234")."""
    if v is None:
        return "—"
    return f"{100 * v:.2f}%" if _is_fraction_metric(report) else f"{v:.4g}"


def fmt_drop(report: dict, d: Optional[float]) -> str:
    """A drop (positive = worse): percentage points for accuracy-type metrics, metric units otherwise."""
    if d is None:
        return "—"
    if _is_fraction_metric(report):
        return f"{100 * d:.2f} pts"
    return f"{d:.4g}"


def fmt_gate(report: dict, name: str, v: Optional[float]) -> str:
    if v is None:
        return "not measured"
    if name == "max_accuracy_drop":
        return fmt_drop(report, v) + (f" ({v:.4g})" if _is_fraction_metric(report) else "")
    if name == "min_compression_ratio":
        return fmt_ratio(v)
    if name == "max_compressed_bytes":
        return f"{int(v):,} B"
    if name == "max_latency_ms":
        return f"{fmt_ms(v)} ms"
    return f"{v:g}"


def _quant_label(q: str) -> str:
    return "float32" if q == "none" else q


def path_label(report: dict) -> str:
    """The tree path the run walked, e.g. "prune → cluster → qat (PCQAT) → int8"."""
    parts = []
    for st in report.get("stages", []):
        scheme = st.get("scheme") or ""
        if st["type"] == "qat" and scheme and scheme.upper() != "QAT":
            parts.append(f"qat ({scheme})")
        else:
            parts.append(st["type"])
    q = _quant_label(report["result"]["quantization"])
    if not parts:
        return "float32 (no optimization)" if q == "float32" else f"PTQ → {q}"
    return " → ".join(parts + [q])


def _result_sparsity(report: dict) -> Optional[float]:
    layers = report["result"].get("layers") or []
    total = sum(layer["params"] for layer in layers)
    if not total:
        return None
    return sum(layer["sparsity"] * layer["params"] for layer in layers) / total


def _skipped_names(report: dict) -> set[str]:
    return {s["name"] for st in report.get("stages", []) for s in st.get("skipped_layers", [])}


def _is_skipped(layer_name: str, skipped: set[str]) -> bool:
    """A .tflite tensor comes from a skipped Keras layer when the layer's name is one of its path parts
    (tensor names look like "sequential/depthwise_conv2d/depthwise")."""
    parts = set(layer_name.replace(";", "/").split("/"))
    return any(name in parts for name in skipped)


def _result_max_unique(report: dict) -> Optional[int]:
    """Largest unique-values-per-output-channel over the result's tensors that a stage did not skip."""
    skipped = _skipped_names(report)
    values = [layer["max_unique_per_channel"] for layer in report["result"].get("layers") or []
              if not _is_skipped(layer["name"], skipped)]
    return max(values) if values else None


# ------------------------------------------------------------------------- tables (shared by md/html)


class Table:
    """Headers, rows of cell strings and per-column alignment ("l" or "r"); rendered as Markdown or HTML."""

    def __init__(self, headers: list[str], rows: list[list[str]], align: Optional[str] = None,
                 classes: Optional[list[list[str]]] = None):
        self.headers = headers
        self.rows = rows
        self.align = align or "l" * len(headers)
        self.classes = classes  # optional per-cell CSS class (HTML only)

    def markdown(self) -> str:
        def cell(s: str) -> str:
            return str(s).replace("|", "\\|").replace("\n", " ")

        head = [cell(h) for h in self.headers]
        body = [[cell(c) for c in row] for row in self.rows]
        widths = [max([_width(head[i])] + [_width(r[i]) for r in body] + [3]) for i in range(len(head))]

        def line(cells):
            out = []
            for i, c in enumerate(cells):
                pad = " " * (widths[i] - _width(c))
                out.append(pad + c if self.align[i] == "r" else c + pad)
            return "| " + " | ".join(out) + " |"

        sep = "|" + "|".join(("-" * (w + 1) + ":") if a == "r" else (":" + "-" * (w + 1))
                             for w, a in zip(widths, self.align, strict=True)) + "|"
        return "\n".join([line(head), sep] + [line(r) for r in body])

    def html(self, table_class: str = "") -> str:
        e = html.escape
        cls = f' class="{table_class}"' if table_class else ""
        out = [f"<table{cls}>", "<thead><tr>"]
        out += [f'<th class="{"num" if a == "r" else ""}">{e(h)}</th>' for h, a in zip(self.headers, self.align, strict=True)]
        out.append("</tr></thead><tbody>")
        for ri, row in enumerate(self.rows):
            cells = []
            for ci, c in enumerate(row):
                classes = ["num"] if self.align[ci] == "r" else []
                if self.classes and self.classes[ri][ci]:
                    classes.append(self.classes[ri][ci])
                tag = "th" if ci == 0 and table_class == "results" else "td"
                cells.append(f'<{tag} class="{" ".join(classes)}">{_strip_md(e(c))}</{tag}>')
            out.append("<tr>" + "".join(cells) + "</tr>")
        out.append("</tbody></table>")
        return "\n".join(out)


def _strip_md(s: str) -> str:
    return s.replace("**", "")


def results_table(report: dict) -> Table:
    """The seed-style table: one column per model along the path, one row per measurement."""
    base, ptq, res = report["baseline"], report.get("ptq_baseline"), report["result"]
    hib = report["metric"]["higher_is_better"]
    stages = report.get("stages", [])
    metric = report["metric"]["name"]

    cols: list[dict] = []
    cols.append({"head": "Baseline (float32)", "scheme": "float32 TFLite", "m": base, "acc": base["accuracy"],
                 "keras": False, "ratio": 1.0, "speedup": 1.0, "sparsity": None, "unique": None, "seconds": None})
    if ptq:
        cols.append({
            "head": "PTQ int8", "scheme": "int8 post-training", "m": ptq, "acc": ptq["accuracy"], "keras": False,
            "ratio": base["compressed_bytes"] / ptq["compressed_bytes"], "speedup": base["latency_ms"] / ptq["latency_ms"],
            "sparsity": None, "unique": None, "seconds": None,
        })
    for st in stages:
        head = f"{st['index']}. {st['type']}"
        if st["type"] == "qat" and st.get("scheme"):
            head = f"{st['index']}. qat ({st['scheme']})" if st["scheme"].upper() != "QAT" else head
        m = {"tflite_bytes": st.get("tflite_bytes"), "compressed_bytes": st.get("compressed_bytes")}
        ratio = (base["compressed_bytes"] / m["compressed_bytes"]) if m["compressed_bytes"] else None
        cols.append({"head": head, "scheme": st.get("scheme") or "—", "m": m, "acc": st.get("keras_accuracy"),
                     "keras": True, "ratio": ratio, "speedup": None, "sparsity": st.get("sparsity"),
                     "unique": st.get("max_unique_weights"), "seconds": st.get("seconds")})
    cols.append({"head": f"Result ({_quant_label(res['quantization'])})", "scheme": f"{_quant_label(res['quantization'])} TFLite",
                 "m": res, "acc": res["accuracy"], "keras": False, "ratio": res["compression_ratio"],
                 "speedup": res["speedup"], "sparsity": _result_sparsity(report), "unique": _result_max_unique(report),
                 "seconds": None})

    def acc(c):
        s = fmt_metric(report, c["acc"])
        return s + " †" if c["keras"] and c["acc"] is not None else s

    def drop(c):
        if c is cols[-1] and res.get("accuracy_drop") is not None:
            return fmt_drop(report, res["accuracy_drop"])
        return fmt_drop(report, accuracy_drop(base["accuracy"], c["acc"], hib)) if c is not cols[0] else "—"

    def latency(c):
        m = c["m"]
        if m.get("latency_ms") is None:
            return "—"
        return f"{fmt_ms(m['latency_ms'])} / {fmt_ms(m.get('latency_p90_ms'))}"

    rows = [
        [metric] + [acc(c) for c in cols],
        [f"{metric} drop"] + [drop(c) for c in cols],
        ["size: raw → zip (saved)"] + [fmt_bytes(c["m"].get("tflite_bytes"), c["m"].get("compressed_bytes")) for c in cols],
        ["compression ratio"] + [fmt_ratio(c["ratio"]) for c in cols],
        ["latency median / p90 (ms)"] + [latency(c) for c in cols],
        ["speedup"] + [fmt_ratio(c["speedup"]) for c in cols],
        ["sparsity"] + [fmt_pct(c["sparsity"]) for c in cols],
        ["max unique weights ‡"] + [fmt_int(c["unique"]) for c in cols],
        ["stage time"] + [fmt_seconds(c["seconds"]) if c["seconds"] is not None else "—" for c in cols],
    ]
    return Table([""] + [c["head"] for c in cols], rows, "l" + "r" * len(cols))


def results_footnotes(report: dict) -> list[str]:
    m = report["metric"]
    samples = f" on {m['eval_samples']:,} eval samples" if m.get("eval_samples") else ""
    notes = [
        f"{m['name']} measured with the LiteRT interpreter{samples}; † = the stage's Keras model after its strip "
        "step. Sizes are bytes: raw .tflite → ZIP_DEFLATED (saved %); compression ratio = baseline zip / zip.",
        f"Latency: median / p90 of single inferences, {report['result']['threads']} thread(s); speedup = baseline "
        "median / median.",
        "‡ most distinct values in one output channel of a kernel (int8 kernels are quantized per channel), "
        "ignoring layers a stage skipped: in the Keras model for stages, in the .tflite weight buffers for the result.",
    ]
    schemes = [f"{st['index']}. {st['type']}: {st['scheme']}" for st in report.get("stages", []) if st.get("scheme")]
    if schemes:
        notes.insert(0, "Stages: " + " · ".join(schemes) + ".")
    if not m["higher_is_better"]:
        notes.insert(1, f"{m['name']} is an error metric (lower is better): the drop is result − baseline, so a "
                        "positive drop is always worse.")
    return notes


def gates_table(report: dict) -> Table:
    rows = []
    for g in report.get("gates", []):
        op = "≥" if GATE_FIELDS.get(g["name"], ("", "max"))[1] == "min" else "≤"
        rows.append([g["name"], f"{op} {fmt_gate(report, g['name'], g['limit'])}", fmt_gate(report, g["name"], g["value"]),
                     "PASS" if g["passed"] else "**FAIL**"])
    classes = [["", "", "", "pass" if g["passed"] else "fail"] for g in report.get("gates", [])]
    return Table(["gate", "limit", "measured", "verdict"], rows, "lrrl", classes)


def layers_table(report: dict) -> Table:
    skipped = _skipped_names(report)
    rows = []
    for layer in report["result"].get("layers") or []:
        name = layer["name"] + (" (skipped)" if _is_skipped(layer["name"], skipped) else "")
        rows.append([name, layer["op"], layer["dtype"], fmt_int(layer["params"]), fmt_pct(layer["sparsity"]),
                     fmt_int(layer["unique_weights"]), fmt_int(layer["max_unique_per_channel"])])
    return Table(["tensor", "op", "dtype", "params", "sparsity", "unique", "max / channel"], rows, "lllrrrr")


def skipped_table(report: dict) -> Optional[Table]:
    rows = []
    for st in report.get("stages", []):
        for s in st.get("skipped_layers", []):
            rows.append([f"{st['index']}. {st['type']}", s.get("name", ""), s.get("class", ""), s.get("reason", "")])
    return Table(["stage", "layer", "class", "reason"], rows) if rows else None


def provenance_table(report: dict) -> Table:
    v = report["versions"]
    rows = [
        ["optimize-cli", report["tool"]["version"]],
        ["tensorflow / tf_keras", f"{v['tensorflow']} / {v['tf_keras']}"],
        ["tfmot / litert", f"{v['tfmot']} / {v['litert']}"],
    ]
    rows += [[k, str(val)] for k, val in v.items() if k not in ("tensorflow", "tf_keras", "tfmot", "litert")]
    rows += [
        ["recipe", f"{report['recipe']['name']} ({report['recipe']['path']})"],
        ["recipe sha256", report["recipe"]["sha256"]],
        ["model", f"{report['model']['path']} ({report['model']['format']})"],
        ["metric", f"{report['metric']['name']}" + (f", {report['metric']['eval_samples']:,} eval samples"
                                                    if report["metric"].get("eval_samples") else ", not measured")],
        ["result", report["result"]["path"]],
    ]
    rows += [[f"stage {st['index']}. {st['type']}", fmt_seconds(st["seconds"])] for st in report.get("stages", [])]
    rows.append(["total time", fmt_seconds(report["seconds_total"])])
    return Table(["item", "value"], rows)


def _verdict(report: dict) -> str:
    gates = report.get("gates", [])
    failed = [g for g in gates if not g["passed"]]
    if not gates:
        return "no gates configured"
    if not failed:
        return f"{len(gates)} of {len(gates)} gates passed"
    what = ", ".join(
        f"{g['name']} {fmt_gate(report, g['name'], g['value'])} vs "
        f"{'≥' if GATE_FIELDS.get(g['name'], ('', 'max'))[1] == 'min' else '≤'} {fmt_gate(report, g['name'], g['limit'])}"
        for g in failed)
    return f"{len(failed)} of {len(gates)} gates failed: {what}"


# --------------------------------------------------------------------------------------- markdown


def render_markdown(report: dict) -> str:
    """report.md and the GitHub step summary: pipe tables padded so they also read well in a terminal."""
    res = report["result"]
    md: list[str] = []
    md.append(f"# optimize-cli: {report['recipe']['name']}")
    md.append("")
    md.append(f"**{path_label(report)}** · model `{report['model']['path']}` · "
              f"{'**PASSED**' if report['passed'] else '**FAILED**'} — {_verdict(report)}")
    md.append("")
    drop = res.get("accuracy_drop")
    md.append(f"Result `{res['path']}`: {fmt_bytes(res['tflite_bytes'], res['compressed_bytes'])} bytes, "
              f"{fmt_ratio(res['compression_ratio'])} smaller zipped than the float32 baseline, "
              f"{report['metric']['name']} {fmt_metric(report, res['accuracy'])}"
              + (f" ({fmt_drop(report, drop)} drop)" if drop is not None else "")
              + f", {fmt_ms(res['latency_ms'])} ms ({fmt_ratio(res['speedup'])} speedup).")
    failed = [c for c in report.get("checks", []) if not c["passed"]]
    for c in failed:
        md.append("")
        md.append(f"> **⚠ WARNING: {c['name']} — FAILED.** {c['message']}")
    md.append("")
    md.append("## Results")
    md.append("")
    md.append(results_table(report).markdown())
    md.append("")
    md += [f"- {n}" for n in results_footnotes(report)]
    if report.get("checks"):
        md.append("")
        md.append("## Checks")
        md.append("")
        for c in report["checks"]:
            md.append(f"- ✅ {c['name']}: {c['message']}" if c["passed"]
                      else f"- **⚠ {c['name']}: FAILED** — {c['message']}")
    md.append("")
    md.append("## Gates")
    md.append("")
    md.append(gates_table(report).markdown() if report.get("gates") else "No gates configured (recipe `gates:`).")
    md.append("")
    md.append("## Layers of the result")
    md.append("")
    if res.get("layers"):
        md.append(layers_table(report).markdown())
        md.append("")
        md.append("Measured in the .tflite weight buffers (not in Keras).")
    else:
        md.append("No weight tensors reported.")
    sk = skipped_table(report)
    if sk:
        md.append("")
        md.append("## Skipped layers")
        md.append("")
        md.append(sk.markdown())
    md.append("")
    md.append("## Provenance")
    md.append("")
    md.append(provenance_table(report).markdown())
    md.append("")
    return "\n".join(md)


# ------------------------------------------------------------------------------------------ plots


def _mpl():
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, metadata={"Software": None})
    return base64.b64encode(buf.getvalue()).decode("ascii")


_COLORS = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c"]


def density_png(densities: dict) -> Optional[str]:
    """Base64 PNG: one histogram of the kernel's values per series (log counts), stacked so the spike
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
    fig.suptitle(f"Weight density of {densities.get('layer', 'a kernel')}, per stage (log count)", fontsize=11)
    fig.tight_layout()
    return _png(fig)


def size_accuracy_points(report: dict) -> list[dict]:
    """(label, compressed bytes, accuracy, kind) for every model along the path whose size is known."""
    pts = []
    base, ptq, res = report["baseline"], report.get("ptq_baseline"), report["result"]
    pts.append({"label": "baseline (float32)", "bytes": base["compressed_bytes"], "acc": base["accuracy"], "kind": "baseline"})
    if ptq:
        pts.append({"label": "PTQ int8", "bytes": ptq["compressed_bytes"], "acc": ptq["accuracy"], "kind": "ptq"})
    for st in report.get("stages", []):
        if st.get("compressed_bytes"):
            pts.append({"label": f"{st['index']}. {st['type']} (Keras acc.)", "bytes": st["compressed_bytes"],
                        "acc": st.get("keras_accuracy"), "kind": "stage"})
    pts.append({"label": f"result ({_quant_label(res['quantization'])})", "bytes": res["compressed_bytes"],
                "acc": res["accuracy"], "kind": "result"})
    return pts


def size_accuracy_png(report: dict) -> str:
    """Base64 PNG: zipped size (x) against the metric (y) for baseline, PTQ, stages with a size, result.
    Without any measured metric it falls back to a bar chart of zipped sizes."""
    Figure = _mpl()
    pts = size_accuracy_points(report)
    metric = report["metric"]["name"]
    frac = _is_fraction_metric(report)
    fig = Figure(figsize=(10, 4.6))
    ax = fig.subplots()
    styles = {"baseline": ("o", "#4c72b0"), "ptq": ("s", "#8172b3"), "stage": ("D", "#55a868"), "result": ("*", "#c44e52")}
    known = [p for p in pts if p["acc"] is not None]
    if not known:
        ax.barh([p["label"] for p in pts], [p["bytes"] / 1024 for p in pts], color=[styles[p["kind"]][1] for p in pts])
        ax.invert_yaxis()
        ax.set_xlabel("zipped .tflite size (KiB)")
        ax.set_title(f"Zipped size along the path ({metric} not measured)", fontsize=11)
        for i, p in enumerate(pts):
            ax.text(p["bytes"] / 1024, i, f"  {p['bytes']:,} B", va="center", fontsize=9)
    else:
        def y_of(p):
            return 100 * p["acc"] if frac else p["acc"]

        # the path the run walked: baseline → stages with a size → result; PTQ int8 is a reference point
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
        ax.set_title(f"Size vs {metric}: baseline → stages → result (PTQ int8 for reference)", fontsize=11)
        ylo, yhi = min(ys), max(ys)
        pad = max((yhi - ylo) * 0.4, abs(yhi) * 0.01 or 0.5)
        ax.set_ylim(ylo - pad, yhi + pad)
        ax.set_axisbelow(True)
        ax.grid(color="#eeeeee", linewidth=0.6)
    fig.tight_layout()
    return _png(fig)


# ------------------------------------------------------------------------------------------- html

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
.scroll { overflow-x: auto; }
"""


def render_html(report: dict, densities: Optional[dict] = None) -> str:
    """One self-contained page (no external URL; plots are data: PNGs) with the Markdown report's tables,
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
    parts.append(f'<p class="summary">{badge} {e(_verdict(report))}</p>')
    drop = res.get("accuracy_drop")
    parts.append(
        f'<p class="meta">Result <code>{e(res["path"])}</code>: {e(fmt_bytes(res["tflite_bytes"], res["compressed_bytes"]))} '
        f"bytes, {e(fmt_ratio(res['compression_ratio']))} smaller zipped than the float32 baseline, {e(metric)} "
        f"{e(fmt_metric(report, res['accuracy']))}"
        + (f" ({e(fmt_drop(report, drop))} drop)" if drop is not None else "")
        + f", {e(fmt_ms(res['latency_ms']))} ms ({e(fmt_ratio(res['speedup']))} speedup). Model "
        f"<code>{e(report['model']['path'])}</code>.</p>")
    for c in report.get("checks", []):
        if not c["passed"]:
            parts.append(f'<div class="warning" role="alert">⚠ WARNING: {e(c["name"])} — FAILED. {e(c["message"])}</div>')

    parts.append("<h2>Results</h2>")
    parts.append('<div class="scroll">' + results_table(report).html("results") + "</div>")
    parts.append('<ul class="notes">' + "".join(f"<li>{e(n)}</li>" for n in results_footnotes(report)) + "</ul>")

    parts.append(f"<h2>Size vs {e(metric)}</h2>")
    parts.append('<figure><img id="size-accuracy-plot" '
                 f'alt="Scatter plot of zipped .tflite size against {e(metric)} for the baseline, PTQ, stages and result" '
                 f'src="data:image/png;base64,{size_accuracy_png(report)}">'
                 "<figcaption>Zipped size (x, log scale) against the metric (y). Stage points use the Keras "
                 "model's metric and appear only where the stage was converted and sized.</figcaption></figure>")

    parts.append("<h2>Weight density</h2>")
    png = density_png(densities) if densities else None
    if png:
        layer = str(densities.get("layer", "a kernel"))
        labels = ", ".join(str(s.get("label", "")) for s in densities.get("series", []))
        parts.append(f'<figure><img id="density-plot" alt="Histograms of the weight values of {e(layer)} after each '
                     f'stage ({e(labels)})" src="data:image/png;base64,{png}">'
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
    parts.append(gates_table(report).html("gates") if report.get("gates")
                 else '<p class="meta">No gates configured (recipe <code>gates:</code>).</p>')

    parts.append("<h2>Layers of the result</h2>")
    if res.get("layers"):
        parts.append('<div class="scroll">' + layers_table(report).html("layers") + "</div>")
        parts.append('<p class="meta">Measured in the .tflite weight buffers (not in Keras).</p>')
    else:
        parts.append('<p class="meta">No weight tensors reported.</p>')
    sk = skipped_table(report)
    if sk:
        parts.append("<h2>Skipped layers</h2>" + sk.html("skipped"))
    parts.append("<h2>Provenance</h2>")
    parts.append(provenance_table(report).html("provenance"))
    parts.append("</body></html>")
    return "\n".join(parts)


# ---------------------------------------------------------------------------------------- writing


def _stderr_warn(message: str) -> None:
    print(f"optimize-cli: warning: {message}", file=sys.stderr)


def _write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_reports(report: dict, out_dir: str | os.PathLike, densities: Optional[dict] = None,
                  warn: Optional[Warn] = None) -> dict[str, Path]:
    """Validate, then write report.json (indent 2), report.md and report.html into `out_dir`.

    Raises ReportError (nothing written) when the report breaks the schema; consistency warnings go to
    `warn` (default: a line on stderr). Returns {"json": path, "md": path, "html": path}."""
    warn = warn or _stderr_warn
    plain = _plain(report)
    for problem in validate_report(plain):
        warn(f"report: {problem}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
    md = render_markdown(plain)
    page = render_html(plain, densities)
    _write_text(paths["json"], json.dumps(plain, indent=2, ensure_ascii=False, allow_nan=False) + "\n")
    _write_text(paths["md"], md)
    _write_text(paths["html"], page)
    return paths


def append_github_summary(report: dict, path: Optional[str | os.PathLike] = None, warn: Optional[Warn] = None) -> bool:
    """Append the Markdown report to $GITHUB_STEP_SUMMARY (or `path`). Never truncates; an unwritable
    path is a warning, not an error. Returns True when something was written."""
    warn = warn or _stderr_warn
    target = path if path is not None else os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return False
    text = render_markdown(_plain(report))
    try:
        with open(target, "a", encoding="utf-8") as f:
            if f.tell() > 0:
                text = "\n" + text
            f.write(text if text.endswith("\n") else text + "\n")
    except OSError as exc:
        warn(f"cannot append the report to GITHUB_STEP_SUMMARY={target}: {exc.strerror or exc}")
        return False
    return True


# ---------------------------------------------------------------------------------------- stdout


def summary_lines(report: dict, out_dir: Optional[str | os.PathLike] = None) -> str:
    """A few plain-text lines for stdout after `run` (no colour, no Markdown)."""
    res, base = report["result"], report["baseline"]
    path = str(Path(out_dir) / res["path"]) if out_dir is not None else res["path"]
    metric = report["metric"]["name"]
    lines = [
        f"result    {path} ({path_label(report)})",
        f"size      {res['tflite_bytes']:,} B → {res['compressed_bytes']:,} B zipped "
        f"({saved_percent(res['tflite_bytes'], res['compressed_bytes']):.2f}% saved); "
        f"{fmt_ratio(res['compression_ratio'])} smaller than the baseline zip ({base['compressed_bytes']:,} B)",
    ]
    if res.get("accuracy") is None:
        lines.append(f"{metric:<9} not measured (no eval data)")
    else:
        lines.append(f"{metric[:9]:<9} {fmt_metric(report, res['accuracy'])} (baseline {fmt_metric(report, base['accuracy'])}, "
                     f"drop {fmt_drop(report, res.get('accuracy_drop'))})")
    lines.append(f"latency   {fmt_ms(res['latency_ms'])} ms median, p90 {fmt_ms(res['latency_p90_ms'])} ms, "
                 f"{fmt_ratio(res['speedup'])} speedup ({res['threads']} thread{'s' if res['threads'] != 1 else ''})")
    for c in report.get("checks", []):
        if not c["passed"]:
            lines.append(f"WARNING   {c['name']}: FAILED — {c['message']}")
    lines.append(f"verdict   {'PASS' if report['passed'] else 'FAIL'}: {_verdict(report)}")
    return "\n".join(lines)


def json_summary(report: dict, out_dir: Optional[str | os.PathLike] = None) -> dict:
    """What `run --json` prints: result (without the per-layer list), baseline, gates, passed."""
    res = {k: v for k, v in report["result"].items() if k != "layers"}
    out = {
        "schema_version": report.get("schema_version", SCHEMA_VERSION),
        "recipe": report["recipe"]["name"],
        "result": res,
        "baseline": dict(report["baseline"]),
        "gates": [dict(g) for g in report.get("gates", [])],
        "checks_failed": [c["name"] for c in report.get("checks", []) if not c["passed"]],
        "passed": report["passed"],
    }
    if out_dir is not None:
        out["output_dir"] = str(out_dir)
        out["report"] = str(Path(out_dir) / "report.json")
    return _plain(out)
