"""What a deployment-target module is made of (targets/<type>.py), and the helpers they share.

A target module defines:

- ``Params``: its recipe model (pydantic, `type` a Literal: the recipe's `targets:` entry); ``name(t)`` the
  key of a target in the report (default: its type);
- ``PACKAGE``: (the module find_spec looks for, the pip distribution, the optimize-cli extra), or None;
- ``GATES``: gate name → ``Gate`` (the figure it reads, "max" or "min", its unit and bounds);
- ``rules(i, t, base, check_paths)``: its own validation rules, as (path parts, message) pairs;
- ``measure(t, tfl, ctx) -> Measured`` (None for litert, which the run measures anyway); ``BASELINE``:
  which baseline it measures ("float32", or "int8 PTQ" for an int8-only runtime);
- ``deploy(t, tfl, ctx) -> Deployed`` (optional): the file this runtime loads (slimmed for it, LUT-compressed
  for TFLM, each checked on the runtime) and what was done (`slim`, `compression`), measured in place of
  the shared file; ``FILE``: (file name, figures key that records it) of the file the target writes, or
  None; ``SLIM_CHANGES`` / ``SLIM_REFUSED``: the slim changes its runtime gets, and why it gets no others;
  ``INT4`` (and ``INT4_REASON``): whether it runs int4 weights; ``deployable_bytes(figures, tfl)``
  (optional): what the device stores, when it is not the file itself (Ethos-U: Vela's flash);
- ``summary_line(name, figures)``, ``report_rows(report, b, r)``, ``report_note(name, r)`` and
  ``COMPARE_ROWS``: its line in logs and `inspect`, its report table and its rows in `compare`;
- ``INSPECT_NAMES`` and ``inspect_target(name)``: the names `inspect --target` takes for it.

Nothing here imports TensorFlow or the targets' libraries."""
from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any, Callable, NamedTuple, Optional

__all__ = ["Gate", "Measured", "MeasureContext", "Deployed", "package_missing", "fmt_unit", "fmt_compare",
           "int_cell", "change_cell", "slim_file", "MISSING"]

#: a missing value in the report's tables
MISSING = "—"


@dataclass(frozen=True)
class Gate:
    """A gate on a target figure: `result.targets.<name>.<figure>`, the worst over the targets that
    measured it; "max" passes when value <= limit, "min" when value >= limit."""

    figure: str
    kind: str  # "max" | "min"
    unit: str  # "B", "ms", "cycles", "share"
    description: str
    number: type = int
    bounds: dict = field(default_factory=lambda: {"gt": 0})


class Measured(NamedTuple):
    """What one measurement gave: the figures (`{"type", "version", ...}`) and the file the target wrote
    for its runtime (Vela's optimized .tflite), or None."""

    figures: dict
    file: Optional[bytes] = None


@dataclass
class MeasureContext:
    """What a measurement may use besides the .tflite: `batches()` gives (x, y) batches of the eval set
    (None: no eval data, or a model the targets do not score), the metric and top_k."""

    batches: Optional[Callable[[], Any]] = None
    metric: str = "accuracy"
    top_k: int = 5
    #: the samples a deployable file is checked on (the eval set, one sample each; None: nothing to check on)
    samples: Optional[Callable[[], list]] = None
    #: the recipe's `export:` (slim on or off); None: the defaults
    export: Any = None
    #: check deployable files on the samples (off for the int8-PTQ reference, which only gives its bytes)
    verify: bool = True


@dataclass
class Deployed:
    """The file a runtime loads and what was done to make it (`slim`, `compression`: report figures)."""

    tflite: bytes
    figures: dict = field(default_factory=dict)


def slim_file(tfl: bytes, ctx: MeasureContext, changes: tuple, refused: dict,
              check: Optional[Callable[[bytes, bytes, list], int]] = None) -> Deployed:
    """`tfl` slimmed with `changes` (export.slim, on by default), checked with `check(original, slimmed,
    samples)` on the eval samples; figures `slim` (applied, bytes removed per change, skipped and why)."""
    from ..deploy.slim import slim

    if ctx.export is not None and not getattr(ctx.export, "slim", True):
        return Deployed(tfl, {"slim": {"applied": [], "skipped": {"all": "export.slim: false"}}})
    samples = ctx.samples() if ctx.samples is not None and ctx.verify and check is not None else None
    r = slim(tfl, changes, refused, check=(lambda a, b: check(a, b, samples)) if samples else None)
    return Deployed(r.tflite, {"slim": r.to_dict()})


def package_missing(typ: str, package: Optional[tuple[str, str, str]]) -> Optional[str]:
    """None when the target's package is installed (or it needs none), else the advice naming the extra."""
    if package is None:
        return None
    module, dist, extra = package
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return None
    return f"target {typ!r} needs the {dist} package, which is not installed: pip install 'optimize-cli[{extra}]'"


def fmt_unit(v: Optional[float], unit: str) -> str:
    """A gate's limit or value in its unit: "24,400 B", "0.178 ms", "88,948 cycles", "75.0%"."""
    if v is None:
        return "not measured"
    if unit == "B":
        return f"{int(v):,} B"
    if unit == "ms":
        return f"{v:.4g} ms"
    if unit == "share":
        return f"{v:.1%}"
    if unit == "cycles":
        return f"{int(v):,} cycles"
    return f"{v:g}"


def fmt_compare(v: Optional[float], unit: str, missing: str) -> str:
    """A figure in `compare`'s table: "24,400", "0.1779", "75%"."""
    if v is None:
        return missing
    if unit == "ms":
        return f"{v:.4g}"
    return f"{v:.0%}" if unit == "share" else f"{int(v):,}"


def int_cell(v, unit: str = "") -> str:
    return MISSING if v is None else f"{int(v):,}{unit}"


def change_cell(b, r) -> str:
    """The relative change from baseline to result ("+12.5%"), "—" where it is not defined."""
    if b is None or r is None or not isinstance(b, (int, float)) or not isinstance(r, (int, float)) or not b:
        return MISSING
    return f"{(r - b) / b:+.1%}"
