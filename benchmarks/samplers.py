"""Which sampler finds the best feasible recipe soonest? Runs the same search recipe with each sampler,
the same budget (--trials) and the same seeds, and prints, per sampler, the best feasible value of the
first objective after each number of trials (the median over the seeds; "-" while no trial is feasible).

    .venv/bin/python benchmarks/samplers.py RECIPE [--trials 24] [--seeds 0 1 2]
                                                   [--samplers tpe tpe-independent nsga2 random gp]
                                                   [--workers 1] [--keep DIR]

Each run is a real `optimize-cli search` into its own folder (DIR/<sampler>-<seed>, a temporary folder
unless --keep); a sampler whose package is missing (gp needs torch) is reported and skipped. The recipe is
copied beside itself with search.sampler and search.seed replaced, so its relative paths still hold.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def best_after(doc: dict) -> list:
    """The best feasible first-objective value after each counted trial, in trial order (None before the
    first feasible one)."""
    key = doc["objectives"][0]
    best, out = None, []
    for t in sorted(doc["trials"], key=lambda t: t["number"]):
        if t["exit_code"] is None:  # interrupted or surplus: not counted
            continue
        if t["passed"] and t["values"]:
            v = t["values"][key]
            best = v if best is None else min(best, v)
        out.append(best)
    return out


def run_one(recipe: Path, sampler: str, seed: int, trials: int, workers: int, out: Path):
    raw = yaml.safe_load(recipe.read_text(encoding="utf-8"))
    raw.setdefault("search", {}).update(sampler=sampler, seed=seed)
    copy = recipe.with_name(f".bench-{sampler}-{seed}-{os.getpid()}.yaml")
    copy.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    try:
        res = subprocess.run([sys.executable, "-m", "optimize_cli", "search", str(copy), "--output", str(out),
                              "--trials", str(trials), "--workers", str(workers), "--quiet"],
                             capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)})
    finally:
        copy.unlink(missing_ok=True)
    if res.returncode == 2:
        return None, res.stderr.strip().splitlines()[-1] if res.stderr.strip() else "exit 2"
    return best_after(json.loads((out / "search.json").read_text(encoding="utf-8"))), None


def checkpoints(trials: int) -> list[int]:
    marks = sorted({max(1, round(trials * f)) for f in (0.125, 0.25, 0.5, 0.75, 1.0)})
    return marks


def table(results: dict, trials: int) -> str:
    marks = checkpoints(trials)
    lines = ["| sampler | " + " | ".join(f"after {k}" for k in marks) + " |", "|---|" + "---:|" * len(marks)]
    for sampler, runs in results.items():
        cells = []
        for k in marks:
            vals = [r[k - 1] for r in runs if len(r) >= k and r[k - 1] is not None]
            cells.append(f"{statistics.median(vals):,.6g} ({len(vals)}/{len(runs)})" if vals else "-")
        lines.append(f"| {sampler} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("recipe", type=Path)
    ap.add_argument("--trials", type=int, default=24)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--samplers", nargs="+", default=["tpe", "tpe-independent", "nsga2", "random", "gp"])
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="keep every run's output here")
    args = ap.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench-samplers-"))
    results: dict = {}
    for sampler in args.samplers:
        for seed in args.seeds:
            runs, why = run_one(args.recipe.resolve(), sampler, seed, args.trials, args.workers,
                                base / f"{sampler}-{seed}")
            if runs is None:
                print(f"{sampler}: skipped ({why})", file=sys.stderr)
                break
            results.setdefault(sampler, []).append(runs)
            print(f"{sampler} seed {seed}: best {runs[-1] if runs else None}", file=sys.stderr)
    print(f"Best feasible value of the first objective after N trials (median over seeds {args.seeds}; "
          "(feasible runs/runs)):\n")
    print(table(results, args.trials))


if __name__ == "__main__":
    main()
