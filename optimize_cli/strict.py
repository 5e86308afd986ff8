"""The base every recipe model shares (unknown keys are errors) and the number types recipes read.

Used by the recipe, the data sources and the stages alike; never imports TensorFlow."""
from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, WithJsonSchema

_NUMBER = r"[-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?"
_RATIO = re.compile(rf"\s*({_NUMBER})\s*/\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*")


class Strict(BaseModel):
    """A recipe section: unknown keys are errors (the loader adds "did you mean")."""

    model_config = ConfigDict(extra="forbid")


def fraction(v):
    """`scale: 1/255` in YAML is the text '1/255': read 'a/b' as a number."""
    if isinstance(v, str):
        m = _RATIO.fullmatch(v)
        if m:
            num, den = float(m.group(1)), float(m.group(2))
            if den == 0:
                raise ValueError(f"division by zero in {v!r}")
            return num / den
    return v


_NUMBER_OR_FRACTION = {"anyOf": [{"type": "number"},
                                 {"type": "string", "pattern": r"^\s*[-+]?[0-9.eE+-]+\s*/\s*[0-9.eE+-]+\s*$"}]}
#: a float that may be written as a ratio ("1/255")
Scale = Annotated[float, BeforeValidator(fraction), WithJsonSchema(_NUMBER_OR_FRACTION)]
