"""The recipe's `data` section: the source models live in optimize_cli.data (one module per source type,
each with its path check); this turns a source's findings into the recipe's rules under `data.<split>`."""
from __future__ import annotations

from pathlib import Path

from .. import data
from .paths import Rule
from .text import show_value


def check_source(split: str, src, base: Path, check_paths: bool) -> list[Rule]:
    """A data source's path checks (data/<type>.py) as rules under data.<split>."""
    return [Rule(["data", split, *parts], message) for parts, message in data.check_source(src, base, check_paths,
                                                                                         show_value)]
