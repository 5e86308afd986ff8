"""The integrations cost nothing when unused: validating a recipe, even one with `tracking:` and
`training.tensorboard`, imports neither MLflow, TensorBoard nor TensorFlow."""
from __future__ import annotations

import json
import subprocess
import sys

from run_helpers import ptq_recipe, write_recipe


def test_validate_with_tracking_and_tensorboard_keys_imports_no_mlflow_tensorboard_or_tensorflow(tmp_path):
    doc = ptq_recipe("imports")
    doc["tracking"] = {"mlflow": "http://127.0.0.1:1", "experiment": "x"}
    doc["training"] = {"tensorboard": "tb"}
    recipe = write_recipe(tmp_path, doc)
    code = ("import sys, json\nfrom optimize_cli.cli import main\n"
            f"sys.argv = ['optimize-cli', 'validate', {str(recipe)!r}]\n"
            "try:\n    main()\nexcept SystemExit as e:\n    code = e.code\n"
            "print(json.dumps([code, sorted(m for m in ('mlflow', 'tensorboard', 'tensorflow') if m in sys.modules)]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == [0, []], out.stdout + out.stderr
    assert not (tmp_path / "tb").exists()  # validate creates no log folder
