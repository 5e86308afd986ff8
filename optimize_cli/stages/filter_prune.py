"""filter_prune: remove whole filters of Conv2D / Dense layers and rebuild a thinner model (rank → slice →
rebuild → fine-tune). Unlike tfmot's sparsity, the .tflite itself gets smaller and faster.

Filters are ranked per layer by the L1 or L2 norm of their kernel, or by their distance to the others
(geometric median, FPGM: the filters nearest the median are the most replaceable); a `ratio` of them is
removed. The selection flows through the layers that keep channels apart (BatchNormalization, activations,
pooling, DepthwiseConv2D with depth multiplier 1) to the next Conv2D / Dense, whose input channels are
sliced (through Flatten too). A layer whose output reaches anything else (Add, Concatenate, Reshape, the
model's output, a shared layer) is not thinned and is named as skipped.
"""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import StageParams, StageProblem, resolve_common

#: layers that keep channels apart and carry a channel selection through unchanged (no weights)
PASS_THROUGH = ("Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "ThresholdedReLU", "Dropout", "SpatialDropout2D",
                "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
                "ZeroPadding2D", "Cropping2D", "UpSampling2D", "GaussianNoise", "GaussianDropout")


class FilterPruneStage(StageParams):
    """Structured filter pruning: removes whole filters and rebuilds a thinner model."""

    type: Literal["filter_prune"] = "filter_prune"
    ratio: float = Field(0.25, gt=0.0, lt=1.0, description="Fraction of the filters removed from each thinned layer.")
    criterion: Literal["l1", "l2", "geometric_median"] = Field(
        "l1", description="How filters are ranked: L1 or L2 norm of the kernel, or distance to the geometric median.")
    epochs: int = Field(40, ge=0, le=10_000, description="Fine-tuning epochs of the thinner model (40: see README).")


# ------------------------------------------------------------------------------------------- graph


def _graph(model, cfg=None) -> tuple[list[dict], dict[str, list[str]], dict[str, list[str]]]:
    """(layer configs in topological order, parents by name, consumers by name) from the model's config
    (`cfg`, read from the model when not given)."""
    cfg = model.get_config() if cfg is None else cfg
    layers = cfg["layers"]
    parents: dict[str, list[str]] = {}
    names = [lc["config"]["name"] for lc in layers]
    sequential = "input_layers" not in cfg
    for i, lc in enumerate(layers):
        name = lc["config"]["name"]
        if sequential:
            parents[name] = [names[i - 1]] if i else []
        else:
            nodes = lc.get("inbound_nodes") or []
            parents[name] = [n[0] for node in nodes for n in node] if len(nodes) <= 1 else ["<shared>"]
    consumers: dict[str, list[str]] = {n: [] for n in names}
    for n, ps in parents.items():
        for p in ps:
            consumers.setdefault(p, []).append(n)
    return layers, parents, consumers


def _kind(model, name: str) -> str:
    """'thin' (Conv2D / Dense), 'dw' (DepthwiseConv2D ×1), 'bn', 'flatten', 'pass' or 'other'."""
    from ..tf import keras

    layer = model.get_layer(name)
    L = keras.layers
    if isinstance(layer, L.DepthwiseConv2D):
        return "dw" if layer.depth_multiplier == 1 else "other"
    if isinstance(layer, L.Conv2D) and type(layer) is L.Conv2D and layer.groups == 1 \
            and layer.data_format == "channels_last":
        return "thin"
    if type(layer) is L.Dense and len(layer.input_shape) == 2:
        return "thin"
    if isinstance(layer, L.BatchNormalization) and layer.axis in ([-1], [len(layer.input_shape) - 1], -1):
        return "bn"
    if type(layer) is L.Flatten and layer.data_format == "channels_last":
        return "flatten"
    if type(layer).__name__ in PASS_THROUGH:
        return "pass"
    return "other"


def _blocker(model, name, consumers, outputs, after_flatten=False):
    """Why the output channels of layer `name` cannot be thinned (None when every consumer can follow)."""
    if name in outputs:
        return "its output is the model's output"
    for c in consumers.get(name, []):
        kind = "other" if c == "<shared>" else _kind(model, c)
        if kind == "thin":
            continue
        if after_flatten or (kind == "other"):
            return f"its output feeds {c} ({type(model.get_layer(c)).__name__}), which cannot be sliced"
        why = _blocker(model, c, consumers, outputs, after_flatten=kind == "flatten")
        if why:
            return why
    return None


def plan(model, params: FilterPruneStage) -> tuple[list[str], list[dict]]:
    """(names of the layers to thin, skipped layers as {name, class, reason})."""
    from .layers import skip_match

    layers, parents, consumers = _graph(model)
    outputs = {n for n in (getattr(model, "output_names", None) or [])}
    thin, skipped = [], []
    for lc in layers:
        name = lc["config"]["name"]
        if lc["class_name"] == "InputLayer" or _kind(model, name) != "thin":
            continue
        cls = type(model.get_layer(name)).__name__
        why = "<shared>" in parents[name] and "a shared layer" or \
            (skip_match(name, params.skip_layers) and "named in skip_layers") or \
            _blocker(model, name, consumers, outputs)
        if why:
            skipped.append({"name": name, "class": cls, "reason": why})
        else:
            thin.append(name)
    return thin, skipped


# ------------------------------------------------------------------------------------------- slice


def rank(kernel, criterion: str, keep: int):
    """Indices (sorted) of the `keep` filters (last axis of `kernel`) to keep."""
    import numpy as np

    f = kernel.reshape(-1, kernel.shape[-1]).T.astype(np.float64)
    if criterion == "l2":
        score = np.sqrt((f ** 2).sum(axis=1))
    elif criterion == "geometric_median":
        sq = (f ** 2).sum(axis=1)  # pairwise distances through the Gram matrix: no (n, n, d) array
        score = np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * f @ f.T, 0.0)).sum(axis=1)
    else:
        score = np.abs(f).sum(axis=1)
    return np.sort(np.argsort(-score, kind="stable")[:keep])


def _flat_indices(shape, sel):
    """Indices of a channels-last Flatten's output that come from channels `sel` of an input of `shape`."""
    import numpy as np

    spatial = int(np.prod([int(d) for d in shape[1:-1]]))
    return (np.arange(spatial)[:, None] * int(shape[-1]) + np.asarray(sel)[None, :]).ravel()


def _slice_layer(model, lc: dict, kind: str, in_sel, thin: bool, params):
    """(new weights, output selection) of one layer; thinning changes its config in place."""
    layer = model.get_layer(lc["config"]["name"])
    w = [a.copy() for a in layer.get_weights()]
    if kind == "thin":
        if in_sel is not None:
            w[0] = w[0].take(in_sel, axis=-2)
        if not thin:
            return w, None
        keep = max(1, int(round(w[0].shape[-1] * (1.0 - params.ratio))))
        out_sel = rank(w[0], params.criterion, keep)
        w = [w[0].take(out_sel, axis=-1)] + [b.take(out_sel, axis=0) for b in w[1:]]
        lc["config"]["filters" if "filters" in lc["config"] else "units"] = int(keep)
        return w, out_sel
    if in_sel is None:
        return w, None
    if kind == "bn":
        return [a.take(in_sel, axis=0) for a in w], in_sel
    if kind == "dw":
        return [w[0].take(in_sel, axis=2)] + [b.take(in_sel, axis=0) for b in w[1:]], in_sel
    if kind == "flatten":
        return w, _flat_indices(layer.input_shape, in_sel)
    return w, in_sel  # pass-through


def thinner(model, params: FilterPruneStage):
    """(the rebuilt thinner model, {layer: [filters before, after]}, skipped layers)."""
    from ..tf import keras

    thin, skipped = plan(model, params)
    cfg = model.get_config()
    layers, parents, _ = _graph(model, cfg)
    sel: dict = {}
    weights: dict = {}
    changed: dict = {}
    for lc in layers:
        name = lc["config"]["name"]
        if lc["class_name"] == "InputLayer":
            sel[name] = None
            continue
        kind = _kind(model, name)
        in_sel = sel.get(parents[name][0]) if len(parents[name]) == 1 else None
        before = lc["config"].get("filters", lc["config"].get("units"))
        weights[name], sel[name] = _slice_layer(model, lc, kind, in_sel, name in thin, params)
        if name in thin:
            changed[name] = [int(before), int(lc["config"].get("filters", lc["config"].get("units")))]
    cls = keras.Sequential if isinstance(model, keras.Sequential) else keras.Model
    new = cls.from_config(cfg)
    for name, w in weights.items():
        if w:
            new.get_layer(name).set_weights(w)
    return new, changed, skipped


# --------------------------------------------------------------------------------------- measure


def macs(model) -> int:
    """Multiply-accumulates of one inference through Conv2D, DepthwiseConv2D and Dense layers."""
    import numpy as np

    from ..tf import keras

    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            k = layer.depthwise_kernel.shape
            total += int(np.prod(layer.output_shape[1:-1])) * int(np.prod(k))
        elif isinstance(layer, keras.layers.Conv2D):
            total += int(np.prod(layer.output_shape[1:-1])) * int(np.prod(layer.kernel.shape))
        elif isinstance(layer, keras.layers.Dense):
            total += int(np.prod(layer.kernel.shape)) * int(np.prod(layer.output_shape[1:-1] or [1]))
    return total


def run(model, params: FilterPruneStage, ctx):
    """Thin the model by `ratio` per layer, fine-tune it, and record parameters and MACs before and after."""
    import sys

    from ..training.fit import fit
    from .base import StageResult, resolved_for_run, stage_label
    from .layers import check_skip_layers

    params = resolved_for_run(sys.modules[__name__], params, ctx)
    check_skip_layers(model, params.skip_layers, "filter_prune", ctx)
    new, changed, skipped = thinner(model, params)
    if not changed:
        ctx.reporter.warn(f"{stage_label(ctx, 'filter_prune')}: no layer could be thinned")
    history = fit(new, ctx, "filter_prune", epochs=params.epochs, learning_rate=params.learning_rate,
                  batch_size=params.batch_size)
    kernels = {n: int(new.get_layer(n).kernel.shape.num_elements()) for n in changed}
    filters = {"ratio": params.ratio, "criterion": params.criterion,
               "params_before": int(model.count_params()), "params_after": int(new.count_params()),
               "macs_before": macs(model), "macs_after": macs(new),
               "layers": {n: {"filters": c, "kernel_params": kernels[n]} for n, c in changed.items()}}
    scheme = (f"{params.criterion} filters −{params.ratio:.0%} in {len(changed)} layer(s): params "
              f"{filters['params_before']:,}→{filters['params_after']:,}, MACs {filters['macs_before']:,}→"
              f"{filters['macs_after']:,}")
    return StageResult(model=new, scheme=scheme, skipped_layers=skipped, history=history,
                       details={"filters": filters, "learning_rate": params.learning_rate, "epochs": params.epochs})


# ------------------------------------------------------------------------------------ tree, export


def resolve(params: FilterPruneStage, previous: list[str], training) -> list[StageProblem]:
    """Derived defaults (learning rate, batch size)."""
    return resolve_common(params, training)


def tree_label(previous: list[str]) -> str:
    """How `optimize-cli tree` names this stage."""
    return "filter_prune (removes whole filters)"


def export_check(params: FilterPruneStage, record: dict, tflite_layers: dict) -> dict:
    """Do the thinned layers have their smaller kernels in the .tflite?"""
    layers = ((record.get("filters") or {}).get("layers")) or {}
    wrong, matched = [], 0
    for name, lay in layers.items():
        t = tflite_layers.get(name)
        if t is None:
            continue
        matched += 1
        if int(t["params"]) != int(lay["kernel_params"]):
            wrong.append(f"{name} {t['params']} weights (want {lay['kernel_params']})")
    passed = not wrong and (matched > 0 or not layers)
    msg = ("REMOVED FILTERS NOT IN EXPORT: " + ", ".join(wrong) if wrong else
           f"{matched} thinned layer(s) have their smaller kernels in the .tflite" if matched else
           "no thinned layer could be matched in the .tflite" if layers else "no layer was thinned")
    return {"name": "removed filters survived export", "passed": passed, "message": msg}


#: the parameter model the registry reads
Params = FilterPruneStage
