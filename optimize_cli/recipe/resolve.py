"""The rules of DESIGN.md that need the whole recipe: the deployment tree (order, each stage's own
`resolve()`), the export reachable from the path, the data the path needs, and the paths it names.
Fills in the derived defaults as it goes (resolved once here; recipe.resolved.yaml shows them)."""
from __future__ import annotations

from pathlib import Path

from .. import stages as stage_registry
from ..models.files import path_problem as model_path_problem
from ..stages.order import fixed_export, order_problems
from .model import Recipe
from .paths import Rule, path_exists, resolve_path, show_path
from ..data import ValidationSplit
from ..integrations.config import resolve_paths
from .sources import check_source
from .targets import target_rules

_IO_DEFAULT = {"int8": "int8", "int16x8": "int16"}
_IO_ALLOWED = {"int8": {"float32", "int8", "uint8"}, "int16x8": {"float32", "int16"}}


def tree_rules(recipe: Recipe) -> list[Rule]:
    """Order prune → cluster → qat, each at most once; then each stage's resolve() (its derived defaults
    and the rules that concern it), given the stages before it."""
    types = recipe.stage_types
    out = [Rule(["stages", i, "type"], msg) for i, msg in order_problems(types)]
    for i, st in enumerate(recipe.stages):
        module = stage_registry.stage_module(st.type)
        for parts, msg, key_line in module.resolve(st, types[:i], recipe.training):
            out.append(Rule(["stages", i, *parts], msg, key_line=key_line))
    return out


def export_rules(recipe: Recipe) -> list[Rule]:
    """The export's quantization reachable from the path (after qat: int8) and its tensor types."""
    out: list[Rule] = []
    ex = recipe.export
    q = ex.quantization
    fixed = fixed_export(recipe.stage_types)
    if fixed is not None:
        typ, only = fixed
        if q is None:
            ex.quantization = only
        elif q != only:
            reason = stage_registry.stage_module(typ).EXPORT_REASON
            out.append(Rule(["export", "quantization"], f"'{q}' is not reachable after {typ}: {reason}; use "
                            f"{only} or remove the {typ} stage"))
    elif q is None:
        ex.quantization = "int8"
    q = ex.quantization
    output_given = ex.inference_output_type is not None
    if ex.inference_input_type is None:
        ex.inference_input_type = _IO_DEFAULT.get(q, "float32")
    if ex.inference_output_type is None:
        ex.inference_output_type = ex.inference_input_type
    allowed_io = _IO_ALLOWED.get(q, {"float32"})
    for k in ("inference_input_type", "inference_output_type"):
        v = getattr(ex, k)
        if k == "inference_output_type" and not output_given:
            if v not in allowed_io:  # copied from the input type, which is reported already
                ex.inference_output_type = "float32"
            continue
        if v not in allowed_io:
            out.append(Rule(["export", k], f"'{v}' is not possible with quantization {q}; "
                            f"valid: {', '.join(sorted(allowed_io))}"))
    return out


def data_rules(recipe: Recipe, q_given: bool) -> list[Rule]:
    """The data the path needs: training data for training stages, calibration data for int8/int16x8,
    evaluation data for an accuracy gate."""
    out: list[Rule] = []
    types, data, q = recipe.stage_types, recipe.data, recipe.export.quantization
    if types and data.train is None:
        out.append(Rule(["data", "train"], f"required: stage '{types[0]}' fine-tunes the model on training "
                        "data", key_line=True))
    if q in ("int8", "int16x8") and data.train is None and data.representative is None:
        default = "" if q_given else (" (int8 is the default export; choose export.quantization: dynamic, "
                                      "float16 or none to convert without calibration)")
        out.append(Rule(["export", "quantization"], f"{q} needs calibration data: add data.train or "
                        f"data.representative{default}"))
    if recipe.gates.max_accuracy_drop is not None and data.eval is None:
        out.append(Rule(["gates", "max_accuracy_drop"], "needs data.eval to measure accuracy", key_line=True))
    return out


def path_rules(recipe: Recipe, base: Path, check_paths: bool) -> list[Rule]:
    """The model and the data sources: paths resolved against the recipe's folder and checked."""
    out: list[Rule] = []
    if not recipe.model:
        out.append(Rule(["model"], "missing: give the model path in the recipe or with --model", key_line=True))
    else:
        recipe.model = resolve_path(base, recipe.model)
        why = model_path_problem(recipe.model) if check_paths else None
        if why is not None:  # missing, or a device / FIFO / socket that would hang the loader
            shown = show_path(recipe.model)
            out.append(Rule(["model"], f"path does not exist: {shown}" if not path_exists(recipe.model)
                            else f"{shown}: {why}"))
        elif check_paths:
            out += keras3_rules(recipe.model)
    for split in ("train", "eval", "representative"):
        src = getattr(recipe.data, split)
        if src is not None:
            out += check_source(split, src, base, check_paths)
    if isinstance(recipe.data.eval, ValidationSplit) and recipe.data.train is None:
        out.append(Rule(["data", "eval", "validation_split"], "needs data.train: it holds out part of data.train "
                        "for evaluation", key_line=True))
    return out


def keras3_rules(model_path: str) -> list[Rule]:
    """A Keras 3 model file with a layer the translation cannot build (read from its JSON config)."""
    from ..models.keras3 import problem

    why = problem(model_path) if Path(model_path).is_file() else None
    if why is None:
        return []
    prefix = f"{model_path}: "
    return [Rule(["model"], why[len(prefix):] if why.startswith(prefix) else why)]


def check_rules(recipe: Recipe, base: Path, check_paths: bool = True) -> list[Rule]:
    """The deployment-tree rules of DESIGN.md; fills in derived defaults and resolves paths."""
    q_given = recipe.export.quantization is not None
    resolve_paths(recipe, base)  # tracking.mlflow, training.tensorboard: relative to the recipe
    return [*tree_rules(recipe), *export_rules(recipe), *data_rules(recipe, q_given),
            *path_rules(recipe, base, check_paths), *target_rules(recipe.targets, base, check_paths, recipe.gates)]
