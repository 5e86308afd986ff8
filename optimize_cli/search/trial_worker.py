"""A trial process that pays for the imports once (the search's side; the process itself is
cli/trial_server.py, which runs the CLI's `run` in-process): it imports TensorFlow (and the run's own
modules) when it starts, then runs trials one after another, each a normal `optimize-cli run --json` of the trial's
recipe into DIR/trials/NNNN/ (its stdout captured and handed back, its stderr and native output into the
trial's log). Isolation is kept where it matters: the process is recycled after `recycle_after` trials or
once its resident memory passes `max_rss` (the converter leaks memory in a long-lived process), and a crash
(a signal, the OOM killer) costs the trial that was running only — the next trial gets a fresh process.

Protocol (one JSON document per line): the search writes `{"args": [run's arguments], "log": path}` to
the process's stdin; the process answers on its original stdout (kept on a private descriptor; fd 1 and
fd 2 point at the trial's log while it runs) `{"exit_code", "stdout", "rss"}`, or `{"ready": true}` once
its imports are done. EOF on stdin ends it.

Started by the search (TrialProcess), as `python -c LAUNCH`.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Optional

#: trials one process runs before a fresh one takes over (search --recycle-after)
RECYCLE_AFTER = 10
#: resident memory past which the process is recycled after its trial (bytes)
MAX_RSS = 3 * 2**30


#: the folder this package was imported from: the trial process imports the very same code from it
_ROOT = str(Path(__file__).resolve().parents[2])
#: how it starts: the working directory is not on sys.path (a module planted there cannot shadow an
#: import; `python -m optimize_cli` does the same), this package's folder is
LAUNCH = "import sys; sys.path[0] = {root}; from optimize_cli.cli.trial_server import serve; serve()"


class TrialProcess:
    """The search's side: one long-lived trial process per worker slot, started on the first trial,
    replaced after `recycle_after` trials, past `max_rss`, or when it died."""

    def __init__(self, recycle_after: int = RECYCLE_AFTER, max_rss: int = MAX_RSS):
        self.recycle_after, self.max_rss = recycle_after, max_rss
        self.proc: Optional[subprocess.Popen] = None
        self.done = 0

    def _start(self, log: Path) -> None:
        with open(log, "ab") as err:  # its import-time noise goes to the first trial's log
            self.proc = subprocess.Popen([sys.executable, "-c", LAUNCH.format(root=repr(_ROOT))],
                                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err, text=True,
                                         encoding="utf-8", bufsize=1)
        self.done = 0
        self._answer()  # {"ready": true}, or None when it died importing

    def _answer(self) -> Optional[dict]:
        line = self.proc.stdout.readline() if self.proc and self.proc.stdout else ""
        try:
            return json.loads(line) if line else None
        except ValueError:
            return None

    def run(self, args: list[str], log: Path, procs: Optional[list] = None) -> tuple[int, bytes]:
        """Run one trial (`run` ARGS, stderr into `log`): (exit code, its stdout). A process that died
        gives its negative signal number or exit code, like a subprocess would."""
        if self.proc is None or self.proc.poll() is not None:
            self._start(log)
        if procs is not None:
            procs.append(self.proc)
        try:
            try:
                self.proc.stdin.write(json.dumps({"args": args, "log": str(log)}) + "\n")
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError):
                pass
            answer = self._answer()
        finally:
            if procs is not None:
                procs.remove(self.proc)
        if answer is None or "exit_code" not in answer:  # it died: the next trial starts a fresh one
            code = self.proc.wait()
            self.proc = None
            return (code if code else 1), b""
        self.done += 1
        if self.done >= self.recycle_after or int(answer.get("rss") or 0) > self.max_rss:
            self.close()
        return int(answer["exit_code"]), str(answer.get("stdout") or "").encode("utf-8")

    def close(self) -> None:
        """End the process (EOF on its stdin), waiting for it."""
        if self.proc is None:
            return
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
