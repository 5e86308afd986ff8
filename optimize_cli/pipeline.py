"""run(recipe): the only loop over stages — load, baseline, stages, export, measure, report, atomic output.

Output and resume (DESIGN.md, output layout):
- all work happens in a sibling `.DIR.partial`; DIR is replaced (rename) only when the run succeeded, so a
  failed, interrupted or killed run leaves DIR as it was;
- each finished stage leaves `stages/NN_<type>/{model,record.json}`; `record.json` is written last
  (atomically), so a stage folder without it is unfinished and never reused. `stages/manifest.json`
  records, per stage, what it was made from (model and training-data contents, data settings, training
  settings, the parameters of it and every stage before it, library versions) and what its record's
  accuracy was measured with (eval data, metric);
- `--resume` continues after the last finished stage of `.DIR.partial/stages` (an interrupted or failed
  run) or else of `DIR/stages` (a completed run), and refuses (exit 2) naming what changed when a
  finished stage was made from something else. Export, gates and evaluation settings do not invalidate
  stages (changed evaluation re-measures the reused stages' Keras accuracy);
- removal never follows a symbolic link: a link is unlinked, never its target removed.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shlex
import shutil
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from . import __version__
from .errors import EXIT_GATE, EXIT_OK, InputError, Interrupted, RecipeError, StageError
from .progress import Reporter

STAGES_DIR = "stages"
EVAL_BATCH = 256  # samples per interpreter / Keras call when measuring accuracy
MANIFEST = "manifest.json"
RECORD = "record.json"
WORK = ".work"
MANIFEST_FORMAT = 2


@dataclass
class RunOptions:
    output: Optional[Path] = None
    resume: bool = False
    force: bool = False
    quiet: bool = False
    as_json: bool = False
    trust_model: bool = False
    allow_code: bool = False  # python data sources may run (run --allow-code)
    # the command that was run, as a list without --output/--resume/--force (the CLI builds it from the
    # parsed options): the interruption message turns it into the exact command that resumes the run
    argv: Optional[list] = None


# ------------------------------------------------------------------------------------- hashing


def _hash_path(path: str | Path) -> str:
    """sha256 over a file's bytes, or over every file (relative name and bytes) under a directory."""
    h = hashlib.sha256()
    p = Path(path)
    files = [p] if p.is_file() else sorted(q for q in p.rglob("*") if q.is_file())
    for f in files:
        if p.is_dir():
            h.update(str(f.relative_to(p)).encode() + b"\0")
        with open(f, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _source_fingerprint(src) -> Optional[dict]:
    """A data source's settings (without where its files live) and the contents of the files it reads."""
    from .data import source_files

    if src is None:
        return None
    cfg = src.model_dump(mode="json")
    bases = [Path(b) for b in (getattr(src, "path", None), getattr(src, "data_dir", None)) if b]
    if src.type != "python":  # moving the files elsewhere changes nothing; their contents do
        cfg.pop("path", None)
        cfg.pop("data_dir", None)
    files = source_files(src)
    h = hashlib.sha256()
    for f in files:
        # inside a folder source the names matter (image_dir: the class); a file named directly is its bytes
        base = next((b for b in bases if b.is_dir() and f.is_relative_to(b)), None)
        if base is not None:
            h.update(str(f.relative_to(base)).encode() + b"\0")
        h.update(_hash_path(f).encode())
    return {"source": cfg, "files": h.hexdigest() if files else None}


def _environment() -> dict:
    from .tf import versions

    v = versions()
    return {"optimize_cli": __version__, "tensorflow": v.get("tensorflow"), "tf_keras": v.get("tf_keras"),
            "tfmot": v.get("tfmot")}


def _made_from(recipe) -> dict:
    """What every stage depends on, except the stage list: model and training-data contents, data and
    training settings, library versions. Evaluation, export and gates are not in it."""
    d = recipe.resolved_dict()
    data = {"train": _source_fingerprint(recipe.data.train)}
    if recipe.data.eval is not None and recipe.data.eval.type == "validation_split":
        data["validation_split"] = d["data"]["eval"]  # the held-out part is not trained on
    fp = {
        "environment": _environment(),
        "model": _hash_path(recipe.model),
        "data": data,
        "training": d["training"],
    }
    return json.loads(json.dumps(fp))


def _evaluated_with(recipe, metric: str) -> dict:
    """What a stage record's keras_accuracy depends on besides the stage's model."""
    ev = recipe.data.eval
    if ev is not None and ev.type == "validation_split":
        evfp = {"validation_split": ev.model_dump(mode="json"), "train": _source_fingerprint(recipe.data.train)}
    else:
        evfp = _source_fingerprint(ev)
    e = recipe.evaluation
    return json.loads(json.dumps({"eval": evfp, "metric": metric, "top_k": e.top_k, "output": e.output}))


def _show(v) -> str:
    text = json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v
    return text if len(text) <= 60 else text[:59] + "…"


def _diff(old, new, path: str = "") -> list[tuple[str, object, object]]:
    """(dotted path, old, new) for every leaf that differs; lists index as [i]."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in list(old) + [k for k in new if k not in old]:
            p = f"{path}.{k}" if path else str(k)
            out += _diff(old.get(k, "(absent)"), new.get(k, "(absent)"), p)
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            out += _diff(a, b, f"{path}[{i}]")
        return out
    return [] if old == new else [(path, old, new)]


def _what_changed(recipe, old: dict, new: dict) -> str:
    """One phrase per kind of change: the environment, the model, the data, the recipe's settings."""
    env, model, data, settings = [], [], [], []
    for path, a, b in _diff(old, new):
        if path.startswith("environment."):
            env.append(f"{path.split('.', 1)[1]} {a} → {b}")
        elif path == "model":
            model.append(f"{recipe.model} has different contents")
        elif path.startswith("data.") and path.endswith(".files"):
            split = path.split(".")[1]
            src = getattr(recipe.data, split, None)
            where = getattr(src, "path", None) or getattr(src, "data_dir", None) or ""
            data.append(f"data.{split} ({where}) has different contents" if where else
                        f"data.{split} has different contents")
        elif path.startswith("data."):
            shown = path.replace(".source.", ".")
            data.append(f"{shown}: {_show(a)} → {_show(b)}")
        elif path.startswith("stages[") or path.startswith("training."):
            settings.append(f"{path}: {_show(a)} → {_show(b)}")
        else:
            settings.append(f"{path}: {_show(a)} → {_show(b)}")
    parts = []
    if settings:
        parts.append("the recipe's stage or training parameters changed (" + ", ".join(settings[:4])
                     + (f", and {len(settings) - 4} more" if len(settings) > 4 else "") + ")")
    if model:
        parts.append("the model changed (" + ", ".join(model) + ")")
    if data:
        parts.append("the training data changed (" + ", ".join(data) + ")")
    if env:
        parts.append("the libraries changed (" + ", ".join(env) + ")")
    return "; ".join(parts) or "its fingerprint differs"


# ------------------------------------------------------------------------------------ output dir


def _remove(p: Path) -> None:
    """Remove a file, a symbolic link (never its target) or a directory tree (links inside are unlinked,
    not followed)."""
    if p.is_symlink() or (p.exists() and not p.is_dir()):
        p.unlink(missing_ok=True)
    elif p.is_dir():
        shutil.rmtree(p)


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _finished(stage_dir: Path) -> bool:
    """A stage folder that a run completed: real folders and files only (a link is never trusted)."""
    from .models import STAGE_KERAS as _STAGE_KERAS

    rec, model = stage_dir / RECORD, stage_dir / "model"
    saved = [f for f in (model / "saved_model.pb", model / _STAGE_KERAS) if f.is_file() and not f.is_symlink()]
    return (stage_dir.is_dir() and not stage_dir.is_symlink() and rec.is_file() and not rec.is_symlink()
            and model.is_dir() and not model.is_symlink() and bool(saved))


def _finished_stages(stages: Path) -> list[str]:
    if not stages.is_dir() or stages.is_symlink():
        return []
    return sorted(p.name for p in stages.iterdir() if p.name[:2].isdigit() and _finished(p))


def _os_reason(e: OSError) -> str:
    """'no space left on device (errno 28)': the cause of an OSError in words, one line."""
    if e.strerror:
        return f"{e.strerror[0].lower()}{e.strerror[1:].rstrip('.')} (errno {e.errno})"
    return " ".join(str(e).split()) or type(e).__name__


@contextlib.contextmanager
def _signals_deferred(reraise: bool = True):
    """Hold Ctrl-C / SIGTERM while a few renames or removals run; raise KeyboardInterrupt after them
    (`reraise`), or drop it (the run is complete by then)."""
    pending = []

    def hold(signum, frame):
        pending.append(signum)

    saved = {}
    for sig in (signal.SIGINT, getattr(signal, "SIGTERM", None)):
        if sig is None:
            continue
        try:
            saved[sig] = signal.signal(sig, hold)
        except (ValueError, OSError):  # not the main thread: nothing to defer
            pass
    try:
        yield
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)
    if pending and reraise:
        raise KeyboardInterrupt


class Output:
    """DIR is replaced only when the run succeeds; work happens in a sibling `.DIR.partial`."""

    def __init__(self, final: Path, force: bool, resume: bool, protect: tuple = ()):
        given = Path(final)
        final = Path(os.path.abspath(given))
        if final.is_symlink():
            if not final.is_dir():
                raise RecipeError(f"--output {given}: is a symbolic link to {os.readlink(final)}, which is not a "
                                  "directory")
            final = Path(os.path.realpath(final))  # the results go where the link points; the link stays
        if final.parent == final:
            raise RecipeError(f"--output {given}: cannot be the root directory")
        self.given = given
        self.final = final
        self.partial = final.parent / f".{final.name}.partial"
        self.old = final.parent / f".{final.name}.old"
        for p in protect:  # replacing DIR would delete them
            try:
                inside = Path(os.path.realpath(p)).is_relative_to(os.path.realpath(final))
            except (OSError, ValueError):
                inside = False
            if inside:
                raise RecipeError(f"--output {given}: contains {p}, an input of this run; replacing the output "
                                  "directory would delete it — choose another --output")
        try:
            # a run killed between the two renames of commit(): put the previous results back
            if not final.exists() and not final.is_symlink() and self.old.is_dir() and not self.old.is_symlink():
                os.replace(self.old, final)
        except OSError:
            pass
        if final.exists() and not final.is_dir():
            raise RecipeError(f"--output {given}: exists and is a file, not a directory")
        try:
            nonempty = final.is_dir() and any(final.iterdir())
        except OSError as e:
            raise RecipeError(f"--output {given}: cannot read it ({_os_reason(e)})") from None
        if nonempty and not (force or resume):
            raise RecipeError(
                f"--output {given}: already exists (from an earlier run); use --force to replace it or "
                "--resume to continue it"
            )
        kept = _finished_stages(self.partial / STAGES_DIR) if not self.partial.is_symlink() else []
        if kept and not (force or resume):
            raise RecipeError(
                f"--output {given}: an interrupted run left finished stages in {self.partial / STAGES_DIR} "
                f"({', '.join(kept)}); use --resume to continue it or --force to start over"
            )
        parent = final.parent
        if parent.exists() and not parent.is_dir():
            raise RecipeError(f"--output {given}: {parent} is a file, not a directory")
        self.copied = False  # --resume copied DIR/stages of a completed run into the partial directory
        self.saved = 0  # stages this run finished
        self.logs: list[Path] = []  # logs kept for an error message (keep_logs)
        try:
            parent.mkdir(parents=True, exist_ok=True)
            if self.partial.is_symlink() or (self.partial.exists() and not self.partial.is_dir()):
                self.partial.unlink()
            if self.partial.exists() and not resume:
                _remove(self.partial)
            self.partial.mkdir(exist_ok=True)
            _remove(self.partial / WORK)  # scratch of a killed run
            _remove(self.partial / (STAGES_DIR + ".copying"))
            probe = self.partial / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            what = e.filename if getattr(e, "filename", None) else final
            raise RecipeError(f"--output {given}: cannot write there ({_os_reason(e)}: {what})") from None
        self.stages = self.partial / STAGES_DIR
        self.resumed_from: Optional[Path] = None
        try:
            if resume:
                if self.stages.is_symlink() or (self.stages.exists() and not self.stages.is_dir()):
                    self.stages.unlink()
                if _finished_stages(self.stages):
                    self.resumed_from = self.stages
                elif _finished_stages(final / STAGES_DIR):  # a completed run: continue from its checkpoints
                    copying = self.partial / (STAGES_DIR + ".copying")  # renamed when complete
                    _remove(copying)
                    shutil.copytree(final / STAGES_DIR, copying, symlinks=True)
                    _remove(self.stages)
                    os.replace(copying, self.stages)
                    self.resumed_from = final / STAGES_DIR
                    self.copied = True
            self.stages.mkdir(exist_ok=True)
        except OSError as e:
            raise RecipeError(f"--output {given}: cannot prepare {self.stages} ({_os_reason(e)})") from None

    def commit(self) -> None:
        """Swap the finished partial directory into place (a Ctrl-C meanwhile is ignored: the run is
        complete). If the swap fails, the previous results are put back and the partial one is kept."""
        with _signals_deferred(reraise=False):
            moved = False
            try:
                if self.old.exists() or self.old.is_symlink():
                    _remove(self.old)
                if self.final.exists():
                    os.replace(self.final, self.old)
                    moved = True
                os.replace(self.partial, self.final)
            except OSError as e:
                if moved and not self.final.exists():
                    with contextlib.suppress(OSError):
                        os.replace(self.old, self.final)
                self.logs.append(self.partial)  # complete results: never discarded
                raise StageError(f"output: cannot move the results from {self.partial} into {self.final} "
                                 f"({_os_reason(e)}); they are complete in {self.partial}") from None
            try:
                _remove(self.old)
            except OSError:
                pass

    def scratch(self, name: str) -> Path:
        work = self.partial / WORK
        if work.is_symlink():
            work.unlink()
        p = work / name
        p.mkdir(parents=True, exist_ok=True)
        return p

    def cleanup_scratch(self) -> None:
        """Remove the scratch folder and stage folders that did not finish (no record.json)."""
        with contextlib.suppress(OSError):
            _remove(self.partial / WORK)
        if self.stages.is_dir() and not self.stages.is_symlink():
            for p in self.stages.iterdir():
                if p.name[:2].isdigit() and not _finished(p):
                    with contextlib.suppress(OSError):
                        _remove(p)
            for p in self.stages.glob("*.tmp"):
                with contextlib.suppress(OSError):
                    _remove(p)

    def finished(self) -> list[str]:
        return _finished_stages(self.stages)

    def keep_logs(self, error: StageError, work: Path) -> StageError:
        """The scratch folder goes when the run fails: move the logs an error message points to (the
        converter's) into the partial directory, keep that, and point the message there."""
        text = str(error)
        for log in sorted(work.glob("*.log")):
            kept = self.partial / f"{work.name}-{log.name}"
            try:
                os.replace(log, kept)
            except OSError:
                continue
            self.logs.append(kept)
            text = text.replace(str(log), str(kept))
        return StageError(text)

    def discard_if_useless(self) -> Optional[Path]:
        """After a failed or interrupted run: remove the partial directory when it holds nothing to resume
        from (no finished stage, or only copies of DIR/stages). Returns where finished stages are kept."""
        done = self.finished()
        if done and not (self.copied and self.saved == 0):
            return self.stages
        if self.logs:  # nothing to resume from, but a log the error message points to
            return None
        with contextlib.suppress(OSError):
            _remove(self.partial)
        return self.resumed_from if self.copied else None


# ------------------------------------------------------------------------------------ measuring


def _measure_tflite(tfl: bytes, ev, metric: str, ecfg, quantization: str, sample, output_name=None) -> dict:
    from . import measure

    sizes = measure.file_sizes(tfl)
    acc = None
    if ev is not None:
        acc = measure.evaluate_tflite_batches(tfl, ev.batches(EVAL_BATCH), metric, ecfg.top_k, ecfg.threads,
                                              output_name)
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


def _inputs_of(recipe) -> list[str]:
    """Files and folders the run reads: an output directory that holds one of them must not be replaced."""
    out = [str(recipe.source)] if recipe.source else []
    if recipe.model:
        out.append(str(recipe.model))
    for split in ("train", "eval", "representative"):
        src = getattr(recipe.data, split, None)
        for attr in ("path", "data_dir"):
            p = getattr(src, attr, None) if src is not None else None
            if p:
                out.append(str(p).split("*", 1)[0].split("?", 1)[0].split("[", 1)[0])
    return out


def resume_command(opts: RunOptions, out: Output) -> str:
    """The exact command that continues this run (one line, shell-quoted)."""
    args = list(opts.argv) if opts.argv else ["optimize-cli", "run", str(opts.output or "RECIPE")]
    return shlex.join(args + ["--output", str(out.given), "--resume"])


def run_recipe(recipe, opts: RunOptions) -> int:
    """Run a validated recipe; returns the exit code (0, or 5 when a gate was missed).

    Raises OptimizeError subclasses (exit 2/3/4) and, on Ctrl-C or SIGTERM, `Interrupted` whose message
    names the kept stages and the command that resumes the run."""
    t_start = time.monotonic()
    reporter = Reporter(quiet=opts.quiet)
    final = Path(opts.output) if opts.output else Path("runs") / recipe.name
    out = Output(final, force=opts.force, resume=opts.resume, protect=tuple(_inputs_of(recipe)))

    def _on_term(signum, frame):  # SIGTERM behaves like Ctrl-C: stop cleanly, keep finished stages
        raise KeyboardInterrupt

    try:
        old_term = signal.signal(signal.SIGTERM, _on_term) if hasattr(signal, "SIGTERM") else None
    except ValueError:  # not the main thread
        old_term = None
    try:
        code, announce = _run(recipe, opts, reporter, out, t_start)
        out.cleanup_scratch()
        out.commit()
    except KeyboardInterrupt:
        where, done = None, []
        try:
            with _signals_deferred():  # a second Ctrl-C must not cut the cleanup short
                out.cleanup_scratch()
                done = out.finished()
                where = out.discard_if_useless()
        except KeyboardInterrupt:
            pass
        kept = (f"finished stages kept in {where} ({', '.join(done)})" if where is not None and done else
                "no stage had finished")
        raise Interrupted(f"interrupted: {kept}; resume with: {resume_command(opts, out)}") from None
    except BaseException:
        out.cleanup_scratch()
        out.discard_if_useless()
        raise
    finally:
        if old_term is not None:
            signal.signal(signal.SIGTERM, old_term)
    announce()
    return code


def _save_stage(models, model, rec: dict, out: Output, i: int, typ: str, manifest: dict, entry: dict) -> None:
    """Write stage i's checkpoint: model, manifest entry, then record.json (atomically, last: it marks the
    stage finished). A write that fails (disk full, read-only, ...) is a StageError naming the stage; the
    half-written folder is removed."""
    sdir = out.stages / _stage_dirname(i, typ)
    try:
        _remove(sdir)
        models.save_stage_model(model, sdir / "model")
        manifest.setdefault("stages", {})[str(i)] = entry
        _write_atomic(out.stages / MANIFEST, json.dumps(manifest, indent=2))
        _write_atomic(sdir / RECORD, json.dumps(rec, indent=2))
        out.saved += 1
    except (OSError, StageError) as e:
        with contextlib.suppress(OSError):
            _remove(sdir)
        reason = _os_reason(e) if isinstance(e, OSError) else str(e)
        raise StageError(f"stage {i} ({typ}): cannot save its checkpoint in {sdir} ({reason}); the stages "
                         "finished before it are kept: fix that, then run again with --resume") from None


def _write_result(out: Output, write) -> None:
    """A write of the results into the partial directory; a failing one is a StageError (exit 4)."""
    try:
        write()
    except OSError as e:
        raise StageError(f"output: cannot write the results in {out.partial} ({_os_reason(e)}"
                         f"{': ' + str(e.filename) if getattr(e, 'filename', None) else ''}); {out.given} is "
                         "unchanged and finished stages are kept: fix that, then run again with --resume") from None


def _read_manifest(stages: Path) -> dict:
    try:
        m = json.loads((stages / MANIFEST).read_text())
    except (OSError, ValueError):
        return {}
    return m if isinstance(m, dict) and m.get("format") == MANIFEST_FORMAT else {}


def _check_skip_layers(recipe, kmodel) -> None:
    """Layers a recipe names exactly in skip_layers must exist: checked before the first stage trains."""
    from .stages.common import is_exact_name, iter_layers

    names = {layer.name for layer in iter_layers(kmodel)}
    shown = ", ".join(sorted(names)[:30]) + (" …" if len(names) > 30 else "")
    for i, st in enumerate(recipe.stages):
        for p in getattr(st, "skip_layers", None) or []:
            if is_exact_name(p) and p not in names:
                raise RecipeError(f"stages[{i}].skip_layers: the model has no layer named '{p}' (layers: {shown})")


def _plan_resume(recipe, out: Output, made_from: dict, reporter: Reporter) -> tuple[int, dict]:
    """How many stages of `out.stages` can be reused (RecipeError, exit 2, naming what changed when a
    finished stage was made from something else), and the manifest."""
    manifest = _read_manifest(out.stages)
    entries = manifest.get("stages", {})
    stages_d = json.loads(json.dumps(recipe.resolved_dict()["stages"]))
    done = 0
    for i, st in enumerate(recipe.stages, start=1):
        d = out.stages / _stage_dirname(i, st.type)
        if not _finished(d):
            break
        entry = entries.get(str(i))
        if not isinstance(entry, dict) or "made_from" not in entry:
            raise RecipeError(f"--resume: stage {i} ({st.type}) in {out.stages} has no fingerprint in {MANIFEST}, "
                              "so what it was made from cannot be checked; run with --force instead of --resume to "
                              "start over")
        want = {**made_from, "stages": stages_d[:i]}
        if entry["made_from"] != want:
            raise RecipeError(f"--resume: cannot continue {out.given}: since stage {i} ({st.type}) was made, "
                              f"{_what_changed(recipe, entry['made_from'], want)}; run with --force instead of "
                              "--resume to start over")
        done = i
    if not done:
        reporter.log("--resume: no finished stage to continue from; starting from the first stage")
    return done, manifest


def _run(recipe, opts: RunOptions, reporter: Reporter, out: Output, t_start: float) -> tuple:
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

    # ---- what the stages are made from; --resume decides here, before any conversion or training
    made_from, evaluated_with, done_before = None, None, 0
    manifest: dict = {"format": MANIFEST_FORMAT, "stages": {}}
    if recipe.stages:
        _check_skip_layers(recipe, kmodel)
        made_from = _made_from(recipe)
        evaluated_with = _evaluated_with(recipe, metric)
        if opts.resume:
            done_before, found = _plan_resume(recipe, out, made_from, reporter)
            if done_before:
                manifest = found
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
        work = out.scratch(name)
        try:
            return export.convert(model, quantization, rep, in_t, out_t, work)
        except StageError as e:
            err = out.keep_logs(e, work)
            if name != "result" and str(err).startswith("export:"):  # say which conversion failed
                err = StageError(f"{name.replace('_', ' ')}:{str(err)[len('export:'):]}")
            raise err from None

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
    records: list[dict] = []
    model = kmodel
    if done_before:
        last = recipe.stages[done_before - 1]
        model = models.load_stage_model(out.stages / _stage_dirname(done_before, last.type) / "model", last.type)
        for i in range(1, done_before + 1):
            st = recipe.stages[i - 1]
            sdir = out.stages / _stage_dirname(i, st.type)
            try:
                rec = json.loads((sdir / RECORD).read_text())
            except (OSError, ValueError) as e:
                raise RecipeError(f"--resume: cannot read {sdir / RECORD} ({e}); run with --force instead of "
                                  "--resume to start over") from None
            if manifest["stages"][str(i)].get("evaluated_with") != evaluated_with and ev is not None:
                # the evaluation changed (not what the stage was made from): measure the kept model again
                m = model if i == done_before else models.load_stage_model(sdir / "model", st.type)
                rec["keras_accuracy"] = float(measure.evaluate_keras_batches(
                    m, ev.batches(EVAL_BATCH), metric, recipe.evaluation.top_k, out_idx))
                manifest["stages"][str(i)]["evaluated_with"] = evaluated_with
                _write_result(out, lambda _p=sdir / RECORD, _r=rec: _write_atomic(_p, json.dumps(_r, indent=2)))
            records.append(rec)
        where = "" if out.resumed_from is None else f" kept in {out.resumed_from}"
        reporter.log(f"resuming after stage {done_before} ({last.type}){where}")
    # drop stale checkpoints after the resume point (links are unlinked, never followed)
    keep = {_stage_dirname(i, recipe.stages[i - 1].type) for i in range(1, done_before + 1)}

    def drop_stale() -> None:
        for p in list(out.stages.iterdir()):
            if (p.name[:2].isdigit() and p.name not in keep) or p.name.endswith(".tmp"):
                _remove(p)
        manifest["stages"] = {k: v for k, v in manifest.get("stages", {}).items()
                              if k.isdigit() and int(k) <= done_before}
        if recipe.stages:
            _write_atomic(out.stages / MANIFEST, json.dumps(manifest, indent=2))

    _write_result(out, drop_stale)

    train = splits.get("train")
    stage_kernels: dict[int, Optional[np.ndarray]] = {}
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
        if density is not None:  # the plotted kernel after this stage, taken now rather than reloaded later
            stage_kernels[i] = _kernel_of(model, density["layer"])
        stats = measure.keras_weight_stats(model)
        summ = measure.summary(stats)
        # distinct values per output channel (what survives per-channel int8 export), ignoring the layers
        # this or an earlier stage left alone, like the result's figure
        skipped = {sk["name"] for r in [*records, {"skipped_layers": res.skipped_layers}] for sk in r["skipped_layers"]}
        touched = measure.summary(stats, names=[s["name"] for s in stats if s["name"] not in skipped])
        kacc = (float(measure.evaluate_keras_batches(model, ev.batches(EVAL_BATCH), metric, recipe.evaluation.top_k,
                                                     out_idx)) if ev else None)
        rec = {
            "index": i, "type": params.type, "scheme": res.scheme or "", "seconds": round(seconds, 3),
            "epochs": res.details.get("epochs"), "learning_rate": res.details.get("learning_rate"),
            "keras_accuracy": kacc, "sparsity": float(summ["sparsity"]),
            "max_unique_weights": touched.get("max_unique_per_channel"),
            "skipped_layers": res.skipped_layers,
            "layers": [{"name": s["name"], "sparsity": float(s["sparsity"]), "unique_weights": int(s["unique_weights"]),
                        "max_unique_per_channel": int(s.get("max_unique_per_channel", s["unique_weights"]))}
                       for s in stats],
        }
        records.append(rec)
        _save_stage(models, model, rec, out, i, params.type, manifest,
                    {"made_from": {**made_from, "stages": json.loads(json.dumps(recipe.resolved_dict()["stages"][:i]))},
                     "evaluated_with": evaluated_with})
        for sk in res.skipped_layers:
            reporter.log(f"  {params.type}: skipped {sk['name']} ({sk.get('class', '')}): {sk.get('reason', '')}")
        reporter.log(f"stage {i} {params.type}: {res.scheme}; keras {metric} "
                     f"{'n/a' if kacc is None else f'{kacc:.4f}'}, sparsity {summ['sparsity']:.1%}, "
                     f"≤ {rec['max_unique_weights']} distinct values per channel, {seconds:.1f}s")
    if density is not None:
        for i, params in enumerate(recipe.stages, start=1):
            vals = stage_kernels.get(i)
            if vals is None and i <= done_before:  # a resumed stage: read its checkpoint once
                vals = _kernel_of(models.load_stage_model(out.stages / _stage_dirname(i, params.type) / "model",
                                                          params.type), density["layer"])
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
    _write_result(out, lambda: (out.partial / "model.tflite").write_bytes(tfl))
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
    _write_result(out, lambda: (out.partial / "recipe.resolved.yaml").write_text(recipe.resolved_yaml()))
    rep_dict["seconds_total"] = round(time.monotonic() - t_start, 3)
    _write_result(out, lambda: report.write_reports(rep_dict, out.partial, densities=density))

    def announce() -> None:
        """Once the results are in DIR: the summary on stdout, the CI summary, a missed gate."""
        report.append_github_summary(rep_dict)
        if opts.as_json:
            print(json.dumps(report.json_summary(rep_dict), indent=2))
        else:
            print(report.summary_lines(rep_dict).replace("model.tflite", str(out.given / "model.tflite")))
        if not rep_dict["passed"]:
            failed = ", ".join(f"{g['name']} (limit {g['limit']}, got {g['value']})" for g in gates
                               if not g["passed"])
            reporter.console.print(f"[bold red]gate missed:[/bold red] {failed}", highlight=False)

    return (EXIT_OK if rep_dict["passed"] else EXIT_GATE), announce


__all__ = ["RunOptions", "run_recipe", "StageError"]
