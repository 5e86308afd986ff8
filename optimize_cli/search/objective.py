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

from ..errors import EXIT_EARLY_STOP, EXIT_GATE, EXIT_INTERRUPTED, EXIT_OK
from ..report.gates import gate_miss

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
    reason: Optional[str] = None  # one line, for a failed or pruned trial
    pruned: bool = False  # the run stopped early (search.early_stop): Optuna's PRUNED


    @property
    def completed(self) -> bool:
        return self.exit_code in (EXIT_OK, EXIT_GATE) and self.reason is None


def stop_limit(recipe, margin: Optional[float]) -> Optional[float]:
    """The accuracy drop past which a trial's run stops early: gates.max_accuracy_drop + `margin`
    (search.early_stop), None when either is not set."""
    gate = getattr(recipe.gates, "max_accuracy_drop", None)
    return None if gate is None or margin is None else float(gate) + float(margin)


def run_trial(recipe: Path, out: Path, log: Path, procs: Optional[list] = None, env: Optional[dict] = None,
              early_stop: Optional[float] = None) -> Outcome:
    """Run `recipe` into `out` in a subprocess (its stderr into `log`, its environment `env`, default this
    one's); `procs` holds the live process so that an interruption can reach it; `early_stop`: the drop
    past which the run stops (run/early_stop.py)."""
    from ..run.early_stop import ENV

    cmd = [sys.executable, "-m", "optimize_cli", "run", str(recipe), "--output", str(out), "--json", "--quiet"]
    env = {k: v for k, v in (os.environ if env is None else env).items() if k != ENV}
    if early_stop is not None:
        env[ENV] = repr(float(early_stop))
    start = time.monotonic()
    with open(log, "wb") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err, env=env)
        if procs is not None:
            procs.append(proc)
        try:
            code = proc.wait()
        finally:
            if procs is not None:
                procs.remove(proc)
    seconds = time.monotonic() - start
    if code == EXIT_EARLY_STOP:
        return Outcome(code, seconds, reason=_reason(log, code), pruned=True)
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
            miss = gate_miss(str(g.get("name", "")), value, limit)
            out.append(max(float(miss), 1e-12))
        else:
            out.append(1.0)
    return out
