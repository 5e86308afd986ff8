"""Build the tf_keras model of a translated Keras 3 file (models/keras3.py) and copy its weights, layer by
layer, from the file's HDF5 weights: `model.weights.h5` in a `.keras` zip (`layers/<class in
snake_case>/vars/0..n`, nested models under their own `layers/`), or `model_weights/<layer name>` in a
Keras 3 `.h5`. Nothing from the file is executed: the config is JSON, the weights are arrays."""
from __future__ import annotations

import io
import zipfile
from typing import Any

import numpy as np

from ..errors import InputError, one_line
from .keras3 import Keras3File, Translation, translate


def _layers_one_by_one(path: str, tconfig: dict) -> None:
    """Deserialize each translated layer alone, so a failure names its layer."""
    from ..tf import keras

    for layer in tconfig["config"]["layers"]:
        try:
            keras.layers.deserialize({"class_name": layer["class_name"], "config": layer["config"]})
        except Exception as e:
            raise InputError(f"{path}: layer '{layer['name']}' ({layer['class_name']}) cannot be built in tf_keras "
                             f"from its Keras 3 config ({one_line(e, 160)})") from None


def build(path: str, tr: Translation) -> Any:
    """The tf_keras Functional model of a translation, with freshly initialised weights."""
    from ..tf import keras

    _layers_one_by_one(path, tr.config)
    try:
        return keras.Model.from_config(tr.config["config"])
    except Exception as e:
        raise InputError(f"{path}: the translated Keras 3 model cannot be built in tf_keras ({one_line(e, 200)})") \
            from None


def _vars_of_group(group) -> list[np.ndarray]:
    """The arrays of a Keras 3 `vars` group, in order 0..n."""
    keys = sorted(group.keys(), key=int)
    return [np.asarray(group[k]) for k in keys]


def _zip_weights(k3: Keras3File, tr: Translation) -> dict[str, list[np.ndarray]]:
    import h5py

    with zipfile.ZipFile(k3.path) as z:
        if "model.weights.h5" not in z.namelist():
            raise InputError(f"{k3.path}: the .keras file has no model.weights.h5 (sharded or npz weights are not "
                             "read); save it with model.save('model.keras')")
        raw = io.BytesIO(z.read("model.weights.h5"))
    out: dict[str, list[np.ndarray]] = {}
    with h5py.File(raw, "r") as f:
        for name, wpath in tr.weight_paths.items():
            vars_path = f"{wpath}/vars"
            out[name] = _vars_of_group(f[vars_path]) if vars_path in f else []
    return out


def _h5_weights(k3: Keras3File, tr: Translation) -> dict[str, list[np.ndarray]]:
    """A Keras 3 `.h5` (legacy format): `model_weights/<layer name>` with the `weight_names` attribute."""
    import h5py

    out: dict[str, list[np.ndarray]] = {}
    with h5py.File(k3.path, "r") as f:
        root = f.get("model_weights", f)
        for name in tr.weight_paths:  # nested models were refused by translate(): names are the file's
            if name not in root:
                out[name] = []
                continue
            g = root[name]
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in g.attrs.get("weight_names", [])]
            out[name] = [np.asarray(g[n]) for n in names]
    return out


def copy_weights(path: str, model: Any, arrays: dict[str, list[np.ndarray]]) -> int:
    """Set every layer's weights from the file's arrays (same count and shapes, or InputError naming the
    layer); returns how many arrays were copied."""
    copied = 0
    for layer in model.layers:
        have = arrays.get(layer.name, [])
        want = layer.weights
        shapes_ok = len(have) == len(want) and all(tuple(a.shape) == tuple(w.shape) for a, w in zip(have, want, strict=True))
        if not shapes_ok:
            got = [tuple(a.shape) for a in have]
            need = [tuple(w.shape) for w in want]
            raise InputError(f"{path}: layer '{layer.name}' ({type(layer).__name__}): the Keras 3 weights {got} do "
                             f"not fit the translated layer's {need}")
        if want:
            layer.set_weights([a.astype(w.dtype.as_numpy_dtype) for a, w in zip(have, want, strict=True)])
            copied += len(want)
    return copied


def load_keras3(k3: Keras3File) -> tuple[Any, Translation]:
    """The equivalent tf_keras model of a Keras 3 file (weights copied) and its translation."""
    tr = translate(k3)
    model = build(k3.path, tr)
    arrays = _zip_weights(k3, tr) if k3.kind == "keras" else _h5_weights(k3, tr)
    copy_weights(k3.path, model, arrays)
    return model, tr


def load_keras3_file(path: str, trust_model: bool) -> Any:
    """A Keras 3 file as a LoadedModel of format `keras3` (its `verify` compares it with Keras 3), or None
    when the file was not written by Keras 3."""
    from .keras3 import read_keras3
    from .keras3_check import check_translation
    from .loaded import LoadedModel
    from .safety import refuse_unsafe_config

    try:
        k3 = read_keras3(path)
    except Exception as e:
        raise InputError(f"{path}: not a readable Keras 3 file ({one_line(e)})") from None
    if k3 is None:
        return None
    # Lambda, functions, foreign modules: the same refusal as every format (custom classes: untranslatable)
    refuse_unsafe_config(path, k3.config, trust_model, custom_too=False)
    model, tr = load_keras3(k3)
    from .keras3_compile import carry_compile

    _, warnings = carry_compile(model, k3.config, path)
    lm = LoadedModel(model, "keras3", path, warnings=warnings)
    lm.verify = lambda x: check_translation(path, model, tr, x)
    return lm
