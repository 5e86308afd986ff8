"""One trial: a normal `optimize-cli run` of its concrete recipe in its own subprocess (TensorFlow state
and the converter's memory do not leak between trials), read back from its report.json."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..errors import EXIT_GATE, EXIT_INTERRUPTED, EXIT_OK

#: result figures a trial records (and the objectives are drawn from)
FIGURES = ("tflite_bytes", "compressed_bytes", "compression_ratio", "accuracy", "accuracy_drop", "latency_ms")


@dataclass
class Outcome:
    """What one trial's run ended with."""

    exit_code: int
    seconds: float
    figures: dict = field(default_factory=dict)
    gates: list = field(default_factory=list)
    passed: bool = False
    reason: Optional[str] = None  # one line, for a failed trial

    @property
    def completed(self) -> bool:
        return self.exit_code in (EXIT_OK, EXIT_GATE) and self.reason is None


def run_trial(recipe: Path, out: Path, log: Path, procs: Optional[list] = None, env: Optional[dict] = None) -> Outcome:
    """Run `recipe` into `out` in a subprocess (its stderr into `log`, its environment `env`, default this
    one's); `procs` holds the live process so that an interruption can reach it."""
    cmd = [sys.executable, "-m", "optimize_cli", "run", str(recipe), "--output", str(out), "--json", "--quiet"]
    start = time.monotonic()
    with open(log, "wb") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                env=os.environ.copy() if env is None else env)
        if procs is not None:
            procs.append(proc)
        try:
            code = proc.wait()
        finally:
            if procs is not None:
                procs.remove(proc)
    seconds = time.monotonic() - start
    if code not in (EXIT_OK, EXIT_GATE):
        return Outcome(code, seconds, reason=_reason(log, code))
    try:
        report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return Outcome(code, seconds, reason=f"report.json unreadable ({e})")
    result = report.get("result") or {}
    return Outcome(code, seconds, figures={k: result.get(k) for k in FIGURES}, gates=report.get("gates") or [],
                   passed=bool(report.get("passed")))


def _reason(log: Path, code: int) -> str:
    """The run's own one-line error, else its exit code."""
    if code == EXIT_INTERRUPTED:
        return "interrupted"
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    errors = [ln for ln in lines if ln.startswith("error:")]
    return errors[-1][len("error:"):].strip() if errors else f"exit code {code}"


def violations(gates: list) -> list[float]:
    """Optuna constraints from the report's gates (<= 0 is feasible): how far each gate was missed."""
    out = []
    for g in gates:
        value, limit = g.get("value"), g.get("limit")
        if g.get("passed"):
            out.append(0.0)
        elif isinstance(value, (int, float)) and isinstance(limit, (int, float)):
            miss = (value - limit) if str(g.get("name", "")).startswith("max_") else (limit - value)
            out.append(max(float(miss), 1e-12))
        else:
            out.append(1.0)
    return out
