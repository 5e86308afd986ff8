"""filter_prune: remove whole filters of Conv2D / Dense layers and rebuild a thinner model (rank → slice →
rebuild → fine-tune). Unlike tfmot's sparsity, the .tflite itself gets smaller and faster.

Filters are ranked per layer by the L1 or L2 norm of their kernel, or by their distance to the others
(geometric median, FPGM: the filters nearest the median are the most replaceable); a `ratio` of them is
removed, or each layer's ratio is chosen so that the model keeps a `target_macs` / `target_params` fraction
of the input's. Which layers can be thinned, and together, is `filter_graph`'s: the selection flows through
BatchNormalization, activations, pooling, DepthwiseConv2D ×1 and Flatten to the next Conv2D / Dense; the
layers feeding an Add share one kept set; Concatenate joins its inputs' sets. A layer whose output reaches
anything else (Reshape, the model's output, a shared layer) is not thinned and is named as skipped.
"""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field, model_validator

from .base import StageParams, StageProblem, resolve_common


class FilterPruneStage(StageParams):
    """Structured filter pruning: removes whole filters and rebuilds a thinner model."""

    type: Literal["filter_prune"] = "filter_prune"
    ratio: Optional[float] = Field(None, gt=0.0, lt=1.0, description="Fraction of the filters removed from each "
                                   "thinned layer (or group of layers tied by Add); 0.25 when neither it nor a "
                                   "target is given; not with target_macs / target_params.")
    target_macs: Optional[float] = Field(
        None, gt=0.0, lt=1.0, description="Fraction of the input's MACs to keep, reached globally by choosing "
        "each layer's ratio (uniform, then one filter at a time from the least-thinned layers); not with ratio.")
    target_params: Optional[float] = Field(
        None, gt=0.0, lt=1.0, description="Fraction of the input's parameters to keep, reached as target_macs "
        "is; not with ratio or target_macs.")
    criterion: Literal["l1", "l2", "geometric_median"] = Field(
        "l1", description="How filters are ranked: L1 or L2 norm of the kernel, or distance to the geometric median.")
    channel_multiple: int = Field(
        1, ge=1, le=256, description="Each thinned layer keeps a multiple of this many filters (the nearest to "
        "its ratio; a layer with no more filters keeps them all). LiteRT's int8 kernels work on blocks of "
        "channels: on x86 the real DS-CNN ran as fast with 52 or 56 of 64 channels as with 64, 11% faster "
        "with 48, 40 or 45, so 16 there.")
    epochs: int = Field(40, ge=0, le=10_000, description="Fine-tuning epochs of the thinner model (40: measured on the DS-CNN, see the docs' case studies).")

    @model_validator(mode="after")
    def _one_size(self):
        given = [k for k in ("ratio", "target_macs", "target_params") if getattr(self, k) is not None]
        if len(given) > 1:
            raise ValueError(f"give one of ratio, target_macs, target_params (got {' and '.join(given)})")
        return self

    def target(self) -> Optional[tuple[str, float]]:
        """("macs" or "params", fraction to keep) when a global target is asked for, else None."""
        if self.target_macs is not None:
            return "macs", float(self.target_macs)
        if self.target_params is not None:
            return "params", float(self.target_params)
        return None

    def uniform_ratio(self) -> float:
        """The per-layer ratio when no target is given."""
        return DEFAULT_RATIO if self.ratio is None else float(self.ratio)


#: the ratio when the recipe gives neither `ratio` nor a target
DEFAULT_RATIO = 0.25
#: the largest share of one layer's filters a global target removes
MAX_RATIO = 0.9


def plan(model, params: FilterPruneStage) -> tuple[list[str], list[dict]]:
    """(names of the layers to thin, skipped layers as {name, class, reason})."""
    from .filter_graph import analyse
    from .layers import skip_match

    groups, skipped = analyse(model, lambda n: bool(skip_match(n, params.skip_layers)))
    return [m for g in groups.values() for m in g], skipped


def rank(kernel, criterion: str, keep: int):
    """Indices (sorted) of the `keep` filters (last axis of `kernel`) to keep."""
    import numpy as np

    from .filter_graph import scores

    return np.sort(np.argsort(-scores(kernel, criterion), kind="stable")[:keep])


def _sizes(groups: dict, model) -> dict[str, int]:
    """{group: its number of filters}."""
    return {g: int(model.get_layer(m[0]).get_weights()[0].shape[-1]) for g, m in groups.items()}


def _uniform(sizes: dict, ratio: float, multiple: int = 1) -> dict[str, int]:
    """{group: filters kept} removing `ratio` of each, rounded to the nearest `multiple` (at least one
    multiple; a group with no more filters than `multiple` keeps them all)."""
    return {g: n if n <= multiple else min(n, multiple * max(1, int(n * (1.0 - ratio) / multiple + 0.5)))
            for g, n in sizes.items()}


class _Thinning:
    """A model's thinnable groups, their ranked filters, and what a choice of kept counts costs."""

    def __init__(self, model, params: FilterPruneStage):
        from .filter_graph import analyse, orders
        from .layers import skip_match

        self.model = model
        self.groups, self.skipped = analyse(model, lambda n: bool(skip_match(n, params.skip_layers)))
        self.order = orders(model, self.groups, params.criterion)
        self.sizes = _sizes(self.groups, model)
        self.multiple = int(params.channel_multiple)

    def kept(self, keeps: dict[str, int]) -> dict:
        """{thin layer: sorted kept filter indices} for {group: number of filters kept}."""
        import numpy as np

        return {m: np.sort(self.order[g][:keeps[g]]) for g, ms in self.groups.items() for m in ms}

    def cost(self, keeps: dict[str, int], cfg: dict) -> tuple[int, int, dict, dict]:
        """(parameters, MACs, new weights, changed layers) of the model these kept counts make."""
        from .filter_graph import macs, sliced

        weights, changed = sliced(self.model, cfg, self.kept(keeps))
        return sum(int(a.size) for w in weights.values() for a in w), macs(self.model, weights), weights, changed

    def search(self, metric: str, target: float) -> tuple[dict[str, int], float]:
        """(kept counts, fraction reached) keeping at most `target` of the input's `metric`: the smallest
        uniform ratio that gets there (bisection), refined from the largest one that does not by removing one
        filter (`channel_multiple` filters) at a time from the group with the largest share left (never beyond
        MAX_RATIO); the last removal is the one that lands nearest the target."""
        scratch = self.model.get_config()  # only the thinned sizes change in it, and costs do not read them
        base = self.cost(dict(self.sizes), scratch)[0 if metric == "params" else 1]

        def frac(keeps):
            return self.cost(keeps, scratch)[0 if metric == "params" else 1] / max(base, 1)

        lo, hi = 0.0, MAX_RATIO
        m = self.multiple
        if frac(_uniform(self.sizes, hi, m)) > target:
            keeps = _uniform(self.sizes, hi, m)
            return keeps, frac(keeps)
        for _ in range(24):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if frac(_uniform(self.sizes, mid, m)) > target else (lo, mid)
        keeps, floor = _uniform(self.sizes, lo, m), _uniform(self.sizes, MAX_RATIO, m)
        f = frac(keeps)

        def less(k: int) -> int:  # the next smaller multiple
            return (k - 1) // m * m

        while f > target:
            left = [g for g in keeps if less(keeps[g]) >= floor[g]]
            if not left:
                break
            g = max(left, key=lambda k: (keeps[k] / self.sizes[k], self.sizes[k]))
            f = frac({**keeps, g: less(keeps[g])})
            if f <= target:  # the last step: of the single removals that reach the target, the one nearest it
                steps = {k: frac({**keeps, k: less(keeps[k])}) for k in left}
                g = max((k for k in left if steps[k] <= target), key=lambda k: steps[k])
                f = steps[g]
            keeps[g] = less(keeps[g])
        return keeps, f


def thinner(model, params: FilterPruneStage):
    """(the rebuilt thinner model, {layer: [filters before, after]}, skipped layers, {"metric", "fraction",
    "reached"} or None when `ratio` was used)."""
    from ..tf import keras

    t = _Thinning(model, params)
    goal = params.target()
    if goal and t.groups:
        keeps, reached = t.search(*goal)
        searched = {"metric": goal[0], "fraction": goal[1], "reached": round(float(reached), 6)}
    else:
        keeps, searched = _uniform(t.sizes, params.uniform_ratio(), params.channel_multiple), (
            {"metric": goal[0], "fraction": goal[1], "reached": 1.0} if goal else None)
    cfg = model.get_config()
    _, _, weights, changed = t.cost(keeps, cfg)
    cls = keras.Sequential if isinstance(model, keras.Sequential) else keras.Model
    new = cls.from_config(cfg)
    for name, w in weights.items():
        if w:
            new.get_layer(name).set_weights(w)
    return new, changed, t.skipped, searched


def macs(model) -> int:
    """Multiply-accumulates of one inference through Conv2D, DepthwiseConv2D and Dense layers."""
    from .filter_graph import macs as count

    return count(model)


def run(model, params: FilterPruneStage, ctx):
    """Thin the model (by `ratio` per layer, or to a global target), fine-tune it, and record parameters and
    MACs before and after."""
    from ..training.fit import fit
    from .base import StageResult, stage_label
    from .layers import check_skip_layers

    label = stage_label(ctx, "filter_prune")
    check_skip_layers(model, params.skip_layers, "filter_prune", ctx)
    new, changed, skipped, searched = thinner(model, params)
    if not changed:
        ctx.reporter.warn(f"{label}: no layer could be thinned")
    history = fit(new, ctx, "filter_prune", label=label, epochs=params.epochs, learning_rate=params.learning_rate,
                  batch_size=params.batch_size, distributed=DISTRIBUTED)
    kernels = {n: int(new.get_layer(n).kernel.shape.num_elements()) for n in changed}
    removed = 1.0 - sum(c[1] for c in changed.values()) / max(sum(c[0] for c in changed.values()), 1)
    filters = {"ratio": round(removed, 6) if searched else params.uniform_ratio(), "criterion": params.criterion,
               "params_before": int(model.count_params()), "params_after": int(new.count_params()),
               "macs_before": macs(model), "macs_after": macs(new),
               "layers": {n: {"filters": c, "kernel_params": kernels[n]} for n, c in changed.items()}}
    if searched:
        filters["target"] = searched
    size = (f"to {searched['reached']:.1%} of the {'MACs' if searched['metric'] == 'macs' else 'parameters'} "
            f"(target {searched['fraction']:.0%})" if searched else f"−{params.uniform_ratio():.0%}")
    scheme = (f"{params.criterion} filters {size} in {len(changed)} layer(s): params "
              f"{filters['params_before']:,}→{filters['params_after']:,}, MACs {filters['macs_before']:,}→"
              f"{filters['macs_after']:,}")
    if searched and searched["reached"] > searched["fraction"] + 0.02:
        ctx.reporter.warn(f"{label}: reached {searched['reached']:.1%} of the "
                          f"{searched['metric']}, not the {searched['fraction']:.0%} asked for (the layers that "
                          "can be thinned are not enough)")
    return StageResult.fine_tuned(params, new, scheme, skipped, history, record_extra={"filters": filters})


# ------------------------------------------------------------------------------------ tree, export

#: its fit runs under training.distribute's strategy
DISTRIBUTED = True
#: the fields this stage adds to its report.json record (StageResult.record_extra), declared in the schema
RECORD_FIELDS = ("filters",)


def resolve(params: FilterPruneStage, previous: list[str], training) -> list[StageProblem]:
    """Derived defaults (learning rate, batch size, the ratio when no target is given)."""
    if params.ratio is None and params.target() is None:
        params.ratio = DEFAULT_RATIO
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
