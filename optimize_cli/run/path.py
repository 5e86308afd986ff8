"""run_path: the only loop over stages — baselines → stages → export → measurements → records.

Prints nothing to stdout: progress and log lines go to the Reporter (stderr); the CLI prints the
summary. Each step is a function of the `RunState` (run/state.py) one call of run_path shares between its
steps; `run_stages` is the loop over the stages, which the non-chief worker of multi-worker training
(run/worker.py) runs too."""
from __future__ import annotations

import json
import time
from typing import Any, Callable, Optional

from .. import __version__
from .. import stages as stages_pkg
from ..errors import InputError, RecipeError
from ..interrupt import check
from ..measure.metrics import accuracy_drop, compression_ratio, speedup
from ..progress import Reporter
from ..training.distill import describe as describe_distill
from . import baseline_cache, early_stop, fingerprint, sanity
from .inputs import calibration, check_skip_layers, load_inputs
from .measurements import density_layer, keras_accuracy, kernel_of
from .records import (
    CheckRecord,
    GateRecord,
    MetricInfo,
    ModelInfo,
    RecipeInfo,
    ResultLayer,
    ResultRecord,
    RunResult,
    StageLayer,
    StageRecord,
    TfliteFigures,
    ToolInfo,
)
from .resume import plan_resume
from .run_dir import RECORD, RunDir, stage_dirname, write_atomic
from .state import RunState
from .targets import main_deploy, measure_run_targets


def run_path(recipe, opts, reporter: Reporter, out: RunDir, t_start: float) -> RunResult:
    """Run a validated recipe into `out` (its partial directory; the caller commits it) and return the
    typed records; report.json, written here, is their dump."""
    reporter.log(f"optimize-cli {__version__}: {recipe.name} "
                 f"({' → '.join(recipe.stage_types + [recipe.export.quantization])})")
    run = start_state(recipe, opts, reporter, out)
    for message in run.inputs.loaded.warnings:  # what loading found (old SavedModel, no Keras metadata, …)
        run.warn("model", message)
    if run.inputs.compile_info is not None and recipe.stages:
        reporter.log(run.inputs.compile_info.log_line())
    _plan_stages(run)  # --resume decides here, before any conversion or training
    run.rep, run.sample = calibration(recipe, run.inputs)
    for source, message in sanity.input_warnings(recipe, run.inputs, run.rep):
        run.warn(source, message)
    base_tfl, baseline, ptq_baseline = _baselines(run)
    run.base_tfl = base_tfl
    for source, message in sanity.chance_level_baseline(recipe, run.inputs, baseline.accuracy):
        run.warn(source, message)
    records, model = _resumed_stages(run)
    early_stop.forget(out.partial)
    stage_kernels: dict[int, Any] = {}

    def finish(i: int, ctx, res, seconds: float) -> None:
        rec, stage_kernels[i] = _stage_record(run, i, ctx, res, seconds, records)
        records.append(rec)
        early_stop.check(run, i, rec, baseline.accuracy)  # a search trial that cannot pass any more

    model = run_stages(run, model, run.done_before + 1, len(recipe.stages), finish)
    _density_series(run, stage_kernels)
    result, tflite_layers = _export_and_measure(run, model, base_tfl, baseline, ptq_baseline)
    measure_run_targets(run, base_tfl, baseline, ptq_baseline, result)
    return _records(run, baseline, ptq_baseline, records, result, tflite_layers, t_start)


def shown_metric(metric: str, value: float) -> str:
    """A metric value in a log line, as the reports show it ("97.96%" for an accuracy)."""
    from ..measure.metrics import FRACTION_METRICS
    from ..report.format import fmt_value

    return fmt_value(value, metric in FRACTION_METRICS)


def start_state(recipe, opts, reporter: Reporter, out: RunDir) -> RunState:
    """The run's state with its inputs loaded, after seeding (the entry point started training.distribute's
    strategy already: run.run, run/worker.py)."""
    with reporter.step("loading TensorFlow"):  # the first import of TensorFlow takes seconds
        from ..tf import set_seed

        set_seed(recipe.training.seed)
    state: list[RunState] = []
    early: list[tuple[str, str]] = []  # what the cache warns about before the state exists

    def warn(source: str, message: str) -> None:
        if state:
            state[0].warn(source, message)
        else:
            early.append((source, message))

    cache = baseline_cache.open_cache(opts, warn)

    def translated(verify, x):  # a translated Keras 3 model's check: reused from the cache when it passed
        return baseline_cache.translation(cache, recipe.model, verify, x, reporter.log)

    try:
        inputs = load_inputs(recipe, opts.trust_model, opts.allow_code, step=reporter.step,
                             translated=translated)
    except InputError as e:  # `data.eval: sample 3 …`: said at the key's file:line, as recipe errors are
        e.message = recipe.locate(e.message)
        raise
    state.append(RunState(recipe, opts, reporter, out, inputs))
    state[0].cache = cache
    for source, message in early:
        state[0].warn(source, message)
    return state[0]


def _plan_stages(run: RunState) -> None:
    """What the stages are made from and, with --resume, how many finished ones are reused."""
    recipe = run.recipe
    if not recipe.stages:
        return
    check_skip_layers(recipe, run.inputs.keras_model)
    run.made_from = fingerprint.made_from(recipe)
    run.evaluated_with = fingerprint.evaluated_with(recipe, run.inputs.metric)
    if run.opts.resume:
        done, found = plan_resume(recipe, run.out, run.made_from, run.reporter)
        if done:
            run.done_before, run.manifest = done, found


def _baselines(run: RunState) -> tuple[bytes, TfliteFigures, Optional[TfliteFigures]]:
    """The input model as float32 TFLite, measured like the result (and as int8 PTQ, for an int8 path);
    the density plot's baseline series."""
    from .. import measure

    recipe, reporter, kmodel = run.recipe, run.reporter, run.inputs.keras_model
    with reporter.task("baseline: float32 TFLite"):
        base_tfl, baseline = baseline_cache.baseline(run, run.inputs.loaded if kmodel is None else kmodel, "none",
                                                     "baseline")
    reporter.log(f"baseline: {baseline.tflite_bytes:,} B → {baseline.compressed_bytes:,} B zipped"
                 + (f", {run.inputs.metric} {shown_metric(run.inputs.metric, baseline.accuracy)}"
                    if baseline.accuracy is not None else ""))
    ptq_baseline = None
    ex = recipe.export
    if ex.quantization == "int8" and (recipe.stages or ex.int4 or not ex.per_channel):  # the result is not the PTQ
        with reporter.task("baseline: int8 post-training quantization"):
            run.ptq_tfl, ptq_baseline = baseline_cache.baseline(run, run.inputs.loaded if kmodel is None else kmodel,
                                                                "int8", "ptq_baseline")
    if kmodel is not None:
        dl = density_layer(measure.keras_weight_stats(kmodel))
        vals = kernel_of(kmodel, dl) if dl is not None else None
        if vals is not None:
            run.density = {"layer": dl, "series": [{"label": "baseline", "values": vals}]}
    return base_tfl, baseline, ptq_baseline


def _read_record(sdir) -> StageRecord:
    try:
        return StageRecord.from_dict(json.loads((sdir / RECORD).read_text()))
    except (OSError, ValueError, TypeError, AttributeError) as e:
        raise RecipeError(f"--resume: cannot read {sdir / RECORD} ({e}); run with --force instead of "
                          "--resume to start over") from None


def _resumed_stages(run: RunState) -> tuple[list[StageRecord], Any]:
    """The records of the stages --resume reuses (re-measured when the evaluation changed) and the model
    to continue from; then drop the checkpoints after the resume point."""
    from .. import models

    recipe, out, ev, done = run.recipe, run.out, run.inputs.eval, run.done_before
    records: list[StageRecord] = []
    model = run.inputs.keras_model
    if done:
        last = recipe.stages[done - 1]
        model = models.load_stage_model(out.stages / stage_dirname(done, last.type) / "model")
        for i in range(1, done + 1):
            sdir = out.stages / stage_dirname(i, recipe.stages[i - 1].type)
            rec = _read_record(sdir)
            entry = run.manifest["stages"][str(i)]
            if entry.get("evaluated_with") != run.evaluated_with and ev is not None:
                # the evaluation changed (not what the stage was made from): measure the kept model again
                m = model if i == done else models.load_stage_model(sdir / "model")
                rec.keras_accuracy = keras_accuracy(m, ev, run.inputs.metric, recipe.evaluation,
                                                    run.inputs.output_index)
                entry["evaluated_with"] = run.evaluated_with
                out.write_result(lambda _p=sdir / RECORD, _r=rec: write_atomic(_p, json.dumps(_r.dump(), indent=2)))
            records.append(rec)
        where = "" if out.resumed_from is None else f" kept in {out.resumed_from}"
        run.reporter.log(f"resuming after stage {done} ({last.type}){where}")
    keep = {stage_dirname(i, recipe.stages[i - 1].type) for i in range(1, done + 1)}

    def drop_stale() -> None:
        out.drop_stale(keep)
        run.manifest["stages"] = {k: v for k, v in run.manifest.get("stages", {}).items()
                                  if k.isdigit() and int(k) <= done}
        if recipe.stages:
            out.write_manifest(run.manifest)

    out.write_result(drop_stale)
    return records, model


def _teacher(run: RunState, params):
    """(distillation settings, teacher) for a stage: the input model, copied once, when it distils."""
    from ..training.distill import default_applies, effective

    cinfo = run.inputs.compile_info
    auto = default_applies(run.inputs.keras_model, cinfo.loss if cinfo is not None else None)
    settings = effective(getattr(params, "distill", None), run.recipe.training, auto=auto)
    if settings is None:
        return None, None
    by_default = effective(getattr(params, "distill", None), run.recipe.training) is None
    if by_default and run.teacher is None:  # said once, before the first stage that distils
        run.reporter.log(f"distillation from the input model: on by default for a classifier (alpha "
                         f"{settings.alpha:g}, temperature {settings.temperature:g}); training.distill: false "
                         "turns it off")
    if run.teacher is None:
        from ..stages.layers import copy_model

        run.teacher = copy_model(run.inputs.keras_model)
    return settings, run.teacher


def stage_context(run: RunState, i: int) -> stages_pkg.StageContext:
    """What stage `i` (1-based) of the recipe is given: its training data, settings, scratch folder,
    distillation teacher."""
    recipe, train, seed = run.recipe, run.inputs.train, run.recipe.training.seed
    distill, teacher = _teacher(run, recipe.stages[i - 1])
    return stages_pkg.StageContext(
        train_dataset=lambda bs, _t=train: _t.dataset(bs, shuffle=True, seed=seed),
        train_samples=train.samples,
        training=recipe.training,
        compile_info=run.inputs.compile_info,
        previous=recipe.stage_types[: i - 1],
        reporter=run.reporter,
        workdir=run.out.scratch(f"stage{i}"),
        index=i,
        distill=distill,
        teacher=teacher,
    )


def run_stages(run: RunState, model, first: int, last: int,
               finish: Optional[Callable[[int, Any, Any, float], None]] = None):
    """The only loop over stages: stages `first`..`last` (1-based) of the recipe, each from the model the
    one before made, run through the registry with its context and seed; `finish(i, ctx, result,
    seconds)` after each (the chief records, measures and keeps it). Returns the last model."""
    from ..tf import set_seed

    for i in range(first, last + 1):
        check()  # a safe point between stages: the finished ones are kept
        params = run.recipe.stages[i - 1]
        ctx = stage_context(run, i)
        t0 = time.monotonic()
        set_seed(run.recipe.training.seed + i)
        res = stages_pkg.run_stage(model, params, ctx)
        model = res.model
        if finish is not None:
            finish(i, ctx, res, time.monotonic() - t0)
    return model


def _stage_record(run: RunState, i: int, ctx, res, seconds: float, records: list[StageRecord]):
    """Measure stage i's model, save its checkpoint and say what it did: (record, the plotted kernel or None)."""
    from .. import measure

    recipe, inputs, ev = run.recipe, run.inputs, run.inputs.eval
    params = recipe.stages[i - 1]
    model = res.model
    # the plotted kernel after this stage, taken now rather than reloaded later
    kernel = kernel_of(model, run.density["layer"]) if run.density is not None else None
    stats = measure.keras_weight_stats(model)
    summ = measure.summary(stats)
    # distinct values per output channel (what survives per-channel int8 export), ignoring the layers
    # this or an earlier stage left alone, like the result's figure
    skipped = {sk["name"] for sl in [*(r.skipped_layers for r in records), res.skipped_layers] for sk in sl}
    touched = measure.summary(stats, names=[s["name"] for s in stats if s["name"] not in skipped])
    kacc = keras_accuracy(model, ev, inputs.metric, recipe.evaluation, inputs.output_index) if ev else None
    rec = StageRecord(
        index=i, type=params.type, scheme=res.scheme or "", seconds=round(seconds, 3),
        epochs=res.epochs, learning_rate=res.learning_rate,
        keras_accuracy=kacc, sparsity=float(summ["sparsity"]),
        max_unique_weights=touched.get("max_unique_per_channel"),
        skipped_layers=res.skipped_layers,
        layers=[StageLayer(name=s["name"], sparsity=float(s["sparsity"]), unique_weights=int(s["unique_weights"]),
                           max_unique_per_channel=int(s.get("max_unique_per_channel", s["unique_weights"])))
                for s in stats],
        history=res.history.as_dict(),
        extra=dict(res.record_extra),
        distill=describe_distill(ctx.distill, inputs.compile_info.loss if inputs.compile_info else None),
        distribute=res.history.distribute,
    )
    run.out.save_stage(model, rec.dump(), i, params.type, run.manifest,
                       {"made_from": fingerprint.stage_made_from(recipe, run.made_from, i),
                        "evaluated_with": run.evaluated_with})
    for line in skipped_lines(params.type, res.skipped_layers):
        run.reporter.log(line)
    lr = "" if rec.learning_rate is None else f"lr {rec.learning_rate:g}, "
    run.reporter.log(f"stage {i} {params.type}: {res.scheme}; {lr}keras {inputs.metric} "
                     f"{'n/a' if kacc is None else shown_metric(inputs.metric, kacc)}, sparsity {summ['sparsity']:.1%}, "
                     f"≤ {rec.max_unique_weights} distinct values per channel, {seconds:.1f}s")
    return rec, kernel


def skipped_lines(stage: str, skipped: list[dict], shown: int = 3) -> list[str]:
    """One log line per (class, reason) of the layers a stage left alone, with the count and the first
    few names: "  prune: skipped 13 DepthwiseConv2D layers (dw1, dw2, dw3, …): tfmot: …"."""
    groups: dict[tuple[str, str], list[str]] = {}
    for sk in skipped:
        groups.setdefault((sk.get("class", ""), sk.get("reason", "")), []).append(sk["name"])
    lines = []
    for (cls, reason), names in groups.items():
        if len(names) == 1:
            lines.append(f"  {stage}: skipped {names[0]}{f' ({cls})' if cls else ''}: {reason}")
            continue
        listed = ", ".join(names[:shown]) + (", …" if len(names) > shown else "")
        lines.append(f"  {stage}: skipped {len(names)} {cls + ' ' if cls else ''}layers ({listed}): {reason}")
    return lines


def _density_series(run: RunState, stage_kernels: dict) -> None:
    """One series per stage for the density plot (a resumed stage's kernel read from its checkpoint)."""
    from .. import models

    if run.density is None:
        return
    for i, params in enumerate(run.recipe.stages, start=1):
        vals = stage_kernels.get(i)
        if vals is None and i <= run.done_before:  # a resumed stage: read its checkpoint once
            vals = kernel_of(models.load_stage_model(run.out.stages / stage_dirname(i, params.type) / "model"),
                             run.density["layer"])
        if vals is not None:
            run.density["series"].append({"label": params.type, "values": vals})


def _convert_result(run: RunState, model, q: str) -> bytes:
    """The last model as a .tflite: converted for `q`, or with int4 weights through ai-edge-quantizer
    (`export.weight_bits`: from its float32 conversion, int8 activations calibrated like int8)."""
    ex, source = run.recipe.export, model if model is not None else run.inputs.loaded
    if not ex.int4:
        with run.reporter.task(f"export: {q} TFLite"):
            return run.convert(source, q, "result")
    from ..deploy.int4 import quantize_int4

    with run.reporter.task("export: int4 weights (ai-edge-quantizer)"):
        r = quantize_int4(run.convert(source, "none", "result_float"), run.rep, ex.weight_bits)
    run.int4_layers = r.layers
    return r.tflite


def _export_and_measure(run: RunState, model, base_tfl: bytes, baseline: TfliteFigures, ptq_baseline=None):
    """Convert the last model (the baseline conversion is the result of a float32 post-training path),
    write model.tflite as its runtime loads it (slimmed, checked) and measure it: (the result record, the
    .tflite's weight tensors as measured before slimming, which empties their names)."""
    from .. import measure

    recipe, out = run.recipe, run.out
    q = recipe.export.quantization
    float_path = not recipe.stages and q == "none"  # the baseline conversion is the result
    raw = run.raw_tfl = base_tfl if float_path else _convert_result(run, model, q)
    with run.reporter.task("export: the file the runtime loads (slimmed, checked on the eval set)"):
        tfl = main_deploy(run, raw, baseline, ptq_baseline).tflite
    figures = baseline if float_path and tfl == raw else run.measure(tfl, q)  # don't measure twice
    out.write_result(lambda: (out.partial / "model.tflite").write_bytes(tfl))
    layers = [lay for lay in measure.tflite_weight_stats(raw) if lay.get("role", "weight") == "weight"]
    drop = accuracy_drop(baseline.accuracy, figures.accuracy, run.inputs.higher_is_better)
    result = ResultRecord(
        path="model.tflite", quantization=q, tflite_bytes=figures.tflite_bytes,
        compressed_bytes=figures.compressed_bytes, compression_saved_percent=figures.compression_saved_percent,
        compression_ratio=compression_ratio(baseline.compressed_bytes, figures.compressed_bytes),
        accuracy=figures.accuracy, accuracy_drop=drop, latency_ms=figures.latency_ms,
        latency_p90_ms=figures.latency_p90_ms,
        speedup=speedup(baseline.latency_ms, figures.latency_ms),
        threads=figures.threads,
        layers=[ResultLayer(name=lay.get("layer") or lay["name"], op=lay.get("op", ""), dtype=lay["dtype"],
                            params=int(lay["params"]), sparsity=float(lay["sparsity"]),
                            unique_weights=int(lay["unique_weights"]),
                            max_unique_per_channel=int(lay.get("max_unique_per_channel", lay["unique_weights"])))
                for lay in layers],
    )
    return result, layers


def _records(run: RunState, baseline, ptq_baseline, stages: list[StageRecord], result: ResultRecord,
             tflite_layers: list[dict], t_start: float) -> RunResult:
    """The checks and gates, the RunResult, and the files written from it (recipe.resolved.yaml, report.*)."""
    from .. import report
    from ..tf import versions

    recipe, inputs, out = run.recipe, run.inputs, run.out
    checks = [CheckRecord(**c) for c in stages_pkg.export_checks(recipe, [s.dump() for s in stages], tflite_layers)]
    for c in checks:
        if not c.passed:
            run.reporter.warn(c.message)
    ev = inputs.eval
    rr = RunResult(
        tool=ToolInfo("optimize-cli", __version__),
        versions=versions(),
        recipe=RecipeInfo(recipe.name, str(recipe.source), recipe.sha256),
        model=ModelInfo(str(recipe.model), inputs.loaded.format, inputs.loaded.translation,
                        inputs.compile_info.dump() if inputs.compile_info is not None and recipe.stages else None),
        metric=MetricInfo(inputs.metric, inputs.higher_is_better, ev.samples if ev else None),
        baseline=baseline, ptq_baseline=ptq_baseline, stages=stages, result=result, checks=checks, warnings=run.warnings,
        output=out.given, densities=run.density,
    )
    rr.gates = [GateRecord(**g) for g in report.evaluate_gates(recipe.gates.model_dump(), rr.dump(upto="gates"))]
    rr.passed = all(g.passed for g in rr.gates)
    resolved = loss_noted(recipe.resolved_yaml(), inputs.compile_info if recipe.stages else None)
    out.write_result(lambda: (out.partial / "recipe.resolved.yaml").write_text(resolved))
    rr.seconds_total = round(time.monotonic() - t_start, 3)
    out.write_result(lambda: report.write_reports(rr.dump(), out.partial, densities=run.density, warn=run.reporter.warn))
    return rr


def loss_noted(resolved: str, cinfo) -> str:
    """recipe.resolved.yaml with the loss used beside `training.loss: null` (a YAML comment: the recipe keeps
    meaning "the default")."""
    if cinfo is None or not cinfo.name:
        return resolved
    note = " ".join(f"{cinfo.name} ({cinfo.reason})".split()).replace("#", "")
    return resolved.replace("\n  loss: null\n", f"\n  loss: null  # used: {note}\n", 1)
