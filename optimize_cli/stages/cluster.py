"""cluster: tfmot weight clustering (apply → fine-tune → strip); sparsity-preserving after prune."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from .base import StageBase

CENTROID_INITS = ("kmeans++", "linear", "density", "random")


class ClusterStage(StageBase):
    """Weight clustering: each kernel keeps at most `clusters` distinct values."""

    type: Literal["cluster"] = "cluster"
    clusters: int = Field(
        16, ge=2, le=256, description="Number of clusters (distinct weight values) per kernel (tfmot number_of_clusters)."
    )
    centroid_init: Literal["kmeans++", "linear", "density", "random"] = Field(
        "kmeans++", description="How cluster centroids are initialised (tfmot CentroidInitialization)."
    )
    per_channel: bool = Field(
        False, description="Cluster each output channel of Conv2D kernels separately (tfmot cluster_per_channel)."
    )
    preserve_sparsity: Optional[bool] = Field(
        None,
        description="Keep pruned zeros at zero (sparsity-preserving clustering). Default: true after prune; "
        "false after prune is an error.",
    )
    epochs: int = Field(8, ge=0, le=10_000, description="Fine-tuning epochs while clustering.")
