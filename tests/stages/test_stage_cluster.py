"""cluster on the tiny model: at most `clusters` values per kernel (per channel), sparsity kept."""
from __future__ import annotations

import numpy as np
import pytest
from stage_helpers import (
    PRUNABLE,
    kernel,
    max_unique_per_out_channel,
    sparsity,
)

from optimize_cli.stages import ClusterStage, run_stage

# ----------------------------------------------------------------------------------------- cluster


def test_cluster_leaves_at_most_clusters_values_and_preserves_sparsity(clustered, pruned):
    for name in PRUNABLE:
        k = kernel(clustered.model, name)
        assert np.unique(k).size <= 8, name
        assert sparsity(k) >= 0.5 - 0.01, name
        # the pruned zeros stayed where they were
        assert np.all(k[kernel(pruned.model, name) == 0] == 0), name
    assert clustered.scheme == "8 clusters, kmeans++, sparsity-preserving"
    assert {s["name"] for s in clustered.skipped_layers} == {"dw"}


def test_cluster_per_channel_limits_each_conv_channel(tiny_model, make_ctx):
    res = run_stage(tiny_model, ClusterStage(clusters=4, per_channel=True, epochs=0, centroid_init="linear"),
                    make_ctx(index=1))
    for name in ("conv", "pw"):
        k = kernel(res.model, name)
        assert max_unique_per_out_channel(k) <= 4, name
        assert np.unique(k).size > 4, name  # really per channel, not per kernel
    assert np.unique(kernel(res.model, "out")).size <= 4  # Dense: clustered as a whole
    assert any("out: per_channel applies to Conv2D" in n for n in res.details["notes"])
    assert "per channel" in res.scheme and "linear" in res.scheme


@pytest.mark.parametrize("init", ["density", "random"])
def test_cluster_centroid_inits(tiny_model, make_ctx, init):
    res = run_stage(tiny_model, ClusterStage(clusters=6, epochs=0, centroid_init=init), make_ctx(index=1))
    for name in PRUNABLE:
        assert np.unique(kernel(res.model, name)).size <= 6, name
