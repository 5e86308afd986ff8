"""Whether a split fits the model: shapes of inputs and labels, the evaluation output, and one streaming
pass over the samples (finite inputs and labels, classes the model has); the calibration sample."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..errors import InputError
from .common import CHUNK, as_shape, shape_fits, shape_fix
from .split import Split


def resolve_output(output, output_names, n_outputs: int) -> int:
    """Index of `evaluation.output` (a name or an index) among the model's outputs; 0 when not given."""
    names = list(output_names or [])
    if output is None:
        return 0
    if isinstance(output, int) and not isinstance(output, bool):
        if output >= n_outputs:
            raise InputError(f"evaluation.output: {output} is out of range: the model has {n_outputs} output"
                             f"{'s' if n_outputs != 1 else ''}{' (' + ', '.join(names) + ')' if names else ''}")
        return output
    if output in names:
        return names.index(output)
    raise InputError(f"evaluation.output: '{output}' is not an output of the model (outputs: "
                     f"{', '.join(names) or 'unnamed'})")


_compatible = shape_fits


def _multi(shape) -> bool:
    return isinstance(shape, list) and bool(shape) and isinstance(shape[0], (tuple, list))


def check_against_model(split: Split, input_shape, output_shape, classification: bool, *, output=None,  # noqa: C901
                        output_names=None, scan: bool = True, batch_size: int = CHUNK, input_dtype=None) -> None:  # one branch per kind of problem, each a line
    """The split must fit the model: sample shape = input shape, label shape fits the output (the one
    `output` names for models with several), and — in one streaming pass when `scan` — every input finite
    (and a whole number for an integer `input_dtype`: token ids), every label finite and, for classifiers, a
    class the model has. Exit 3 naming the split, and the sample index and file where one is at fault. The
    pass also counts the samples (split.samples is then free). For an integer `input_dtype` the split then
    gives x in that type (split.x_dtype)."""
    where = split.where
    int_dtype = np.dtype(input_dtype) if input_dtype is not None and np.dtype(input_dtype).kind in "iu" else None
    want = None
    if input_shape is not None:
        if _multi(input_shape):
            if len(input_shape) != 1:
                raise InputError(f"{where}: the model has {len(input_shape)} inputs; data sources give one input")
            input_shape = input_shape[0]
        want = as_shape(input_shape[1:])
        got = split.element_shape
        if not _compatible(got, want):
            hint = ""
            unbatched = getattr(split, "unbatched", None)
            if unbatched is False and len(got) == len(want) + 1:
                hint = " (if the dataset yields batches, set batched: true)"
            elif unbatched is True and len(got) + 1 == len(want):
                hint = " (the dataset was taken as batched and unbatched; set batched: false if it yields single samples)"
            raise InputError(f"{where}: samples have shape {got} but the model's input is {as_shape(input_shape)} "
                             f"(without the batch axis: {want}){hint or shape_fix(got, want)}")
    if _multi(output_shape):
        output_shape = output_shape[resolve_output(output, output_names, len(output_shape))]
    elif output is not None and output_shape is not None:
        resolve_output(output, output_names, 1)  # a single output: the name or index must still be right
    yshape = split.label_shape
    kind, units = None, None
    if yshape is not None and output_shape is not None:
        out = as_shape(output_shape[1:])
        units = out[-1] if out else None
        if classification and units and units > 1:
            if yshape in ((), (1,)):
                kind = "sparse"
            elif _compatible(yshape, out):
                kind = "onehot"
            else:
                raise InputError(f"{where}: labels have shape {yshape} but the model's output is "
                                 f"{as_shape(output_shape)} (labels are class indices 0..{units - 1} or one-hot "
                                 f"vectors of {units})")
        else:
            same = _compatible(yshape, out) or (None not in yshape and None not in out
                                                and int(np.prod(yshape)) == int(np.prod(out)))
            if not same:
                raise InputError(f"{where}: labels have shape {yshape} but the model's output is "
                                 f"{as_shape(output_shape)} (without the batch axis: {out})")
            kind = "binary" if classification else "values"
    if scan:
        _scan(split, want, kind, units, batch_size, int_dtype)
    if int_dtype is not None:
        split.x_dtype = int_dtype


def _check_whole(split: Split, x: np.ndarray, n: int, dtype: np.dtype) -> None:
    """Exit 3 naming the split, its source and the sample when an integer model input gets a fraction."""
    if x.dtype.kind not in "fc":
        return
    bad = (x.reshape(len(x), -1) != np.round(x.reshape(len(x), -1))).any(axis=1)
    if bad.any():
        i = n + int(np.argmax(bad))
        flat = x.reshape(len(x), -1)[i - n]
        v = float(flat[np.argmax(flat != np.round(flat))])
        src = f" {split.x_label()}" if split.x_label() else ""
        raise InputError(f"{split.where}:{src} sample {i}{split.sample_name(i)} has input value {v:g}, not a whole "
                         f"number, but the model's input is {dtype.name} (integer ids, e.g. tokens into an "
                         "Embedding): store the inputs as integers")


def _scan(split: Split, want: Optional[tuple], kind: Optional[str], units: Optional[int], batch_size: int,
          int_dtype: Optional[np.dtype] = None) -> None:
    where = split.where
    check_dims = want is not None and None in split.element_shape
    n = 0
    for x, y in split.batches(batch_size):
        m = len(x)
        if check_dims and not _compatible(as_shape(x.shape[1:]), want):
            raise InputError(f"{where}: sample {n}{split.sample_name(n)} has shape {as_shape(x.shape[1:])} but the "
                             f"model's input is {want} without the batch axis")
        bad = ~np.isfinite(x.reshape(m, -1)).all(axis=1)
        if bad.any():
            i = n + int(np.argmax(bad))
            raise InputError(f"{where}: sample {i}{split.sample_name(i)} has NaN or infinite input values")
        if int_dtype is not None:
            _check_whole(split, x, n, int_dtype)
        if y is not None and m:
            yf = np.asarray(y).reshape(m, -1)
            if yf.dtype.kind == "f":
                bad = ~np.isfinite(yf).all(axis=1)
                if bad.any():
                    i = n + int(np.argmax(bad))
                    raise InputError(f"{where}: sample {i}{split.sample_name(i)} has a NaN or infinite label")
            if kind == "sparse":
                v = yf[:, 0]
                bad = (v != np.round(v)) | (v < 0) | (v >= units) if yf.dtype.kind == "f" else (v < 0) | (v >= units)
                if bad.any():
                    k = int(np.argmax(bad))
                    i, lab = n + k, v[k]
                    lab = int(lab) if float(lab).is_integer() else float(lab)
                    raise InputError(f"{where}: sample {i}{split.sample_name(i)} has label {lab} but the model has "
                                     f"{units} outputs (labels must be 0..{units - 1})")
            elif kind == "binary":
                bad = ((yf < 0) | (yf > 1)).any(axis=1)
                if bad.any():
                    k = int(np.argmax(bad))
                    i = n + k
                    lab = yf[k].tolist()
                    raise InputError(f"{where}: sample {i}{split.sample_name(i)} has label "
                                     f"{lab[0] if len(lab) == 1 else lab} but binary classification labels must "
                                     "be in 0..1")
        n += m
    if n == 0:
        raise InputError(f"{where}: no samples")
    split.samples = n


def representative_sample(split: Split, n: int, seed: int) -> np.ndarray:
    """n samples drawn deterministically for int8 / int16x8 calibration (see Split.take)."""
    return split.take(n, seed)
