"""A trial whose recipe an earlier trial ran already (the sampler proposed a known point) is not run again:
it is told that trial's outcome (`duplicate_of`), costs no time and, up to storage.FREE_REPEATS per study,
does not count towards the total — so a sampler that keeps proposing its best point still ends the search."""
from __future__ import annotations

import json

import pytest
from search_helpers import HEAD, search_subprocess

from optimize_cli.search.storage import FREE_REPEATS

pytestmark = pytest.mark.slow

RECIPE = HEAD + """export: {quantization: {search: {choices: [dynamic, float16]}}}
evaluation: {latency_runs: 2, latency_warmup: 1}
search: {trials: 3, sampler: random, seed: 0, objectives: [compressed_bytes]}
"""


def test_repeats_take_the_earlier_outcome_run_nothing_and_count_only_past_the_free_ones(tmp_path):
    """Two points in the space, three trials asked for: the two run, the sampler's repeats of them are told
    their outcome without a run; the first FREE_REPEATS do not count, the next one does."""
    res, out = search_subprocess(tmp_path, RECIPE, "--quiet")
    assert res.returncode == 0, res.stderr
    doc = json.loads((out / "search.json").read_text())
    trials = {t["number"]: t for t in doc["trials"]}
    ran = [t for t in trials.values() if t["duplicate_of"] is None]
    repeats = [t for t in trials.values() if t["duplicate_of"] is not None]
    assert sorted(t["params"]["export.quantization"] for t in ran) == ["dynamic", "float16"]
    assert len(repeats) == FREE_REPEATS + 1 and len(trials) == FREE_REPEATS + 3
    for t in repeats:
        first = trials[t["duplicate_of"]]
        assert first["duplicate_of"] is None and t["params"] == first["params"] and t["seconds"] == 0
        assert t["values"] == first["values"] and t["figures"] == first["figures"] and t["state"] == "complete"
        assert not (out / "trials" / f"{t['number']:04d}" / "report.json").exists()  # nothing ran
    assert all((out / "trials" / f"{t['number']:04d}" / "report.json").is_file() for t in ran)
    assert doc["recommended"] in {t["number"] for t in ran}
