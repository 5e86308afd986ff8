"""`optimize-cli inspect MODEL`: what a model holds — format, sizes (raw and zipped), inputs and outputs,
per-layer / per-tensor parameters, dtype, sparsity and unique values, and totals.

A .tflite is read with the flatbuffer schema that ships with ai-edge-litert and never imports
TensorFlow; SavedModel directories and .h5 / .keras files import TensorFlow lazily (tf_keras).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from . import measure
from .errors import InputError, one_line
from .models.files import check_path, read_head
from .report.format import fmt_int, fmt_pct

_TFLITE_SUFFIXES = (".tflite", ".lite")
_H5_SUFFIXES = (".h5", ".hdf5")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


#: files that are data, not models: refused by name before anything is imported
_DATA_SUFFIXES = {".npz": "a NumPy .npz data file", ".npy": "a NumPy .npy array", ".csv": "a CSV file",
                  ".tfrecord": "a TFRecord data file", ".json": "a JSON file", ".yaml": "a YAML file (a recipe?)",
                  ".yml": "a YAML file (a recipe?)"}
_ZIP_MAGIC = b"PK\x03\x04"
_EXPECTED = "expected a .tflite file, a SavedModel directory, or a .h5 / .keras file"


def _detect(p: Path) -> str:
    """tflite | saved_model | h5 | keras, or InputError: from the name and the first bytes, before any
    library is imported (a data file, or a .h5 / .keras that is not one, is refused at once)."""
    if p.is_dir():
        if (p / "saved_model.pb").is_file() or (p / "saved_model.pbtxt").is_file():
            return "saved_model"
        raise InputError(f"{p}: a directory without saved_model.pb is not a SavedModel")
    head = read_head(p, 8)
    suffix = p.suffix.lower()
    if head[4:8] == b"TFL3" or suffix in _TFLITE_SUFFIXES:
        return "tflite"
    if head == _HDF5_MAGIC:
        return "h5"
    if suffix in _DATA_SUFFIXES:
        raise InputError(f"{p}: {_DATA_SUFFIXES[suffix]}, not a model ({_EXPECTED})")
    if suffix in _H5_SUFFIXES:
        raise InputError(f"{p}: not an HDF5 file (its first bytes are not HDF5's signature); {_EXPECTED}")
    if suffix == ".keras":
        if head[:4] != _ZIP_MAGIC:
            raise InputError(f"{p}: not a Keras .keras file (not a zip archive)")
        return "keras"
    raise InputError(f"{p}: not a model ({_EXPECTED})")


def inspect_model(path, trust_model: bool = False) -> dict:
    """Describe the model at ``path`` (.tflite, SavedModel directory, .h5 or .keras) as a JSON-able dict:
    path, format, sizes {bytes, compressed_bytes, compression_saved_percent}, inputs, outputs, layers,
    totals (and for .tflite: quantization, ops). Raises InputError naming the path when it is missing,
    unreadable or not a model. Keras models are loaded through models.load_model: one with a Lambda, a
    Python function or custom code in its config is refused (exit 3) unless ``trust_model``."""
    p = check_path(Path(path))  # a regular file or a directory: never a device or a FIFO
    fmt = _detect(p)
    info = _inspect_tflite(p) if fmt == "tflite" else _inspect_tf(p, fmt, trust_model)
    try:
        sizes = measure.path_sizes(p)
    except OSError as e:
        raise InputError(f"{p}: cannot read ({e.strerror or e})") from e
    return {"path": str(p), "format": fmt, "sizes": sizes, **info}


# --------------------------------------------------------------------------------------- .tflite


def _inspect_tflite(p: Path) -> dict:
    try:
        data = p.read_bytes()
    except OSError as e:
        raise InputError(f"{p}: cannot read ({e.strerror or e})") from e
    try:
        model, raw = measure.load_tflite_model(data)
        weights = measure.tflite_weight_stats(raw)
        io = measure.tflite_io(raw)
        quantization = measure.guess_quantization(raw, weights)
        names = measure.op_names(model)
    except ValueError as e:
        raise InputError(f"{p}: not a readable .tflite model ({one_line(e, 200)})") from e
    except Exception as e:  # noqa: BLE001 - a damaged flatbuffer fails in many ways
        raise InputError(f"{p}: not a readable .tflite model ({type(e).__name__}: {one_line(e, 200)})") from e
    ops: dict = {}
    const_params = 0
    for sg in model.subgraphs:
        for op in sg.operators or []:
            n = names[op.opcodeIndex] if op.opcodeIndex < len(names) else "?"
            ops[n] = ops.get(n, 0) + 1
        for t in sg.tensors or []:
            if measure.has_data(model, t):
                shape = [int(s) for s in (t.shape if t.shape is not None else [])]
                n_el = 1
                for s in shape:
                    n_el *= s
                const_params += n_el
    summ = measure.summary(weights)
    layers = [{k: w[k] for k in ("name", "layer", "op", "role", "shape", "dtype", "params", "sparsity",
                                 "unique_weights", "max_unique_per_channel", "per_channel", "quantized")}
              for w in weights]
    for lay, w in zip(layers, weights, strict=True):
        if w.get("via"):
            lay["via"] = w["via"]
        if w.get("sparse_encoded"):
            lay["sparse_encoded"] = True
    return {
        "quantization": quantization,
        "inputs": io["inputs"],
        "outputs": io["outputs"],
        "subgraphs": len(model.subgraphs),
        "ops": dict(sorted(ops.items(), key=lambda kv: (-kv[1], kv[0]))),
        "layers": layers,
        "totals": {
            "params": int(const_params),
            "weight_params": summ["params"],
            "weight_tensors": summ["layers"],
            "sparsity": summ["sparsity"],
            "max_unique_weights": summ["max_unique_weights"],
            "max_unique_per_channel": summ["max_unique_per_channel"],
        },
    }


# ------------------------------------------------------------------------- Keras / SavedModel


def _spec(name: str, shape, dtype) -> dict:
    dims = []
    try:
        dims = [(-1 if d is None else int(d)) for d in list(shape)]
    except TypeError:
        dims = []
    dt = getattr(dtype, "name", None) or str(dtype)
    return {"name": name, "shape": dims, "dtype": dt, "quantization": None}


def _inspect_tf(p: Path, fmt: str, trust_model: bool = False) -> dict:
    """A Keras model loaded the one way every command loads it (models.load_model: the config is checked
    before anything is deserialized), inside tfmot's scopes; a SavedModel that is not a Keras model is read
    from its variables."""
    from . import models

    if fmt == "saved_model" and not (p / "keras_metadata.pb").is_file():
        return _inspect_plain_saved_model(p, None)  # not written by Keras: read its variables
    try:
        loaded = models.load_model(str(p), trust_model=trust_model, tfmot_scopes=True, compile=False)
    except models.UnsafeModelError:
        raise
    except InputError as e:
        if fmt == "saved_model":
            return _inspect_plain_saved_model(p, e)
        raise
    if loaded.keras_model is None:  # a subclassed model, read through its signature
        return _inspect_plain_saved_model(p, None)
    return _describe_keras(loaded.keras_model)


def _describe_keras(model) -> dict:
    stats = {s["name"]: s for s in measure.keras_weight_stats(model)}
    layers = []
    for outer, inner in measure.iter_layers(model):
        try:
            params = int(outer.count_params())
        except Exception:  # noqa: BLE001 - unbuilt layers cannot count
            params = 0
        s = stats.get(inner.name)
        row = {
            "name": inner.name,
            "class": type(inner).__name__,
            "wrapper": type(outer).__name__ if outer is not inner else None,
            "params": params,
            "dtype": str(getattr(inner, "dtype", "") or ""),
            "shape": s["shape"] if s else None,
            "sparsity": s["sparsity"] if s else None,
            "unique_weights": s["unique_weights"] if s else None,
            "max_unique_per_channel": s["max_unique_per_channel"] if s else None,
        }
        if s:
            row["dtype"] = s["dtype"]
            row["kernel_params"] = s["params"]
        layers.append(row)
    summ = measure.summary(stats.values())

    def specs(tensors) -> list:
        out = []
        for t in tensors or []:
            name = getattr(t, "name", "") or ""
            out.append(_spec(str(name).split(":")[0], getattr(t, "shape", []), getattr(t, "dtype", "")))
        return out

    try:
        total = int(model.count_params())
        trainable = int(sum(int(w.shape.num_elements() or 0) for w in model.trainable_weights))
    except Exception:  # noqa: BLE001
        total, trainable = sum(lay["params"] for lay in layers), None
    return {
        "model_class": type(model).__name__,
        "name": getattr(model, "name", None),
        "inputs": specs(getattr(model, "inputs", None)),
        "outputs": specs(getattr(model, "outputs", None)),
        "layers": layers,
        "totals": {
            "params": total,
            "trainable_params": trainable,
            "kernel_params": summ["params"],
            "kernels": summ["layers"],
            "sparsity": summ["sparsity"],
            "max_unique_weights": summ["max_unique_weights"],
            "max_unique_per_channel": summ["max_unique_per_channel"],
        },
    }


def _inspect_plain_saved_model(p: Path, keras_error: Optional[BaseException]) -> dict:
    """A SavedModel that is not a Keras model: its variables from the checkpoint, io from the
    serving signature."""
    import numpy as np

    from .tf import tf

    try:
        reader = tf.train.load_checkpoint(str(p / "variables" / "variables"))
        shapes = reader.get_variable_to_shape_map()
    except Exception as e:  # noqa: BLE001
        why = f"{type(keras_error).__name__}: {one_line(keras_error, 200)}; " if keras_error is not None else ""
        raise InputError(f"{p}: cannot load the SavedModel ({why}variables: {one_line(e, 200)})") from e
    layers = []
    for key in sorted(shapes):
        if key.startswith("_CHECKPOINTABLE") or ".OPTIMIZER_SLOT" in key or key.startswith("optimizer/"):
            continue
        try:
            val = np.asarray(reader.get_tensor(key))
        except Exception:  # noqa: BLE001
            continue
        if not np.issubdtype(val.dtype, np.number) or val.size == 0:
            continue
        st = measure.value_stats(val, -1 if val.ndim >= 2 else None)
        layers.append({"name": key.replace("/.ATTRIBUTES/VARIABLE_VALUE", ""), "class": "Variable",
                       "shape": [int(s) for s in val.shape], "dtype": str(val.dtype), "params": st["params"],
                       "sparsity": st["sparsity"], "unique_weights": st["unique_weights"],
                       "max_unique_per_channel": st["max_unique_per_channel"], "zeros": st["zeros"]})
    inputs, outputs = [], []
    try:
        loaded = tf.saved_model.load(str(p))
        sig = loaded.signatures.get("serving_default") if hasattr(loaded, "signatures") else None
        if sig is not None:
            for name, spec in sorted(sig.structured_input_signature[1].items()):
                inputs.append(_spec(name, spec.shape, spec.dtype))
            for name, spec in sorted(sig.structured_outputs.items()):
                outputs.append(_spec(name, spec.shape, spec.dtype))
    except Exception:  # noqa: BLE001 - io is a nicety; the variables were readable
        pass
    kernels = [lay for lay in layers if len(lay["shape"]) >= 2]
    summ = measure.summary(kernels)
    return {
        "model_class": "SavedModel",
        "name": None,
        "inputs": inputs,
        "outputs": outputs,
        "layers": layers,
        "totals": {
            "params": int(sum(lay["params"] for lay in layers)),
            "trainable_params": None,
            "kernel_params": summ["params"],
            "kernels": summ["layers"],
            "sparsity": summ["sparsity"],
            "max_unique_weights": summ["max_unique_weights"],
            "max_unique_per_channel": summ["max_unique_per_channel"],
        },
    }


# ------------------------------------------------------------------------------------ rendering


#: missing value in inspect's output
MISSING = "-"


def _fmt_int(v: Optional[int]) -> str:
    return fmt_int(v, MISSING)


def _fmt_pct(v: Optional[float]) -> str:
    return fmt_pct(v, MISSING)


def _fmt_shape(shape) -> str:
    if shape is None:
        return "-"
    return "[" + ", ".join("?" if int(s) < 0 else str(int(s)) for s in shape) + "]"


def _fmt_io(d: dict) -> str:
    q = d.get("quantization")
    qs = ""
    if q and q.get("scale"):
        qs = f"  scale {q['scale'][0]:.6g} zero point {q['zero_point'][0]}" if len(q["scale"]) == 1 else \
            f"  {len(q['scale'])} scales"
    return f"{d['name']}  {_fmt_shape(d['shape'])}  {d['dtype']}{qs}"


def layer_table_lines(heads: list[str], rows: list[tuple], width: int) -> list[str]:
    """The layers as aligned columns that never split a cell: two spaces between columns, one when that is
    too wide, and without the dtype column (named once above) when every layer has the same dtype and the
    table is still wider than ``width``. Numbers are right-aligned."""
    cols = list(range(len(heads)))
    dtypes = {r[3] for r in rows}

    def widths(keep):
        return {c: max([len(heads[c])] + [len(r[c]) for r in rows]) for c in keep}

    w, gap = widths(cols), 2
    if sum(w.values()) + gap * (len(w) - 1) > width:
        gap = 1
    lines = []
    if sum(w.values()) + gap * (len(w) - 1) > width and len(dtypes) == 1 and rows:
        cols = [c for c in cols if c != 3]
        w = widths(cols)
        gap = 2 if sum(w.values()) + 2 * (len(w) - 1) <= width else 1
        lines.append(f"dtype: {next(iter(dtypes))} (every layer)")

    def line(cells) -> str:
        return (" " * gap).join(cells[c].rjust(w[c]) if c >= 4 else cells[c].ljust(w[c]) for c in cols).rstrip()

    return lines + [line(heads)] + [line(r) for r in rows]


def inspection_text(info: dict, width: int = 140):
    """``info`` (from inspect_model) as text for the CLI to print, its layer table fitted to `width`
    columns: header (bold), inputs / outputs, a table of layers, totals. A rich Text (`.plain`: the lines)."""
    from rich.text import Text

    sizes = info.get("sizes", {})
    fmt = info.get("format", "?")
    extra = f", {info['quantization']}" if info.get("quantization") else ""
    text = Text.assemble((str(info.get("path")), "bold"), f"  ({fmt + extra})")
    out = [f"size: {_fmt_int(sizes.get('bytes'))} bytes · zipped {_fmt_int(sizes.get('compressed_bytes'))} "
           f"bytes ({sizes.get('compression_saved_percent', 0.0):.2f}% saved)"]
    for label in ("inputs", "outputs"):
        for d in info.get(label) or []:
            out.append(f"{label[:-1]}: {_fmt_io(d)}")
    if info.get("ops"):
        out.append("ops: " + ", ".join(f"{k}×{v}" for k, v in info["ops"].items()))

    tflite = fmt == "tflite"
    rows = []
    for lay in info.get("layers") or []:
        if tflite:
            name = lay.get("layer") or lay["name"]
            if lay.get("role") == "constant":
                name += " (constant)"
            op = lay.get("op", "") + (f" ← {lay['via']}" if lay.get("via") else "")
        else:
            name = lay["name"]
            op = lay.get("class", "") + (f" in {lay['wrapper']}" if lay.get("wrapper") else "")
        rows.append((name, op, _fmt_shape(lay.get("shape")), str(lay.get("dtype") or "-"), _fmt_int(lay.get("params")),
                     _fmt_pct(lay.get("sparsity")), _fmt_int(lay.get("unique_weights")),
                     _fmt_int(lay.get("max_unique_per_channel"))))

    heads = ["tensor (layer)" if tflite else "layer", "op" if tflite else "class", "shape", "dtype", "params",
             "sparsity", "unique", "max/ch"]
    out += layer_table_lines(heads, rows, width)
    tot = info.get("totals", {})
    if tflite:
        line = (f"totals: {_fmt_int(tot.get('params'))} constant values, {_fmt_int(tot.get('weight_params'))} "
                f"in {tot.get('weight_tensors', 0)} weight tensors")
    else:
        trainable = tot.get("trainable_params")
        line = (f"totals: {_fmt_int(tot.get('params'))} params"
                + ("" if trainable is None else f" ({_fmt_int(trainable)} trainable)")
                + f", {_fmt_int(tot.get('kernel_params'))} in {tot.get('kernels', 0)} kernels")
    line += (f"; sparsity {_fmt_pct(tot.get('sparsity'))}; max unique {_fmt_int(tot.get('max_unique_weights'))} "
             f"(per channel {_fmt_int(tot.get('max_unique_per_channel'))})")
    out.append(line)
    for line in out:
        text.append("\n" + line)
    return text


__all__ = ["inspect_model", "inspection_text"]
