"""Click parameter types shared by the commands (beyond click's own)."""
from __future__ import annotations

import math

import click


class FiniteFloatRange(click.FloatRange):
    """click.FloatRange that also refuses nan (which compares false with every bound, so FloatRange lets
    it through) and, unless `allow_inf`, infinity."""

    def __init__(self, *args, allow_inf: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.allow_inf = allow_inf

    def convert(self, value, param, ctx):
        v = super().convert(value, param, ctx)
        if math.isnan(v) or (math.isinf(v) and not self.allow_inf):
            self.fail(f"{value!r} is not a finite number of seconds.", param, ctx)
        return v


#: --timeout S: seconds, finite and >= 0
SECONDS = FiniteFloatRange(min=0)
