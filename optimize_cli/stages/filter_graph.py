"""The channel graph of filter_prune: which filters can be removed together, and the thinner model's weights.

Every tensor carries a channel space. A Conv2D / Dense layer opens a new one (its filters); layers that keep
channels apart (BatchNormalization, activations, pooling, DepthwiseConv2D ×1, Flatten) carry it on; an
elementwise merge (Add, Subtract, Multiply, Average, Maximum, Minimum) ties its inputs' spaces into one
group, whose layers keep one shared set of channels (ranked by the norm summed over the group), so residual
blocks stay consistent; a Concatenate on the channel axis joins its inputs' selections side by side. A
space that reaches anything else (Reshape, the model's output, a shared layer, a layer that does not
produce thinnable filters such as the input) is not thinned, and its layers are named as skipped.
Never imports TensorFlow at module level.
"""
from __future__ import annotations

#: layers that keep channels apart and carry a channel selection through unchanged (no weights)
PASS_THROUGH = ("Activation", "ReLU", "LeakyReLU", "PReLU", "ELU", "ThresholdedReLU", "Dropout", "SpatialDropout2D",
                "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
                "ZeroPadding2D", "Cropping2D", "UpSampling2D", "GaussianNoise", "GaussianDropout")
#: elementwise merges: their inputs share one channel set
MERGES = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum")


def graph(model, cfg=None) -> tuple[list[dict], dict[str, list[str]]]:
    """(layer configs in topological order, parents by name) from the model's config (`cfg`, read from the
    model when not given); a layer called more than once has "<shared>" before its parents."""
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
            ins = [n[0] for node in nodes for n in node]
            parents[name] = ins if len(nodes) <= 1 else ["<shared>"] + list(dict.fromkeys(ins))
    return layers, parents


def kind(model, name: str) -> str:
    """'thin' (Conv2D / Dense), 'dw' (DepthwiseConv2D ×1), 'bn', 'flatten', 'pass', 'merge', 'concat' (on
    the channel axis) or 'other' (also a layer whose shapes Keras cannot give, e.g. one called on several
    shapes)."""
    try:
        return _kind(model, name)
    except (AttributeError, RuntimeError, ValueError):
        return "other"


def _kind(model, name: str) -> str:
    from ..tf import keras

    layer = model.get_layer(name)
    L = keras.layers
    cls = type(layer).__name__
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
    if cls in PASS_THROUGH:
        return "pass"
    if cls in MERGES and type(layer) is getattr(L, cls):
        return "merge"
    if type(layer) is L.Concatenate and layer.axis in (-1, len(layer.output_shape) - 1):
        return "concat"
    return "other"


class _Spaces:
    """Union-find over channel spaces: producers (thin layers), the merges that tie them, and why a space
    cannot be thinned."""

    def __init__(self):
        self.up: list[int] = []
        self.producers: dict[int, list[str]] = {}
        self.via: dict[int, list[str]] = {}
        self.blocked: dict[int, str] = {}

    def new(self, producer=None, blocked=None) -> int:
        i = len(self.up)
        self.up.append(i)
        self.producers[i] = [producer] if producer else []
        self.via[i] = []
        if blocked:
            self.blocked[i] = blocked
        return i

    def find(self, i: int) -> int:
        while self.up[i] != i:
            self.up[i] = self.up[self.up[i]]
            i = self.up[i]
        return i

    def union(self, ids: list[int], via: str) -> int:
        roots = list(dict.fromkeys(self.find(i) for i in ids))
        r = roots[0]
        for o in roots[1:]:
            self.up[o] = r
            self.producers[r] += self.producers.pop(o)
            self.via[r] += self.via.pop(o)
            if o in self.blocked:
                self.blocked.setdefault(r, self.blocked.pop(o))
        self.via[r].append(via)
        return r

    def block(self, desc, reason: str) -> None:
        """Mark every space in a tensor descriptor as not thinnable (the first reason wins)."""
        for i in _ids(desc):
            self.blocked.setdefault(self.find(i), reason)


def _ids(desc) -> list[int]:
    """The spaces of a tensor descriptor: ("s", id, flattened) or ("cat", [descriptors], flattened)."""
    return [desc[1]] if desc[0] == "s" else [i for d in desc[1] for i in _ids(d)]


def _step(model, name, kd, ps, desc, sp, skip) -> tuple:
    """The descriptor of layer `name`'s output, blocking spaces its inputs cannot carry."""
    cls = type(model.get_layer(name)).__name__
    ins = [desc[p] for p in ps if p in desc]
    feeds = f"its output feeds {name} ({cls}), which cannot be sliced"
    if "<shared>" in ps:
        for d in ins:
            sp.block(d, feeds)
        return ("s", sp.new(name if kd == "thin" else None, "a shared layer"), False)
    if kd == "thin":
        return ("s", sp.new(name, f"{name} is named in skip_layers" if skip(name) else None), False)
    if kd in ("bn", "dw", "pass", "flatten") and len(ins) == 1 and (kd == "flatten" or not ins[0][2]):
        return ins[0][:2] + (ins[0][2] or kd == "flatten",)
    shapes = {tuple(model.get_layer(p).output.shape.as_list()) for p in ps}
    if kd == "merge" and ins and len(shapes) == 1 and all(d[0] == "s" and not d[2] for d in ins):
        return ("s", sp.union([d[1] for d in ins], name), False)
    if kd == "concat" and ins and not any(d[2] for d in ins):
        return ("cat", ins, False)
    for d in ins:
        sp.block(d, feeds)
    return ("s", sp.new(blocked=f"its output meets {name} ({cls}), whose channels cannot be thinned"), False)


def analyse(model, skip) -> tuple[dict[str, list[str]], list[dict]]:
    """({group name: the thin layers that share one channel set}, skipped layers as {name, class, reason});
    `skip(name)` says whether skip_layers names a layer. A group is named after its first layer."""
    layers, parents = graph(model)
    sp = _Spaces()
    desc: dict = {}
    for lc in layers:
        name = lc["config"]["name"]
        if lc["class_name"] == "InputLayer":
            desc[name] = ("s", sp.new(blocked=f"its output meets the input {name}, whose channels cannot be thinned"),
                          False)
            continue
        desc[name] = _step(model, name, kind(model, name), parents[name], desc, sp, skip)
    for out in getattr(model, "output_names", None) or []:
        if out in desc:
            sp.block(desc[out], "its output reaches the model's output")
    groups, skipped = {}, []
    for root in sorted({sp.find(i) for i in range(len(sp.up))}):
        members = sp.producers.get(root) or []
        if not members:
            continue
        why = sp.blocked.get(root)
        if why is None:
            groups[members[0]] = members
            continue
        via = ", ".join(dict.fromkeys(sp.via[root]))
        for m in members:
            others = ", ".join(o for o in members if o != m)
            reason = why + (f" (it shares its channels with {others} through {via})" if others else "")
            skipped.append({"name": m, "class": type(model.get_layer(m)).__name__, "reason": reason})
    order = {lc["config"]["name"]: i for i, lc in enumerate(layers)}
    skipped.sort(key=lambda s: order[s["name"]])
    return groups, skipped


# ------------------------------------------------------------------------------------------- slice


def scores(kernel, criterion: str):
    """One score per filter (last axis of `kernel`): higher is kept first."""
    import numpy as np

    f = kernel.reshape(-1, kernel.shape[-1]).T.astype(np.float64)
    if criterion == "l2":
        return np.sqrt((f ** 2).sum(axis=1))
    if criterion == "geometric_median":
        sq = (f ** 2).sum(axis=1)  # pairwise distances through the Gram matrix: no (n, n, d) array
        return np.sqrt(np.maximum(sq[:, None] + sq[None, :] - 2.0 * f @ f.T, 0.0)).sum(axis=1)
    return np.abs(f).sum(axis=1)


def orders(model, groups: dict[str, list[str]], criterion: str) -> dict:
    """{group: filter indices, best first}, by the score summed over the group's layers."""
    import numpy as np

    out = {}
    for g, members in groups.items():
        total = sum(scores(model.get_layer(m).get_weights()[0], criterion) for m in members)
        out[g] = np.argsort(-total, kind="stable")
    return out


def _flat_indices(shape, sel):
    """Indices of a channels-last Flatten's output that come from channels `sel` of an input of `shape`."""
    import numpy as np

    spatial = int(np.prod([int(d) for d in shape[1:-1]]))
    return (np.arange(spatial)[:, None] * int(shape[-1]) + np.asarray(sel)[None, :]).ravel()


def _concat(model, ps, sels):
    """The selection of a channel-axis Concatenate's output from its inputs' selections."""
    import numpy as np

    if all(s is None for s in sels):
        return None
    parts, offset = [], 0
    for p, s in zip(ps, sels, strict=True):
        c = int(model.get_layer(p).output_shape[-1])
        parts.append((np.arange(c) if s is None else np.asarray(s)) + offset)
        offset += c
    return np.concatenate(parts)


def _slice_layer(layer, kd: str, in_sel, out_sel):
    """New weights of one layer given its input's selection and (thin layers) the kept filters."""
    w = [a.copy() for a in layer.get_weights()]
    if kd == "thin":
        if in_sel is not None:
            w[0] = w[0].take(in_sel, axis=-2)
        if out_sel is not None:
            w = [w[0].take(out_sel, axis=-1)] + [b.take(out_sel, axis=0) for b in w[1:]]
        return w
    if in_sel is None:
        return w
    if kd == "bn":
        return [a.take(in_sel, axis=0) for a in w]
    if kd == "dw":
        return [w[0].take(in_sel, axis=2)] + [b.take(in_sel, axis=0) for b in w[1:]]
    return w


def sliced(model, cfg: dict, kept: dict) -> tuple[dict, dict]:
    """({layer: new weights}, {thin layer: [filters before, after]}) with `kept` = {thin layer: sorted
    kept filter indices}; the thin layers' sizes are changed in `cfg` in place."""
    layers, parents = graph(model, cfg)
    sel: dict = {}
    weights: dict = {}
    changed: dict = {}
    for lc in layers:
        name = lc["config"]["name"]
        if lc["class_name"] == "InputLayer":
            sel[name] = None
            continue
        layer, kd, ps = model.get_layer(name), kind(model, name), parents[name]
        ins = [sel.get(p) for p in ps]
        in_sel = ins[0] if len(ins) == 1 else None
        weights[name] = _slice_layer(layer, kd, in_sel, kept.get(name))
        if kd == "thin":
            sel[name] = kept.get(name)
            if name in kept:
                key = "filters" if "filters" in lc["config"] else "units"
                changed[name] = [int(lc["config"][key]), len(kept[name])]
                lc["config"][key] = len(kept[name])
        elif kd == "flatten" and in_sel is not None:
            sel[name] = _flat_indices(layer.input_shape, in_sel)
        elif kd == "merge":
            sel[name] = ins[0] if ins else None
        elif kd == "concat":
            sel[name] = _concat(model, ps, ins)
        else:
            sel[name] = in_sel if kd in ("bn", "dw", "pass", "flatten") else None
    return weights, changed


def macs(model, weights=None) -> int:
    """Multiply-accumulates of one inference through Conv2D, DepthwiseConv2D and Dense layers; with
    `weights` ({layer: arrays}, as `sliced` gives), those of the model those weights would make (channel
    pruning leaves spatial sizes as they are)."""
    import numpy as np

    from ..tf import keras

    total = 0
    for layer in model.layers:
        if not isinstance(layer, (keras.layers.DepthwiseConv2D, keras.layers.Conv2D, keras.layers.Dense)):
            continue
        shape = weights[layer.name][0].shape if weights is not None else \
            (layer.depthwise_kernel if isinstance(layer, keras.layers.DepthwiseConv2D) else layer.kernel).shape
        total += int(np.prod(layer.output_shape[1:-1] or [1])) * int(np.prod(shape))
    return total
