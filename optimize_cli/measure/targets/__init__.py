"""Deployment targets beside LiteRT (recipe `targets:`): ``tflm`` (TensorFlow Lite Micro: arena bytes,
unsupported ops, accuracy on its kernels) and ``ethos_u`` (Arm Vela: SRAM, flash, NPU/CPU operators,
MACs, cycles). Their packages (`tflite-micro`, `ethos-u-vela`) are optional extras, imported lazily.

``measure_target(target, tfl, batches)`` → (figures, Vela's optimized .tflite or None), where `target`
is a recipe target (recipe/targets.py) and `batches` a callable giving (x, y) batches of the eval set."""
from __future__ import annotations

from typing import Callable, Optional

__all__ = ["measure_target", "target_figures_line", "inspect_targets"]


def measure_target(target, tfl: bytes, batches: Optional[Callable] = None, metric: str = "accuracy",
                   top_k: int = 5) -> tuple[dict, Optional[bytes]]:
    """The figures of one .tflite on one target (`{"type": …, "version": …, …}`), and for Ethos-U the
    .tflite Vela wrote (what is deployed on the NPU)."""
    if target.type == "tflm":
        from .tflm import measure_tflm

        run_eval = batches if getattr(target, "accuracy", True) else None
        figures = measure_tflm(tfl, None if run_eval is None else run_eval(), metric, top_k, target.arena_size)
        return {"type": "tflm", **figures}, None
    if target.type == "ethos-u":
        from .ethos_u import run_vela

        figures, optimized = run_vela(tfl, target.accelerator, target.system_config, target.memory_mode,
                                      target.config, target.optimise)
        return {"type": "ethos-u", **figures}, optimized
    raise ValueError(f"no measurement for target type {target.type!r}")


def target_figures_line(name: str, f: dict) -> str:
    """One line for logs and `inspect`: "tflm: arena 4,768 B" / "ethos-u55-128: 33/33 ops on the NPU, …"."""
    if f.get("error") and f.get("type") == "ethos-u":
        return f"{name}: {f['error']}"
    if f.get("type") == "tflm":
        if not f.get("runs", True) or f.get("arena_bytes") is None:
            ops = ", ".join(f.get("unsupported_ops") or []) or "?"
            return f"{name}: cannot run on TFLM (unsupported ops: {ops}; {f.get('error', '')})"
        acc = f" , accuracy {f['accuracy']:.4f}" if f.get("accuracy") is not None else ""
        return (f"{name}: arena {f['arena_bytes']:,} B (head {f.get('arena_head_bytes') or 0:,}, "
                f"tail {f.get('arena_tail_bytes') or 0:,}){acc}").replace(" ,", ",")
    total = f.get("npu_ops", 0) + f.get("cpu_ops", 0)
    cpu = f", CPU: {', '.join(f['cpu_fallback_ops'])}" if f.get("cpu_fallback_ops") else ""
    if f.get("npu_cycles") is None:
        return f"{name}: 0/{total} ops on the NPU{cpu}"
    return (f"{name}: {f.get('npu_ops', 0)}/{total} ops on the NPU{cpu}; SRAM {f.get('sram_bytes', 0):,} B, "
            f"flash {f.get('flash_bytes', 0):,} B, {f['npu_cycles']:,} cycles ({f.get('npu_ms') or 0:.3f} ms), "
            f"{f.get('macs') or 0:,} MACs")


def inspect_targets(tfl: bytes, names) -> dict:
    """`inspect --target`: {name: figures} for `tflm` or an Ethos-U accelerator name, without eval data.
    A missing package is a RecipeError (exit 2) naming the extra to install."""
    from ...errors import RecipeError
    from ...recipe.targets import EthosUTarget, TflmTarget, package_missing

    out = {}
    for name in dict.fromkeys(names):
        target = TflmTarget() if name == "tflm" else EthosUTarget(accelerator=name)
        missing = package_missing(target.type)
        if missing:
            raise RecipeError(f"--target {name}: {missing}")
        out[name] = measure_target(target, tfl)[0]
    return out
