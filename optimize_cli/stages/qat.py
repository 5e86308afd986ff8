"""qat: quantization-aware training; the scheme (QAT, PQAT, CQAT, PCQAT) follows from the path."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import StageBase

#: scheme name → tfmot scheme class, chosen from what came before (DESIGN.md)
SCHEMES = {
    "QAT": "Default8BitQuantizeScheme",
    "PQAT": "Default8BitPrunePreserveQuantizeScheme",
    "CQAT": "Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=False)",
    "PCQAT": "Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=True)",
}


def scheme_for(previous: list[str]) -> str:
    """The QAT scheme that preserves what the earlier stages made."""
    pruned, clustered = "prune" in previous, "cluster" in previous
    if pruned and clustered:
        return "PCQAT"
    if clustered:
        return "CQAT"
    if pruned:
        return "PQAT"
    return "QAT"


class QatStage(StageBase):
    """Quantization-aware training with 8-bit weights and activations; must be the last stage."""

    type: Literal["qat"] = "qat"
    epochs: int = Field(4, ge=0, le=10_000, description="Fine-tuning epochs with fake quantization.")
