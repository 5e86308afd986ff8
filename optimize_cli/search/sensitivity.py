"""The per-layer sensitivity pre-pass of `optimize-cli search` (`search.sensitivity: true`).

Each prunable layer of the input model is pruned ALONE at a few sparsities (magnitude pruning of its
kernel, no fine-tuning) and clustered ALONE at a few cluster counts (k-means on its kernel values, no
fine-tuning); the accuracy drop of each is measured by a Keras evaluation of the float model over the
eval split, in batches. The result, DIR/sensitivity.json:

    {"metric", "baseline", "samples", "seconds", "method", "gate",
     "layers": [{"name", "class", "params", "prune": {"0.5": drop, ...}, "cluster": {"8": drop, ...}}]}

shape.py runs it and turns it into per-layer sparsities. The pass runs in its own subprocess, the hidden
command `optimize-cli search-sensitivity RECIPE OUT.json --json` (cli/search.py: its errors take the
CLI's one exit-code mapping): the search parent never imports TensorFlow (this module imports it only
inside the functions the subprocess calls).
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..errors import InputError, StageError

PRUNE_LEVELS = (0.5, 0.7, 0.8, 0.9, 0.95)
CLUSTER_COUNTS = (4, 8, 16)
METHOD = ("each layer alone: magnitude pruning of its kernel / k-means on its kernel values, no fine-tuning; "
          "accuracy of the float Keras model over the eval split, in batches")


# ---------------------------------------------------------------------------------- kernel operations


def prune_alone(w: np.ndarray, sparsity: float) -> np.ndarray:
    """`w` with its smallest-magnitude `sparsity` fraction set to zero (one threshold per tensor, as tfmot)."""
    flat = np.abs(w).ravel()
    k = int(round(sparsity * flat.size))
    if k <= 0:
        return w.copy()
    idx = np.argsort(flat, kind="stable")[:k]
    out = w.copy().ravel()
    out[idx] = 0
    return out.reshape(w.shape)


def cluster_alone(w: np.ndarray, clusters: int, iterations: int = 30) -> np.ndarray:
    """`w` with each value replaced by its nearest of `clusters` centroids (1-D k-means, linear initial
    centroids between min and max, like tfmot's LINEAR initialization)."""
    flat = w.ravel().astype(np.float64)
    cents = np.linspace(flat.min(), flat.max(), clusters)
    for _ in range(iterations):
        assign = np.abs(flat[:, None] - cents[None, :]).argmin(axis=1)
        new = np.array([flat[assign == c].mean() if np.any(assign == c) else cents[c] for c in range(clusters)])
        if np.allclose(new, cents):
            break
        cents = new
    assign = np.abs(flat[:, None] - cents[None, :]).argmin(axis=1)
    return cents[assign].astype(w.dtype).reshape(w.shape)


# ------------------------------------------------------------------------------ the pass (TensorFlow)


def prunable_kernels(model) -> list[tuple]:
    """(layer, [its kernel variables]) for every layer tfmot would prune (what the prune stage wraps)."""
    from tensorflow_model_optimization.python.core.sparsity.keras import prune_registry

    from ..stages.layers import iter_layers, registry_weights, tfmot_refusal

    out = []
    for layer in iter_layers(model):
        leave, _ = tfmot_refusal(layer, prune_registry.PruneRegistry, "prune", "prunable")
        if leave:
            continue
        names = registry_weights(prune_registry.PruneRegistry, layer)
        kernels = [v for n in names if (v := getattr(layer, n, None)) is not None and len(v.shape) >= 2]
        if kernels:
            out.append((layer, kernels))
    return out


def measure(recipe, inputs, gate: Optional[float] = None, log=None) -> dict:
    """The sensitivity document of `inputs.keras_model` (RunInputs of `recipe`), as described above."""
    from ..measure.metrics import accuracy_drop
    from ..run.measurements import keras_accuracy

    ev, model = inputs.eval, inputs.keras_model
    if ev is None:
        raise InputError("search.sensitivity: needs data.eval (the accuracy drop of each layer is measured on it)")
    if model is None:
        raise InputError("search.sensitivity: needs a Keras model (the layers are pruned one by one)")
    t0 = time.monotonic()

    def acc() -> float:
        return keras_accuracy(model, ev, inputs.metric, recipe.evaluation, inputs.output_index)

    def drop(value: float) -> float:
        return round(float(accuracy_drop(base, value, inputs.higher_is_better)), 6)

    base = acc()
    layers = []
    for layer, kernels in prunable_kernels(model):
        orig = [k.numpy() for k in kernels]
        entry = {"name": layer.name, "class": type(layer).__name__, "params": int(sum(o.size for o in orig)),
                 "prune": {}, "cluster": {}}
        for kind, levels, change in (("prune", PRUNE_LEVELS, prune_alone), ("cluster", CLUSTER_COUNTS, cluster_alone)):
            for level in levels:
                for var, o in zip(kernels, orig, strict=True):
                    var.assign(change(o, level))
                entry[kind][str(level)] = drop(acc())
            for var, o in zip(kernels, orig, strict=True):
                var.assign(o)
        layers.append(entry)
        if log is not None:
            log(f"sensitivity: {layer.name} ({entry['params']:,} weights): prune "
                + " ".join(f"{k}→{v:+.3f}" for k, v in entry["prune"].items()) + "; cluster "
                + " ".join(f"{k}→{v:+.3f}" for k, v in entry["cluster"].items()))
    if not layers:
        raise StageError("search.sensitivity: no layer of the model can be pruned")
    return {"metric": inputs.metric, "baseline": base, "samples": int(ev.samples), "gate": gate,
            "seconds": round(time.monotonic() - t0, 3), "method": METHOD, "layers": layers}


def run_into(recipe_path: Path, out: Path, log: Optional[Callable[[str], None]] = None) -> dict:
    """The pass on a plain recipe's model and eval data (the hidden `search-sensitivity` command), its
    document written to `out` (atomically) and returned; errors are OptimizeErrors."""
    from ..recipe import load_recipe
    from ..run.inputs import load_inputs
    from ..tf import set_seed

    recipe = load_recipe(recipe_path)
    set_seed(recipe.training.seed)
    doc = measure(recipe, load_inputs(recipe, False, False), recipe.gates.max_accuracy_drop, log)
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    tmp.replace(out)
    return doc
