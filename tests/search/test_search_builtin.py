"""Every built-in search recipe (recipes/search-*.yaml) runs: `optimize-cli search NAME` with one trial on
the sample model writes its search.json, search.md, search.html and a trial that completed. Each test is one real trial (a `run` subprocess:
TensorFlow import, baselines, a 1-epoch fine-tune), about 12 s on an idle 2-core machine."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from search_helpers import ROOT

SEARCH_RECIPES = sorted(p.stem for p in (ROOT / "recipes").glob("search-*.yaml"))

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", SEARCH_RECIPES)
def test_builtin_search_recipe_runs_one_trial_by_name(name, tmp_path):
    out = tmp_path / "out"
    res = subprocess.run([sys.executable, "-m", "optimize_cli", "search", name, "--trials", "1", "--output", str(out)],
                         capture_output=True, text=True, env=os.environ.copy(), cwd=tmp_path)
    assert res.returncode in (0, 5), res.stderr
    doc = json.loads((out / "search.json").read_text())
    assert [t["state"] for t in doc["trials"]] == ["complete"], doc["trials"]
    assert doc["metric"] == {"name": "accuracy", "higher_is_better": True}
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("trial ")]
    assert len(lines) == 1 and lines[0].startswith("trial 0000 complete in ")  # not a terminal: one plain line
    page = (out / "search.html").read_text()
    assert '<g id="trial-0000"><title>trial 0000: complete' in page and (out / "search.md").is_file()
    assert (res.returncode == 0) == (doc["recommended"] == 0)
