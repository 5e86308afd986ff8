"""cluster: tfmot weight clustering (apply → fine-tune → strip); sparsity-preserving after prune."""
from __future__ import annotations

from typing import ClassVar, Literal, Optional

from pydantic import Field

from .base import StageParams, StageProblem, resolve_common

CENTROID_INITS = ("kmeans++", "linear", "density", "random")


class ClusterStage(StageParams):
    """Weight clustering: each kernel keeps at most `clusters` distinct values."""

    DEFAULT_LEARNING_RATE: ClassVar[Optional[float]] = 1e-4  # see the learning_rate description

    type: Literal["cluster"] = "cluster"
    clusters: int = Field(
        16, ge=2, le=256, description="Number of clusters (distinct weight values) per kernel (tfmot number_of_clusters)."
    )
    centroid_init: Literal["kmeans++", "linear", "density", "random"] = Field(
        "kmeans++", description="How cluster centroids are initialised (tfmot CentroidInitialization)."
    )
    per_channel: bool = Field(
        False, description="Cluster each output channel of Conv2D kernels separately (tfmot cluster_per_channel)."
    )
    preserve_sparsity: Optional[bool] = Field(
        None,
        description="Keep pruned zeros at zero (sparsity-preserving clustering). Default: true after prune; "
        "false after prune is an error.",
    )
    learning_rate: Optional[float] = Field(
        None,
        gt=0,
        le=10,
        description="Learning rate for this stage (default: training.learning_rate where the recipe sets it, else 1e-4). After "
        "k-means the weights only need small corrections: on the real DS-CNN (8 sparsity-preserving clusters "
        "after 50% pruning) 1e-4 ended 0.6–1.4 points above 1e-3 in both seeds tried, and on digits_dscnn 0.5.",
    )
    epochs: int = Field(
        8,
        ge=0,
        le=10_000,
        description="Fine-tuning epochs while clustering. 8: at lr 1e-4 accuracy stopped improving after 4–7 "
        "epochs on the real DS-CNN and after 3 on digits_dscnn.",
    )


# ---------------------------------------------------------------------------------------------- run


def _centroid_init(name: str):
    from ..tf import tfmot

    ci = tfmot.clustering.keras.CentroidInitialization
    return {
        "kmeans++": ci.KMEANS_PLUS_PLUS,
        "linear": ci.LINEAR,
        "density": ci.DENSITY_BASED,
        "random": ci.RANDOM,
    }[name]


def _clusterable_weights(layer, registry) -> list:
    """(name, variable) of each weight tfmot would cluster in `layer` ([] when unknown, e.g. RNN cells)."""
    from tensorflow_model_optimization.python.core.clustering.keras import clusterable_layer

    if isinstance(layer, clusterable_layer.ClusterableLayer):
        return list(layer.get_clusterable_weights())
    from .layers import registry_weights

    return [(n, getattr(layer, n)) for n in registry_weights(registry, layer) if hasattr(layer, n)]


def too_few_weights(name: str, values, clusters: int, preserve: bool, kmeans: bool) -> Optional[str]:
    """Why `values` (one weight, or one output channel of it) cannot be clustered into `clusters`, or None:
    at most `clusters` values leave nothing to cluster, and tfmot's k-means++ fails ("num_to_sample <=
    points.rows()") when it is asked for more centroids than there are values — with preserve_sparsity it
    splits clusters-1 centroids between the negative and the positive values in proportion to their counts."""
    import numpy as np

    v = np.asarray(values).ravel()
    if v.size <= clusters:
        return f"too few weights for {clusters} clusters ({name}: {v.size} values)"
    if preserve and kmeans:
        neg, pos = int(np.sum(v < 0)), int(np.sum(v > 0))
        if neg + pos:
            n_neg = int(np.round((clusters - 1) * neg / (neg + pos)))
            n_pos = clusters - 1 - n_neg
            if n_neg > neg or n_pos > pos:
                return (f"too few non-zero weights for {clusters} sparsity-preserving clusters ({name}: {neg} "
                        f"negative, {pos} positive values for {n_neg} and {n_pos} k-means++ centroids)")
    return None


def _layer_too_few(layer, registry, params: ClusterStage, preserve: bool, per_channel: bool) -> Optional[str]:
    """The first clusterable weight of `layer` (per output channel when clustered per channel) that
    `too_few_weights` refuses, or None."""
    import numpy as np

    kmeans = params.centroid_init == "kmeans++"
    first = getattr(layer, "data_format", "channels_last") == "channels_first"
    for name, var in _clusterable_weights(layer, registry):
        w = np.asarray(var.numpy() if hasattr(var, "numpy") else var)
        if per_channel and w.ndim == 4:
            w = np.moveaxis(w, 1, -1) if first else w
            parts = [(f"{name} channel {c}", w[..., c]) for c in range(w.shape[-1])]
        else:
            parts = [(name, w)]
        for label, part in parts:
            why = too_few_weights(label, part, params.clusters, preserve, kmeans)
            if why:
                return why
    return None


def _cluster_decider(params: ClusterStage, preserve: bool, notes: list):
    from tensorflow_model_optimization.python.core.clustering.keras import (
        cluster_wrapper,
        clusterable_layer,
        clustering_registry,
    )

    from ..tf import keras, tfmot
    from .layers import tfmot_refusal

    init = _centroid_init(params.centroid_init)
    registry = clustering_registry.ClusteringRegistry

    def decide(layer):
        if isinstance(layer, clusterable_layer.ClusterableLayer):
            if not layer.get_clusterable_weights():
                return None
        else:
            leave, reason = tfmot_refusal(layer, registry, "cluster", "clusterable")
            if leave:
                return reason
        per_channel = bool(params.per_channel) and isinstance(layer, keras.layers.Conv2D)
        if params.per_channel and not per_channel:
            notes.append(f"{layer.name}: per_channel applies to Conv2D kernels only; "
                         f"{type(layer).__name__} kernel clustered as a whole")
        # tfmot's own "enough weights" check divides by the size of the layer's *last* trainable weight (the
        # kernel itself for Conv2D without bias) and then silently skips per-channel clustering, and it lets
        # k-means++ fail on a weight with fewer values than centroids: count per weight (and channel) here.
        few = _layer_too_few(layer, registry, params, preserve, per_channel)
        if few:
            return few
        if isinstance(layer, keras.layers.Conv2D):
            return cluster_wrapper.ClusterWeights(layer, params.clusters, init, preserve_sparsity=preserve,
                                                  cluster_per_channel=per_channel)
        return tfmot.clustering.keras.cluster_weights(
            layer, number_of_clusters=params.clusters, cluster_centroids_init=init,
            preserve_sparsity=preserve, cluster_per_channel=False)

    return decide


def _describe(params: ClusterStage, preserve: bool) -> str:
    parts = [f"{params.clusters} clusters", params.centroid_init]
    if params.per_channel:
        parts.append("per channel")
    if preserve:
        parts.append("sparsity-preserving")
    return ", ".join(parts)


def run(model, params: ClusterStage, ctx):
    """Cluster every clusterable kernel to at most `clusters` values while fine-tuning; strip the wrappers."""
    import numpy as np

    from ..tf import tfmot
    from ..training.fit import fit
    from .base import StageResult, stage_label
    from .layers import check_skip_layers, freeze_preserved, wrap_stage_layers

    label = stage_label(ctx, "cluster")
    preserve = bool(params.preserve_sparsity)
    check_skip_layers(model, params.skip_layers, "cluster", ctx)
    notes: list[str] = []
    wrapped_model, wrapped, skipped = wrap_stage_layers(
        model, params, ctx, "cluster", _cluster_decider(params, preserve, notes), "clustered")
    if preserve:  # a layer left unclustered is fine-tuned without tfmot's masks: keep its pruned zeros
        for layer in freeze_preserved(wrapped_model, skipped, True, False):
            notes.append(f"{layer}: not clustered and frozen: fine-tuning it would undo its pruned zeros")
    for note in notes:
        ctx.reporter.log(f"  {label}: {note}")
    history = fit(wrapped_model, ctx, "cluster", label=label, epochs=params.epochs,
                  learning_rate=params.learning_rate, batch_size=params.batch_size, distributed=DISTRIBUTED)
    stripped = tfmot.clustering.keras.strip_clustering(wrapped_model)

    unique = {}
    for name in wrapped:
        k = [w.numpy() for w in stripped.get_layer(name).weights if len(w.shape) >= 2]
        if k:
            unique[name] = int(np.unique(k[0]).size)
    return StageResult.fine_tuned(
        params, stripped, _describe(params, preserve), skipped, history,
        details={"clustered_layers": wrapped, "unique_weights": unique, "preserve_sparsity": preserve,
                 "notes": notes},
    )


# ------------------------------------------------------------------------------------ tree, export

#: its fit runs under training.distribute's strategy
DISTRIBUTED = True


def resolve(params: ClusterStage, previous: list[str], training) -> list[StageProblem]:
    """Derived defaults (preserve_sparsity: true after prune; learning rate, batch size) and the tree
    rules that concern a cluster stage."""
    out: list[StageProblem] = []
    pruned_before = "prune" in previous
    if params.preserve_sparsity is None:
        params.preserve_sparsity = pruned_before
    elif pruned_before and params.preserve_sparsity is False:
        out.append((["preserve_sparsity"], "must be true after prune: clustering without it moves the pruned "
                    "zeros into clusters and loses the sparsity; remove the key or set it to true", True))
    if params.preserve_sparsity and params.clusters <= 2:
        out.append((["clusters"], f"must be > 2 when preserving sparsity (got {params.clusters}): one cluster "
                    "is reserved for the zeros", False))
    return out + resolve_common(params, training)


def tree_label(previous: list[str]) -> str:
    """How `optimize-cli tree` names this stage after `previous`."""
    return "cluster (sparsity-preserving)" if "prune" in previous else "cluster"


def export_check(params: ClusterStage, record: dict, tflite_layers: dict) -> dict:
    """Did the clusters survive into the .tflite (at most `clusters` values per output channel)?"""
    left = {s.get("name") for s in record.get("skipped_layers") or []}  # not clustered: nothing to survive
    clustered = [lay for lay in record["layers"] if lay.get("unique_weights") and lay["unique_weights"] <= params.clusters
                 and lay["name"] not in left]
    lost, matched = [], 0
    for lay in clustered:
        t = tflite_layers.get(lay["name"])
        if t is None:
            continue
        matched += 1
        if t.get("max_unique_per_channel", 0) > params.clusters:
            lost.append(f"{lay['name']} ({t['max_unique_per_channel']} values per channel > {params.clusters})")
    return {"name": "clusters survived export", "passed": not lost and (matched > 0 or not clustered),
            "message": ("CLUSTERS LOST in export: " + ", ".join(lost)) if lost else
            (f"{matched} clustered layer(s) keep ≤ {params.clusters} values per channel in the .tflite"
             if matched else "no clustered layer could be matched in the .tflite")}


#: the parameter model the registry reads
Params = ClusterStage
