"""The recipe's `targets:` list: re-exports of the target registry (optimize_cli/targets/), where each
target type's recipe model, package check and validation rules now live."""
from __future__ import annotations

from pathlib import Path

from ..targets import MODULES, TARGET_TYPES, bare_targets, target_name, target_union
from ..targets import package_missing as _package_missing
from ..targets import target_rules as _target_rules
from ..targets.ethos_u import ACCELERATORS, EthosUTarget
from ..targets.litert import LitertTarget
from ..targets.tflm import TflmTarget
from ..targets.vela import vela_config_names
from .paths import Rule

__all__ = ["ACCELERATORS", "LitertTarget", "TflmTarget", "EthosUTarget", "Target", "TARGET_TYPES", "bare_targets",
           "target_name", "target_rules", "package_missing", "vela_config_names"]

Target = target_union()


def package_missing(typ: str):
    """None when the target's package is installed, else the one-line advice naming the extra."""
    return _package_missing(typ, getattr(MODULES.get(typ), "PACKAGE", None))


def target_rules(targets: list, base: Path, check_paths: bool = True, gates=None) -> list[Rule]:
    """The registry's target rules as Rules."""
    return [Rule(parts, message, key_line=key) for parts, message, key in _target_rules(targets, base, check_paths, gates)]
