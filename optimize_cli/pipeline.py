"""run(recipe): the only loop over stages — load, baseline, stages, export, measure, report, atomic output."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from . import __version__
from .errors import EXIT_GATE, EXIT_OK, InputError, RecipeError, StageError
from .progress import Reporter

STAGES_DIR = "stages"
MANIFEST = "manifest.json"


@dataclass
class RunOptions:
    output: Optional[Path] = None
    resume: bool = False
    force: bool = False
    quiet: bool = False
    as_json: bool = False
    trust_model: bool = False
    allow_code: bool = False  # python data sources may run (run --allow-code)
    argv: Optional[list] = None  # the command line, to print how to resume


# ------------------------------------------------------------------------------------- hashing


def _hash_path(path: str | Path) -> str:
    """sha256 over a file, or over every file (name and bytes) under a directory."""
    h = hashlib.sha256()
    p = Path(path)
    files = [p] if p.is_file() else sorted(q for q in p.rglob("*") if q.is_file())
    for f in files:
        h.update(str(f.relative_to(p) if p.is_dir() else f.name).encode())
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _fingerprint(recipe, upto: int) -> dict:
    """What the first `upto` stages depend on: model, data, training settings and their parameters."""
    d = recipe.resolved_dict()
    from .data import source_files

    data_hashes = {}
    for split in ("train", "eval", "representative"):
        src = getattr(recipe.data, split)
        if src is not None and src.type != "validation_split":
            h = hashlib.sha256()
            for f in source_files(src):
                h.update(str(f).encode())
                h.update(_hash_path(f).encode())
            data_hashes[split] = h.hexdigest()
    fp_data = data_hashes.get("train")
    if recipe.data.eval is not None and recipe.data.eval.type == "validation_split":
        fp_data = {"train": fp_data, "validation_split": d["data"]["eval"]}  # the held-out part changes train
    return {
        "model": _hash_path(recipe.model),
        "data": fp_data,
        "training": d["training"],
        "stages": d["stages"][:upto],
    }


# ------------------------------------------------------------------------------------ output dir


class Output:
    """DIR is replaced only when the run succeeds; work happens in a sibling `.DIR.partial`."""

    def __init__(self, final: Path, force: bool, resume: bool):
        self.final = final
        self.partial = final.parent / f".{final.name}.partial"
        if final.exists() and not final.is_dir():
            raise RecipeError(f"--output {final}: exists and is a file, not a directory")
        if final.is_dir() and any(final.iterdir()) and not (force or resume):
            raise RecipeError(
                f"--output {final}: already exists (from an earlier run); use --force to replace it or "
                "--resume to continue it"
            )
        try:
            final.parent.mkdir(parents=True, exist_ok=True)
            if self.partial.is_symlink() or self.partial.is_file():
                self.partial.unlink()
            if self.partial.exists() and not resume:
                shutil.rmtree(self.partial)
            self.partial.mkdir(exist_ok=True)
            probe = self.partial / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            raise RecipeError(f"--output {final}: cannot write there ({e.strerror or e})") from None
        self.stages = self.partial / STAGES_DIR
        if resume and not self.stages.exists() and (final / STAGES_DIR).is_dir():
            shutil.copytree(final / STAGES_DIR, self.stages, symlinks=True)
        self.stages.mkdir(exist_ok=True)

    def commit(self) -> None:
        """Swap the finished partial directory into place."""
        old = self.final.parent / f".{self.final.name}.old"
        if old.exists():
            shutil.rmtree(old)
        if self.final.exists():
            os.replace(self.final, old)
        os.replace(self.partial, self.final)
        if old.exists():
            shutil.rmtree(old, ignore_errors=True)

    def scratch(self, name: str) -> Path:
        p = self.partial / ".work" / name
        p.mkdir(parents=True, exist_ok=True)
        return p

    def cleanup_scratch(self) -> None:
        shutil.rmtree(self.partial / ".work", ignore_errors=True)


# ------------------------------------------------------------------------------------ measuring


def _tflite_output_index(runner, output_name) -> int:
    """Index in the interpreter's output details of the Keras output `output_name` (by signature name)."""
    if output_name is None or len(runner.outputs) == 1:
        return 0
    try:
        sig = runner.interp._get_full_signature_list()
        tensor = next(iter(sig.values()))["outputs"][output_name]
        return [d["index"] for d in runner.outputs].index(tensor)
    except Exception:  # noqa: BLE001 - no signature: fall back to the Keras order
        return 0


def _evaluate_tflite(tfl: bytes, ev, metric: str, ecfg, output_name=None, batch_size: int = 256) -> float:
    """The metric over the whole eval split, streamed in batches (one interpreter for all of them)."""
    from . import measure

    runner = measure._Runner(tfl, ecfg.threads)
    k = _tflite_output_index(runner, output_name)
    preds, labels = [], []
    for x, y in ev.batches(batch_size):
        preds.append(runner.predict(x, batch_size)[k])
        labels.append(y)
    return measure.compute_metric(np.concatenate(preds), np.concatenate(labels), metric, ecfg.top_k)


def _evaluate_keras(model, ev, metric: str, top_k: int, output_index: int = 0, batch_size: int = 256) -> float:
    from . import measure

    preds, labels = [], []
    for x, y in ev.batches(batch_size):
        p = model.predict(x, batch_size=batch_size, verbose=0)
        p = p[output_index] if isinstance(p, (list, tuple)) else p
        preds.append(np.asarray(p))
        labels.append(y)
    return measure.compute_metric(np.concatenate(preds), np.concatenate(labels), metric, top_k)


def _measure_tflite(tfl: bytes, ev, metric: str, ecfg, quantization: str, sample, output_name=None) -> dict:
    from . import measure

    sizes = measure.file_sizes(tfl)
    acc = None
    if ev is not None:
        acc = _evaluate_tflite(tfl, ev, metric, ecfg, output_name)
    lat = measure.latency_ms(tfl, sample, runs=ecfg.latency_runs, warmup=ecfg.latency_warmup, threads=ecfg.threads)
    return {
        "quantization": quantization,
        "tflite_bytes": sizes["tflite_bytes"],
        "compressed_bytes": sizes["compressed_bytes"],
        "compression_saved_percent": sizes["compression_saved_percent"],
        "accuracy": None if acc is None else float(acc),
        "latency_ms": float(lat["median_ms"]),
        "latency_p90_ms": float(lat["p90_ms"]),
        "threads": int(lat["threads"]),
    }


def _metric_for(recipe, cinfo) -> str:
    if recipe.evaluation.metric:
        return recipe.evaluation.metric
    loss = cinfo.loss if isinstance(cinfo.loss, str) else getattr(cinfo.loss, "name", str(cinfo.loss))
    loss = str(loss).lower()
    if "binary" in loss:
        return "binary_accuracy"
    if loss in ("mse", "mean_squared_error"):
        return "mse"
    if loss in ("mae", "mean_absolute_error"):
        return "mae"
    return "accuracy"


def _kernel_of(model, name: str) -> Optional[np.ndarray]:
    """The kernel values of layer `name` (also inside tfmot wrappers), flattened."""
    from .measure import _iter_layers, _keras_kernel

    for outer, inner in _iter_layers(model):
        if inner.name == name:
            kernel = _keras_kernel(inner, outer)[0]
            return None if kernel is None else np.asarray(kernel).ravel()
    return None


def _density_layer(stats: list[dict]) -> Optional[str]:
    """The largest Conv2D/Dense kernel: the layer whose value density is plotted through the stages."""
    cands = [s for s in stats if s.get("class") in ("Dense", "Conv2D")]
    return max(cands, key=lambda s: s.get("params", 0))["name"] if cands else None


# --------------------------------------------------------------------------------------- checks


def _checks(recipe, stage_records: list[dict], result_layers: list[dict]) -> list[dict]:
    """Did the export keep what the stages made? Compared per layer in the .tflite weight buffers."""
    out = []
    by_layer = {}
    for lay in result_layers:
        key = lay.get("layer") or lay.get("name")
        by_layer.setdefault(key, lay)
    for st, rec in zip(recipe.stages, stage_records, strict=False):
        if st.type == "prune":
            target = st.target_sparsity
            pruned = [lay for lay in rec["layers"] if lay["sparsity"] >= 0.9 * target]
            lost = []
            matched = 0
            for lay in pruned:
                t = by_layer.get(lay["name"])
                if t is None:
                    continue
                matched += 1
                if t["sparsity"] < 0.9 * target:
                    lost.append(f"{lay['name']} {lay['sparsity']:.0%}→{t['sparsity']:.0%}")
            msg = (f"{matched} pruned layer(s) keep ≥ {0.9 * target:.0%} zeros in the .tflite" if not lost else
                   "SPARSITY LOST in export: " + ", ".join(lost))
            out.append({"name": "sparsity survived export", "passed": not lost and matched > 0 if pruned else True,
                        "message": msg if pruned and matched else (msg if lost else
                                   "no pruned layer could be matched in the .tflite" if pruned else "nothing was pruned")})
        if st.type == "cluster":
            clustered = [lay for lay in rec["layers"] if lay.get("unique_weights") and lay["unique_weights"] <= st.clusters]
            lost, matched = [], 0
            for lay in clustered:
                t = by_layer.get(lay["name"])
                if t is None:
                    continue
                matched += 1
                if t.get("max_unique_per_channel", 0) > st.clusters:
                    lost.append(f"{lay['name']} ({t['max_unique_per_channel']} values per channel > {st.clusters})")
            out.append({"name": "clusters survived export", "passed": not lost and (matched > 0 or not clustered),
                        "message": ("CLUSTERS LOST in export: " + ", ".join(lost)) if lost else
                        (f"{matched} clustered layer(s) keep ≤ {st.clusters} values per channel in the .tflite"
                         if matched else "no clustered layer could be matched in the .tflite")})
    return out


# ------------------------------------------------------------------------------------------ run


def _stage_dirname(index: int, typ: str) -> str:
    return f"{index:02d}_{typ}"


def run_recipe(recipe, opts: RunOptions) -> int:
    """Run a validated recipe; returns the exit code (0, or 5 when a gate was missed)."""
    t_start = time.monotonic()
    reporter = Reporter(quiet=opts.quiet)
    final = Path(opts.output) if opts.output else Path("runs") / recipe.name
    out = Output(final, force=opts.force, resume=opts.resume)

    def _on_term(signum, frame):  # SIGTERM behaves like Ctrl-C: stop cleanly, keep finished stages
        raise KeyboardInterrupt

    old_term = signal.signal(signal.SIGTERM, _on_term) if hasattr(signal, "SIGTERM") else None
    try:
        code = _run(recipe, opts, reporter, out, t_start)
        out.cleanup_scratch()
        out.commit()
        return code
    except KeyboardInterrupt:
        out.cleanup_scratch()
        done = sorted(p.name for p in out.stages.iterdir() if (p / "record.json").exists()) if out.stages.exists() else []
        argv = opts.argv or sys.argv
        cmd = " ".join(a for a in argv if a != "--force")
        if "--resume" not in cmd:
            cmd += " --resume"
        reporter.console.print(
            f"interrupted; finished stages kept in {out.partial}/{STAGES_DIR} ({', '.join(done) or 'none'}). "
            f"Resume with: {Path(cmd.split()[0]).name} {' '.join(cmd.split()[1:])}",
            highlight=False,
        )
        raise
    except BaseException:
        out.cleanup_scratch()
        raise
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)


def _run(recipe, opts: RunOptions, reporter: Reporter, out: Output, t_start: float) -> int:
    reporter.log(f"optimize-cli {__version__}: {recipe.name} "
                 f"({' → '.join(recipe.stage_types + [recipe.export.quantization])})")
    from . import data as data_mod
    from . import export, measure, models, report
    from .context import StageContext
    from .stages import STAGES
    from .tf import set_seed, versions

    seed = recipe.training.seed
    set_seed(seed)

    # ---- inputs
    loaded = models.load_model(recipe.model, trust_model=opts.trust_model)
    kmodel = loaded.keras_model
    if recipe.stages and kmodel is None:
        raise InputError(f"model: {recipe.model} is a SavedModel without a Keras model ({loaded.format}); "
                         "training stages need a Keras model — use a post-training recipe (stages: [])")
    splits = data_mod.load_splits(recipe.data, allow_code=opts.allow_code)
    label_split = splits.get("train") or splits.get("eval")
    label_shape = label_split.label_shape if label_split is not None else None
    cinfo = models.compile_info(kmodel, recipe.training, label_shape=label_shape) if kmodel is not None else None
    out_idx, out_name = 0, None
    if kmodel is not None:
        out_idx = data_mod.resolve_output(recipe.evaluation.output, kmodel.output_names, len(kmodel.outputs))
        out_name = kmodel.output_names[out_idx] if len(kmodel.outputs) > 1 else None
        classification = "crossentropy" in str(getattr(cinfo.loss, "name", cinfo.loss)).lower()
        for sp in splits.values():
            data_mod.check_against_model(sp, kmodel.input_shape, kmodel.output_shape, classification,
                                         output=recipe.evaluation.output, output_names=kmodel.output_names)
    metric = _metric_for(recipe, cinfo) if cinfo is not None else (recipe.evaluation.metric or "accuracy")
    ev = splits.get("eval")
    calib = splits.get("representative") or splits.get("train")
    rep = (data_mod.representative_sample(calib, recipe.data.representative_samples, seed)
           if calib is not None else None)
    sample = (ev or calib).first(1) if (ev or calib) is not None else None
    if sample is None:
        shape = [1] + [d or 1 for d in kmodel.input_shape[1:]]
        sample = np.zeros(shape, np.float32)

    def convert(model, quantization: str, name: str) -> bytes:
        ex = recipe.export
        in_t = ex.inference_input_type if quantization == recipe.export.quantization else None
        out_t = ex.inference_output_type if quantization == recipe.export.quantization else None
        return export.convert(model, quantization, rep, in_t, out_t, out.scratch(name))

    # ---- baseline: the input model as float32 TFLite, measured like the result
    with reporter.task("baseline: float32 TFLite"):
        base_tfl = convert(loaded if kmodel is None else kmodel, "none", "baseline")
        baseline = _measure_tflite(base_tfl, ev, metric, recipe.evaluation, "none", sample, out_name)
    reporter.log(f"baseline: {baseline['tflite_bytes']:,} B → {baseline['compressed_bytes']:,} B zipped"
                 + (f", {metric} {baseline['accuracy']:.4f}" if baseline["accuracy"] is not None else ""))
    ptq_baseline = None
    if recipe.stages and recipe.export.quantization == "int8":
        with reporter.task("baseline: int8 post-training quantization"):
            ptq_tfl = convert(kmodel, "int8", "ptq_baseline")
            ptq_baseline = _measure_tflite(ptq_tfl, ev, metric, recipe.evaluation, "int8", sample, out_name)

    density = None
    if kmodel is not None:
        base_stats = measure.keras_weight_stats(kmodel)
        dl = _density_layer(base_stats)
        if dl is not None:
            vals = _kernel_of(kmodel, dl)
            if vals is not None:
                density = {"layer": dl, "series": [{"label": "baseline", "values": vals}]}

    # ---- stages (resumable)
    manifest_path = out.stages / MANIFEST
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
    records: list[dict] = []
    model = kmodel
    done_before = 0
    if opts.resume:
        for i, st in enumerate(recipe.stages, start=1):
            d = out.stages / _stage_dirname(i, st.type)
            if not (d / "record.json").exists():
                break
            fp = manifest.get(str(i))
            if fp != _fingerprint(recipe, i):
                raise RecipeError(f"--resume: stage {i} ({st.type}) in {out.stages} was made from a different "
                                  "recipe, model or data; run with --force to start over")
            done_before = i
        if done_before:
            last = recipe.stages[done_before - 1]
            model = models.load_stage_model(out.stages / _stage_dirname(done_before, last.type) / "model", last.type)
            for i in range(1, done_before + 1):
                records.append(json.loads((out.stages / _stage_dirname(i, recipe.stages[i - 1].type) / "record.json").read_text()))
            reporter.log(f"resuming after stage {done_before} ({last.type})")
    # drop stale checkpoints after the resume point
    for p in out.stages.iterdir():
        if p.is_dir() and p.name[:2].isdigit() and int(p.name[:2]) > done_before:
            shutil.rmtree(p)

    train = splits.get("train")
    for i, params in enumerate(recipe.stages, start=1):
        if i <= done_before:
            continue
        stage_mod = sys.modules[STAGES[params.type].__module__]
        ctx = StageContext(
            train_dataset=lambda bs, _t=train: _t.dataset(bs, shuffle=True, seed=seed),
            train_samples=train.samples,
            training=recipe.training,
            compile_info=cinfo,
            previous=recipe.stage_types[: i - 1],
            reporter=reporter,
            workdir=out.scratch(f"stage{i}"),
            index=i,
        )
        t0 = time.monotonic()
        set_seed(seed + i)
        res = stage_mod.run(model, params, ctx)
        seconds = time.monotonic() - t0
        model = res.model
        stats = measure.keras_weight_stats(model)
        summ = measure.summary(stats)
        kacc = (float(_evaluate_keras(model, ev, metric, recipe.evaluation.top_k, out_idx, recipe.training.batch_size))
                if ev else None)
        rec = {
            "index": i, "type": params.type, "scheme": res.scheme or "", "seconds": round(seconds, 3),
            "epochs": res.details.get("epochs"), "learning_rate": res.details.get("learning_rate"),
            "keras_accuracy": kacc, "sparsity": float(summ["sparsity"]),
            "max_unique_weights": summ.get("max_unique_weights"),
            "skipped_layers": res.skipped_layers,
            "layers": [{"name": s["name"], "sparsity": float(s["sparsity"]), "unique_weights": int(s["unique_weights"]),
                        "max_unique_per_channel": int(s.get("max_unique_per_channel", s["unique_weights"]))}
                       for s in stats],
        }
        records.append(rec)
        sdir = out.stages / _stage_dirname(i, params.type)
        if sdir.exists():
            shutil.rmtree(sdir)
        models.save_stage_model(model, sdir / "model")
        (sdir / "record.json").write_text(json.dumps(rec, indent=2))
        manifest[str(i)] = _fingerprint(recipe, i)
        manifest_path.write_text(json.dumps(manifest, indent=2))
        for sk in res.skipped_layers:
            reporter.log(f"  {params.type}: skipped {sk['name']} ({sk.get('class', '')}): {sk.get('reason', '')}")
        reporter.log(f"stage {i} {params.type}: {res.scheme}; keras {metric} "
                     f"{'n/a' if kacc is None else f'{kacc:.4f}'}, sparsity {summ['sparsity']:.1%}, "
                     f"max unique {summ.get('max_unique_weights')}, {seconds:.1f}s")
    if density is not None and model is not kmodel:
        # series for every stage (from the checkpoints, so resumed runs plot the same)
        for i, params in enumerate(recipe.stages, start=1):
            m = model if i == len(recipe.stages) else models.load_stage_model(
                out.stages / _stage_dirname(i, params.type) / "model", params.type)
            vals = _kernel_of(m, density["layer"])
            if vals is not None:
                density["series"].append({"label": params.type, "values": vals})

    # ---- export and measure the result
    q = recipe.export.quantization
    if not recipe.stages and q == "none":
        tfl = base_tfl  # the baseline conversion is the result: don't convert twice
        result = dict(baseline)
    else:
        with reporter.task(f"export: {q} TFLite"):
            tfl = convert(model if model is not None else loaded, q, "result")
        result = _measure_tflite(tfl, ev, metric, recipe.evaluation, q, sample, out_name)
    (out.partial / "model.tflite").write_bytes(tfl)
    layers = [lay for lay in measure.tflite_weight_stats(tfl) if lay.get("role", "weight") == "weight"]
    higher = metric not in ("mae", "mse")
    drop = None
    if result["accuracy"] is not None and baseline["accuracy"] is not None:
        drop = (baseline["accuracy"] - result["accuracy"]) if higher else (result["accuracy"] - baseline["accuracy"])
    result.update({
        "path": "model.tflite",
        "quantization": q,
        "compression_ratio": baseline["compressed_bytes"] / result["compressed_bytes"],
        "accuracy_drop": drop,
        "speedup": baseline["latency_ms"] / result["latency_ms"] if result["latency_ms"] else None,
        "layers": [{"name": lay.get("layer") or lay["name"], "op": lay.get("op", ""), "dtype": lay["dtype"], "params": int(lay["params"]),
                    "sparsity": float(lay["sparsity"]), "unique_weights": int(lay["unique_weights"]),
                    "max_unique_per_channel": int(lay.get("max_unique_per_channel", lay["unique_weights"]))}
                   for lay in layers],
    })
    result = {k: result[k] for k in ("path", "quantization", "tflite_bytes", "compressed_bytes",
                                     "compression_saved_percent", "compression_ratio", "accuracy", "accuracy_drop",
                                     "latency_ms", "latency_p90_ms", "speedup", "threads", "layers")}
    checks = _checks(recipe, records, layers)
    for c in checks:
        if not c["passed"]:
            reporter.warn(c["message"])

    rep_dict = {
        "schema_version": 1,
        "tool": {"name": "optimize-cli", "version": __version__},
        "versions": versions(),
        "recipe": {"name": recipe.name, "path": str(recipe.source), "sha256": recipe.sha256},
        "model": {"path": str(recipe.model), "format": loaded.format},
        "metric": {"name": metric, "higher_is_better": higher, "eval_samples": ev.samples if ev else None},
        "baseline": baseline,
        "ptq_baseline": ptq_baseline,
        "stages": records,
        "result": result,
        "checks": checks,
    }
    gates = report.evaluate_gates(recipe.gates.model_dump(), rep_dict)
    rep_dict["gates"] = gates
    rep_dict["passed"] = all(g["passed"] for g in gates)
    (out.partial / "recipe.resolved.yaml").write_text(recipe.resolved_yaml())
    rep_dict["seconds_total"] = round(time.monotonic() - t_start, 3)
    report.write_reports(rep_dict, out.partial, densities=density)
    report.append_github_summary(rep_dict)

    if opts.as_json:
        print(json.dumps(report.json_summary(rep_dict), indent=2))
    else:
        print(report.summary_lines(rep_dict).replace("model.tflite", str(out.final / "model.tflite")))
    if not rep_dict["passed"]:
        failed = ", ".join(f"{g['name']} (limit {g['limit']}, got {g['value']})" for g in gates if not g["passed"])
        reporter.console.print(f"[bold red]gate missed:[/bold red] {failed}", highlight=False)
        return EXIT_GATE
    return EXIT_OK


__all__ = ["RunOptions", "run_recipe", "StageError"]
