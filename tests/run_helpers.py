"""What the CLI-level run tests share: the sample model and data, a quick post-training recipe, the head
of a recipe on them, the CLI invoked in-process, a recipe written to a folder, and a folder built once per
test session."""
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


def sample_head(name: str) -> str:
    """The head of a YAML recipe `name` on the sample model, trained and evaluated on its digits (absolute
    paths)."""
    return f"""version: 1
name: {name}
model: {MODEL}
data:
  train: {{type: npz, path: {DATA}, x: x_train, y: y_train}}
  eval:  {{type: npz, path: {DATA}, x: x_test,  y: y_test}}
"""


def built_once(tmp_path_factory, name: str, build) -> Path:
    """The folder `name` of this test session, `build(folder)` run into it once: xdist workers share it
    (under a lock; the first one builds, the others wait). Tests only read it."""
    import fcntl
    import os

    base = tmp_path_factory.getbasetemp()
    out = (base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base) / name
    out.mkdir(exist_ok=True)
    with open(out.parent / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "done").exists():
            build(out)
            (out / "done").write_text("")
    return out


def cli(*args):
    from optimize_cli.cli import main

    return CliRunner(env={"NO_COLOR": "1", "COLUMNS": "200"}).invoke(main, [str(a) for a in args])


def write_recipe(folder: Path, doc: dict, name: str = "recipe.yaml") -> Path:
    p = folder / name
    p.write_text(yaml.safe_dump(doc, sort_keys=False))
    return p
