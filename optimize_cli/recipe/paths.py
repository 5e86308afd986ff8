"""What the tree and path rules report (`Rule`), and resolving / checking the paths a recipe names."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .text import format_loc


@dataclass
class Rule:
    """One broken rule: the dotted path of the value (as parts), the message, and whether the line to
    show is the key's rather than the value's."""

    parts: list
    message: str
    key_line: bool = False
    line: Optional[int] = None

    @property
    def loc(self) -> str:
        return format_loc(self.parts)


def resolve_path(base: Path, p: str) -> str:
    """`p` made absolute against the recipe's folder `base` (`~` expanded)."""
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


def show_path(p: str) -> str:
    return p if p.isprintable() else repr(p)
