"""The recipe's `targets:` measured for a run: each target (beside LiteRT, which the run measures anyway)
on the baseline and on the result; `baseline.targets.<name>` and `result.targets.<name>` in report.json;
the file a target writes for its runtime (Vela's optimized .tflite: `model_vela.tflite`) in the output.

The baseline a target measures is its module's BASELINE: the float32 baseline where the runtime has float
kernels (TFLM), the int8 post-training quantization for an int8-only one (the Ethos-U NPU): the run's
ptq_baseline, else the result when the result is itself an int8 PTQ, else the float32 baseline (which
Vela then puts on the CPU)."""
from __future__ import annotations

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


#: at most this many eval samples check a deployable file bit for bit (the first ones, in order)
MAX_CHECK_SAMPLES = 2000


def eval_samples(run):
    """The eval set one sample at a time (batch dimension 1), the first MAX_CHECK_SAMPLES: what each
    deployable file is checked on; None without eval data."""
    ev = run.inputs.eval
    if ev is None:
        return None

    def samples() -> list:
        out: list = []
        for x, _ in ev.batches(EVAL_BATCH):
            arrays = list(x) if isinstance(x, (list, tuple)) else [x]
            for i in range(len(arrays[0])):
                out.append([a[i: i + 1] for a in arrays] if len(arrays) > 1 else arrays[0][i: i + 1])
                if len(out) >= MAX_CHECK_SAMPLES:
                    return out
        return out

    cache: list = []
    return lambda: cache or cache.extend(samples()) or cache


def deploy_context(run) -> registry.MeasureContext:
    """What measuring and deploying a file for a target may use: eval batches (one scored output), the eval
    samples that check deployable files, the recipe's export keys."""
    inputs, ecfg, ev = run.inputs, run.recipe.evaluation, run.inputs.eval
    one_output = inputs.output_name is None  # the targets score the first output; several outputs: not scored
    if getattr(run, "samples", None) is None:
        run.samples = eval_samples(run)
    return registry.MeasureContext((lambda: ev.batches(EVAL_BATCH)) if ev is not None and one_output else None,
                                   inputs.metric, ecfg.top_k, samples=run.samples, export=run.recipe.export)


def _deployable(t, tfl: bytes, ctx, verify: bool) -> registry.Deployed:
    """The file target `t`'s runtime loads, made from `tfl` (checked on the samples when `verify`)."""
    from dataclasses import replace

    from ..deploy.verify import VerifyError

    try:
        return registry.deploy(t, tfl, replace(ctx, verify=verify))
    except VerifyError as e:  # a change the runtime does not compute the same way: it does not get it
        return registry.Deployed(tfl, {"slim": {"applied": [], "skipped": {"all": f"not applied: {e}"[:300]}}})


def main_deploy(run, tfl: bytes, baseline, ptq_baseline) -> registry.Deployed:
    """model.tflite as the run's own runtime (LiteRT) loads it, checked over the eval samples; the bytes of
    the baseline's and the int8 PTQ's files the same way, recorded under `targets.<name>`."""
    from ..tf import versions

    t = registry.main_target()
    name, ctx = registry.target_name(t), deploy_context(run)
    dep = _deployable(t, tfl, ctx, True)
    version = versions().get(t.type, "")  # the runtime's package version (report.json's `versions`)
    run.main_figures = {"type": t.type, "version": version, "deployable_bytes": len(dep.tflite), **dep.figures}
    if getattr(run, "int4_layers", None):
        run.main_figures["weight_bits"] = run.int4_layers
    for rec, raw in ((baseline, getattr(run, "base_tfl", None)), (ptq_baseline, getattr(run, "ptq_tfl", None))):
        if rec is not None and raw is not None:
            rec.targets[name] = {"type": t.type, "version": version,
                                 "deployable_bytes": len(_deployable(t, raw, ctx, False).tflite)}
    return dep


def measure_run_targets(run, base_tfl: bytes, baseline, ptq_baseline, result) -> None:
    """Measure every target of the recipe on the baseline and on the result (the file its `deploy` hook
    makes of model.tflite: slimmed, compressed, checked on its runtime) and record the figures, with
    `deployable_bytes`, on `baseline.targets` and `result.targets` (and the int8 PTQ's deployable bytes on
    `ptq_baseline.targets`)."""
    main = registry.target_name(registry.main_target())
    if getattr(run, "main_figures", None) is not None:
        result.targets[main] = run.main_figures
    targets = registry.measured(run.recipe.targets)
    if not targets:
        return
    out = run.out
    # every target's file is made from the result as converted (tensor names kept, for the tables)
    result_tfl = run.raw_tfl if getattr(run, "raw_tfl", None) is not None else (out.partial / "model.tflite").read_bytes()
    ctx = deploy_context(run)
    first_file: set[str] = set()
    for t in targets:
        name = registry.target_name(t)
        base_raw, label = _baseline_for(t, run, base_tfl, result_tfl)
        with run.reporter.task(f"target {name}: {label} and result"):
            dep = _deployable(t, result_tfl, ctx, True)
            base_dep = dep if base_raw == result_tfl else _deployable(t, base_raw, ctx, False)
            fr, written = _measure(t, dep.tflite, ctx)
            same = base_raw == result_tfl  # a post-training run: the result is the baseline a target measures
            base_model = base_dep.tflite
            fb = dict(fr) if same else target_baseline(
                run, t, name, base_model, ctx.batches is not None,
                lambda _t=t, _b=base_model: _measure(_t, _b, ctx).figures)
            fr.update(dep.figures)
            fb.update(base_dep.figures)
            fr["deployable_bytes"] = registry.deployable_bytes(t, fr, dep.tflite)
            fb["deployable_bytes"] = registry.deployable_bytes(t, fb, base_model)
            _ptq_deployable(run, t, name, ptq_baseline, label, fb, ctx)
        fb["model"], fr["model"] = label, "result"
        litert = baseline if label == FLOAT32 else (ptq_baseline or result)
        _check(run, name, f"baseline ({label})", fb, litert.accuracy, base_model, ctx)
        _check(run, name, "result", fr, result.accuracy, dep.tflite, ctx)
        from_measure = getattr(registry.module_for(t), "FILE_FROM_MEASURE", False)  # Vela's output, or nothing
        _write_file(run, t, fr, written if written is not None or from_measure else dep.tflite, first_file)
        baseline.targets[name], result.targets[name] = fb, fr
        run.reporter.log(f"{registry.summary_line(name, fb)}  [{label}]")
        run.reporter.log(f"{registry.summary_line(name, fr)}  [result]")


def _ptq_deployable(run, t, name: str, ptq_baseline, label: str, fb: dict, ctx) -> None:
    """The int8 PTQ's deployable bytes on target `t` (`ptq_baseline.targets.<name>`), the figure the result
    is read against: the baseline's own when that is the PTQ, else the PTQ file deployed the same way."""
    ptq = getattr(run, "ptq_tfl", None)
    if ptq_baseline is None or ptq is None:
        return
    if label == INT8_PTQ:
        n = fb["deployable_bytes"]
    else:
        dep = _deployable(t, ptq, ctx, False)
        n = registry.deployable_bytes(t, {}, dep.tflite)
    ptq_baseline.targets[name] = {"type": t.type, "version": fb.get("version", ""), "deployable_bytes": n}


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
