"""Refuse models whose loading would run code: Lambda layers (Python bytecode) and custom classes, found
in the model's config before anything is loaded. ``--trust-model`` lifts the refusal."""
from __future__ import annotations

from typing import Any

from ..errors import InputError

#: container classes tf_keras deserializes itself
CONTAINERS = {"Functional", "Model", "Sequential"}


def known_layer_class(name: str) -> bool:
    """A class tf_keras itself can deserialize (built-in layers, TFOpLambda, Functional, ...)."""
    from ..tf import keras

    if name in CONTAINERS or name == "InputLayer":
        return True
    try:
        from tf_keras.src.layers import serialization

        serialization.populate_deserializable_objects()
        if name in serialization.LOCAL.ALL_OBJECTS:
            return True
    except Exception:  # pragma: no cover - private module moved: fall back to the public namespace
        pass
    if isinstance(getattr(keras.layers, name, None), type):
        return True
    try:
        return keras.utils.get_registered_object(name) is not None
    except Exception:  # pragma: no cover - defensive
        return False


def walk_layers(cfg: Any, out: list[tuple[str, str]]) -> None:
    """(layer name, class name) of every layer in a Keras model/layer config, nested models and wrappers
    (TimeDistributed, Bidirectional) included."""
    if isinstance(cfg, list):
        for c in cfg:
            walk_layers(c, out)
        return
    if not isinstance(cfg, dict):
        return
    cls = cfg.get("class_name")
    conf = cfg.get("config")
    if isinstance(cls, str) and isinstance(conf, dict):
        out.append((str(conf.get("name", "?")), cls))
        if "layers" in conf:
            walk_layers(conf["layers"], out)
        for key in ("layer", "forward_layer", "backward_layer", "cell"):
            if isinstance(conf.get(key), dict):
                walk_layers(conf[key], out)
    elif "layers" in cfg:
        walk_layers(cfg["layers"], out)


def refuse_unsafe(path: str, layers: list[tuple[str, str]], trust_model: bool, custom_too: bool = True) -> None:
    """InputError (exit 3) naming the first Lambda layer, and (`custom_too`) the first custom-class layer."""
    if trust_model:
        return
    for name, cls in layers:
        if cls == "Lambda":
            raise InputError(
                f"{path}: layer '{name}' is a Lambda layer, whose Python code would run when the model is "
                "loaded; pass --trust-model if you trust this file (or replace the Lambda with a built-in layer)"
            )
    if custom_too:
        for name, cls in layers:
            if not known_layer_class(cls):
                raise InputError(
                    f"{path}: layer '{name}' is of custom class '{cls}', which needs code that is not part of "
                    "the model file; pass --trust-model if you trust this file and the class is importable, or "
                    "export the model as a TensorFlow SavedModel"
                )
