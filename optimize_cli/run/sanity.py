"""Silent mistakes a run can see for itself, said as warnings (report.json `warnings`, and stderr): a float
baseline at chance level (the evaluation data is probably not scaled as the model expects), the same data
for training and evaluation, and fewer calibration samples than the recipe asks for. Each check returns
(source, message) pairs; run/path.py hands them to `run.warn`."""
from __future__ import annotations

from typing import Optional

#: a baseline accuracy at most this many times chance (1 / classes) is "at chance level"
CHANCE_FACTOR = 1.5
#: source settings that transform samples without choosing them
_TRANSFORMS = ("scale", "offset")

Warning_ = tuple[str, str]


def _eval_source(recipe) -> tuple[Optional[object], str]:
    """The source the evaluation samples come from and its recipe key (a validation_split's is data.train)."""
    ev = recipe.data.eval
    if ev is not None and ev.type == "validation_split":
        return recipe.data.train, "data.train"
    return ev, "data.eval"


def output_classes(kmodel, output_index: int) -> Optional[int]:
    """How many classes the model's evaluated output scores (its last dimension), None when unknown."""
    if kmodel is None:
        return None
    shapes = kmodel.output_shape
    shape = shapes[output_index] if isinstance(shapes, list) else shapes
    n = shape[-1] if shape else None
    return int(n) if isinstance(n, int) and n >= 2 else None


def chance_level_baseline(recipe, inputs, accuracy: Optional[float]) -> list[Warning_]:
    """A warning when the float baseline's accuracy is at chance level (≤ CHANCE_FACTOR / classes): every
    figure after it is meaningless, and wrong input scaling is the usual cause."""
    if inputs.metric != "accuracy" or accuracy is None:
        return []
    classes = output_classes(inputs.keras_model, inputs.output_index)
    if classes is None or accuracy > CHANCE_FACTOR / classes:
        return []
    src, key = _eval_source(recipe)
    if src is not None and hasattr(src, "scale") and hasattr(src, "offset"):
        hint = (f"check {key}.scale and {key}.offset (now scale {src.scale:g}, offset {src.offset:g}: "
                "x = value * scale + offset) against the input range the model was trained on")
    else:
        hint = f"check that {key} is prepared (scaled, ordered, labelled) as the model's training data was"
    return [("baseline", f"the float baseline's accuracy {accuracy:.2%} is at chance level for {classes} classes "
             f"(1/{classes} = {1 / classes:.2%}): the figures of this run mean nothing; {hint}")]


def _selection(src) -> dict:
    """A source's settings without those that only transform samples."""
    return {k: v for k, v in src.model_dump(mode="json").items() if k not in _TRANSFORMS}


def same_train_and_eval(recipe) -> list[Warning_]:
    """A warning when data.eval reads the same samples as data.train (same source settings)."""
    train, ev = recipe.data.train, recipe.data.eval
    if train is None or ev is None or ev.type == "validation_split" or ev.type != train.type:
        return []
    if _selection(train) != _selection(ev):
        return []
    return [("data", "data.train and data.eval are the same data: accuracy is measured on the samples the "
             "stages train on and overstates what the model does on new ones; give data.eval other samples or "
             "use data.eval: {validation_split: 0.2}")]


def fewer_calibration_samples(recipe, inputs, representative) -> list[Warning_]:
    """A warning when int8/int16x8 calibration gets fewer samples than data.representative_samples."""
    if representative is None or recipe.export.quantization not in ("int8", "int16x8"):
        return []
    asked, got = int(recipe.data.representative_samples), len(representative)
    if got >= asked:
        return []
    key = "data.representative" if inputs.splits.get("representative") is not None else "data.train"
    return [("calibration", f"{got} samples calibrate {recipe.export.quantization}, fewer than "
             f"data.representative_samples ({asked}): {key} has only {got}")]


def input_warnings(recipe, inputs, representative) -> list[Warning_]:
    """What can be said once the data is loaded and the calibration samples drawn."""
    return [*same_train_and_eval(recipe), *fewer_calibration_samples(recipe, inputs, representative)]
