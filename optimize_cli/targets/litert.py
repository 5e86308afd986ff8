"""LiteRT on this CPU: the report's main figures (accuracy, latency, sizes), which every run measures
(run/measurements.py); listing it in `targets:` is allowed and the default. No figures of its own under
`targets.<name>`, no gates of its own (the report's top-level gates read its figures)."""
from __future__ import annotations

from typing import Literal

from ..deploy.slim import SAFE_CHANGES
from ..strict import Strict
from .base import MISSING, Deployed, MeasureContext, int_cell, slim_file

TYPE = "litert"


class LitertTarget(Strict):
    """LiteRT on this CPU: the report's accuracy and latency (always measured; listing it is allowed)."""

    type: Literal["litert"] = "litert"


Params = LitertTarget
PACKAGE = None  # ai-edge-litert is a dependency of optimize-cli itself
GATES: dict = {}
#: measured by the run itself (the report's result and baseline figures); under `targets.<name>` it has its
#: deployable bytes and the slim changes its file got
measure = None
SLIM_CHANGES = SAFE_CHANGES
SLIM_REFUSED = {"zero_points": "LiteRT refuses one zero point for a per-channel tensor ('QuantizationParam has 1 zero_point "
                             "values and N scale values')"}
INT4 = True
TITLE = "LiteRT"


def deploy(t, tfl: bytes, ctx: MeasureContext) -> Deployed:
    """model.tflite as LiteRT loads it: slimmed, checked bit-identical on LiteRT's kernels over the samples."""
    def check(original: bytes, slimmed: bytes, samples: list) -> int:
        from ..deploy.verify import assert_same_outputs, run_litert

        return assert_same_outputs(original, slimmed, samples, run_litert, TITLE)

    return slim_file(tfl, ctx, SLIM_CHANGES, SLIM_REFUSED, check)


def summary_line(name: str, f: dict) -> str:
    return f"{name}: deployable {f.get('deployable_bytes') or 0:,} B"


def report_rows(report: dict, b: dict, r: dict) -> list[list[str]]:
    return [["deployable bytes", int_cell(b.get("deployable_bytes"), " B"), int_cell(r.get("deployable_bytes"), " B"),
             MISSING]]


def report_note(name: str, r: dict) -> str:
    return f"LiteRT {r.get('version', '')}"
INSPECT_NAMES: tuple[str, ...] = ()
COMPARE_ROWS: tuple = ()
