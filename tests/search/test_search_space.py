"""Search spaces in recipes: parsing, one-line errors (exit 2), `validate` prints the space, `run` refuses."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from search_helpers import HEAD, ROOT

from optimize_cli.cli import main
from optimize_cli.recipe.space import load_space


def write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "s.yaml"
    p.write_text(HEAD + body, encoding="utf-8")
    return p


def test_space_parses_ranges_choices_and_optional_stages(tmp_path):
    p = write(tmp_path, """stages:
  - {type: prune, target_sparsity: {search: [0.4, 0.8]}, epochs: {search: [1, 3]}}
  - {type: cluster, clusters: {search: {choices: [8, 16]}}, optional: true}
training: {learning_rate: {search: [1.0e-4, 1.0e-2], log: true}}
search: {objectives: [compressed_bytes, accuracy_drop], trials: 3, sampler: nsga2}
""")
    space, first = load_space(p)
    kinds = {q.name: q.kind for q in space.params}
    assert kinds == {"stages.1.enabled": "optional", "stages.0.target_sparsity": "float", "stages.0.epochs": "int",
                     "stages.1.clusters": "choice", "training.learning_rate": "float"}
    assert [q.log for q in space.params if q.name == "training.learning_rate"] == [True]
    assert space.config.sampler == "nsga2" and first.stage_types == ["prune", "cluster"]
    off = space.concrete({"stages.1.enabled": False, "stages.0.target_sparsity": 0.5})
    assert [s["type"] for s in off["stages"]] == ["prune"] and "search" not in off


@pytest.mark.parametrize("body, message", [
    ("stages:\n  - {type: prune, target_sparsity: {search: [0.4, 1.5]}}\n", "must be < 1.0"),
    ("stages:\n  - {type: prune, target_sparsity: {search: [0.8, 0.4]}}\n", "must have lo < hi"),
    ("stages:\n  - {type: prune, target_sparsity: {search: [0.4]}}\n", "search must be [lo, hi]"),
    ("stages:\n  - {type: prune, target_sparsity: {search: [0, 0.5], log: true}}\n", "log range needs lo > 0"),
    ("stages:\n  - {type: prune}\n  - {type: cluster, clusters: {search: {choices: [2, 8]}}}\n",
     "with stages.1.clusters=2"),
    ("stages:\n  - {type: prune, optional: true}\n  - {type: qat}\nexport: {quantization: {search: {choices: "
     "[int8, float16]}}}\n", "not reachable after qat"),
    ("stages: [prune]\nsearch: {sampler: annealing, trials: 2}\n", "search.sampler"),
    ("stages: [prune]\nsearch: {trials: 2}\n", "nothing is searched"),
    ("model_x: {search: [1, 2]}\nstages: [prune]\n", ""),
])
def test_space_error_is_one_line_exit_2(tmp_path, body, message):
    p = write(tmp_path, body)
    result = CliRunner().invoke(main, ["validate", str(p)])
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and message in lines[0], lines


def test_space_validate_prints_the_space(tmp_path):
    p = write(tmp_path, "stages:\n  - {type: prune, target_sparsity: {search: [0.4, 0.8]}}\n"
                        "search: {trials: 2}\n")
    result = CliRunner().invoke(main, ["validate", str(p)])
    assert result.exit_code == 0, result.output
    assert "ok (search over 1 values" in result.stdout
    assert "stages.0.target_sparsity: float in [0.4, 0.8]" in result.stdout


def test_space_run_on_search_recipe_exits_2_naming_search(tmp_path):
    p = write(tmp_path, "stages:\n  - {type: prune, target_sparsity: {search: [0.4, 0.8]}}\n")
    result = CliRunner().invoke(main, ["run", str(p), "--output", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert "optimize-cli search" in result.stderr and not (tmp_path / "o").exists()


def test_space_plain_recipes_load_as_before():
    from optimize_cli.recipe import load_recipe

    r = load_recipe(ROOT / "recipes" / "prune-cluster-pcqat.yaml")
    assert r.stage_types == ["prune", "cluster", "qat"]


def test_space_search_recipe_sample_validates_without_tensorflow():
    code = ("import sys; from optimize_cli.cli import main; import optimize_cli.search.study, "
            "optimize_cli.search.front\n"
            "try: main(['validate', 'recipes/search-prune-cluster-int8.yaml'])\n"
            "except SystemExit as e: assert e.code == 0, e.code\n"
            "assert 'tensorflow' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, env=os.environ.copy())
