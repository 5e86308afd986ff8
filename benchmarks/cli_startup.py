"""How long the light commands take from a cold process: `optimize-cli --help` and
`optimize-cli validate recipes/prune-cluster-pcqat.yaml` (best of N, default 10). Target: < 0.5 s each.

    python benchmarks/cli_startup.py [--runs N] [--check] [--imports]

--check exits 1 when a figure misses the target; --imports lists the slowest imports of `validate`
(python -X importtime) and says whether TensorFlow was imported.
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_S = 0.5
RECIPE = ROOT / "recipes" / "prune-cluster-pcqat.yaml"


def _command() -> list[str]:
    """The installed console script next to this interpreter, else `python -m optimize_cli`."""
    script = Path(sys.executable).parent / "optimize-cli"
    if script.exists():
        return [str(script)]
    found = shutil.which("optimize-cli")
    return [found] if found else [sys.executable, "-m", "optimize_cli"]


def best_of(args: list[str], runs: int) -> tuple[float, float, int]:
    """(best, median, exit code) wall seconds of running the CLI with `args`."""
    env = {**os.environ, "NO_COLOR": "1"}
    times, code = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(_command() + args, capture_output=True, env=env, cwd=ROOT)
        times.append(time.perf_counter() - t0)
        code = proc.returncode
    times.sort()
    return times[0], times[len(times) // 2], code


def slowest_imports(args: list[str], n: int = 8) -> tuple[list[tuple[float, str]], bool]:
    code = "import sys; from optimize_cli.cli import main; sys.argv = ['optimize-cli'] + sys.argv[1:]; main()"
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code, *args], capture_output=True, text=True,
                          cwd=ROOT, env={**os.environ, "NO_COLOR": "1"})
    rows = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|(\s*)(\S+)", line)
        if m and len(m.group(2)) <= 2:  # top-level imports only (cumulative time)
            rows.append((int(m.group(1)) / 1e6, m.group(3)))
    names = {name for _, name in rows} | set(re.findall(r"\|\s+(\S+)$", proc.stderr, re.M))
    return sorted(rows, reverse=True)[:n], any(name.split(".")[0] == "tensorflow" for name in names)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--check", action="store_true", help="exit 1 when a figure misses the target")
    ap.add_argument("--imports", action="store_true", help="show the slowest imports of validate")
    opts = ap.parse_args()

    cases = [("optimize-cli --help", ["--help"]),
             (f"optimize-cli validate {RECIPE.relative_to(ROOT)}", ["validate", str(RECIPE)])]
    print(f"{' '.join(_command())} on Python {sys.version.split()[0]}, best of {opts.runs} (target < {TARGET_S} s)")
    missed = False
    for label, args in cases:
        best, median, code = best_of(args, opts.runs)
        ok = best < TARGET_S
        missed |= not ok
        print(f"  {label:<55} best {best:6.3f} s   median {median:6.3f} s   exit {code}   {'ok' if ok else 'SLOW'}")
    if opts.imports:
        rows, tf = slowest_imports(["validate", str(RECIPE)])
        print("slowest top-level imports of validate (cumulative):")
        for seconds, name in rows:
            print(f"  {seconds:6.3f} s  {name}")
        print(f"tensorflow imported: {tf}")
    return 1 if (opts.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
