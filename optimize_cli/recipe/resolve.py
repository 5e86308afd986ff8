"""The rules of DESIGN.md that need the whole recipe: the deployment tree (order, each stage's own
`resolve()`), the export reachable from the path, the data the path needs, and the paths it names.
Fills in the derived defaults as it goes (resolved once here; recipe.resolved.yaml shows them)."""
from __future__ import annotations

from pathlib import Path

from .. import stages as stage_registry
from ..data import ValidationSplit
from ..integrations.config import resolve_paths
from ..models.files import path_problem as model_path_problem
from ..stages.order import fixed_export, order_problems
from .model import Recipe
from .paths import Rule, path_exists, resolve_path, show_path
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


def deploy_rules(recipe: Recipe) -> list[Rule]:
    """What the export keys need: int4 weights (`export.weight_bits`) take int8 activations, ai-edge-quantizer,
    and targets whose runtime runs them (a module's INT4); `export.per_channel: false` is post-training int8."""
    from .. import targets as target_registry
    from ..deploy import int4

    out: list[Rule] = []
    ex, q = recipe.export, recipe.export.quantization
    fixed = fixed_export(recipe.stage_types)
    if ex.int4:
        try:
            int4.check_weight_bits(ex.weight_bits)
        except ValueError as e:
            out.append(Rule(["export", "weight_bits"], str(e)))
        if q != "int8":
            out.append(Rule(["export", "weight_bits"], f"int4 weights take int8 activations: export.quantization "
                            f"is {q}; use int8 or weight_bits: 8"))
        missing = int4.package_missing()
        if missing:
            out.append(Rule(["export", "weight_bits"], missing))
        if not ex.per_channel:
            out.append(Rule(["export", "per_channel"], "int4 weights are quantized per channel; use per_channel: "
                            "true or weight_bits: 8"))
        for i, t in enumerate(recipe.targets):
            m = target_registry.module_for(t)
            if not getattr(m, "INT4", False):
                out.append(Rule(["targets", i], f"target {target_registry.target_name(t)!r} cannot run int4 "
                                f"weights ({getattr(m, 'INT4_REASON', 'no int4 kernels')}); use export.weight_bits: "
                                "8, or remove the target"))
    names = [target_registry.target_name(t) for t in recipe.targets]
    names += [n for n in [target_registry.target_name(target_registry.main_target())] if n not in names]
    limits = recipe.gates.max_deployable_bytes
    for key in (limits if isinstance(limits, dict) else {}):
        if key not in names:
            out.append(Rule(["gates", "max_deployable_bytes", key], f"{key!r} is not a target of the recipe; "
                            f"targets: {', '.join(names)}"))
    if not ex.per_channel:
        if q != "int8":
            out.append(Rule(["export", "per_channel"], f"per-tensor weights are an int8 option; export.quantization "
                            f"is {q}"))
        elif fixed is not None:
            out.append(Rule(["export", "per_channel"], f"per_channel: false is for a post-training int8 export; "
                            f"the {fixed[0]} stage trains per-channel weight ranges"))
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
    model_ok = check_paths and recipe.model and not any(r.parts == ["model"] for r in out)
    shape = model_input_shape(recipe.model) if model_ok else None  # data is checked against a usable model only
    for split in ("train", "eval", "representative"):
        src = getattr(recipe.data, split)
        if src is not None:
            out += check_source(split, src, base, check_paths, shape)
    if isinstance(recipe.data.eval, ValidationSplit) and recipe.data.train is None:
        out.append(Rule(["data", "eval", "validation_split"], "needs data.train: it holds out part of data.train "
                        "for evaluation", key_line=True))
    return out


def raw_path_rules(raw: dict, base: Path, check_paths: bool) -> list[Rule]:
    """The path problems of a recipe that has schema problems (`validate` lists both at once): the model,
    and each data source that is valid on its own, checked as path_rules checks them."""
    from ..data import DataConfig

    if not check_paths or not isinstance(raw, dict):
        return []
    out: list[Rule] = []
    model = raw.get("model")
    if isinstance(model, str) and model:
        model = resolve_path(base, model)
        why = model_path_problem(model)
        if why is not None:
            out.append(Rule(["model"], f"path does not exist: {show_path(model)}" if not path_exists(model)
                            else f"{show_path(model)}: {why}"))
    shape = model_input_shape(model) if isinstance(model, str) and model and not out else None
    data = raw.get("data")
    for split in ("train", "eval", "representative"):
        if not isinstance(data, dict) or not isinstance(data.get(split), dict):
            continue
        try:
            src = getattr(DataConfig.model_validate({split: data[split]}), split)
        except ValueError:  # its own schema problems are listed already
            continue
        if not isinstance(src, ValidationSplit):
            out += check_source(split, src, base, check_paths, shape)
    return out


def model_input_shape(model_path: str):
    """The model's input shape without the batch axis, from its stored config (no TensorFlow); None when
    it cannot be read."""
    from .auto_space import input_shape

    try:
        return input_shape(Path(model_path))
    except (OSError, ValueError):
        return None


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
    return [*tree_rules(recipe), *export_rules(recipe), *deploy_rules(recipe), *data_rules(recipe, q_given),
            *path_rules(recipe, base, check_paths), *target_rules(recipe.targets, base, check_paths, recipe.gates)]
