"""How fast does `optimize-cli search` go, and how much of a trial is not training?

Runs a small search on the sample model (prune sparsity × optional sparsity-preserving clustering →
int8, 1-epoch stages, tpe; the recipe below, or RECIPE) into a temporary folder with an empty baseline
cache, then reads search.json and every trial's report.json:

- trials per hour: finished trials / the search's wall time × 3600;
- per trial: its wall time (the subprocess, as the study timed it) split into training (the stages'
  `seconds`: wrapping, fine-tuning, stripping), the rest of the run in-process (`seconds_total` minus
  training and TensorFlow's import: loading, baselines, per-stage measurement, export conversion,
  measurement, reports) and the subprocess start (Python, imports, TensorFlow's import timed apart);
- the baselines: measured by the first trial only (the others' report.json says `cached`); their cost
  is the first trial's in-process rest minus the median of the others'.

    .venv/bin/python benchmarks/search.py [RECIPE] [--trials N] [--workers K] [--recycle-after N] [--compare]

(--compare: the same search with a fresh process per trial, then with long-lived trial processes.)
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_models"
RECIPE = f"""version: 1
name: bench-search
model: {SAMPLE / 'digits_cnn'}
data:
  train: {{type: npz, path: {SAMPLE / 'digits.npz'}, x: x_train, y: y_train}}
  eval:  {{type: npz, path: {SAMPLE / 'digits.npz'}, x: x_test,  y: y_test}}
stages:
  - {{type: prune, target_sparsity: {{search: [0.4, 0.8]}}, epochs: 1}}
  - {{type: cluster, clusters: {{search: {{choices: [8, 16]}}}}, epochs: 1, optional: true}}
export: {{quantization: int8}}
gates: {{max_accuracy_drop: 0.03}}
search: {{objectives: [compressed_bytes, accuracy_drop], trials: 6, sampler: tpe, seed: 0}}
"""


def split(trial: dict, report: dict, tf_import: float) -> dict:
    wall = float(trial["seconds"])
    train = sum(float(s["seconds"]) for s in report["stages"])
    inside = float(report["seconds_total"]) - tf_import
    return {"wall": wall, "train": train, "rest": inside - train, "start": wall - inside,
            "cached": bool(report["baseline"].get("cached"))}


def import_seconds(env: dict) -> float:
    """What importing TensorFlow (and tfmot, tf_keras) costs a fresh process: the run times it as part
    of `seconds_total` (it is imported lazily), so it is moved from the rest of the run to the start."""
    code = "import time; t = time.perf_counter(); import optimize_cli.tf; print(time.perf_counter() - t)"
    return min(float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                                    check=True).stdout.split()[-1]) for _ in range(2))


def measure(recipe: Path, tmp: Path, trials: int, workers: int, recycle_after: int) -> tuple[list, float, float]:
    """One search into tmp/out-<recycle_after>, its baseline cache its own (--no-cache: measured once, by
    its first trial): (per-trial splits, wall, TensorFlow's import)."""
    out = tmp / f"out-{recycle_after}"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "optimize_cli", "search", str(recipe), "--output", str(out),
                          "--trials", str(trials), "--workers", str(workers), "--recycle-after", str(recycle_after),
                          "--no-cache", "--quiet"], capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    tf_import = import_seconds(env)
    if res.returncode not in (0, 5):
        sys.exit(f"search failed ({res.returncode}): {res.stderr[-2000:]}")
    doc = json.loads((out / "search.json").read_text())
    rows = []
    for t in doc["trials"]:
        rp = out / "trials" / f"{t['number']:04d}" / "report.json"
        if t.get("seconds") is not None and rp.is_file():
            # in a long-lived trial process TensorFlow was imported before the run: not in seconds_total
            rows.append(split(t, json.loads(rp.read_text()), tf_import if recycle_after == 1 else 0.0))
    if not rows:
        sys.exit("no trial finished")
    return rows, wall, tf_import


def show(rows: list, wall: float, tf_import: float, workers: int, recycle_after: int) -> float:
    """Print one search's figures; its trials per hour."""
    n = len(rows)
    tot = {k: sum(r[k] for r in rows) for k in ("wall", "train", "rest", "start")}
    measured = [r for r in rows if not r["cached"]]
    reused = [r for r in rows if r["cached"]]
    mode = "a fresh process per trial" if recycle_after == 1 else f"trial processes recycled after {recycle_after}"
    per_hour = n / wall * 3600
    print(f"{n} trials in {wall:.1f} s with {workers} worker(s), {mode}: {per_hour:.0f} trials per hour; "
          f"a trial {tot['wall'] / n:.1f} s on average")
    print(f"  training (stages)          {tot['train'] / n:6.1f} s  {100 * tot['train'] / tot['wall']:5.1f} %")
    print(f"  rest of the run            {tot['rest'] / n:6.1f} s  {100 * tot['rest'] / tot['wall']:5.1f} %  "
          "(loading, baselines, measurement, export, reports)")
    print(f"  fixed cost (start, imports, hand-off) {tot['start'] / n:6.1f} s  {100 * tot['start'] / tot['wall']:5.1f} %"
          f"  (median {statistics.median(r['start'] for r in rows):.1f} s; TensorFlow's import {tf_import:.1f} s)")
    print(f"  outside training           {100 * (tot['wall'] - tot['train']) / tot['wall']:5.1f} % of a trial")
    print(f"  baselines measured by {len(measured)} trial(s), reused by {len(reused)}", end="")
    if measured and reused:
        cost = statistics.mean(r["rest"] for r in measured) - statistics.median(r["rest"] for r in reused)
        print(f"; measuring them cost about {cost:.1f} s (saved {cost * len(reused):.0f} s in this study)")
    else:
        print()
    return per_hour


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("recipe", nargs="?", type=Path)
    ap.add_argument("--trials", type=int, default=6)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--recycle-after", type=int, default=10, help="search --recycle-after (1: a process per trial)")
    ap.add_argument("--compare", action="store_true", help="also run with --recycle-after 1 and compare")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        recipe = args.recipe or Path(tmp) / "bench-search.yaml"
        if args.recipe is None:
            recipe.write_text(RECIPE, encoding="utf-8")
        modes = [1, args.recycle_after] if args.compare and args.recycle_after != 1 else [args.recycle_after]
        rates = {}
        for mode in modes:
            rows, wall, tf_import = measure(recipe, Path(tmp), args.trials, args.workers, mode)
            rates[mode] = show(rows, wall, tf_import, args.workers, mode)
        if len(rates) == 2:
            print(f"trials per hour: {rates[modes[1]] / rates[1]:.2f}x with --recycle-after {modes[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
