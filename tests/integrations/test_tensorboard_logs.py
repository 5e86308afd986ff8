"""TensorBoard logs of the training stages, read back with TensorBoard's own event reader (EventAccumulator):
one NN_<type> folder per stage, loss per epoch, and tfmot's pruning summaries (sparsity per pruned weight
over the steps) for a prune stage. A folder that cannot be written, or TensorBoard not installed, is exit 2
naming it before any work."""
from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from run_helpers import DATA, ptq_recipe, write_recipe


def _scalars(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """tag → [(step, value)] of the event files in `folder` (TF2 writes scalars as tensors)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util.tensor_util import make_ndarray

    ea = EventAccumulator(str(folder), size_guidance={"scalars": 0, "tensors": 0})
    ea.Reload()
    out = {tag: [(e.step, float(e.value)) for e in ea.Scalars(tag)] for tag in ea.Tags().get("scalars", [])}
    for tag in ea.Tags().get("tensors", []):
        out[tag] = [(e.step, float(make_ndarray(e.tensor_proto))) for e in ea.Tensors(tag)]
    return {k: sorted(v) for k, v in out.items()}


def _recipe(tmp_path: Path, **training) -> Path:
    doc = ptq_recipe("tb")
    doc["data"]["train"] = {"type": "npz", "path": str(DATA), "x": "x_train", "y": "y_train", "stop": 128}
    doc["stages"] = [{"type": "prune", "target_sparsity": 0.5, "epochs": 2, "frequency": 1},
                     {"type": "qat", "epochs": 1}]
    doc["export"] = {"quantization": "int8"}
    doc["training"] = training
    return write_recipe(tmp_path, doc)


@pytest.mark.slow
def test_tensorboard_logs_loss_per_epoch_and_pruning_sparsity_per_stage(tmp_path):
    if importlib.util.find_spec("tensorboard") is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("tensorboard is not installed (the test extra has it)")
        pytest.skip("tensorboard is not installed")
    from optimize_cli.cli import main  # noqa: F401 - the package importable here as in the subprocess

    tb = tmp_path / "tb"
    res = subprocess.run([sys.executable, "-m", "optimize_cli", "run", str(_recipe(tmp_path)), "--output",
                          str(tmp_path / "out"), "--tensorboard", str(tb), "--quiet"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in tb.iterdir()) == ["01_prune", "02_qat"]
    prune = _scalars(tb / "01_prune" / "train")
    assert [step for step, _ in prune["epoch_loss"]] == [0, 1]
    import json

    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert [v for _, v in prune["epoch_loss"]] == pytest.approx(report["stages"][0]["history"]["loss"], rel=1e-5)
    sparsity = {tag: vals for tag, vals in _scalars(tb / "01_prune" / "metrics").items() if tag.endswith("/sparsity")}
    assert sparsity, "no pruning summaries"
    for tag, vals in sparsity.items():
        assert vals[0][1] == pytest.approx(0.0) and vals[-1][1] == pytest.approx(0.5, abs=0.05), tag
        assert vals[-1][0] > vals[0][0]  # over the optimizer's steps
    assert [step for step, _ in _scalars(tb / "02_qat" / "train")["epoch_loss"]] == [0]


def test_tensorboard_unwritable_folder_is_exit_2_naming_it(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    bad = blocker / "tb"  # under a file: no user, root included, can create it
    from run_helpers import cli

    res = cli("run", _recipe(tmp_path), "--output", tmp_path / "out", "--tensorboard", bad)
    assert res.exit_code == 2, res.output
    (line,) = [ln for ln in res.output.splitlines() if ln.strip()]
    assert str(bad) in line and "Traceback" not in res.output and not (tmp_path / "out").exists()
    res = cli("run", _recipe(tmp_path, tensorboard=str(bad)), "--output", tmp_path / "out")  # the recipe key
    assert res.exit_code == 2 and str(bad) in res.output


def test_tensorboard_recipe_folder_is_relative_to_the_recipe_and_not_resolved_into_the_run(tmp_path):
    from optimize_cli.recipe import load_recipe

    r = load_recipe(_recipe(tmp_path, tensorboard="logs/tb"))
    assert r.training.tensorboard == str((tmp_path / "logs" / "tb").resolve())
    assert "tensorboard" not in r.resolved_dict()["training"]  # where to log is not what the run computes


def test_tensorboard_missing_is_exit_2_naming_the_extra(tmp_path):
    code = ("import sys; sys.modules['tensorboard'] = None; from optimize_cli.cli import main; "
            f"sys.argv = ['optimize-cli', 'run', {str(_recipe(tmp_path))!r}, '--output', {str(tmp_path / 'o')!r}, "
            f"'--tensorboard', {str(tmp_path / 'tb')!r}]; main()")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 2, res.stderr
    assert "pip install 'optimize-cli[tensorboard]'" in res.stderr and "Traceback" not in res.stderr
