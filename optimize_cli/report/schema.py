"""The report.json contract (`schema_version: 1`): the JSON Schema shipped as package data
(optimize_cli/report.schema.json), validation with the `jsonschema` library, the JSON-ready copy of a
report, and the consistency checks of derived fields against their definitions."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any, Iterable, Optional

from ..errors import OptimizeError
from ..measure.metrics import ERROR_METRICS, FRACTION_METRICS, accuracy_drop, compression_ratio, saved_percent, speedup

SCHEMA_VERSION = 1
SCHEMA_FILE = "report.schema.json"


class ReportError(OptimizeError):
    """The report dict does not match report.schema.json (a bug in whoever built it: exit 1)."""


def load_schema() -> dict:
    """The JSON Schema (draft 2020-12) of report.json, shipped as package data."""
    text = None
    try:  # works from wheels and zips as well as from a source tree
        from importlib.resources import files

        text = files("optimize_cli").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError, TypeError, AttributeError):
        pass
    if text is None:
        text = (Path(__file__).parent.parent / SCHEMA_FILE).read_text(encoding="utf-8")
    return json.loads(text)


def _loc(path: Iterable[Any]) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def schema_problems(report: Any, schema: Optional[dict] = None) -> list[tuple[str, str]]:
    """(location, message) for every violation of the report schema (jsonschema, draft 2020-12), the
    most relevant one (jsonschema's best match) first; [] when the report is valid."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema or load_schema())
    errors = list(validator.iter_errors(report))
    if not errors:
        return []
    best = jsonschema.exceptions.best_match(errors)
    ordered = [best] + sorted((e for e in errors if e is not best), key=lambda e: [str(p) for p in e.absolute_path])
    return [(_loc(e.absolute_path), e.message) for e in ordered]


def json_ready(value: Any, path: tuple = ()) -> Any:
    """A JSON-ready copy: numpy scalars and arrays become Python numbers and lists, tuples lists, Paths
    strings. NaN and infinity are refused (JSON cannot hold them) with the location named."""
    if isinstance(value, dict):
        return {str(k): json_ready(v, path + (str(k),)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v, path + (i,)) for i, v in enumerate(value)]
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if hasattr(value, "tolist") and type(value).__module__ == "numpy":  # numpy scalar or array
        return json_ready(value.tolist(), path)
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
    expect = compression_ratio(base["compressed_bytes"], res["compressed_bytes"])
    if not close(res["compression_ratio"], expect, 0.0, 0.02):
        out.append(f"result.compression_ratio is {res['compression_ratio']:.3f} but baseline/result compressed "
                   f"bytes is {expect:.3f}")
    expect = speedup(base["latency_ms"], res["latency_ms"])
    if not close(res["speedup"], expect, 0.0, 0.02):
        out.append(f"result.speedup is {res['speedup']:.3f} but baseline/result latency is {expect:.3f}")
    expect = accuracy_drop(base["accuracy"], res["accuracy"], report["metric"]["higher_is_better"])
    if (expect is None) != (res["accuracy_drop"] is None) or not close(res["accuracy_drop"], expect, 5e-4):
        sign = "baseline - result" if report["metric"]["higher_is_better"] else "result - baseline (error metric)"
        out.append(f"result.accuracy_drop is {res['accuracy_drop']} but {sign} is {expect}")
    hib = report["metric"]["higher_is_better"]
    name = report["metric"]["name"]
    if (name in FRACTION_METRICS and not hib) or (name in ERROR_METRICS and hib):
        out.append(f"metric.higher_is_better is {hib} for {name}")
    return out


def validate_report(report: dict, schema: Optional[dict] = None) -> list[str]:
    """Raise `ReportError` naming the first schema problem (and how many there are); otherwise return
    the consistency warnings (derived fields that disagree with their definition), usually []."""
    plain = json_ready(report)
    problems = schema_problems(plain, schema)
    if problems:
        where, msg = problems[0]
        more = f" (and {len(problems) - 1} more problem{'s' if len(problems) > 2 else ''})" if len(problems) > 1 else ""
        raise ReportError(f"report does not match schema v{SCHEMA_VERSION}: at {where}: {msg}{more}")
    return consistency_problems(plain)

