"""Stage registry: `type` → parameter model and module. Adding a stage is one module and one line.

Importing this package never imports TensorFlow: each module's `run` imports it when called.
"""
from __future__ import annotations

from .cluster import ClusterStage
from .prune import PruneStage
from .qat import QatStage

#: recipe `type` → parameter model; the order is the only order allowed in a path
STAGES = {
    "prune": PruneStage,
    "cluster": ClusterStage,
    "qat": QatStage,
}
STAGE_ORDER = list(STAGES)

__all__ = ["STAGES", "STAGE_ORDER", "PruneStage", "ClusterStage", "QatStage"]
