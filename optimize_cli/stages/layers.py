"""How the stages pick and wrap layers: skip-layer matching, per-layer wrapping that records what was left
alone, and walking / copying models.

Imports TensorFlow lazily (inside the functions) so that `optimize_cli.stages` stays light.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Optional, Union

from ..errors import RecipeError, StageError

_REGEX_CHARS = set(".^$*+?{}[]\\|()")

#: reasons shared by the stages
DEPTHWISE_REASON = "tfmot does not {verb} depthwise kernels (DepthwiseConv2D has no {noun} weights in tfmot)"

def is_exact_name(pattern: str) -> bool:
    """A skip_layers entry without regular-expression characters names one layer exactly."""
    return not (set(pattern) & _REGEX_CHARS)


def skip_match(name: str, patterns: Iterable[str]) -> Optional[str]:
    """The first pattern in `patterns` that is `name` or fully matches it, else None."""
    for p in patterns:
        if p == name:
            return p
        try:
            if re.fullmatch(p, name):
                return p
        except re.error:
            continue
    return None


def iter_layers(model) -> list:
    """Every layer of `model`, nested models flattened (wrappers are not opened)."""
    from ..tf import keras

    out = []
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            out.extend(iter_layers(layer))
        else:
            out.append(layer)
    return out


def check_skip_layers(model, patterns: list[str], stage: str, ctx=None) -> None:
    """Every skip_layers entry that names a layer exactly must exist (RecipeError naming it); a regular
    expression that matches nothing only warns."""
    names = [layer.name for layer in iter_layers(model)]
    where = f"stages[{ctx.index - 1}].skip_layers" if ctx is not None and getattr(ctx, "index", 0) else \
        f"{stage}.skip_layers"
    for p in patterns:
        if is_exact_name(p):
            if p not in names:
                shown = ", ".join(names[:30]) + (" …" if len(names) > 30 else "")
                raise RecipeError(f"{where}: the model has no layer named '{p}' (layers: {shown})")
        elif skip_match_any(p, names) is None and ctx is not None:
            ctx.reporter.warn(f"{where}: pattern '{p}' matches no layer of the model")


def skip_match_any(pattern: str, names: list[str]) -> Optional[str]:
    for n in names:
        if skip_match(n, [pattern]):
            return n
    return None


def has_kernel(layer) -> bool:
    """The layer owns a weight matrix or tensor (rank ≥ 2): the weights the stages act on."""
    try:
        return any(len(w.shape) >= 2 for w in layer.weights)
    except Exception:
        return False


def registry_weights(registry, layer) -> list:
    """Names of the weights a tfmot registry acts on for `layer` (RNN layers: a placeholder), [] if none."""
    if not layer.trainable_weights:
        return []
    try:
        return list(registry._weight_names(layer))  # noqa: SLF001 - tfmot has no public API for this
    except (KeyError, AttributeError):
        return ["(cells)"]


def skip_record(layer, reason: str) -> dict:
    inner = getattr(layer, "layer", layer)
    return {"name": layer.name, "class": type(inner).__name__, "reason": reason}


def copy_model(model):
    """A copy of a functional/sequential model with its weights, so the stage never mutates its input."""
    from ..tf import keras

    try:
        clone = keras.models.clone_model(model)
        clone.set_weights(model.get_weights())
        return clone
    except Exception:
        return model


Decision = Union[Any, str, None]


def wrap_per_layer(model, decide: Callable[[Any], Decision], skip_patterns: list[str], verb: str):
    """Clone `model`, replacing each layer by what `decide(layer)` returns.

    `decide` returns a new (wrapped) layer, a string (the reason the layer is left alone: recorded as
    skipped) or None (left alone silently: layers with nothing to do). Layers matched by
    `skip_patterns` are left alone and recorded. Returns (model, wrapped layer names, skipped records).
    """
    from ..tf import keras

    wrapped: list[str] = []
    skipped: list[dict] = []

    def clone_fn(layer):
        if isinstance(layer, keras.layers.InputLayer):
            return layer.__class__.from_config(layer.get_config())
        pat = skip_match(layer.name, skip_patterns)
        if pat is not None:
            skipped.append(skip_record(layer, f"skip_layers '{pat}'"))
            return layer
        if isinstance(layer, keras.Model):
            if layer.weights:
                skipped.append(skip_record(layer, f"a nested model cannot be {verb}; flatten it into the outer model"))
            return layer
        try:
            out = decide(layer)
        except Exception as e:  # tfmot refused this layer: leave it alone, say why
            skipped.append(skip_record(layer, f"tfmot: {' '.join(str(e).split())[:200]}"))
            return layer
        if out is None:
            return layer
        if isinstance(out, str):
            skipped.append(skip_record(layer, out))
            return layer
        wrapped.append(layer.name)
        return out

    try:
        new = keras.models.clone_model(model, input_tensors=None, clone_function=clone_fn)
    except Exception as e:
        raise StageError(f"cannot rebuild the model with {verb} layers ({' '.join(str(e).split())[:300]})") from None
    return new, wrapped, skipped



def layer_kernels(layer) -> list:
    """The rank ≥ 2 weights of a layer (kernels), as NumPy arrays, with their names."""
    return [(w.name, w.numpy()) for w in layer.weights if len(w.shape) >= 2]


def wrap_stage_layers(model, params, ctx, stage: str, decide: Callable[[Any], Decision], verb: str):
    """Seed the stage, then wrap a copy of `model` layer by layer (see `wrap_per_layer`); a StageError
    when no layer could be wrapped. Returns (model, wrapped layer names, skipped records)."""
    from .base import seed, stage_label

    seed(ctx)
    new, wrapped, skipped = wrap_per_layer(copy_model(model), decide, params.skip_layers, verb)
    if not wrapped:
        raise StageError(f"{stage_label(ctx, stage)}: no layer of the model can be {verb}"
                         + (f" (left alone: {', '.join(s['name'] for s in skipped)})" if skipped else ""))
    return new, wrapped, skipped


def tfmot_refusal(layer, registry, verb: str, noun: str) -> tuple[bool, Optional[str]]:
    """Whether tfmot's `registry` (prune or cluster) leaves `layer` alone, and the reason to record
    (None: nothing to do there, left alone silently). `verb`: "prune" / "cluster"; `noun`: "prunable" /
    "clusterable"."""
    from ..tf import keras

    if not layer.trainable and has_kernel(layer):
        return True, "frozen in the input model (trainable=False)"
    if not registry.supports(layer):
        return True, (f"tfmot cannot {verb} {type(layer).__name__} layers" if has_kernel(layer) else None)
    if not registry_weights(registry, layer):
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            return True, DEPTHWISE_REASON.format(verb=verb, noun=noun)
        return True, (f"tfmot {verb}s no weights of {type(layer).__name__} layers" if has_kernel(layer) else None)
    return False, None


def freeze_preserved(model, skipped: list[dict], sparsity: bool, clusters: bool) -> list[str]:
    """Freeze (trainable=False) each layer the stage left alone whose kernels hold what an earlier stage
    made — zeros (≥ 5 % of a kernel, when `sparsity`) or few distinct values (≤ 256, when `clusters`) — so
    that fine-tuning without tfmot's masks or centroids does not undo it. Returns the frozen names."""
    import numpy as np

    names = {s["name"] for s in skipped}
    frozen = []
    for layer in iter_layers(model):
        if layer.name not in names or not layer.trainable:
            continue
        kernels = [np.asarray(k) for n, k in layer_kernels(layer)  # an Embedding's table too; not PReLU's alpha
                   if "kernel" in n.split("/")[-1] or n.split("/")[-1].startswith("embeddings")]
        if any((sparsity and np.mean(k == 0) >= 0.05) or (clusters and np.unique(k).size <= 256) for k in kernels):
            layer.trainable = False
            frozen.append(layer.name)
    return frozen
