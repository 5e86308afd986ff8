"""Moved to `optimize_cli.stages.base`; kept as a re-export for the callers not yet moved."""
from __future__ import annotations

from .stages.base import CompileInfo, StageContext, StageResult

__all__ = ["CompileInfo", "StageContext", "StageResult"]
