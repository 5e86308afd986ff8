"""Folders the tool empties and refills (a search's `pareto/`): marked when made, and removed only when
they carry the marker (or hold nothing but the files the tool writes there), so that a user's folder of
the same name is never deleted. Never imports TensorFlow."""
from __future__ import annotations

import json
import os
import re
import shutil
import stat
from pathlib import Path

from .errors import StageError

MARKER = ".optimize-cli-dir"


def _marked(d: Path) -> bool:
    """`d` holds the tool's marker (a real file naming optimize-cli): run_dir's one definition."""
    from .run.run_dir import has_tool_marker

    return has_tool_marker(d / MARKER)


def is_ours(d: Path, names: str) -> bool:
    """`d` is a real folder the tool made: marked, or holding only regular files whose names match the
    regular expression `names` (what the tool writes there; an empty folder too)."""
    try:
        if not stat.S_ISDIR(os.lstat(d).st_mode):
            return False
        if _marked(d):
            return True
        return all(re.fullmatch(names, p.name) and stat.S_ISREG(os.lstat(p).st_mode) for p in d.iterdir())
    except OSError:
        return False


def fresh_dir(d: Path, names: str) -> Path:
    """`d`, empty and marked: made, or emptied when it is the tool's own (`is_ours`); a folder or file of
    the user's there is a StageError naming it, and left as it is."""
    if d.exists() or d.is_symlink():
        if not is_ours(d, names):
            raise StageError(f"output: {d} exists and was not written by optimize-cli (no {MARKER} in it); it is "
                             "left as it is — move it away and run again with --resume")
        shutil.rmtree(d)
    d.mkdir()
    (d / MARKER).write_text(json.dumps({"tool": "optimize-cli"}), encoding="utf-8")
    return d
