"""How a recipe problem shows the user's values and where they are: one line, short and safe."""
from __future__ import annotations

import math
import reprlib
from typing import Any

from .. import errors


def one_line(text: Any) -> str:
    """`text` with every run of whitespace (newlines included) made one space: problems are one line."""
    return errors.one_line(str(text), limit=None)


def format_loc(parts) -> str:
    """['stages', 1, 'clusters'] → 'stages[1].clusters' (a key that is not printable is quoted)."""
    out = ""
    for p in parts:
        if isinstance(p, int):
            out += f"[{p}]"
        else:
            p = str(p)
            out += ("." if out else "") + (p if p.isprintable() else repr(p))
    return out


_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxtuple, _REPR.maxset = 2, 4, 6, 6, 6
_REPR.maxstring, _REPR.maxother, _REPR.maxlong = 60, 40, 24


def show_value(v: Any) -> str:
    """A short, safe, YAML-flavoured rendering of a user's value for a one-line message."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and not math.isfinite(v):
        return ".nan" if math.isnan(v) else (".inf" if v > 0 else "-.inf")
    if isinstance(v, int):
        try:
            text = repr(v)
        except ValueError:  # more digits than int→str conversion allows
            return "a number with thousands of digits"
        return text if len(text) <= 24 else f"{text[:12]}... ({len(text)} digits)"
    try:
        return " ".join(_REPR.repr(v).split())
    except Exception:  # noqa: BLE001 - never let a message fail
        return f"a {type(v).__name__}"

