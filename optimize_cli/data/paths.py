"""Paths in a recipe: resolved against the recipe's folder and checked without reading the data (the
`validate` side of every source; the loaders check the contents). Never imports TensorFlow.

A source's `check(src, base, check_paths, show)` resolves its paths in place and returns `Finding`s:
(the path of the bad value under `data.<split>`, the one-line message); `show` renders a user's value
for a message (the recipe's renderer)."""
from __future__ import annotations

import glob
import re
from pathlib import Path
from typing import Any, Callable, Optional

#: (path of the bad value below data.<split>, e.g. ["path"] or ["class_names", 2]; message)
Finding = tuple[list, str]
#: renders a user's value for a one-line message
Show = Callable[[Any], str]


class DataFit(tuple):
    """A Finding about data that does not fit (sample counts, the model's input): exit 3, like the loader's
    check, when `run` finds it; `validate` lists it with the recipe's problems."""

    def __new__(cls, parts: list, message: str):
        return super().__new__(cls, (parts, message))

_GLOB_CHARS = re.compile(r"[*?\[]")


def resolve_path(base: Path, p: str) -> str:
    """`p` relative to `base` (the recipe's folder), `~` expanded; absolute where it can be resolved."""
    try:
        q = Path(p).expanduser()
    except RuntimeError:  # ~user that does not exist
        q = Path(p)
    try:
        return str(q if q.is_absolute() else (base / q).resolve())
    except (OSError, ValueError, RuntimeError):  # name too long, NUL byte, symlink loop
        return str(base / q)


def path_exists(p: str) -> bool:
    try:
        return Path(p).exists()
    except (OSError, ValueError):
        return False


def is_dir(p: str) -> bool:
    try:
        return Path(p).is_dir()
    except (OSError, ValueError):
        return False


def show_path(p: str) -> str:
    """A path for a message: as it is when printable, else its repr."""
    return p if p.isprintable() else repr(p)


def is_glob(pattern: str) -> bool:
    """Whether a path is a glob pattern (has *, ? or [)."""
    return _GLOB_CHARS.search(pattern) is not None


def glob_paths(pattern: str) -> list[str]:
    """What a glob matches, sorted; [] where the pattern cannot be searched."""
    try:
        return sorted(glob.glob(pattern))
    except (OSError, ValueError, RecursionError):
        return []


def folder_problem(p: str) -> Optional[str]:
    """Why `p` is not an existing folder ('is not a folder: P' / 'path does not exist: P'), or None."""
    if is_dir(p):
        return None
    what = "is not a folder" if path_exists(p) else "path does not exist"
    return f"{what}: {show_path(p)}"
