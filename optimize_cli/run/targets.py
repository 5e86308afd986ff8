"""The recipe's `targets:` measured for a run: each target (beside LiteRT, which the run measures anyway)
on the baseline and on the result; `baseline.targets.<name>` and `result.targets.<name>` in report.json;
the file a target writes for its runtime (Vela's optimized .tflite: `model_vela.tflite`) in the output.

The baseline a target measures is its module's BASELINE: the float32 baseline where the runtime has float
kernels (TFLM), the int8 post-training quantization for an int8-only one (the Ethos-U NPU): the run's
ptq_baseline, else the result when the result is itself an int8 PTQ, else the float32 baseline (which
Vela then puts on the CPU)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from .. import targets as registry
from .baseline_cache import target_baseline
from .measurements import EVAL_BATCH

ACCURACY_TOLERANCE = 0.005  # TFLM and LiteRT run the same int8 arithmetic: a larger gap is worth a warning
FLOAT32, INT8_PTQ = "float32", "int8 PTQ"


def _baseline_for(target, run, base_tfl: bytes, result_tfl: bytes) -> tuple[bytes, str]:
    if getattr(registry.module_for(target), "BASELINE", FLOAT32) != INT8_PTQ:
        return base_tfl, FLOAT32
    ptq = getattr(run, "ptq_tfl", None)
    if ptq is not None:
        return ptq, INT8_PTQ
    if not run.recipe.stages and run.recipe.export.quantization == "int8":
        return result_tfl, INT8_PTQ
    return base_tfl, FLOAT32


def _check(run, name: str, label: str, f: dict, litert_accuracy: Optional[float], tfl: bytes = b"",
           ctx: Optional[registry.MeasureContext] = None) -> None:
    """Warnings (stderr and report.json) for what a target could not do or where it disagrees with LiteRT;
    the target's module words them (`problem`) and explains a difference (`explain`)."""
    m = registry.module_for(f.get("type"))
    problem = getattr(m, "problem", None)
    message = problem(label, f) if problem is not None else (f"{label}: {f['error']}" if f.get("error") else None)
    if message:
        run.warn(f"target {name}", message)
    acc = f.get("accuracy")
    if acc is not None and litert_accuracy is not None:
        f["accuracy_difference"] = acc - litert_accuracy
        if abs(acc - litert_accuracy) > ACCURACY_TOLERANCE:
            explain = getattr(m, "explain", None)
            why = explain(f, tfl, ctx) if explain is not None and ctx is not None and ctx.batches is not None else ""
            run.warn(f"target {name}", f"{label}: accuracy on {getattr(m, 'TITLE', name)} {acc:.4f} differs from LiteRT's "
                     f"{litert_accuracy:.4f} by more than {ACCURACY_TOLERANCE * 100:g} point{why}")


def _measure(target, tfl: bytes, ctx) -> registry.Measured:
    """The registry's measure, where anything the target's library raises becomes the figures' `error` (the
    run goes on: a deployment target that cannot measure the model is a finding, not a failed run)."""
    try:
        return registry.measure(target, tfl, ctx)
    except Exception as e:  # noqa: BLE001 - third-party native libraries raise anything
        return registry.Measured({"type": target.type, "version": "", "error": f"{type(e).__name__}: {e}"[:500]})


def measure_run_targets(run, base_tfl: bytes, baseline, ptq_baseline, result) -> None:
    """Measure every non-LiteRT target of the recipe on the baseline and on the result (model.tflite in
    the partial output, or the file the target's `export` hook makes of it) and record the figures on
    `baseline.targets` and `result.targets`."""
    targets = registry.measured(run.recipe.targets)
    if not targets:
        return
    out, inputs, ecfg = run.out, run.inputs, run.recipe.evaluation
    result_tfl = Path(out.partial / "model.tflite").read_bytes()
    ev = inputs.eval
    one_output = inputs.output_name is None  # the targets score the first output; several outputs: not scored
    ctx = registry.MeasureContext((lambda: ev.batches(EVAL_BATCH)) if ev is not None and one_output else None,
                                  inputs.metric, ecfg.top_k)
    first_file: set[str] = set()
    for t in targets:
        name = registry.target_name(t)
        base_raw, label = _baseline_for(t, run, base_tfl, result_tfl)
        # what this runtime loads: the target's own export of the file, else model.tflite itself
        deployed, base_model = (registry.export(t, b) or b for b in (result_tfl, base_raw))
        with run.reporter.task(f"target {name}: {label} and result"):
            fr, written = _measure(t, deployed, ctx)
            same = base_raw == result_tfl  # a post-training run: the result is the baseline a target measures
            fb = dict(fr) if same else target_baseline(
                run, t, name, base_model, ctx.batches is not None,
                lambda _t=t, _b=base_model: _measure(_t, _b, ctx).figures)
        fb["model"], fr["model"] = label, "result"
        litert = baseline if label == FLOAT32 else (ptq_baseline or result)
        _check(run, name, f"baseline ({label})", fb, litert.accuracy, base_model, ctx)
        _check(run, name, "result", fr, result.accuracy, deployed, ctx)
        _write_file(run, t, fr, written if written is not None else (deployed if deployed is not result_tfl else None),
                    first_file)
        baseline.targets[name], result.targets[name] = fb, fr
        run.reporter.log(f"{registry.summary_line(name, fb)}  [{label}]")
        run.reporter.log(f"{registry.summary_line(name, fr)}  [result]")


def _write_file(run, t, fr: dict, data: Optional[bytes], first_file: set) -> None:
    """Write the file a target made for its runtime into the output and record its name in the figures."""
    spec = registry.file_name(t, t.type not in first_file)
    if data is None or spec is None:
        return
    first_file.add(t.type)
    path, key = spec
    fr[key] = path
    out = run.out
    out.write_result(lambda _p=out.partial / path, _b=data: _p.write_bytes(_b))
