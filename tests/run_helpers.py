"""What the CLI-level run tests share: the sample model and data, a quick post-training recipe, the CLI
invoked in-process, and a recipe written to a folder."""
from __future__ import annotations

from pathlib import Path

import yaml
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "sample_models" / "digits_cnn"
DATA = ROOT / "sample_models" / "digits.npz"


def ptq_recipe(name: str, eval_samples: int = 100) -> dict:
    """A dynamic-range PTQ recipe on the sample model: no training, two latency runs (seconds, not minutes)."""
    return {
        "version": 1,
        "name": name,
        "model": str(MODEL),
        "data": {"eval": {"type": "npz", "path": str(DATA), "x": "x_test", "y": "y_test", "stop": eval_samples}},
        "stages": [],
        "export": {"quantization": "dynamic"},
        "evaluation": {"latency_runs": 2, "latency_warmup": 0},
    }


def cli(*args):
    from optimize_cli.cli import main

    return CliRunner(env={"NO_COLOR": "1", "COLUMNS": "200"}).invoke(main, [str(a) for a in args])


def write_recipe(folder: Path, doc: dict, name: str = "recipe.yaml") -> Path:
    p = folder / name
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p
