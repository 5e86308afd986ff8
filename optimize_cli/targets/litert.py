"""LiteRT on this CPU: the report's main figures (accuracy, latency, sizes), which every run measures
(run/measurements.py); listing it in `targets:` is allowed and the default. No figures of its own under
`targets.<name>`, no gates of its own (the report's top-level gates read its figures)."""
from __future__ import annotations

from typing import Literal

from ..strict import Strict

TYPE = "litert"


class LitertTarget(Strict):
    """LiteRT on this CPU: the report's accuracy and latency (always measured; listing it is allowed)."""

    type: Literal["litert"] = "litert"


Params = LitertTarget
PACKAGE = None  # ai-edge-litert is a dependency of optimize-cli itself
GATES: dict = {}
#: measured by the run itself (the report's result and baseline figures), not under `targets.<name>`
measure = None
INSPECT_NAMES: tuple[str, ...] = ()
COMPARE_ROWS: tuple = ()
