"""The recipe's `data` section: the source models live in optimize_cli.data (one module per source type,
each with its path check); this turns a source's findings into the recipe's rules under `data.<split>`."""
from __future__ import annotations

from pathlib import Path

from .. import data
from ..data.paths import DataFit
from .paths import Rule
from .text import show_value


def check_source(split: str, src, base: Path, check_paths: bool, input_shape=None) -> list[Rule]:
    """A data source's path checks (data/<type>.py) as rules under data.<split>; a finding about data that
    does not fit (npz.DataFit) is a data rule, said at the split's key."""
    out = []
    for finding in data.check_source(src, base, check_paths, show_value, input_shape=input_shape, split=split):
        parts, message = finding
        fit = isinstance(finding, DataFit)
        out.append(Rule(["data", split, *parts], message, key_line=fit, data_fit=fit))
    return out
