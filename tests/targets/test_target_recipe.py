"""`targets:` in the recipe: bare names, defaults, Vela's configuration names checked, duplicate names,
and no TensorFlow / tflite_micro / vela import while validating."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from optimize_cli.errors import RecipeError
from optimize_cli.recipe import load_recipe

ROOT = Path(__file__).resolve().parents[2]


def recipe_file(tmp_path: Path, targets, **extra) -> Path:
    doc = {"version": 1, "model": str(ROOT / "sample_models" / "digits_cnn"),
           "data": {"train": {"type": "npz", "path": str(ROOT / "sample_models" / "digits.npz"), "x": "x_train",
                              "y": "y_train"}},
           "targets": targets, **extra}
    p = tmp_path / "r.yaml"
    p.write_text(yaml.safe_dump(doc))
    return p


def test_recipe_targets_bare_names_and_defaults(tmp_path):
    r = load_recipe(recipe_file(tmp_path, ["litert", "tflm", "ethos-u55-256", {"type": "ethos-u"}]))
    assert [t.type for t in r.targets] == ["litert", "tflm", "ethos-u", "ethos-u"]
    assert r.targets[2].accelerator == "ethos-u55-256" and r.targets[3].accelerator == "ethos-u55-128"
    assert r.resolved_dict()["targets"][1] == {"type": "tflm", "arena_size": None, "accuracy": True}


def test_recipe_targets_default_is_litert(tmp_path):
    p = recipe_file(tmp_path, ["litert"])
    doc = yaml.safe_load(p.read_text())
    del doc["targets"]
    p.write_text(yaml.safe_dump(doc))
    assert [t.type for t in load_recipe(p).targets] == ["litert"]


@pytest.mark.parametrize("targets,message", [
    ([{"type": "ethos-u", "accelerator": "ethos-u55-128", "system_config": "Nope"}],
     "targets[0].system_config: 'Nope' is not in the Vela configuration file; valid: Ethos_U55_Deep_Embedded"),
    ([{"type": "ethos-u", "memory_mode": "Shared"}], "targets[0].memory_mode: 'Shared' is not in the Vela"),
    (["ethos-u55-128", {"type": "ethos-u"}], "target 'ethos-u55-128' is listed twice"),
    ([{"type": "ethos-u", "accelerator": "ethos-u99"}], "targets[0].accelerator"),
    ([{"type": "tflm", "arena": 10}], "targets[0].arena"),
    ([{"type": "ethos-u", "config": "missing.ini"}], "targets[0].config: path does not exist"),
])
def test_recipe_targets_bad_values_are_recipe_errors(tmp_path, targets, message):
    with pytest.raises(RecipeError) as e:
        load_recipe(recipe_file(tmp_path, targets))
    assert message in str(e.value)


def test_recipe_targets_own_vela_config_file(tmp_path):
    (tmp_path / "my.ini").write_text("[System_Config.Mine]\ncore_clock=1e8\n[Memory_Mode.Tiny]\nconst_mem_area=Axi1\n")
    r = load_recipe(recipe_file(tmp_path, [{"type": "ethos-u", "config": "my.ini", "system_config": "Mine",
                                             "memory_mode": "Tiny"}]))
    assert r.targets[0].config == str(tmp_path / "my.ini")


def test_validate_with_targets_imports_no_tensorflow_tflm_or_vela(tmp_path):
    p = recipe_file(tmp_path, ["tflm", "ethos-u55-128"], gates={"max_arena_bytes": 1000, "min_npu_ops_share": 0.9})
    code = ("import sys; from optimize_cli.cli import main\n"
            f"try:\n    main(['validate', {str(p)!r}])\nexcept SystemExit as e:\n    assert e.code == 0, e.code\n"
            "bad = [m for m in ('tensorflow', 'tflite_micro', 'ethosu.vela') if m in sys.modules]\n"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
