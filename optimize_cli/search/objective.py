"""One trial: a normal `optimize-cli run --json` of its concrete recipe in its own subprocess (TensorFlow
state and the converter's memory do not leak between trials). What it hands back is typed: its JSON on
stdout (the summary, or `{"error", "exit_code"}` when it failed) is parsed, and the report.json the
summary names is read back into a TrialReport."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from ..errors import EXIT_EARLY_STOP, EXIT_GATE, EXIT_INTERRUPTED, EXIT_OK
from ..report.gates import gate_miss
from ..run.records import GateRecord, MetricInfo

#: result figures a trial records (and the objectives are drawn from)
FIGURES = ("tflite_bytes", "compressed_bytes", "compression_ratio", "accuracy", "accuracy_drop", "latency_ms")
#: the int8 PTQ baseline's figures a trial also records, as ptq_<name> (the quality answer's size bound)
PTQ_FIGURES = ("tflite_bytes", "compressed_bytes")


@dataclass
class TrialReport:
    """What search reads from a trial's report.json: the result's figures, the gates and their verdict,
    the metric."""

    figures: dict[str, Optional[float]]
    gates: list[GateRecord]
    passed: bool
    metric: Optional[MetricInfo] = None

    @classmethod
    def from_dict(cls, report: dict) -> TrialReport:
        """From report.json's content (a missing figure is None; a malformed report raises ValueError)."""
        try:
            result = report.get("result") or {}
            gates = [GateRecord(name=str(g["name"]), limit=g["limit"], value=g.get("value"), passed=bool(g["passed"]))
                     for g in report.get("gates") or []]
            m = report.get("metric")
            metric = MetricInfo(str(m["name"]), bool(m["higher_is_better"]), m.get("eval_samples")) if m else None
            figures = {k: result.get(k) for k in FIGURES}
            figures.update(deployable_figures(result))
            ptq = report.get("ptq_baseline") or {}
            figures.update({f"ptq_{k}": ptq.get(k) for k in PTQ_FIGURES if ptq.get(k) is not None})
            return cls(figures, gates, bool(report.get("passed")), metric)
        except (AttributeError, KeyError, TypeError) as e:
            raise ValueError(f"not a run's report ({type(e).__name__}: {e})") from None

    @classmethod
    def read(cls, path: Path) -> TrialReport:
        """From a report.json file (OSError, ValueError when it cannot be read)."""
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


@dataclass
class Outcome:
    """What one trial's run ended with."""

    exit_code: int
    seconds: float
    figures: dict = field(default_factory=dict)
    gates: list[GateRecord] = field(default_factory=list)
    passed: bool = False
    reason: Optional[str] = None  # one line, for a failed or pruned trial
    pruned: bool = False  # the run stopped early (search.early_stop): Optuna's PRUNED

    @property
    def completed(self) -> bool:
        return self.exit_code in (EXIT_OK, EXIT_GATE) and self.reason is None


def deployable_figures(result: dict) -> dict:
    """`deployable_bytes:<target>` for every target of a trial's result, and `deployable_bytes`: the one
    target the recipe names beside the run's own runtime (LiteRT), else the largest over the targets."""
    from .. import targets as registry

    per = {f"deployable_bytes:{name}": f["deployable_bytes"] for name, f in (result.get("targets") or {}).items()
           if isinstance(f, dict) and isinstance(f.get("deployable_bytes"), (int, float))}
    if not per:
        return {}
    main = f"deployable_bytes:{registry.target_name(registry.main_target())}"
    others = [v for k, v in per.items() if k != main]
    return {**per, "deployable_bytes": others[0] if len(others) == 1 else max(per.values())}


def objective_value(figures: dict, name: str) -> Optional[float]:
    """The value of objective `name` (search.objectives, recipe/space.py OBJECTIVES) in a trial's figures.
    The one place an objective is read: an objective that is not a result figure of its own name (e.g.
    `deployable_bytes:<target>`, read from result.targets.<target>.deployable_bytes — TrialReport.from_dict
    would record it as a figure) maps here."""
    return figures.get(name)


def stop_limit(recipe, margin: Optional[float]) -> Optional[float]:
    """The accuracy drop past which a trial's run stops early: gates.max_accuracy_drop + `margin`
    (search.early_stop), None when either is not set."""
    gate = getattr(recipe.gates, "max_accuracy_drop", None)
    return None if gate is None or margin is None else float(gate) + float(margin)


def trial_command(recipe: Path, out: Path, early_stop: Optional[float] = None,
                  cache_dir: Optional[Path] = None) -> list[str]:
    """The trial's `optimize-cli run` command line: JSON on stdout, its plain log lines on stderr (the
    trial's log, whose last line the live display shows as the trial's stage); `early_stop` and
    `cache_dir` as the hidden run options (RunOptions.early_stop_drop, RunOptions.cache_dir)."""
    cmd = [sys.executable, "-m", "optimize_cli", "run", str(recipe), "--output", str(out), "--json"]
    if early_stop is not None:
        cmd += ["--early-stop-drop", repr(float(early_stop))]
    if cache_dir is not None:
        cmd += ["--cache-dir", str(cache_dir)]
    return cmd


def run_trial(recipe: Path, out: Path, log: Path, procs: Optional[list] = None, early_stop: Optional[float] = None,
              cache_dir: Optional[Path] = None, runner=None) -> Outcome:
    """Run `recipe` into `out` in a subprocess (its stderr into `log`, its stdout parsed); `procs` holds
    the live process so that an interruption can reach it; `early_stop`: the drop past which the run stops
    (run/early_stop.py); `cache_dir`: its baseline cache (default the user's); `runner`: a long-lived
    trial process (trial_worker.TrialProcess) to run it in, else a fresh subprocess."""
    cmd = trial_command(recipe, out, early_stop, cache_dir)
    start = time.monotonic()
    if runner is not None:
        log.write_bytes(b"")
        code, stdout = runner.run(cmd[4:], log, procs)
        return outcome(code, time.monotonic() - start, parse_stdout(stdout), out)
    with open(log, "wb") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err)
        if procs is not None:
            procs.append(proc)
        try:
            stdout, _ = proc.communicate()
        finally:
            if procs is not None:
                procs.remove(proc)
    return outcome(proc.returncode, time.monotonic() - start, parse_stdout(stdout), out)


def parse_stdout(data: bytes) -> Optional[dict]:
    """The run's `--json` document (the summary, or `{"error", "exit_code"}`), or None when stdout holds
    none (the run was killed; a library wrote to stdout: then its last line is tried)."""
    text = data.decode("utf-8", errors="replace").strip()
    for candidate in (text, text.rsplit("\n", 1)[-1]):
        try:
            doc = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(doc, dict):
            return doc
    return None


def outcome(code: int, seconds: float, doc: Optional[dict], out: Path) -> Outcome:
    """The Outcome of a trial's run from its exit code and its JSON (`doc`): a failure's reason is the
    run's own `error`; a completed run's figures come from the report.json its summary names."""
    if code not in (EXIT_OK, EXIT_GATE):
        reason = "interrupted" if code == EXIT_INTERRUPTED else (
            str(doc["error"]) if doc and doc.get("error") else
            f"the trial's process was killed (signal {-code})" if code < 0 else f"exit code {code}")
        return Outcome(code, seconds, reason=reason, pruned=code == EXIT_EARLY_STOP)
    if doc is None or "error" in doc:
        return Outcome(code, seconds, reason=f"no summary on the run's stdout (exit code {code})")
    path = Path(doc.get("report") or out / "report.json")
    try:
        report = TrialReport.read(path)
    except (OSError, ValueError) as e:
        return Outcome(code, seconds, reason=f"report.json unreadable ({e})")
    return Outcome(code, seconds, figures=report.figures, gates=report.gates, passed=report.passed)


def violations(gates: list[GateRecord]) -> list[float]:
    """Optuna constraints from the report's gates (<= 0 is feasible): how far each gate was missed."""
    out = []
    for g in gates:
        if g.passed:
            out.append(0.0)
        elif isinstance(g.value, (int, float)) and isinstance(g.limit, (int, float)):
            miss = gate_miss(g.name, g.value, g.limit)
            out.append(max(float(miss), 1e-12))
        else:
            out.append(1.0)
    return out
