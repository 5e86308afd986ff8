"""The deployment targets (recipe `targets:`, DESIGN.md): a static, ordered registry of target modules.

Each module (litert.py, tflm.py, ethos_u.py; base.py says what one defines) owns everything about its
target type. From this tuple come the recipe's target union (discriminated on `type`), the target gates
of `GatesConfig` and the gate table of the report, the JSON Schema entries, the bare names a recipe and
`inspect --target` accept, the measurements of a run, the report's tables and `compare`'s rows. Adding a
target is one module and its line in TARGETS.

Importing this package never imports TensorFlow, tflite_micro or Vela: a module's `measure` imports
its library when called."""
from __future__ import annotations

from pathlib import Path
from types import ModuleType
from typing import Annotated, Any, Optional, Union

from pydantic import Field
from pydantic.fields import FieldInfo

from . import ethos_u, litert, tflm
from .base import Deployed, Gate, MeasureContext, Measured, fmt_compare, fmt_unit, package_missing

#: the target modules, in the order the schema, the validation messages and `compare` list them; the
#: first is the default `targets:`
TARGETS: tuple[ModuleType, ...] = (litert, tflm, ethos_u)

# ---- what is derived from TARGETS (kept in place by `register`, so that importers see a registration)
#: target `type` → its module
MODULES: dict[str, ModuleType] = {}
#: the `type` values (the union's tags)
TARGET_TYPES: list[str] = []
#: gate on a target figure → (the target type that measures it, the Gate)
GATES: dict[str, tuple[str, Gate]] = {}
#: the names `inspect --target` (and a bare entry of `targets:`) take besides the types
INSPECT_NAMES: list[str] = []

#: the description of the recipe's `targets:` field
FIELD_DESCRIPTION = ("Where the result is measured: litert (default, always measured), tflm, "
                     "{type: ethos-u, accelerator: ethos-u55-128, ...} (bare accelerator names work too).")

__all__ = ["TARGETS", "MODULES", "TARGET_TYPES", "GATES", "INSPECT_NAMES", "FIELD_DESCRIPTION", "Gate",
           "MeasureContext", "Measured", "module_for", "target_union", "default_targets", "bare_targets",
           "target_name", "target_rules", "gate_fields", "apply", "measured", "measure", "deploy", "deployable_bytes", "main_target", "Deployed", "file_name",
           "summary_line", "inspect_targets", "package_dists", "fmt_gate_value", "compare_rows", "register",
           "unregister", "package_missing", "fmt_compare"]


def _type(m: ModuleType) -> str:
    return m.Params.model_fields["type"].default


def _derive() -> None:
    MODULES.clear()
    MODULES.update({_type(m): m for m in TARGETS})
    TARGET_TYPES[:] = list(MODULES)
    GATES.clear()
    GATES.update({g: (typ, gate) for typ, m in MODULES.items() for g, gate in getattr(m, "GATES", {}).items()})
    INSPECT_NAMES[:] = [n for m in TARGETS if getattr(m, "measure", None) for n in getattr(m, "INSPECT_NAMES", ())]


_derive()


def module_for(typ: Any) -> Optional[ModuleType]:
    """The module of a target type (a recipe target, or `figures["type"]` of a report), None if unknown."""
    return MODULES.get(getattr(typ, "type", typ))


# ------------------------------------------------------------------------------------------ recipe


def target_union():
    """The targets' recipe models as one union, discriminated on `type`."""
    models = tuple(m.Params for m in TARGETS)
    return Annotated[Union[models], Field(discriminator="type")] if len(models) > 1 else models[0]


def default_targets() -> list:
    """`targets:` when the recipe gives none: the first target (LiteRT on this CPU)."""
    return [TARGETS[0].Params()]


def _from_name(name: str) -> dict:
    for m in TARGETS:
        if name in getattr(m, "INSPECT_NAMES", ()) and hasattr(m, "from_name"):
            return m.from_name(name)
    return {"type": name}


def bare_targets(v):
    """`targets: [litert, tflm, ethos-u55-128]`: a bare name is a type, or a name a target takes (an
    Ethos-U accelerator)."""
    if not isinstance(v, list):
        return v
    return [_from_name(t) if isinstance(t, str) else t for t in v]


def target_name(t) -> str:
    """The report key of a target: its module's `name(t)`, else its type (`tflm`)."""
    m = module_for(t)
    return m.name(t) if m is not None and hasattr(m, "name") else t.type


def target_rules(targets: list, base: Path, check_paths: bool = True, gates=None) -> list[tuple[list, str, bool]]:
    """(path parts, message, key_line) for each problem: a gate on a target figure without a target that
    measures it, a target's package not installed (with the extra to install), a name listed twice, and
    each target's own rules (Vela's options known)."""
    types = {t.type for t in targets}
    out = [(["gates", g], f"needs a {typ!r} target in `targets:` to measure it", True)
           for g, (typ, _) in GATES.items()
           if gates is not None and getattr(gates, g, None) is not None and typ not in types]
    seen: dict[str, int] = {}
    for i, t in enumerate(targets):
        m = module_for(t)
        missing = package_missing(t.type, getattr(m, "PACKAGE", None))
        if missing:
            out.append((["targets", i], missing, False))
            continue
        name = target_name(t)
        if name in seen:
            out.append((["targets", i], f"target {name!r} is listed twice (targets[{seen[name]}]); give one of "
                        "them a different `name`", False))
        seen.setdefault(name, i)
        if hasattr(m, "rules"):
            out += [(parts, message, False) for parts, message in m.rules(i, t, base, check_paths)]
    return out


def gate_fields() -> dict[str, FieldInfo]:
    """The target gates of `GatesConfig`: each an optional number with its bounds and description."""
    return {g: FieldInfo.from_annotated_attribute(Optional[gate.number],
                                                  Field(None, description=gate.description, **gate.bounds))
            for g, (_, gate) in GATES.items()}


_APPLIED: list = []  # the (Recipe, GatesConfig) classes `apply` was given, re-applied by `register`
_APPLIED_GATES: set = set()  # the gate names `apply` added to GatesConfig


def apply(recipe_cls, gates_cls) -> None:
    """Make `Recipe.targets` the union of the registry and `GatesConfig`'s target gates the registry's
    (after its own gates), and rebuild both models."""
    core = {k: f for k, f in gates_cls.model_fields.items() if k not in _APPLIED_GATES}
    fields = gate_fields()
    _APPLIED_GATES.update(fields)
    gates_cls.model_fields.clear()
    gates_cls.model_fields.update({**core, **fields})
    gates_cls.model_rebuild(force=True)
    recipe_cls.model_fields["targets"] = FieldInfo.merge_field_infos(
        recipe_cls.model_fields["targets"], annotation=list[target_union()])
    recipe_cls.model_rebuild(force=True)
    _APPLIED[:] = [(recipe_cls, gates_cls)]


def register(module: ModuleType) -> str:
    """Add a target module after the others (a test's throw-away target) and rebuild what is built from
    the registry; returns its type. TypeError when the module lacks what base.py says a target defines."""
    global TARGETS
    _check_module(module)
    typ = _type(module)
    TARGETS = (*(m for m in TARGETS if _type(m) != typ), module)
    _rebuild()
    return typ


def _check_module(module: ModuleType) -> None:
    params = getattr(module, "Params", None)
    if params is None or "type" not in getattr(params, "model_fields", {}) or not isinstance(_type(module), str):
        raise TypeError(f"{module.__name__}: a target module needs Params, a model with a `type` Literal")
    if getattr(module, "measure", None) is not None:
        missing = [a for a in ("summary_line", "report_rows", "report_note") if not hasattr(module, a)]
        if missing:
            raise TypeError(f"{module.__name__}: a measured target needs {', '.join(missing)}")


def unregister(typ: str) -> None:
    """Remove a registered target type again."""
    global TARGETS
    TARGETS = tuple(m for m in TARGETS if _type(m) != typ)
    _rebuild()


def _rebuild() -> None:
    _derive()
    for recipe_cls, gates_cls in list(_APPLIED):
        apply(recipe_cls, gates_cls)


# ------------------------------------------------------------------------------------------ run


def measured(targets: list) -> list:
    """The targets of a recipe measured under `targets.<name>` (all but LiteRT, which the run measures)."""
    return [t for t in targets if getattr(module_for(t), "measure", None) is not None]


def measure(t, tfl: bytes, ctx: Optional[MeasureContext] = None) -> Measured:
    """One .tflite on one target: its figures (`{"type", "version", …}`) and the file it wrote, if any."""
    m = module_for(t)
    if m is None or getattr(m, "measure", None) is None:
        raise ValueError(f"no measurement for target type {t.type!r}")
    return m.measure(t, tfl, ctx or MeasureContext())


def deploy(t, tfl: bytes, ctx: Optional[MeasureContext] = None) -> Deployed:
    """The file target `t`'s runtime loads (the module's `deploy` hook: slimmed, compressed, each checked on
    the runtime), or model.tflite itself when the module has none."""
    hook = getattr(module_for(t), "deploy", None)
    return Deployed(tfl) if hook is None else hook(t, tfl, ctx or MeasureContext())


def deployable_bytes(t, figures: dict, tfl: bytes) -> int:
    """What the device stores for target `t`: the module's `deployable_bytes(figures, file)` (Ethos-U: Vela's
    flash), else the size of the file its runtime loads."""
    hook = getattr(module_for(t), "deployable_bytes", None)
    return len(tfl) if hook is None else hook(figures, tfl)


def main_target():
    """The target whose file is model.tflite, measured by the run itself (LiteRT on this CPU): the recipe
    model of the registry's first module."""
    return TARGETS[0].Params()


def file_name(t, first: bool) -> Optional[tuple[str, str]]:
    """(file name, figures key) of the file target `t` writes: `model_vela.tflite` for the first target of
    its type, `model_vela_<name>.tflite` for the others; None when it writes none."""
    spec = getattr(module_for(t), "FILE", None)
    if spec is None:
        return None
    name, key = spec
    if first:
        return name, key
    stem, dot, ext = name.rpartition(".")
    return f"{stem}_{target_name(t)}.{ext}" if dot else f"{name}_{target_name(t)}", key


def summary_line(name: str, figures: dict) -> str:
    """One line for logs and `inspect`: "tflm: arena 4,768 B …" / "ethos-u55-128: 33/33 ops on the NPU, …"."""
    m = module_for(figures.get("type"))
    if m is not None and hasattr(m, "summary_line"):
        return m.summary_line(name, figures)
    if figures.get("error"):
        return f"{name}: {figures['error']}"
    shown = ", ".join(f"{k} {v}" for k, v in figures.items() if isinstance(v, (int, float)) and not isinstance(v, bool))
    return f"{name}: {shown}"


def inspect_targets(tfl: bytes, names) -> dict:
    """`inspect --target`: {name: figures} for each name of INSPECT_NAMES, without eval data. A missing
    package is a RecipeError (exit 2) naming the extra to install."""
    from ..errors import RecipeError

    out = {}
    for name in dict.fromkeys(names):
        entry = _from_name(name)
        m = module_for(entry["type"])
        if m is None or name not in INSPECT_NAMES:
            raise RecipeError(f"--target {name}: not a target name; one of {', '.join(INSPECT_NAMES)}")
        missing = package_missing(entry["type"], getattr(m, "PACKAGE", None))
        if missing:
            raise RecipeError(f"--target {name}: {missing}")
        out[name] = measure(m.Params.model_validate(entry), tfl).figures
    return out


def package_dists() -> list[str]:
    """The pip distributions the targets measure with (their versions key the baseline cache)."""
    return [m.PACKAGE[1] for m in TARGETS if getattr(m, "PACKAGE", None)]


# ------------------------------------------------------------------------------------------ report


def fmt_gate_value(gate_name: str, v: Optional[float]) -> Optional[str]:
    """A target gate's limit or value in its unit ("24,400 B", "75.0%"); None for a gate no target has."""
    if gate_name not in GATES:
        return None
    return fmt_unit(v, GATES[gate_name][1].unit)


def compare_rows(typ: str) -> tuple:
    """`compare`'s rows of a target type: (figure, label, unit) each."""
    return getattr(module_for(typ), "COMPARE_ROWS", ())
