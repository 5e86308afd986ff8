"""Arm Ethos-U (`ethos-u-vela`): compile the .tflite with Vela in a temporary folder and read what it
reports — its summary CSV (SRAM, flash, MACs, cycles, inference time) and its network summary (NPU and
CPU operator counts, the operators that fall back to the CPU and why). Vela runs as a subprocess
(`python -m ethosu.vela`) whose output is captured: nothing reaches the terminal, and Vela's global state
(recursion limit, caches) stays out of this process. Also the names a Vela .ini configuration file
defines (read with configparser: `validate` checks them without importing Vela)."""
from __future__ import annotations

import configparser
import csv
import importlib.util
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Optional

from ..limits import MAX_VELA_CONFIG_BYTES
from ..safe_files import read_text_bounded

KIB = 1024
_OPS = re.compile(r"^(CPU|NPU) operators = (\d+)", re.M)
_WHY = re.compile(r"operator: (\w+), ofm: '(.*?)'\nReason: (.*)")
TIMEOUT_S = 600


def version() -> str:
    from importlib.metadata import version as dist_version

    return dist_version("ethos-u-vela")


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


def vela_args(model: Path, out_dir: Path, accelerator: str, system_config: Optional[str] = None,
              memory_mode: Optional[str] = None, config: Optional[str] = None,
              optimise: str = "Performance") -> list[str]:
    """The `vela` command line this module runs (also what a user would type)."""
    args = [str(model), "--accelerator-config", accelerator, "--output-dir", str(out_dir),
            "--optimise", optimise]
    for flag, v in (("--config", config), ("--system-config", system_config), ("--memory-mode", memory_mode)):
        if v is not None:
            args += [flag, str(v)]
    return args


def _kib(row: dict, key: str) -> int:
    return int(round(float(row.get(key) or 0.0) * KIB))


def _num(row: dict, key: str, kind=float):
    v = row.get(key)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if f != f else kind(f)  # NaN → None


def figures_from(row: dict, text: str) -> dict:
    """The figures of one Vela run from its summary CSV row and its stdout."""
    counts = {k: int(v) for k, v in _OPS.findall(text)}
    # Vela names each operator it leaves to the CPU in a "Warning (supported operators)" with the reason
    # (--show-cpu-operations would change the operator counts: it lists fused activations separately)
    cpu_ops = [{"op": op, "name": ofm, "reason": reason.strip()} for op, ofm, reason in _WHY.findall(text)]
    npu, cpu = counts.get("NPU", 0), counts.get("CPU", 0)
    inf_s = _num(row, "inference_time")
    on_npu = npu > 0  # nothing on the NPU: Vela's 0 cycles / 0 ms say nothing (a gate must not pass on them)
    return {
        "system_config": row.get("system_config"), "memory_mode": row.get("memory_mode"),
        "sram_bytes": _kib(row, "sram_memory_used"), "dram_bytes": _kib(row, "dram_memory_used"),
        "flash_bytes": _kib(row, "on_chip_flash_memory_used") + _kib(row, "off_chip_flash_memory_used"),
        "npu_ops": npu, "cpu_ops": cpu, "npu_ops_share": npu / (npu + cpu) if npu + cpu else None,
        "cpu_fallback_ops": sorted({c["op"] for c in cpu_ops}), "cpu_operators": cpu_ops,
        "macs": _num(row, "nn_macs", int), "npu_cycles": _num(row, "cycles_total", int) if on_npu else None,
        "npu_compute_cycles": _num(row, "cycles_npu", int) if on_npu else None,
        "npu_ms": None if inf_s is None or not on_npu else inf_s * 1000.0,
        "inferences_per_second": _num(row, "inferences_per_second"),
        "clock_hz": _num(row, "core_clock"),
        "original_weights_bytes": _num(row, "total_original_weights", int),
        "npu_encoded_weights_bytes": _num(row, "total_npu_encoded_weights", int),
    }


def run_vela(tfl: bytes, accelerator: str = "ethos-u55-128", system_config: Optional[str] = None,
             memory_mode: Optional[str] = None, config: Optional[str] = None,
             optimise: str = "Performance") -> tuple[dict, Optional[bytes]]:
    """(figures, Vela's optimized .tflite or None): Vela compiled the model for `accelerator`. A failed
    compilation gives `{"error": …}` figures rather than raising."""
    base = {"version": version(), "accelerator": accelerator}
    with tempfile.TemporaryDirectory(prefix="optimize-cli-vela-") as tmp:
        model, out_dir = Path(tmp) / "model.tflite", Path(tmp) / "out"
        model.write_bytes(bytes(tfl))
        cmd = [sys.executable, "-m", "ethosu.vela",
               *vela_args(model, out_dir, accelerator, system_config, memory_mode, config, optimise)]
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, cwd=tmp,
                               stdin=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired) as e:
            return {**base, "error": f"vela did not finish: {e}"}, None
        summaries = sorted(out_dir.glob("model_summary_*.csv"))
        if p.returncode != 0 or not summaries:
            tail = (p.stderr or p.stdout).strip().splitlines()
            return {**base, "error": f"vela exited {p.returncode}: {tail[-1] if tail else 'no output'}"}, None
        with open(summaries[0], newline="", encoding="utf-8") as f:
            row = next(csv.DictReader(f))
        optimized = out_dir / "model_vela.tflite"
        return {**base, **figures_from(row, p.stdout + "\n" + p.stderr)}, (
            optimized.read_bytes() if optimized.is_file() else None)
