"""Arm Ethos-U NPUs, compiled with Vela (`ethos-u-vela`, the `ethos-u` extra): SRAM, flash, NPU and CPU
operators, MACs, cycles and inference time, and the optimized .tflite Vela writes (`model_vela.tflite`).
Running Vela is vela.py (a subprocess, imported when measuring); its configuration names are read from
the .ini files its package ships, without importing it."""
from __future__ import annotations

import configparser
from pathlib import Path
from typing import Literal, Optional

from pydantic import Field

from ..data.paths import resolve_path
from ..deploy.slim import SAFE_CHANGES
from ..errors import InputError
from ..limits import MAX_VELA_CONFIG_BYTES
from ..safe_files import input_problem
from ..strict import Strict
from .base import MISSING, Deployed, Gate, MeasureContext, Measured, change_cell, int_cell, slim_file
from .vela import vela_config_names

#: the runtime in messages
TITLE = "Ethos-U"
TYPE = "ethos-u"
#: the accelerator configurations Vela 5.x accepts (`vela --accelerator-config`)
ACCELERATORS = ("ethos-u55-32", "ethos-u55-64", "ethos-u55-128", "ethos-u55-256", "ethos-u65-256",
                "ethos-u65-512", "ethos-u85-128", "ethos-u85-256", "ethos-u85-512", "ethos-u85-1024",
                "ethos-u85-2048")


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


Params = EthosUTarget
PACKAGE = ("ethosu", "ethos-u-vela", "ethos-u")
GATES = {
    "max_flash_bytes": Gate("flash_bytes", "max", "B", "Largest allowed Ethos-U flash use (Vela, bytes)."),
    "max_npu_ms": Gate("npu_ms", "max", "ms", "Largest allowed Ethos-U inference time (Vela, ms).", float),
    "max_npu_cycles": Gate("npu_cycles", "max", "cycles", "Largest allowed Ethos-U cycles (Vela)."),
    "min_npu_ops_share": Gate("npu_ops_share", "min", "share",
                              "Smallest allowed share of the operators Vela puts on the NPU (0–1).", float,
                              {"ge": 0, "le": 1}),
}
#: the NPU runs int8: the int8 post-training quantization is the baseline it measures
BASELINE = "int8 PTQ"
#: Vela's optimized .tflite (model_vela_<name>.tflite for a second Ethos-U target), recorded as `vela_path`
FILE = ("model_vela.tflite", "vela_path")
#: that file is what `measure` returns (Vela's output); a failed compile writes none
FILE_FROM_MEASURE = True
#: Vela compiles every change of the LiteRT-safe set to the same figures (and flash); the operators it leaves
#: to the CPU run on LiteRT's kernels, which refuse collapsed zero points
SLIM_CHANGES = SAFE_CHANGES
SLIM_REFUSED = {"zero_points": "the operators Vela leaves to the CPU run on LiteRT's kernels, which refuse one "
                               "zero point for a per-channel tensor"}
INT4 = False
INT4_REASON = "Vela does not compile int4 weights"
#: Vela's figures that a slimmed file must keep
VELA_FIGURES = ("npu_cycles", "npu_compute_cycles", "sram_bytes", "npu_ops", "cpu_ops", "macs",
                "npu_encoded_weights_bytes", "flash_bytes")
#: bare names in `targets:` and `inspect --target`: the accelerators
INSPECT_NAMES = ACCELERATORS
COMPARE_ROWS = (("sram_bytes", "SRAM bytes", "B"), ("flash_bytes", "flash bytes", "B"),
                ("npu_cycles", "cycles", "cycles"), ("npu_ms", "NPU ms", "ms"),
                ("npu_ops_share", "ops on the NPU", "share"))


def from_name(name: str) -> dict:
    """The recipe entry a bare accelerator name stands for."""
    return {"type": TYPE, "accelerator": name}


def name(t: EthosUTarget) -> str:
    """The report key: the target's `name`, else its accelerator (`ethos-u55-128`)."""
    return t.name or t.accelerator


def rules(i: int, t: EthosUTarget, base: Path, check_paths: bool) -> list[tuple[list, str]]:
    """The config file exists (its path resolved against the recipe) and names the system config and
    memory mode given."""
    cfg = None
    if t.config is not None:
        t.config = resolve_path(base, t.config)
        cfg = Path(t.config)
        why = input_problem(t.config, MAX_VELA_CONFIG_BYTES) if check_paths else None
        if why is not None:  # missing, too large, or a device / FIFO that would never end or block
            return [(["targets", i, "config"], why)]
    try:
        systems, modes = vela_config_names(cfg)
    except (OSError, configparser.Error, InputError) as e:
        return [(["targets", i, "config"], f"cannot read the Vela configuration file ({e})")]
    return [(["targets", i, key], f"{given!r} is not in the Vela configuration file; valid: {', '.join(sorted(known))}")
            for key, given, known in (("system_config", t.system_config, systems), ("memory_mode", t.memory_mode, modes))
            if given is not None and known and given not in known]


def measure(t: EthosUTarget, tfl: bytes, ctx: MeasureContext) -> Measured:
    """Vela's figures of the model compiled for the accelerator, and its optimized .tflite."""
    from .vela import run_vela

    figures, optimized = run_vela(tfl, t.accelerator, t.system_config, t.memory_mode, t.config, t.optimise)
    return Measured({"type": TYPE, **figures}, optimized)


def slim_check(t: EthosUTarget, samples: list):
    """The check of a slimmed file: Vela compiles both to the same figures, and both give bit-identical
    outputs on LiteRT (where Vela's CPU fallback runs)."""
    def check(original: bytes, slimmed: bytes, given: list = samples) -> int:
        from ..deploy.verify import VerifyError, assert_same_outputs, run_litert
        from .vela import run_vela

        a, b = (run_vela(x, t.accelerator, t.system_config, t.memory_mode, t.config, t.optimise)[0]
                for x in (original, slimmed))
        diff = {k: (a.get(k), b.get(k)) for k in VELA_FIGURES if a.get(k) != b.get(k)}
        if diff or a.get("error") or b.get("error"):
            raise VerifyError(f"ethos-u: Vela's figures differ from the original's: {diff or b.get('error')}")
        return assert_same_outputs(original, slimmed, given, run_litert, "LiteRT") if given else 0
    return check


def deploy(t: EthosUTarget, tfl: bytes, ctx: MeasureContext) -> Deployed:
    """The file Vela compiles: slimmed with the LiteRT-safe changes, checked by compiling both."""
    check = slim_check(t, [])
    return slim_file(tfl, ctx, SLIM_CHANGES, SLIM_REFUSED, lambda a, b, s: check(a, b, s))


def deployable_bytes(f: dict, tfl: bytes) -> int:
    """What the device stores: Vela's flash (the command stream, encoded weights and the model's tensors)."""
    return int(f["flash_bytes"]) if f.get("flash_bytes") is not None else len(tfl)


def summary_line(name: str, f: dict) -> str:
    """"ethos-u55-128: 33/33 ops on the NPU; SRAM …, flash …, … cycles (… ms), … MACs"."""
    if f.get("error"):
        return f"{name}: {f['error']}"
    total = f.get("npu_ops", 0) + f.get("cpu_ops", 0)
    cpu = f", CPU: {', '.join(f['cpu_fallback_ops'])}" if f.get("cpu_fallback_ops") else ""
    if f.get("npu_cycles") is None:
        return f"{name}: 0/{total} ops on the NPU{cpu}"
    return (f"{name}: {f.get('npu_ops', 0)}/{total} ops on the NPU{cpu}; SRAM {f.get('sram_bytes', 0):,} B, "
            f"flash {f.get('flash_bytes', 0):,} B, {f['npu_cycles']:,} cycles ({f.get('npu_ms') or 0:.3f} ms), "
            f"{f.get('macs') or 0:,} MACs")


def _ops(f: dict) -> str:
    npu, cpu = f.get("npu_ops"), f.get("cpu_ops")
    if npu is None:
        return MISSING
    share = f.get("npu_ops_share")
    return f"{npu} of {npu + (cpu or 0)}" + (f" ({share:.0%})" if share is not None else "")


def report_rows(report: dict, b: dict, r: dict) -> list[list[str]]:
    """report.md / report.html rows: (label, baseline, result, change)."""
    def ms(f):
        return MISSING if f.get("npu_ms") is None else f"{f['npu_ms']:.4g} ms"

    def fallback(f):
        return f.get("error") or ", ".join(f.get("cpu_fallback_ops") or []) or "none"

    rows = [["operators on the NPU", _ops(b), _ops(r), MISSING],
            ["CPU fallback ops", fallback(b), fallback(r), MISSING]]
    for label, k, unit in (("SRAM", "sram_bytes", " B"), ("flash", "flash_bytes", " B"), ("DRAM", "dram_bytes", " B"),
                           ("NPU-encoded weights", "npu_encoded_weights_bytes", " B"), ("MACs", "macs", ""),
                           ("cycles", "npu_cycles", "")):
        if k == "dram_bytes" and not (b.get(k) or r.get(k)):
            continue
        rows.append([label, int_cell(b.get(k), unit), int_cell(r.get(k), unit), change_cell(b.get(k), r.get(k))])
    rows.append(["inference time", ms(b), ms(r), change_cell(b.get("npu_ms"), r.get("npu_ms"))])
    return rows


def report_note(name: str, r: dict) -> str:
    vela = f"; Vela's optimized model: {r['vela_path']}" if r.get("vela_path") else ""
    return (f"Arm Vela {r.get('version', '')}, {r.get('accelerator', name)}, {r.get('system_config') or MISSING}, "
            f"{r.get('memory_mode') or MISSING}{vela}")
