"""`--help` stays instant: importing the CLI loads click and the command modules only — not the recipe
models, pydantic, numpy or TensorFlow (those load inside the command that needs them)."""
from __future__ import annotations

import json
import subprocess
import sys


def test_cli_import_loads_no_recipe_models_pydantic_numpy_or_tensorflow():
    code = ("import sys, json, optimize_cli.cli; "
            "print(json.dumps(sorted(m for m in ('optimize_cli.recipe', 'pydantic', 'numpy', 'tensorflow') "
            "if m in sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(out.stdout) == []
