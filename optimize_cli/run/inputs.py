"""What a run reads before any conversion: the model, the data splits, how to compile and judge the
model, and the samples that calibrate int8 and time the interpreter."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Optional

import numpy as np

from ..errors import InputError, RecipeError
from .measurements import metric_for


@dataclass
class RunInputs:
    loaded: Any  # models.LoadedModel
    splits: dict  # split name -> data Split
    compile_info: Any  # context.CompileInfo, None without a Keras model
    metric: str
    output_index: int  # the output the metric reads
    output_name: Optional[str]  # its name when the model has several outputs

    @property
    def keras_model(self):
        return self.loaded.keras_model

    @property
    def higher_is_better(self) -> bool:
        """The metric's direction (measure.metrics: an error is better lower)."""
        from ..measure.metrics import higher_is_better

        return higher_is_better(self.metric)

    @property
    def eval(self):
        return self.splits.get("eval")

    @property
    def train(self):
        return self.splits.get("train")


def load_inputs(recipe, trust_model: bool, allow_code: bool, step=None, translated=None) -> RunInputs:
    """Load the model and data and check them against each other (InputError, exit 3). `step(words)`, a
    context manager (Reporter.step), says what is being done while nothing else shows; `translated(verify,
    x)` gives a translated Keras 3 model's check record (the run's: from its cache), else `verify(x)`."""
    from .. import data as data_mod
    from .. import models

    step = step or _silent_step
    with step("loading the model"):
        loaded = models.load_model(recipe.model, trust_model=trust_model)
    kmodel = loaded.keras_model
    if recipe.stages and kmodel is None:
        raise InputError(f"model: {recipe.model} is a SavedModel without a Keras model ({loaded.format}); "
                         "training stages need the Keras model file (from Keras 3's model.export(): pass the "
                         ".keras file written by model.save('model.keras') instead) — or use a post-training "
                         "recipe (stages: [])")
    with step("loading the data"):
        splits = data_mod.load_splits(recipe.data, allow_code=allow_code)
    label_split = splits.get("train") or splits.get("eval")
    label_shape = label_split.label_shape if label_split is not None else None
    cinfo = models.compile_info(kmodel, recipe.training, label_shape=label_shape) if kmodel is not None else None
    out_idx, out_name = 0, None
    if kmodel is not None:
        out_idx = data_mod.resolve_output(recipe.evaluation.output, kmodel.output_names, len(kmodel.outputs))
        out_name = kmodel.output_names[out_idx] if len(kmodel.outputs) > 1 else None
        classification = "crossentropy" in str(getattr(cinfo.loss, "name", cinfo.loss)).lower()
        in_dtype = np.dtype(kmodel.inputs[0].dtype.as_numpy_dtype) if len(kmodel.inputs) == 1 else None
        for sp in splits.values():
            data_mod.check_against_model(sp, kmodel.input_shape, kmodel.output_shape, classification,
                                         output=recipe.evaluation.output, output_names=kmodel.output_names,
                                         input_dtype=in_dtype)
    if loaded.verify is not None:  # a translated Keras 3 model: the same outputs as Keras 3, before any stage
        x = splits.get("train") or splits.get("eval") or splits.get("representative")
        with step("checking the Keras 3 translation"):
            loaded.translation = translated(loaded.verify, x) if translated is not None else loaded.verify(x)
    metric = metric_for(recipe, cinfo) if cinfo is not None else (recipe.evaluation.metric or "accuracy")
    return RunInputs(loaded, splits, cinfo, metric, out_idx, out_name)


@contextmanager
def _silent_step(_description: str):
    yield


def check_skip_layers(recipe, kmodel) -> None:
    """Layers a recipe names exactly in skip_layers must exist: checked before the first stage trains."""
    from ..stages.layers import is_exact_name, iter_layers

    names = {layer.name for layer in iter_layers(kmodel)}
    shown = ", ".join(sorted(names)[:30]) + (" …" if len(names) > 30 else "")
    for i, st in enumerate(recipe.stages):
        for p in getattr(st, "skip_layers", None) or []:
            if is_exact_name(p) and p not in names:
                raise RecipeError(f"stages[{i}].skip_layers: the model has no layer named '{p}' (layers: {shown})")
        if getattr(st, "layer_sparsity", None):
            from ..stages.prune import check_layer_sparsity

            check_layer_sparsity(sorted(names), st, f"stages[{i}]")


def calibration(recipe, inputs: RunInputs) -> tuple[Any, np.ndarray]:
    """(representative samples for int8 calibration or None, one input sample for the latency runs)."""
    from .. import data as data_mod

    ev = inputs.eval
    calib = inputs.splits.get("representative") or inputs.splits.get("train")
    rep = (data_mod.representative_sample(calib, recipe.data.representative_samples, recipe.training.seed)
           if calib is not None else None)
    sample = (ev or calib).first(1) if (ev or calib) is not None else None
    if sample is None:  # no data at all: time the interpreter on zeros of the model's input shape
        shape, dtype = _input_spec(inputs.loaded)
        sample = np.zeros([1] + [d or 1 for d in shape[1:]], dtype)
    return rep, sample


def _input_spec(loaded) -> tuple[list, Any]:
    """(input shape, numpy dtype) of a Keras model, or of a plain SavedModel's one-input signature."""
    if loaded.keras_model is not None:
        return list(loaded.keras_model.input_shape), np.dtype(loaded.keras_model.inputs[0].dtype.as_numpy_dtype)
    specs = list(loaded.concrete_function.structured_input_signature[1].values())
    if not specs or specs[0].shape.rank is None:
        raise InputError(f"model: {loaded.path}: its '{loaded.signature_key}' signature has no input of known rank; "
                         "give a data section (eval or representative) to time and calibrate it")
    return list(specs[0].shape.as_list()), specs[0].dtype.as_numpy_dtype
