"""What the tree and path rules report (`Rule`); the path helpers are data.paths' (one definition)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..data.paths import path_exists, resolve_path, show_path  # noqa: F401 - one definition, in data
from .text import format_loc


@dataclass
class Rule:
    """One broken rule: the dotted path of the value (as parts), the message, whether the line to show is
    the key's rather than the value's, and whether it is about data that does not fit the model or itself."""

    parts: list
    message: str
    key_line: bool = False
    line: Optional[int] = None
    data_fit: bool = False  # the data does not fit (read from the files' headers): exit 3 when all are

    @property
    def loc(self) -> str:
        return format_loc(self.parts)
