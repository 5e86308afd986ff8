"""What every data module shares: TensorFlow imported lazily, the one-line text of a TensorFlow error,
shapes as tuples, x scaled to float32. Never imports TensorFlow at import time."""
from __future__ import annotations

import re

import numpy as np

#: samples per step of the checking pass and of internal reads
CHUNK = 256


def tf():
    """The tensorflow module (imported on first use, through optimize_cli.tf)."""
    from ..tf import tf as _tf_module

    return _tf_module


def tf_message(e: BaseException) -> str:
    """The useful line of a TensorFlow error (which carries graph-node prefixes and Python tracebacks)."""
    text = getattr(e, "message", None) or str(e)
    text = re.sub(r"\{\{[^}]*\}\}", "", text)
    text = re.sub(r"\s*\[Op:[A-Za-z]+\]( name:[^\n]*)?", "", text)
    text = text.replace("' failed with ", ": ")
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    # an exception raised in a Python generator: keep "SomeError: message"
    for ln in reversed(lines):
        if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b: ", ln):
            return ln[:300]
    for ln in lines:
        ln = re.sub(r"^(Error in user-defined function passed to .*? transformation .*?:\s*)", "", ln)
        if ln and not ln.startswith("[[") and not ln.startswith("Traceback"):
            return ln[:300]
    return (type(e).__name__)[:300]


def as_shape(s) -> tuple:
    """A shape (TensorShape, list, tuple) as a tuple of ints, None for unknown dimensions."""
    return tuple(None if d is None else int(d) for d in s)


def shape_fits(got: tuple, want: tuple) -> bool:
    """Whether a sample shape fits a model's (both without the batch axis; None fits any size)."""
    return len(got) == len(want) and all(w is None or g is None or w == g for g, w in zip(got, want, strict=False))


def shape_fix(got: tuple, want: tuple) -> str:
    """The fix for samples of shape `got` where the model takes `want` (both without the batch axis), as
    "; add a channel axis: …", or "" where there is no mechanical one."""
    fits = shape_fits
    known = None not in want and None not in got
    if len(want) >= 2 and want[-1] == 1 and fits(got, want[:-1]):
        return "; add a channel axis: x = x[..., np.newaxis] before saving"
    if len(got) >= 2 and got[-1] == 1 and fits(got[:-1], want):
        return "; remove the channel axis: x = x.squeeze(-1) before saving"
    if known and len(got) != len(want) and int(np.prod(got or (1,))) == int(np.prod(want or (1,))):
        what = "flattened images" if len(got) == 1 else "samples of another shape"
        return f"; these look like {what}: reshape them: x = x.reshape(-1, {', '.join(str(d) for d in want)})"
    return ""


def scaled(t, src):
    """x = value * scale + offset as float32, with the source's `scale` and `offset`."""
    tf_ = tf()
    return tf_.cast(t, tf_.float32) * float(src.scale) + float(src.offset)
