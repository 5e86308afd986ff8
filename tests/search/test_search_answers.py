"""Three answers (compact, balanced, quality) from the feasible trials, and every written recipe
committable: relative paths, only the keys the search recipe spells, rounded searched values, its own
name and description — and it validates and takes the trial's choices."""
from __future__ import annotations

import yaml
from search_helpers import SAMPLE

from optimize_cli.recipe import load_recipe
from optimize_cli.recipe.space import Param, load_space
from optimize_cli.search.answers import pick
from optimize_cli.search.committable import describe, recipe_text, rounded

SEARCH = """version: 1
name: sq
description: a search
model: ../models/digits_cnn
data:
  train: {type: npz, path: ../models/digits.npz, x: x_train, y: y_train}
  eval:  {type: npz, path: ../models/digits.npz, x: x_test,  y: y_test}
training: {learning_rate: {search: [1.0e-4, 1.0e-2], log: true}}
stages:
  - {type: prune, target_sparsity: {search: [0.4, 0.8]}, epochs: 1}
  - {type: cluster, clusters: {search: {choices: [8, 16]}}, optional: true}
export: {quantization: int8}
gates: {max_accuracy_drop: 0.03}
search: {objectives: [compressed_bytes, accuracy_drop], trials: 4}
"""


def test_answers_rounding_keeps_what_changes_the_result():
    sparsity = Param("stages.0.target_sparsity", [], "float", low=0.4, high=0.8)
    lr = Param("training.learning_rate", [], "float", low=1e-4, high=1e-2, log=True)
    assert rounded(sparsity, 0.6583576452266624) == 0.66
    assert rounded(Param("x", [], "float", low=0.0, high=1.0), 0.123456) == 0.12
    assert rounded(lr, 0.0012345678) == 0.0012 and rounded(lr, 0.0099999) == 0.01
    assert rounded(sparsity, 0.79999) == 0.8 and rounded(Param("n", [], "int", low=2, high=9), 7) == 7


def rec(n, size, drop, passed=True, ptq=None):
    figs = {"compressed_bytes": size, "accuracy_drop": drop, "accuracy": 0.95 - drop}
    if ptq:
        figs["ptq_compressed_bytes"] = ptq
    return {"number": n, "passed": passed, "values": {"compressed_bytes": size, "accuracy_drop": drop},
            "figures": figs}


def test_answers_compact_balanced_quality():
    obj = ["compressed_bytes", "accuracy_drop"]
    records = [rec(0, 10_000, 0.029), rec(1, 14_000, 0.006), rec(2, 30_000, 0.001), rec(3, 9_000, 0.001, False),
               rec(4, 16_000, 0.010)]  # 3 missed a gate; 4 is beaten by 1 on both
    got = {k: r["number"] for k, r in pick(records, obj).items()}
    assert got == {"compact": 0, "balanced": 1, "quality": 2}
    bounded = {k: r["number"] for k, r in pick(records, obj, ptq_size=20_000).items()}
    assert bounded["quality"] == 1  # the best drop at no more than int8 PTQ's size
    assert pick([rec(0, 1, 0.5, False)], obj) == {"compact": None, "balanced": None, "quality": None}


def test_answers_recipe_is_committable_and_takes_the_trials_choices(tmp_path):
    (tmp_path / "models").symlink_to(SAMPLE, target_is_directory=True)
    (tmp_path / "recipes").mkdir()
    src = tmp_path / "recipes" / "s.yaml"
    src.write_text(SEARCH, encoding="utf-8")
    space, _ = load_space(src)
    space.source = src
    params = {"stages.1.enabled": True, "stages.0.target_sparsity": 0.6583576452266624,
              "stages.1.clusters": 16, "training.learning_rate": 0.0012345678}
    resolved = load_recipe(src, check_paths=False, raw_hook=lambda raw: space.concrete(params)).resolved_yaml()
    r = {"number": 3, "params": params, "passed": True, "values": {"compressed_bytes": 12345, "accuracy_drop": 0.0074},
         "figures": {"accuracy": 0.971}}
    dest = tmp_path / "runs" / "out"
    dest.mkdir(parents=True)
    text = recipe_text(space, r, resolved, dest, "sq-compact",
                       describe("sq", r, "compact", {"name": "accuracy", "higher_is_better": True}))
    (dest / "compact.yaml").write_text(text, encoding="utf-8")
    raw = yaml.safe_load(text)
    assert raw["name"] == "sq-compact" and "search" not in raw and "optional" not in str(raw)
    assert raw["description"] == ("Trial 0003 of search study 'sq' (compact): compressed_bytes 12,345; accuracy "
                                  "97.10% (drop 0.74 pts); gates passed.")
    assert raw["model"] == "../../models/digits_cnn" and raw["data"]["eval"]["path"] == "../../models/digits.npz"
    assert raw["stages"][0] == {"type": "prune", "target_sparsity": 0.66, "epochs": 1}
    assert raw["training"] == {"learning_rate": 0.0012} and raw["gates"] == {"max_accuracy_drop": 0.03}
    assert "batch_size" not in text and "freeze_batchnorm" not in text  # no default spelled out
    again = load_recipe(dest / "compact.yaml")  # validates, paths exist from where it is written
    assert again.stage_types == ["prune", "cluster"] and again.stages[1].clusters == 16
    assert again.stages[0].target_sparsity == 0.66 and again.training.learning_rate == 0.0012
    assert again.export.quantization == "int8"
