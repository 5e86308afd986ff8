"""`validate` prints every problem of a recipe, each on its own line `file:line: key: message`."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from optimize_cli.cli import main

FIXTURES = Path(__file__).resolve().parents[1] / "bad_recipes" / "_fixtures"


def test_validate_prints_every_problem_on_its_own_line(tmp_path):
    np.savez(tmp_path / "d.npz", x_train=np.zeros((4, 8, 8, 1), np.float32), y_train=np.zeros(4, np.int64))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "version: 1\n"
        f"model: {FIXTURES / 'model'}\n"
        "data:\n"
        "  train: {path: d.npz, x: x_trian, y: y_train}\n"   # line 4: a typo'd key
        "  eval: {path: missing.npz}\n"                      # line 5: no such file
        "stages: [qat, prune]\n"                             # line 6: qat must be last
        "gates: {max_accuracy_drop: 0.01}\n"
    )
    res = CliRunner(env={"NO_COLOR": "1", "COLUMNS": "300"}).invoke(main, ["validate", str(recipe)])
    assert res.exit_code == 2 and res.stdout == ""
    lines = res.stderr.strip("\n").split("\n")
    assert len(lines) == 3, lines
    assert all(line.startswith(f"error: {recipe}:") for line in lines), lines
    text = "\n".join(lines)
    assert f"{recipe}:4: data.train.x: key 'x_trian' not in d.npz" in text and "did you mean 'x_train'" in text
    assert f"{recipe}:5: data.eval.path: path does not exist" in text
    assert f"{recipe}:6: stages[" in text
    assert "more problem" not in text


def test_validate_lists_schema_and_path_problems_at_once(tmp_path):
    """A schema problem does not hide the missing files: one pass shows all of them, in line order."""
    np.savez(tmp_path / "d.npz", x_train=np.zeros((4, 8, 8, 1), np.float32), y_train=np.zeros(4, np.int64))
    recipe = tmp_path / "r.yaml"
    recipe.write_text(
        "version: 1\n"
        "model: no_model\n"                                  # line 2: no such model
        "data:\n"
        "  train: {path: d.npz, x: x_trian, y: y_train}\n"   # line 4: a typo'd key (read from the headers)
        "  eval: {path: missing.npz}\n"                      # line 5: no such file
        "stages:\n"
        "  - {type: prune, target_sparsity: 2}\n"            # line 7: a schema problem
        "export: {quantisation: int8}\n"                     # line 8: a schema problem
    )
    res = CliRunner(env={"NO_COLOR": "1", "COLUMNS": "300"}).invoke(main, ["validate", str(recipe)])
    assert res.exit_code == 2 and res.stdout == ""
    lines = res.stderr.strip("\n").split("\n")
    assert [line.split(":")[2] for line in lines] == ["2", "4", "5", "7", "8"], lines
    text = "\n".join(lines)
    assert f"{recipe}:2: model: path does not exist: {tmp_path / 'no_model'}" in text
    assert f"{recipe}:4: data.train.x: key 'x_trian' not in d.npz" in text
    assert f"{recipe}:5: data.eval.path: path does not exist" in text
    assert f"{recipe}:7: stages[0].target_sparsity:" in text and f"{recipe}:8: export.quantisation:" in text
    res = CliRunner().invoke(main, ["validate", "--json", str(recipe)])
    assert [p["line"] for p in json.loads(res.stdout)["problems"]] == [2, 4, 5, 7, 8]
