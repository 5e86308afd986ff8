"""One run at a time per output directory: an exclusive lock (fcntl.flock) on a lock file beside DIR,
held for the whole run, that names the holder's PID. The file is removed (while still locked) when the
run ends; a run killed with SIGKILL leaves it behind, and the kernel has already released its lock."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

from ..errors import RecipeError

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: no lock
    fcntl = None  # type: ignore[assignment]

TOOL = "optimize-cli"


def _holder(path: Path) -> Optional[dict]:
    """The lock file's contents when optimize-cli wrote them ({} for an empty file, None for another's)."""
    try:
        with open(path, "rb") as fh:
            text = fh.read(4096)
    except OSError:
        return {}
    if not text.strip():
        return {}
    try:
        doc = json.loads(text)
    except ValueError:
        return None
    return doc if isinstance(doc, dict) and doc.get("tool") == TOOL else None


class OutputLock:
    """`OutputLock(path, given, run_id)` takes the lock or raises RecipeError (exit 2) naming the PID of
    the run that holds it; `release()` removes the file and lets go."""

    def __init__(self, path: Path, given, run_id: str):
        self.path, self.fd = path, None
        if fcntl is None:
            return
        for _ in range(20):  # the holder may remove the file between our open and our lock: open again
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | getattr(os, "O_NOFOLLOW", 0), 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                holder = _holder(path) or {}
                pid = holder.get("pid")
                raise RecipeError(f"--output {given}: another optimize-cli run (PID {pid if pid else 'unknown'}) "
                                  f"is writing it (it holds {path}); wait for it to end, or stop it") from None
            except BaseException:
                os.close(fd)
                raise
            try:
                same = os.fstat(fd).st_ino == os.stat(path, follow_symlinks=False).st_ino
            except OSError:
                same = False
            if same:
                break
            os.close(fd)
        else:
            raise RecipeError(f"--output {given}: cannot lock {path} (it keeps being replaced)")
        self.fd = fd
        if _holder(path) is None:  # a file of the same name that is not ours: leave it as it is
            self.fd = None
            os.close(fd)
            raise RecipeError(f"--output {given}: {path} exists and was not written by optimize-cli; move it "
                              "away or choose another --output")
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"tool": TOOL, "pid": os.getpid(), "run_id": run_id}).encode())

    def release(self) -> None:
        if self.fd is None:
            return
        fd, self.fd = self.fd, None
        try:
            if os.fstat(fd).st_ino == os.stat(self.path, follow_symlinks=False).st_ino:
                os.unlink(self.path)
        except OSError:
            pass
        os.close(fd)
