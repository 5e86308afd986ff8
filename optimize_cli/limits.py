"""Bounds on what a recipe, a model file or the environment may ask of the tool, so that a hostile or
mistaken input ends in a one-line error instead of an endless read, an exhausted memory or hours of
checking. Each bound is named in the error it causes; the ones a legitimate input could reach can be
raised with an environment variable. Never imports TensorFlow."""
from __future__ import annotations

import os


def env_int(name: str, default: int) -> int:
    """A positive integer from the environment variable `name`, else `default` (a bad value is ignored)."""
    try:
        value = int(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if value > 0 else default


#: a Vela .ini file (`targets[].config`) read into memory
MAX_VELA_CONFIG_BYTES = 1 << 20
#: TF_CONFIG (multi_worker training): its length and its nesting depth
MAX_TF_CONFIG_BYTES = 1 << 20
MAX_JSON_DEPTH = 64


def max_layers() -> int:
    """Layers a model config may hold, nested models included ($OPTIMIZE_CLI_MAX_LAYERS, default 10,000)."""
    return env_int("OPTIMIZE_CLI_MAX_LAYERS", 10_000)


def max_search_choices() -> int:
    """Values one `{search: {choices: [...]}}` may list ($OPTIMIZE_CLI_MAX_SEARCH_CHOICES, default 1,000)."""
    return env_int("OPTIMIZE_CLI_MAX_SEARCH_CHOICES", 1_000)


def json_depth(value, limit: int = MAX_JSON_DEPTH) -> int:
    """The nesting depth of a parsed JSON value, counted without recursion; stops counting past `limit`."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list)):
            deepest = max(deepest, d)
            if deepest > limit:
                return deepest
            stack.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return deepest


def tf_config_json(raw: str):
    """TF_CONFIG parsed, within MAX_TF_CONFIG_BYTES and MAX_JSON_DEPTH; ValueError naming the bound."""
    if len(raw) > MAX_TF_CONFIG_BYTES:
        raise ValueError(f"{len(raw):,} characters, over the {MAX_TF_CONFIG_BYTES:,} this tool reads")
    import json

    try:
        value = json.loads(raw)
    except RecursionError:
        raise ValueError(f"nested deeper than the {MAX_JSON_DEPTH} levels this tool reads") from None
    if json_depth(value) > MAX_JSON_DEPTH:
        raise ValueError(f"nested deeper than the {MAX_JSON_DEPTH} levels this tool reads")
    return value


def check_layer_count(cfg, path) -> int:
    """The layers of a Keras model config (nested models' layers counted), counted without recursion;
    InputError naming the bound when there are more than max_layers()."""
    from .errors import InputError

    limit, count, stack = max_layers(), 0, [cfg]
    while stack:
        node = stack.pop()
        conf = node.get("config") if isinstance(node, dict) else None
        layers = conf.get("layers") if isinstance(conf, dict) else None
        if not isinstance(layers, list):
            continue
        count += len(layers)
        if count > limit:
            raise InputError(f"{path}: the model has more than {limit:,} layers, the most this tool reads "
                             "(OPTIMIZE_CLI_MAX_LAYERS raises the bound)")
        stack.extend(layer for layer in layers if isinstance(layer, dict))
    return count
