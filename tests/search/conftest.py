"""The search tests' PostgreSQL: OPTIMIZE_CLI_TEST_PG (`.ci/run` starts one and sets it), else a throw-away
cluster of this machine's PostgreSQL (pg_cluster.py), else the test is skipped — but under CI=true it
fails: the multi-worker test must run there."""
from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def pg_url():
    url = os.environ.get("OPTIMIZE_CLI_TEST_PG")
    if url:
        yield url
        return
    import pg_cluster

    cluster = pg_cluster.start()
    if cluster is None:
        why = "OPTIMIZE_CLI_TEST_PG is unset and no local PostgreSQL (initdb, pg_ctl, a non-root user) to start"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: the PostgreSQL tests must run, but {why}")
        pytest.skip(why)
    try:
        yield cluster.url
    finally:
        cluster.stop()
