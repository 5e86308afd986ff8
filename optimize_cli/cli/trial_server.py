"""The long-lived trial process of `optimize-cli search` (search/trial_worker.py describes it and starts
it): imports TensorFlow and the run's modules once, then runs `optimize-cli run` in-process for each trial
it is sent, answering on a private channel. Never imported by the search itself (a process boundary)."""
from __future__ import annotations

import io
import json
import os
import signal
import sys
from pathlib import Path

#: what the process imports once, before its first trial
WARM = ("optimize_cli.tf", "optimize_cli.cli.run", "optimize_cli.run.path", "optimize_cli.report",
        "optimize_cli.report.plots", "optimize_cli.export", "optimize_cli.measure.interpreter",
        "optimize_cli.measure.tflite_weights", "optimize_cli.training.fit", "optimize_cli.stages.prune",
        "optimize_cli.stages.cluster", "optimize_cli.stages.qat", "optimize_cli.stages.filter_prune",
        "ai_edge_litert.interpreter", "matplotlib.figure", "matplotlib.backends.backend_agg")

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

    try:
        import matplotlib

        matplotlib.use("Agg")  # as the report's plots do (report/plots.py)
    except ImportError:
        pass
    for name in WARM:
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def run_one(args: list[str], log: Path) -> tuple[int, str]:
    """`optimize-cli run ARGS` in this process: (its exit code, its stdout); fd 1 and fd 2 (native
    output, the run's own stderr) go to `log` meanwhile."""
    from . import main

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
