"""How much of a run is the tool's own overhead (loading, measuring, evaluating, saving, writing)
rather than training and conversion? Target: under 15 % of a run on the sample model.

Runs a recipe in-process with timers around the two kinds of work that are not overhead — each stage's
`run` (tfmot wrapping, fine-tuning, stripping) and every TFLite conversion — and reports the rest of the
wall time of `run_recipe`. The TensorFlow import happens before timing starts and is shown separately.

    .venv/bin/python benchmarks/overhead.py [RECIPE] [--set KEY=VALUE ...]
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("recipe", nargs="?", default=str(ROOT / "recipes" / "prune-cluster-pcqat.yaml"))
    ap.add_argument("--set", dest="sets", action="append", default=[])
    ap.add_argument("--target", type=float, default=15.0, help="overhead target in percent")
    args = ap.parse_args()

    t0 = time.perf_counter()
    import optimize_cli.tf  # noqa: F401  (TensorFlow, tf_keras, tfmot)
    t_import = time.perf_counter() - t0

    from optimize_cli import RunOptions, export, load_recipe, run_recipe
    from optimize_cli.stages import STAGES, stage_module

    spent = {"train": 0.0, "convert": 0.0}

    def timed(kind, fn):
        def wrapper(*a, **kw):
            s = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                spent[kind] += time.perf_counter() - s
        return wrapper

    export.convert = timed("convert", export.convert)
    for typ in STAGES:
        mod = stage_module(typ)
        mod.run = timed("train", mod.run)

    recipe = load_recipe(args.recipe, args.sets)
    with tempfile.TemporaryDirectory() as tmp:
        s = time.perf_counter()
        code = run_recipe(recipe, RunOptions(output=Path(tmp) / "out", quiet=True)).exit_code
        total = time.perf_counter() - s
    work = spent["train"] + spent["convert"]
    overhead = total - work
    pct = 100 * overhead / total
    print(f"recipe            {recipe.name}", file=sys.stderr)
    print(f"tensorflow import {t_import:6.2f} s (not counted)", file=sys.stderr)
    print(f"run wall time     {total:6.2f} s (exit {code})", file=sys.stderr)
    print(f"  training        {spent['train']:6.2f} s", file=sys.stderr)
    print(f"  conversion      {spent['convert']:6.2f} s", file=sys.stderr)
    print(f"  tool overhead   {overhead:6.2f} s = {pct:.1f} % of the run (target < {args.target:.0f} %)",
          file=sys.stderr)
    return 0 if pct < args.target else 1


if __name__ == "__main__":
    sys.exit(main())
