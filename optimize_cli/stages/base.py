"""What every training stage shares: its parameters' common fields and the record it leaves."""
from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, ConfigDict, Field


class StageBase(BaseModel):
    """Fields every training stage accepts; `None` means "use the recipe's `training` default"."""

    model_config = ConfigDict(extra="forbid")

    learning_rate: Optional[float] = Field(
        None, gt=0, le=10, description="Learning rate for this stage (default: training.learning_rate)."
    )
    batch_size: Optional[int] = Field(
        None, ge=1, le=65_536, description="Batch size for this stage (default: training.batch_size)."
    )
    skip_layers: list[str] = Field(
        default_factory=list,
        description="Layer names or regular expressions (full match) this stage leaves as they are.",
    )
