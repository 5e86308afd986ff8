"""The recipe's `targets:` list (DESIGN.md): where the result is measured beside LiteRT on this CPU.

`litert` (the report's main figures, always measured), `tflm` (TensorFlow Lite Micro: arena bytes,
unsupported ops, accuracy on its kernels) and `{type: ethos-u, accelerator: …}` (Arm Vela: SRAM, flash,
NPU/CPU operators, MACs, cycles). Never imports TensorFlow, tflite_micro or vela: whether a target's
package is installed is asked of importlib.util.find_spec, and Vela's system configurations and memory
modes are read from the .ini files its package ships."""
from __future__ import annotations

import configparser
import importlib.util
from pathlib import Path
from typing import Annotated, Literal, Optional, Union

from pydantic import Field

from ..errors import InputError
from ..limits import MAX_VELA_CONFIG_BYTES
from ..safe_files import input_problem, read_text_bounded
from ..strict import Strict
from .paths import Rule, resolve_path

__all__ = ["ACCELERATORS", "TARGET_PACKAGES", "LitertTarget", "TflmTarget", "EthosUTarget", "Target",
           "TARGET_GATES", "TARGET_TYPES", "bare_targets", "target_name", "target_rules", "package_missing", "vela_config_names"]

from ..target_names import ACCELERATORS, TARGET_PACKAGES, TARGET_TYPES  # noqa: F401 - re-exported


class LitertTarget(Strict):
    """LiteRT on this CPU: the report's accuracy and latency (always measured; listing it is allowed)."""

    type: Literal["litert"] = "litert"


class TflmTarget(Strict):
    """TensorFlow Lite Micro (`tflite-micro`): the model run on TFLM's kernels, batch 1."""

    type: Literal["tflm"] = "tflm"
    arena_size: Optional[int] = Field(
        None, gt=0, le=2**31 - 1,
        description="Tensor arena given to the interpreter, in bytes (default: 10 × the .tflite size, at least "
        "1 MiB); the report gives what it used.")
    accuracy: bool = Field(True, description="Run the eval set on TFLM's kernels (one sample per invoke).")


class EthosUTarget(Strict):
    """Arm Ethos-U NPU, compiled with Vela (`ethos-u-vela`): SRAM, flash, operators, MACs, cycles."""

    type: Literal["ethos-u"] = "ethos-u"
    accelerator: Literal[ACCELERATORS] = Field("ethos-u55-128", description="Vela --accelerator-config.")
    system_config: Optional[str] = Field(
        None, min_length=1, description="Vela --system-config (a [System_Config.NAME] of the config file; "
        "default: Vela's for the accelerator).")
    memory_mode: Optional[str] = Field(
        None, min_length=1, description="Vela --memory-mode (a [Memory_Mode.NAME] of the config file).")
    config: Optional[str] = Field(
        None, min_length=1, description="Vela .ini configuration file, relative to the recipe (default: "
        "Vela's Arm/vela.ini).")
    optimise: Literal["Performance", "Size"] = Field("Performance", description="Vela --optimise.")
    name: Optional[str] = Field(
        None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Key of this target in the report (default: the accelerator).")


Target = Annotated[Union[LitertTarget, TflmTarget, EthosUTarget], Field(discriminator="type")]


def bare_targets(v):
    """`targets: [litert, tflm, ethos-u55-128]`: a bare name is a type, or an Ethos-U accelerator."""
    if not isinstance(v, list):
        return v
    out = []
    for t in v:
        if isinstance(t, str) and t in ACCELERATORS:
            t = {"type": "ethos-u", "accelerator": t}
        elif isinstance(t, str):
            t = {"type": t}
        out.append(t)
    return out


def target_name(t) -> str:
    """The report key of a target: `litert`, `tflm`, the accelerator (`ethos-u55-128`) or its `name`."""
    if t.type == "ethos-u":
        return t.name or t.accelerator
    return t.type


def package_missing(typ: str) -> Optional[str]:
    """None when the target's package is installed, else the one-line advice naming the extra."""
    if typ not in TARGET_PACKAGES:
        return None
    module, dist, extra = TARGET_PACKAGES[typ]
    try:
        found = importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        found = False
    if found:
        return None
    return f"target {typ!r} needs the {dist} package, which is not installed: pip install 'optimize-cli[{extra}]'"


def vela_config_names(config: Optional[Path] = None) -> tuple[set[str], set[str]]:
    """(system configurations, memory modes) of a Vela .ini file (default: the Arm/vela.ini Vela ships)."""
    if config is None:
        spec = importlib.util.find_spec("ethosu")
        locs = list(spec.submodule_search_locations or []) if spec else []
        files = [Path(p) / "config_files" / "Arm" / "vela.ini" for p in locs]
        config = next((f for f in files if f.is_file()), None)
        if config is None:
            return set(), set()
    parser = configparser.ConfigParser()
    parser.read_string(read_text_bounded(config, MAX_VELA_CONFIG_BYTES, "Vela configuration file"), str(config))
    systems = {s.split(".", 1)[1] for s in parser.sections() if s.startswith("System_Config.")}
    modes = {s.split(".", 1)[1] for s in parser.sections() if s.startswith("Memory_Mode.")}
    return systems, modes


def _ethos_rules(i: int, t: EthosUTarget, base: Path, check_paths: bool) -> list[Rule]:
    out: list[Rule] = []
    cfg = None
    if t.config is not None:
        t.config = resolve_path(base, t.config)
        cfg = Path(t.config)
        why = input_problem(t.config, MAX_VELA_CONFIG_BYTES) if check_paths else None
        if why is not None:  # missing, too large, or a device / FIFO that would never end or block
            return [Rule(["targets", i, "config"], why)]
    try:
        systems, modes = vela_config_names(cfg)
    except (OSError, configparser.Error, InputError) as e:
        return [Rule(["targets", i, "config"], f"cannot read the Vela configuration file ({e})")]
    for key, given, known in (("system_config", t.system_config, systems), ("memory_mode", t.memory_mode, modes)):
        if given is not None and known and given not in known:
            out.append(Rule(["targets", i, key], f"{given!r} is not in the Vela configuration file; valid: "
                            f"{', '.join(sorted(known))}"))
    return out


#: gate on a target figure → the target type that measures it
TARGET_GATES = {"max_arena_bytes": "tflm", "max_flash_bytes": "ethos-u", "max_npu_ms": "ethos-u",
                "max_npu_cycles": "ethos-u", "min_npu_ops_share": "ethos-u"}


def target_rules(targets: list, base: Path, check_paths: bool = True, gates=None) -> list[Rule]:
    """Each target's package installed (else the extra to install), names unique, Vela's options known,
    and each gate on a target figure has a target that measures it."""
    types = {t.type for t in targets}
    out: list[Rule] = [Rule(["gates", g], f"needs a {typ!r} target in `targets:` to measure it", key_line=True)
                       for g, typ in TARGET_GATES.items()
                       if gates is not None and getattr(gates, g, None) is not None and typ not in types]
    seen: dict[str, int] = {}
    for i, t in enumerate(targets):
        missing = package_missing(t.type)
        if missing:
            out.append(Rule(["targets", i], missing))
            continue
        name = target_name(t)
        if name in seen:
            out.append(Rule(["targets", i], f"target {name!r} is listed twice (targets[{seen[name]}]); give "
                            "one of them a different `name`"))
        seen.setdefault(name, i)
        if isinstance(t, EthosUTarget):
            out += _ethos_rules(i, t, base, check_paths)
    return out
