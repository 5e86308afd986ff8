"""Fixtures of the stage tests: one prune → cluster → PCQAT chain on the tiny model, shared by the
prune, cluster and qat tests (session scope: built once per test process)."""
from __future__ import annotations

import pytest

from optimize_cli.stages import ClusterStage, PruneStage, QatStage, run_stage


@pytest.fixture(scope="session")
def pruned(tiny_model, make_ctx):
    return run_stage(tiny_model, PruneStage(target_sparsity=0.5, epochs=3), make_ctx(index=1))


@pytest.fixture(scope="session")
def clustered(pruned, make_ctx):
    return run_stage(pruned.model, ClusterStage(clusters=8, epochs=1, preserve_sparsity=True),
                     make_ctx(previous=["prune"], index=2))


@pytest.fixture(scope="session")
def pcqat(clustered, make_ctx):
    return run_stage(clustered.model, QatStage(epochs=1), make_ctx(previous=["prune", "cluster"], index=3))


@pytest.fixture(scope="session")
def pcqat_int8(pcqat, digits_data):
    from optimize_cli import export

    return export.convert(pcqat.model, "int8", export.representative_from(digits_data[0], 64, 0), None, None, None)
