"""prune: tfmot magnitude pruning (apply → fine-tune → strip)."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, field_validator, model_validator

from .base import StageBase


class PruneStage(StageBase):
    """Magnitude pruning with a polynomial or constant schedule."""

    type: Literal["prune"] = "prune"
    target_sparsity: float = Field(
        0.5, gt=0.0, lt=1.0, description="Fraction of weights set to zero in each pruned kernel (0 < s < 1)."
    )
    initial_sparsity: float = Field(
        0.0, ge=0.0, lt=1.0, description="Sparsity at the start of a polynomial schedule."
    )
    schedule: Literal["polynomial", "constant"] = Field(
        "polynomial", description="tfmot pruning schedule: PolynomialDecay or ConstantSparsity."
    )
    power: float = Field(3.0, gt=0, le=10, description="Exponent of the polynomial schedule (tfmot default 3).")
    begin_step: Optional[int] = Field(
        None, ge=0, description="First step that prunes (default 0)."
    )
    end_step: Optional[int] = Field(
        None,
        ge=1,
        description="Step at which the target sparsity is reached (default: computed from epochs and the "
        "real steps per epoch, so that the target is always reached with recovery epochs after it).",
    )
    frequency: Optional[int] = Field(
        None,
        ge=1,
        description="Steps between mask updates (default: computed from the real steps per epoch; tfmot's "
        "fixed default of 100 never fires on small data sets).",
    )
    sparsity_m_by_n: Optional[tuple[int, int]] = Field(
        None, description="Structured m-by-n sparsity, e.g. [2, 4]: at most m non-zeros in every n weights."
    )
    epochs: int = Field(12, ge=1, le=10_000, description="Fine-tuning epochs while pruning.")

    @field_validator("sparsity_m_by_n")
    @classmethod
    def _m_by_n(cls, v):
        if v is not None:
            m, n = v
            if not (0 < m < n):
                raise ValueError("must be [m, n] with 0 < m < n, e.g. [2, 4]")
        return v

    @model_validator(mode="after")
    def _steps(self):
        if self.initial_sparsity >= self.target_sparsity and self.schedule == "polynomial":
            raise ValueError(
                f"initial_sparsity ({self.initial_sparsity}) must be below target_sparsity ({self.target_sparsity})"
            )
        if self.begin_step is not None and self.end_step is not None and self.end_step <= self.begin_step:
            raise ValueError(f"end_step ({self.end_step}) must be after begin_step ({self.begin_step})")
        return self
