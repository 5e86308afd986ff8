"""What `optimize-cli search` shows while it works, on stderr (the search itself prints nothing: it calls
its progress, search.progress.SearchProgress).

- Elsewhere than a terminal (CI logs, --json): one plain line when a trial starts ("started trial 0003
  (3/12): prune.target_sparsity=0.52, +cluster, cluster.clusters=8") and one when it ends (its figures,
  gates passed or missed, the best so far, an ETA from the median trial time).
- On a terminal: a live table of the best trials so far, the study's earlier sessions included, and
  under it each running trial with its elapsed time and its run's current stage (the last line of
  DIR/trials/NNNN.log), redrawn every second; each trial's end line above it.
- Nothing with --quiet but warnings. The search's own lines (the sensitivity pass, the built-ins it
  starts from, --timeout) and warnings (a worker process's exit code) go there too."""
from __future__ import annotations

import math
import os
import re
import statistics
import threading
import time
from pathlib import Path
from typing import Optional

from rich.console import Console

from ..progress import fmt_elapsed
from ..search import front
from ..search.tables import figures_text, is_fraction, params_text, show

#: rows of the live table
TOP = 10
_STAMP = re.compile(r"^\[\s*[\d.]+s\]\s*")


def log_line(t, objectives: list[str], fraction: bool = False) -> str:
    """The stderr line of a finished trial (an Optuna FrozenTrial), without the study-wide tail; its
    figures formatted like every report (`fraction`: drops in percentage points)."""
    r = front.record(t, objectives)
    head = f"trial {r['number']:04d} {r['state']}"
    if r["seconds"] is not None:
        head += f" in {r['seconds']:.1f} s"
    head += front.note(r)
    if r["state"] != "complete":
        return f"{head}: {r['reason'] or 'stopped'}"
    return f"{head}: {figures_text(r['values'], fraction)}; gates {'passed' if r['passed'] else 'missed'}"


def short_params(params: dict, labels: dict) -> str:
    """A trial's parameters in short form: `prune.target_sparsity=0.52, +cluster, cluster.clusters=8`."""
    parts = []
    for name, v in params.items():
        label = labels.get(name, name)
        if name.endswith(".enabled") and isinstance(v, bool):
            parts.append(("+" if v else "-") + label)
        else:
            parts.append(f"{label}={front.show_value(v)}")
    return ", ".join(parts) or "the recipe as written"


def start_line(start) -> str:
    """The line of a trial that began (a search.progress.TrialStart)."""
    note = f" (retry of {start.retry_of:04d})" if start.retry_of is not None else (
        f" (built-in {start.builtin})" if start.builtin else "")
    return f"started trial {start.number:04d}{note} ({start.place}/{start.total}): " \
           f"{short_params(start.params, start.labels)}"


def best_first(records: list[dict], objectives: list[str]) -> list[dict]:
    """Completed trials, those that pass every gate first, then by their objectives (then number)."""
    done = [r for r in records if r["state"] == "complete" and r["values"]]
    return sorted(done, key=lambda r: (not r["passed"], [r["values"][k] for k in objectives], r["number"]))


def counted(records: list[dict]) -> list[dict]:
    """The finished trials the study counts (a run's exit code: not interrupted, not a surplus one)."""
    return [r for r in records if r.get("exit_code") is not None and r["state"] != "running"]


def eta_seconds(records: list[dict], total: int, workers: int) -> Optional[float]:
    """The median trial time × the rounds of trials left (None before the first trial's time)."""
    times = [r["seconds"] for r in counted(records) if r.get("seconds")]
    left = total - len(counted(records))
    if not times or left <= 0:
        return None if not times else 0.0
    return statistics.median(times) * math.ceil(left / max(workers, 1))


def study_tail(records: list[dict], objectives: list[str], total: int, workers: int, fraction: bool = False) -> str:
    """"(3/12); best so far 0001: compressed_bytes=…; ETA 2 min 10 s" for a finished trial's line."""
    parts = [f"({len(counted(records))}/{total})"]
    best = best_first(records, objectives)
    if best and best[0]["passed"]:
        parts.append(f"best so far {best[0]['number']:04d}: {figures_text(best[0]['values'], fraction)}")
    else:
        parts.append("no trial feasible yet")
    eta = eta_seconds(records, total, workers)
    if eta:
        parts.append(f"ETA {fmt_elapsed(eta)}")
    return parts[0] + "; " + "; ".join(parts[1:])


def live_table(records: list[dict], objectives: list[str], top: int = TOP, fraction: bool = False,
               total: Optional[int] = None, running: int = 0, labels: Optional[dict] = None):
    """The rich Table of the `top` best trials so far, with a caption counting every trial (`fraction`:
    drops in percentage points; `total`: the study's total; `running`: trials running now; `labels`: the
    parameters' short names). Only the parameters column wraps, at the spaces between parameters: the
    other columns never wrap (an objective's header is split at its underscores), so that at 80 columns
    no name is cut."""
    from rich.markup import escape
    from rich.table import Table

    states: dict[str, int] = {}
    for r in records:
        states[r["state"]] = states.get(r["state"], 0) + 1
    if records:
        caption = f"{len(records)} trials" + (f" ({len(counted(records))} of {total} counted)" if total else "") + \
            ": " + ", ".join(f"{n} {s}" for s, n in states.items())
    else:
        caption = "the first trial is running" if running else "waiting for the first trial"
    t = Table(title="best trials so far", caption=caption, title_justify="left", caption_justify="left",
              header_style="bold")
    for c in ("rank", "trial", "parameters", *objectives, "gates"):
        wraps = c == "parameters"
        t.add_column(c if c not in objectives else c.replace("_", "\n"),
                     justify="right" if c in ("rank", *objectives) else "left",
                     overflow="fold" if wraps else "ellipsis", no_wrap=not wraps, ratio=3 if wraps else None)
    for i, r in enumerate(best_first(records, objectives)[:top], 1):
        gates = "[green]passed[/green]" if r["passed"] else "[red]missed[/red]"
        params = short_params(r["params"], labels) if labels else params_text(r)
        t.add_row(str(i), f"{r['number']:04d}", escape(params),
                  *(show(k, r["values"][k], fraction) for k in objectives), gates)
    return t


def stage_of(log: Optional[Path], width: int = 100) -> str:
    """The running trial's current stage: the last line its run wrote to its log (time stamp removed)."""
    if log is None:
        return ""
    try:
        with open(log, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 4096))
            lines = [ln.strip() for ln in f.read().decode("utf-8", "replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    text = _STAMP.sub("", lines[-1]) if lines else "starting"
    return text if len(text) <= width else text[: width - 1] + "…"


class TrialProgress:
    """The search's progress (search.progress.SearchProgress): `search_started`, `trial_started`,
    `trial(trial, study)` after each finished trial, `log(line)` and `warn(line)`. A context manager: on
    a terminal it holds the rich Live display (redrawn every second) while the search runs."""

    def __init__(self, objectives: list[str], console: Optional[Console] = None, quiet: bool = False,
                 live: Optional[bool] = None):
        from ..progress import stderr_console

        self.objectives, self.quiet = list(objectives), quiet
        self.console = console or stderr_console()
        interactive = self.console.is_terminal and not os.environ.get("CI")
        self.live = (not quiet) and (interactive if live is None else live)
        self._live = None
        self.records: dict[int, dict] = {}
        self.running: dict[int, tuple] = {}  # number → (TrialStart, monotonic start)
        self.total: Optional[int] = None
        self.workers = 1
        self.labels: dict = {}  # the parameters' short names (search_started)
        self.metric: Optional[dict] = None  # read from the first completed trial's report
        self._lock = threading.RLock()  # the workers are threads; the Live display redraws from its own

    def __enter__(self) -> TrialProgress:
        if self.live:
            from rich.live import Live

            self._live = Live(self, console=self.console, auto_refresh=True, refresh_per_second=1,
                              transient=False, redirect_stdout=False, redirect_stderr=False)
            self._live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self._live is not None:
            self._live.__exit__(*exc)
            self._live = None

    def __rich__(self):
        """The live display: the table, then one line per running trial."""
        from rich.console import Group
        from rich.text import Text

        with self._lock:
            records = list(self.records.values())
            table = live_table(records, self.objectives, fraction=is_fraction(self.metric), total=self.total,
                               running=len(self.running), labels=self.labels)
            lines = []
            for start, since in sorted(self.running.values(), key=lambda x: x[0].number):
                lines.append(Text(f"running trial {start.number:04d} ({start.place}/{start.total}) "
                                  f"{fmt_elapsed(time.monotonic() - since)}: {stage_of(start.log)}  ·  "
                                  f"{short_params(start.params, start.labels)}", overflow="ellipsis", no_wrap=True))
        return Group(table, *lines)

    def search_started(self, study, total: int, workers: int, labels: dict) -> None:
        """The search begins: its total and workers; the trials of earlier sessions enter the table."""
        with self._lock:
            self.total, self.workers, self.labels = total, workers, labels
            for t in study.get_trials(deepcopy=False):
                if t.state.name not in ("RUNNING", "WAITING"):
                    self.records[t.number] = front.record(t, self.objectives)
            self.metric = self.metric or front.trial_metric(list(self.records.values()))
            self._refresh()

    def trial_started(self, start) -> None:
        if self.quiet:
            return
        with self._lock:
            self.running[start.number] = (start, time.monotonic())
            if self._live is None:
                self._line(start_line(start))
            else:
                self._refresh()

    def trial(self, trial, study=None) -> None:
        """One finished trial (an Optuna FrozenTrial); `study`, when given, adds the trials other workers
        finished (a shared study) to the table."""
        if self.quiet:
            return
        with self._lock:
            self._show(trial, study)

    def log(self, message: str) -> None:
        """One line of the search's own (the sensitivity pass), as it is."""
        if not self.quiet:
            with self._lock:
                self._line(message)

    def warn(self, message: str) -> None:
        """A warning: shown even with --quiet (a worker process that ended badly)."""
        with self._lock:
            self._line(f"optimize-cli: warning: {message}")

    def _line(self, line: str) -> None:
        if self._live is None:
            print(line, file=self.console.file, flush=True)
        else:
            self._live.console.print(line, markup=False, highlight=False)

    def _refresh(self) -> None:
        if self._live is not None:
            self._live.refresh()

    def _show(self, trial, study) -> None:
        self.running.pop(trial.number, None)
        if study is not None:
            for t in study.get_trials(deepcopy=False):
                if t.state.name not in ("RUNNING", "WAITING"):
                    self.records[t.number] = front.record(t, self.objectives)
        self.records[trial.number] = front.record(trial, self.objectives)
        self.metric = self.metric or front.trial_metric(list(self.records.values()))
        fraction = is_fraction(self.metric)
        line = log_line(trial, self.objectives, fraction)
        if self.total is not None:
            line += "; " + study_tail(list(self.records.values()), self.objectives, self.total, self.workers, fraction)
        self._line(line)
        self._refresh()
