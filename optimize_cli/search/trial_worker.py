"""A trial process that pays for the imports once: it imports TensorFlow (and the run's own modules) when
it starts, then runs trials one after another, each a normal `optimize-cli run --json` of the trial's
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

import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Optional

#: trials one process runs before a fresh one takes over (search --recycle-after)
RECYCLE_AFTER = 10
#: resident memory past which the process is recycled after its trial (bytes)
MAX_RSS = 3 * 2**30
#: what the process imports once, before its first trial
WARM = ("optimize_cli.tf", "optimize_cli.run.path", "optimize_cli.report", "ai_edge_litert.interpreter")


#: the folder this package was imported from: the trial process imports the very same code from it
_ROOT = str(Path(__file__).resolve().parents[2])
#: how it starts: the working directory is not on sys.path (a module planted there cannot shadow an
#: import; `python -m optimize_cli` does the same), this package's folder is
LAUNCH = "import sys; sys.path[0] = {root}; from optimize_cli.search.trial_worker import serve; serve()"


_RAN = [0]  # trials this process ran


def rss_bytes() -> int:
    """This process's resident memory now (Linux /proc; 0 where it cannot be read)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _warm() -> None:
    import importlib

    for name in WARM:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def run_one(args: list[str], log: Path) -> tuple[int, str]:
    """`optimize-cli run ARGS` in this process: (its exit code, its stdout); fd 1 and fd 2 (native
    output, the run's own stderr) go to `log` meanwhile."""
    from ..cli import main

    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    captured, real_stdout, argv = io.StringIO(), sys.stdout, sys.argv
    _RAN[0] += 1
    with open(log, "ab") as f:
        f.write(f"trial process {os.getpid()}: its trial {_RAN[0]}\n".encode())
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
    sys.stdout, sys.argv = captured, [argv[0] if argv else "optimize-cli", "run", *args]
    signal.signal(signal.SIGINT, signal.default_int_handler)  # the last run left it ignored
    code = 1
    try:
        main.main()
        code = 0
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except KeyboardInterrupt:
        code = 130
    except BaseException:  # noqa: BLE001 - the process must answer for its trial whatever happened
        code = 1
    finally:
        sys.stdout, sys.argv = real_stdout, argv
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(saved[0])
        os.close(saved[1])
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # between trials: the search stops it by EOF
    _forget()
    return code, captured.getvalue()


def _forget() -> None:
    """Drop what the last run left in memory (Keras' graph and names, Python's garbage)."""
    import gc

    keras = sys.modules.get("tf_keras")
    if keras is not None:
        try:
            keras.backend.clear_session()
        except Exception:  # noqa: BLE001 - a best effort: the process is recycled anyway
            pass
    gc.collect()


def serve() -> None:
    """The process's loop (see the module's docstring)."""
    channel = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)  # a library writing to stdout between trials cannot garble the channel
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _warm()
    channel.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        req = json.loads(line)
        code, out = run_one(list(req["args"]), Path(req["log"]))
        channel.write(json.dumps({"exit_code": code, "stdout": out, "rss": rss_bytes()}) + "\n")
        if code == 130:  # interrupted: the search is stopping
            break


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
