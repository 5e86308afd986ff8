"""TensorFlow Lite Micro (`tflite-micro`, the `tflm` extra): the model run on TFLM's kernels, batch 1 —
the tensor arena it allocates, the operators it has no kernel for, and the metric on its kernels.
The interpreter plumbing is tflm_runtime.py (imported when measuring)."""
from __future__ import annotations

from typing import Literal, Optional

from pydantic import Field

from ..strict import Strict
from .base import MISSING, Deployed, Gate, MeasureContext, Measured, change_cell, int_cell, slim_file

#: the runtime in messages
TITLE = "TFLM"
TYPE = "tflm"


class TflmTarget(Strict):
    """TensorFlow Lite Micro (`tflite-micro`): the model run on TFLM's kernels, batch 1."""

    type: Literal["tflm"] = "tflm"
    arena_size: Optional[int] = Field(
        None, gt=0, le=2**31 - 1,
        description="Tensor arena given to the interpreter, in bytes (default: 10 × the .tflite size, at least "
        "1 MiB); the report gives what it used.")
    accuracy: bool = Field(True, description="Run the eval set on TFLM's kernels (one sample per invoke).")


Params = TflmTarget
PACKAGE = ("tflite_micro", "tflite-micro", "tflm")
GATES = {"max_arena_bytes": Gate("arena_bytes", "max", "B", "Largest allowed TFLM tensor arena (bytes).")}
#: TFLM has float kernels: the float32 baseline runs there
BASELINE = "float32"
#: TFLM loads its own file: slimmed for it (collapsed zero points, which LiteRT refuses) and LUT-compressed
#: where that pays (TFLM_DECODE operators: the file runs on TFLM only)
FILE = ("model_tflm.tflite", "tflm_path")
SLIM_CHANGES = ("tensor_names", "zero_points", "metadata", "empty_buffers", "duplicate_buffers")
SLIM_REFUSED: dict = {}
INT4 = False
INT4_REASON = "TFLM does not allocate int4 weights"
INSPECT_NAMES = ("tflm",)
COMPARE_ROWS = (("arena_bytes", "arena bytes", "B"),)


def inspect_target(name: str) -> TflmTarget:
    return TflmTarget()


def measure(t: TflmTarget, tfl: bytes, ctx: MeasureContext) -> Measured:
    """Arena bytes (total/head/tail), unsupported ops, and with eval data the metric on TFLM's kernels."""
    from .tflm_runtime import measure_tflm

    batches = ctx.batches() if ctx.batches is not None and t.accuracy else None
    return Measured({"type": TYPE, **measure_tflm(tfl, batches, ctx.metric, ctx.top_k, t.arena_size)})


def _check(original: bytes, changed: bytes, samples: list) -> int:
    from ..deploy.verify import assert_same_outputs, run_tflm

    return assert_same_outputs(original, changed, samples, run_tflm, TITLE)


def deploy(t: TflmTarget, tfl: bytes, ctx: MeasureContext) -> Deployed:
    """model_tflm.tflite: slimmed for TFLM, then LUT-compressed tensor by tensor where the file shrinks,
    each step checked bit-identical on TFLM over the samples. A model TFLM cannot load keeps the slimmed
    file, and the compression table says why."""
    from ..deploy import lut
    from ..deploy.verify import TflmLoadError, run_tflm

    samples = ctx.samples() if ctx.samples is not None and ctx.verify else []
    try:
        run_tflm(tfl, samples[:1])  # TFLM loads it (a hybrid or float16 model it does not: nothing to check on)
    except TflmLoadError as e:
        out = slim_file(tfl, ctx, SLIM_CHANGES, SLIM_REFUSED)
        out.figures["compression"] = {"skipped": f"TFLM cannot load the model: {e}"[:300]}
        return out
    out = slim_file(tfl, ctx, SLIM_CHANGES, SLIM_REFUSED, _check)
    try:
        r = lut.compress(out.tflite, samples, names=lut.tensor_names(tfl), verify=bool(samples))
    except TflmLoadError as e:
        out.figures["compression"] = {"skipped": f"TFLM cannot load the model: {e}"[:300]}
        return out
    except ValueError as e:  # a model lut does not compress (several subgraphs)
        out.figures["compression"] = {"skipped": str(e)[:300]}
        return out
    out.figures["compression"] = r.to_dict()
    return Deployed(r.tflite, out.figures)


def problem(label: str, f: dict) -> Optional[str]:
    """The warning for what TFLM could not do with the model, or None."""
    if f.get("unsupported_ops"):
        return f"{label} cannot run on TFLM: no kernel for {', '.join(f['unsupported_ops'])}"
    return f"{label}: {f['error']}" if f.get("error") else None


def explain(f: dict, tfl: bytes, ctx: MeasureContext) -> str:
    """Why TFLM's accuracy differs from LiteRT's: LiteRT's reference kernels measured (the arithmetic TFLM
    shares); recorded as `litert_reference_accuracy`."""
    from .tflm_runtime import reference_litert_accuracy

    try:
        ref = reference_litert_accuracy(tfl, ctx.batches(), ctx.metric, ctx.top_k)
    except Exception as e:  # noqa: BLE001 - an explanation only
        return f" (LiteRT's reference kernels could not be run: {e})"
    f["litert_reference_accuracy"] = ref
    if abs(ref - f["accuracy"]) <= 1e-12:
        return (f"; LiteRT's reference kernels give {ref:.4f} too: the difference is the rounding of LiteRT's "
                "optimized int8 kernels, and TFLM's figure is what the device computes")
    return f"; LiteRT's reference kernels give {ref:.4f}"


def summary_line(name: str, f: dict) -> str:
    """"tflm: arena 4,768 B (head 3,000, tail 1,768), accuracy 0.9800"."""
    if not f.get("runs", True) or f.get("arena_bytes") is None:
        ops = ", ".join(f.get("unsupported_ops") or []) or "?"
        return f"{name}: cannot run on TFLM (unsupported ops: {ops}; {f.get('error', '')})"
    acc = f", accuracy {f['accuracy']:.4f}" if f.get("accuracy") is not None else ""
    return (f"{name}: arena {f['arena_bytes']:,} B (head {f.get('arena_head_bytes') or 0:,}, "
            f"tail {f.get('arena_tail_bytes') or 0:,}){acc}")


def report_rows(report: dict, b: dict, r: dict) -> list[list[str]]:
    """report.md / report.html rows: (label, baseline, result, change)."""
    from ..report.format import fmt_metric

    metric = report["metric"]["name"]

    def acc(f, key="accuracy"):
        return MISSING if f.get(key) is None else fmt_metric(report, f[key])

    def unsupported(f):
        return ", ".join(f.get("unsupported_ops") or []) or ("none" if f.get("runs", True) else f.get("error", "?"))

    rows = [[label, int_cell(b.get(k), " B"), int_cell(r.get(k), " B"), change_cell(b.get(k), r.get(k))]
            for label, k in (("arena bytes", "arena_bytes"), ("arena head (non-persistent)", "arena_head_bytes"),
                             ("arena tail (persistent)", "arena_tail_bytes"))]
    rows.append([f"{metric} on TFLM kernels", acc(b), acc(r), MISSING])
    if b.get("litert_reference_accuracy") is not None or r.get("litert_reference_accuracy") is not None:
        rows.append([f"{metric} on LiteRT's reference kernels", acc(b, "litert_reference_accuracy"),
                     acc(r, "litert_reference_accuracy"), MISSING])
    secs = [f.get("accuracy_seconds") for f in (b, r)]
    rows.append(["eval time on TFLM (batch 1)", *(MISSING if s is None else f"{s:.2f} s" for s in secs), MISSING])
    rows.append(["ops without a TFLM kernel", unsupported(b), unsupported(r), MISSING])
    return rows


def report_note(name: str, r: dict) -> str:
    return f"TensorFlow Lite Micro {r.get('version', '')}"
