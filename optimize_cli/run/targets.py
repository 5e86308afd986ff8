"""The recipe's `targets:` measured for a run: each target (beside LiteRT, which the run measures anyway)
on the baseline and on the result; `baseline.targets.<name>` and `result.targets.<name>` in report.json;
Vela's optimized .tflite written into the output as `model_vela.tflite`.

The baseline a target measures is the float32 baseline where it runs (TFLM has float kernels), the int8
post-training quantization for Ethos-U (the NPU needs int8): the run's ptq_baseline, else the result when
the result is itself an int8 PTQ, else the float32 baseline (which Vela then puts on the CPU)."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from .baseline_cache import target_baseline
from .measurements import EVAL_BATCH

ACCURACY_TOLERANCE = 0.005  # TFLM and LiteRT run the same int8 arithmetic: a larger gap is worth a warning


def _baseline_for(target, run, base_tfl: bytes, result_tfl: bytes) -> tuple[bytes, str]:
    if target.type != "ethos-u":
        return base_tfl, "float32"
    ptq = getattr(run, "ptq_tfl", None)
    if ptq is not None:
        return ptq, "int8 PTQ"
    if not run.recipe.stages and run.recipe.export.quantization == "int8":
        return result_tfl, "int8 PTQ"
    return base_tfl, "float32"


def vela_filename(name: str, first: bool) -> str:
    """model_vela.tflite for the first Ethos-U target, model_vela_<name>.tflite for the others."""
    return "model_vela.tflite" if first else f"model_vela_{name}.tflite"


def _explain(run, f: dict, tfl: bytes, batches) -> str:
    """Why TFLM's accuracy differs from LiteRT's: LiteRT's reference kernels measured (the arithmetic TFLM
    shares); recorded as `litert_reference_accuracy`."""
    from ..measure.targets.tflm import reference_litert_accuracy

    try:
        ref = reference_litert_accuracy(tfl, batches(), run.inputs.metric, run.recipe.evaluation.top_k)
    except Exception as e:  # noqa: BLE001 - an explanation only
        return f" (LiteRT's reference kernels could not be run: {e})"
    f["litert_reference_accuracy"] = ref
    if abs(ref - f["accuracy"]) <= 1e-12:
        return (f"; LiteRT's reference kernels give {ref:.4f} too: the difference is the rounding of LiteRT's "
                "optimized int8 kernels, and TFLM's figure is what the device computes")
    return f"; LiteRT's reference kernels give {ref:.4f}"


def _check(run, name: str, label: str, f: dict, litert_accuracy: Optional[float], tfl: bytes = b"",
           batches=None) -> None:
    """Warnings (stderr and report.json) for what a target could not do or where it disagrees."""
    if f.get("unsupported_ops"):
        run.warn(f"target {name}", f"{label} cannot run on TFLM: no kernel for {', '.join(f['unsupported_ops'])}")
    elif f.get("error"):
        run.warn(f"target {name}", f"{label}: {f['error']}")
    acc = f.get("accuracy")
    if acc is not None and litert_accuracy is not None:
        f["accuracy_difference"] = acc - litert_accuracy
        if abs(acc - litert_accuracy) > ACCURACY_TOLERANCE:
            why = _explain(run, f, tfl, batches) if batches is not None and f.get("type") == "tflm" else ""
            run.warn(f"target {name}", f"{label}: accuracy on TFLM {acc:.4f} differs from LiteRT's "
                     f"{litert_accuracy:.4f} by more than {ACCURACY_TOLERANCE * 100:g} point{why}")


def _measure(target, tfl: bytes, batches, metric: str, top_k: int) -> tuple[dict, Optional[bytes]]:
    """measure_target, where anything the target's library raises becomes the figures' `error` (the run
    goes on: a deployment target that cannot measure the model is a finding, not a failed run)."""
    from ..measure.targets import measure_target

    try:
        return measure_target(target, tfl, batches, metric, top_k)
    except Exception as e:  # noqa: BLE001 - third-party native libraries raise anything
        return {"type": target.type, "version": "", "error": f"{type(e).__name__}: {e}"[:500]}, None


def measure_run_targets(run, base_tfl: bytes, baseline, ptq_baseline, result) -> None:
    """Measure every non-LiteRT target of the recipe on the baseline and on the result (model.tflite in
    the partial output) and record the figures on `baseline.targets` and `result.targets`."""
    from ..measure.targets import target_figures_line
    from ..recipe.targets import target_name

    targets = [t for t in run.recipe.targets if t.type != "litert"]
    if not targets:
        return
    out, inputs, ecfg = run.out, run.inputs, run.recipe.evaluation
    result_tfl = Path(out.partial / "model.tflite").read_bytes()
    ev = inputs.eval
    one_output = inputs.output_name is None  # TFLM scores the first output; several outputs: not scored
    batches = (lambda: ev.batches(EVAL_BATCH)) if ev is not None and one_output else None
    first_vela = True
    for t in targets:
        name = target_name(t)
        base_model, label = _baseline_for(t, run, base_tfl, result_tfl)
        with run.reporter.task(f"target {name}: {label} and result"):
            fr, optimized = _measure(t, result_tfl, batches, inputs.metric, ecfg.top_k)
            same = base_model == result_tfl  # a post-training run: the result is the baseline a target measures
            fb = dict(fr) if same else target_baseline(
                run, t, name, base_model, batches is not None,
                lambda _t=t, _b=base_model: _measure(_t, _b, batches, inputs.metric, ecfg.top_k)[0])
        fb["model"], fr["model"] = label, "result"
        litert = baseline if label == "float32" else (ptq_baseline or result)
        _check(run, name, f"baseline ({label})", fb, litert.accuracy, base_model, batches)
        _check(run, name, "result", fr, result.accuracy, result_tfl, batches)
        if optimized is not None:
            fr["vela_path"] = vela_filename(name, first_vela)
            out.write_result(lambda _p=out.partial / fr["vela_path"], _b=optimized: _p.write_bytes(_b))
            first_vela = False
        baseline.targets[name], result.targets[name] = fb, fr
        run.reporter.log(f"{target_figures_line(name, fb)}  [{label}]")
        run.reporter.log(f"{target_figures_line(name, fr)}  [result]")
