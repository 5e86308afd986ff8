"""The output directory, replaced atomically (DESIGN.md, output layout).

- all work happens in a sibling `.DIR.partial`; DIR is replaced (rename) only when the run succeeded, so a
  failed, interrupted or killed run leaves DIR as it was;
- each finished stage leaves `stages/NN_<type>/{model,record.json}`; `record.json` is written last
  (atomically), so a stage folder without it is unfinished and never reused;
- removal never follows a symbolic link: a link is unlinked, never its target removed;
- every run directory holds a marker, `.optimize-cli-run` (written into `.DIR.partial` first, so DIR has it
  once committed): `--force`/`--resume` replace or continue only an empty directory or one with the
  marker, and the siblings `.DIR.partial`/`.DIR.old` are touched only when they carry it too;
- one run at a time: a lock file `.DIR.lock` (run/lock.py) is held for the whole run.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Callable, Optional

from .. import __version__
from ..errors import RecipeError, StageError
from ..interrupt import restore_handlers, set_handlers
from .lock import OutputLock

STAGES_DIR = "stages"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 2
RECORD = "record.json"
WORK = ".work"
MARKER = ".optimize-cli-run"  # in every run directory: what --force may replace and --resume continue
NAME_MAX = 255  # bytes in one file name (Linux, macOS)


def write_marker(d: Path, run_id: str) -> None:
    """Mark `d` as a run directory of optimize-cli."""
    write_atomic(d / MARKER, json.dumps({"tool": "optimize-cli", "version": __version__, "run_id": run_id,
                                         "started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}, indent=2))


def is_marked(d: Path) -> bool:
    """`d` holds optimize-cli's marker (a real file, not a link, naming the tool)."""
    return has_tool_marker(d / MARKER)


def has_tool_marker(m: Path) -> bool:
    """`m` is a marker optimize-cli wrote: a regular file (not a link) whose JSON names the tool."""
    try:
        if m.is_symlink() or not m.is_file():
            return False
        with open(m, "rb") as fh:
            doc = json.loads(fh.read(4096))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("tool") == "optimize-cli"


def is_ours(d: Path) -> bool:
    """A real directory that an optimize-cli run may replace or remove: empty, or marked."""
    try:
        return d.is_dir() and not d.is_symlink() and (is_marked(d) or not any(d.iterdir()))
    except OSError:
        return False


def sibling(final: Path, suffix: str) -> Path:
    """`.NAME.suffix` beside DIR; for a NAME too long for that, a shortened name made unique by a hash."""
    name = f".{final.name}.{suffix}"
    if len(os.fsencode(name)) > NAME_MAX:
        prefix = final.name
        while len(os.fsencode(prefix)) > 200:
            prefix = prefix[:-1]
        digest = hashlib.sha256(os.fsencode(final.name)).hexdigest()[:12]
        name = f".{prefix}~{digest}.{suffix}"
    return final.parent / name


def stage_dirname(index: int, typ: str) -> str:
    return f"{index:02d}_{typ}"


def remove(p: Path) -> None:
    """Remove a file, a symbolic link (never its target) or a directory tree (links inside are unlinked,
    not followed)."""
    if p.is_symlink() or (p.exists() and not p.is_dir()):
        p.unlink(missing_ok=True)
    elif p.is_dir():
        shutil.rmtree(p)


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def finished(stage_dir: Path) -> bool:
    """A stage folder that a run completed: real folders and files only (a link is never trusted)."""
    from ..models import SAVED_MODEL_FILES

    rec, model = stage_dir / RECORD, stage_dir / "model"
    saved = [f for f in (model / name for name in SAVED_MODEL_FILES) if f.is_file() and not f.is_symlink()]
    return (stage_dir.is_dir() and not stage_dir.is_symlink() and rec.is_file() and not rec.is_symlink()
            and model.is_dir() and not model.is_symlink() and bool(saved))


def finished_stages(stages: Path) -> list[str]:
    if not stages.is_dir() or stages.is_symlink():
        return []
    return sorted(p.name for p in stages.iterdir() if p.name[:2].isdigit() and finished(p))


def os_reason(e: OSError) -> str:
    """'no space left on device (errno 28)': the cause of an OSError in words, one line."""
    if e.strerror:
        return f"{e.strerror[0].lower()}{e.strerror[1:].rstrip('.')} (errno {e.errno})"
    return " ".join(str(e).split()) or type(e).__name__


@contextlib.contextmanager
def signals_deferred(reraise: bool = True):
    """Hold Ctrl-C / SIGTERM while a few renames or removals run; raise KeyboardInterrupt after them
    (`reraise`), or drop it (the run is complete by then)."""
    pending = []

    def hold(signum, frame):
        pending.append(signum)

    saved = set_handlers(hold)  # (not the main thread: nothing to defer)
    try:
        yield
    finally:
        restore_handlers(saved)
    if pending and reraise:
        raise KeyboardInterrupt


def _real_output(given: Path) -> Path:
    """The absolute directory the results go to (through a link to a directory; never the root)."""
    final = Path(os.path.abspath(given))
    if len(os.fsencode(final.name)) > NAME_MAX:
        raise RecipeError(f"--output {given}: the name is too long ({len(os.fsencode(final.name))} bytes; a file "
                          f"name has at most {NAME_MAX})")
    if final.is_symlink():
        if not final.is_dir():
            raise RecipeError(f"--output {given}: is a symbolic link to {os.readlink(final)}, which is not a "
                              "directory")
        final = Path(os.path.realpath(final))  # the results go where the link points; the link stays
    if final.parent == final:
        raise RecipeError(f"--output {given}: cannot be the root directory")
    return final


class RunDir:
    """DIR is replaced only when the run succeeds; work happens in a sibling `.DIR.partial`.

    `protect`: the run's inputs, which DIR must not contain (replacing it would delete them); `read`: the
    folders it reads (model, data), which DIR must not be inside. The lock is held from here until
    `release()`."""

    def __init__(self, final: Path, force: bool, resume: bool, protect: tuple = (), read: tuple = ()):
        self.given = Path(final)
        self.final = _real_output(self.given)
        self.partial = sibling(self.final, "partial")
        self.old = sibling(self.final, "old")
        self.run_id = uuid.uuid4().hex
        self.copied = False  # --resume copied DIR/stages of a completed run into the partial directory
        self.saved = 0  # stages this run finished
        self.logs: list[Path] = []  # logs kept for an error message (keep_logs)
        self.stages = self.partial / STAGES_DIR
        self.resumed_from: Optional[Path] = None
        self._lock: Optional[OutputLock] = None
        self._refuse_inputs_inside(protect)
        self._refuse_output_inside(read)
        parent = self.final.parent
        if parent.exists() and not parent.is_dir():
            raise RecipeError(f"--output {self.given}: {parent} is a file, not a directory")
        self._take_lock()
        try:
            self._refuse_foreign_siblings()
            self._restore_interrupted_commit()
            self._refuse_earlier_results(force, resume)
            self._prepare_partial(resume)
            self._prepare_stages(resume)
        except BaseException:
            self.release()
            raise

    # ---- the checks and preparation of __init__, in order
    def _refuse_inputs_inside(self, protect: tuple) -> None:
        for p in protect:  # replacing DIR would delete them
            try:
                inside = Path(os.path.realpath(p)).is_relative_to(os.path.realpath(self.final))
            except (OSError, ValueError):
                inside = False
            if inside:
                raise RecipeError(f"--output {self.given}: contains {p}, an input of this run; replacing the "
                                  "output directory would delete it — choose another --output")

    def _refuse_output_inside(self, read: tuple) -> None:
        """An output inside the model directory or a data folder (`read`) would write into an input."""
        for p in read:
            try:
                real = Path(os.path.realpath(p))
                inside = real.is_dir() and Path(os.path.realpath(self.final.parent)).is_relative_to(real)
            except (OSError, ValueError):
                inside = False
            if inside:
                raise RecipeError(f"--output {self.given}: is inside {p}, an input of this run; the results "
                                  "would be written into it — choose an --output outside it")

    def _take_lock(self) -> None:
        try:
            self.final.parent.mkdir(parents=True, exist_ok=True)
            self._lock = OutputLock(sibling(self.final, "lock"), self.given, self.run_id)
        except OSError as e:
            what = e.filename if getattr(e, "filename", None) else self.final
            raise RecipeError(f"--output {self.given}: cannot write there ({os_reason(e)}: {what})") from None

    def release(self) -> None:
        """Let go of the lock on the output directory (at the end of the run)."""
        if self._lock is not None:
            self._lock.release()
            self._lock = None

    def _refuse_foreign_siblings(self) -> None:
        """`.DIR.partial` and `.DIR.old` are removed or renamed only when a run made them (marked, or
        empty); a link there is only ever unlinked."""
        for p in (self.partial, self.old):
            if (p.exists() or p.is_symlink()) and not p.is_symlink() and not is_ours(p):
                raise RecipeError(f"--output {self.given}: {p} exists and was not made by optimize-cli (no "
                                  f"{MARKER} in it), and a run would replace it; move it away or choose "
                                  "another --output")

    def _restore_interrupted_commit(self) -> None:
        """A run killed between the two renames of commit(): put the previous results back."""
        final, old = self.final, self.old
        try:
            if not final.exists() and not final.is_symlink() and old.is_dir() and not old.is_symlink():
                os.replace(old, final)
        except OSError:
            pass

    def _refuse_earlier_results(self, force: bool, resume: bool) -> None:
        given, final = self.given, self.final
        if final.exists() and not final.is_dir():
            raise RecipeError(f"--output {given}: exists and is a file, not a directory")
        try:
            nonempty = final.is_dir() and any(final.iterdir())
        except OSError as e:
            raise RecipeError(f"--output {given}: cannot read it ({os_reason(e)})") from None
        if nonempty and not is_marked(final):
            why = ("--force replaces" if force else "--resume continues" if resume else "a run replaces") + \
                " only a directory that optimize-cli wrote"
            raise RecipeError(f"--output {given}: already exists and is not an optimize-cli output directory (it "
                              f"holds files but no {MARKER}); {why} — choose a new or empty directory")
        if nonempty and not (force or resume):
            raise RecipeError(
                f"--output {given}: already exists (from an earlier run); use --force to replace it or "
                "--resume to continue it"
            )
        kept = finished_stages(self.partial / STAGES_DIR) if not self.partial.is_symlink() else []
        if kept and not (force or resume):
            raise RecipeError(
                f"--output {given}: an interrupted run left finished stages in {self.partial / STAGES_DIR} "
                f"({', '.join(kept)}); use --resume to continue it or --force to start over"
            )

    def _prepare_partial(self, resume: bool) -> None:
        partial = self.partial
        try:
            self.final.parent.mkdir(parents=True, exist_ok=True)
            if partial.is_symlink() or (partial.exists() and not partial.is_dir()):
                partial.unlink()
            if partial.exists() and not resume:
                remove(partial)
            partial.mkdir(exist_ok=True)
            write_marker(partial, self.run_id)
            remove(partial / WORK)  # scratch of a killed run
            remove(partial / (STAGES_DIR + ".copying"))
            probe = partial / ".write-test"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as e:
            what = e.filename if getattr(e, "filename", None) else self.final
            raise RecipeError(f"--output {self.given}: cannot write there ({os_reason(e)}: {what})") from None

    def _prepare_stages(self, resume: bool) -> None:
        """The partial directory's stages/ (with --resume: kept, or copied from a completed DIR)."""
        try:
            if resume:
                if self.stages.is_symlink() or (self.stages.exists() and not self.stages.is_dir()):
                    self.stages.unlink()
                if finished_stages(self.stages):
                    self.resumed_from = self.stages
                elif finished_stages(self.final / STAGES_DIR):  # a completed run: continue from its checkpoints
                    copying = self.partial / (STAGES_DIR + ".copying")  # renamed when complete
                    remove(copying)
                    shutil.copytree(self.final / STAGES_DIR, copying, symlinks=True)
                    remove(self.stages)
                    os.replace(copying, self.stages)
                    self.resumed_from = self.final / STAGES_DIR
                    self.copied = True
            self.stages.mkdir(exist_ok=True)
        except OSError as e:
            raise RecipeError(f"--output {self.given}: cannot prepare {self.stages} ({os_reason(e)})") from None

    # ---- during and after the run
    def commit(self) -> None:
        """Swap the finished partial directory into place (a Ctrl-C meanwhile is ignored: the run is
        complete). If the swap fails, the previous results are put back and the partial one is kept."""
        with signals_deferred(reraise=False):
            moved = False
            try:
                if self.old.exists() or self.old.is_symlink():
                    remove(self.old)
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
                                 f"({os_reason(e)}); they are complete in {self.partial}") from None
            with contextlib.suppress(OSError):
                remove(self.old)

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
            remove(self.partial / WORK)
        if self.stages.is_dir() and not self.stages.is_symlink():
            for p in self.stages.iterdir():
                if p.name[:2].isdigit() and not finished(p):
                    with contextlib.suppress(OSError):
                        remove(p)
            for p in self.stages.glob("*.tmp"):
                with contextlib.suppress(OSError):
                    remove(p)

    def finished(self) -> list[str]:
        return finished_stages(self.stages)

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
            remove(self.partial)
        return self.resumed_from if self.copied else None

    def write_result(self, write: Callable[[], object]) -> None:
        """A write of the results into the partial directory; a failing one is a StageError (exit 4)."""
        try:
            write()
        except OSError as e:
            raise StageError(f"output: cannot write the results in {self.partial} ({os_reason(e)}"
                             f"{': ' + str(e.filename) if getattr(e, 'filename', None) else ''}); {self.given} is "
                             "unchanged and finished stages are kept: fix that, then run again with --resume"
                             ) from None

    def write_manifest(self, manifest: dict) -> None:
        write_atomic(self.stages / MANIFEST, json.dumps(manifest, indent=2))

    def save_stage(self, model, record: dict, i: int, typ: str, manifest: dict, entry: dict) -> None:
        """Write stage i's checkpoint: model, manifest entry, then record.json (atomically, last: it marks
        the stage finished). A write that fails (disk full, read-only, ...) is a StageError naming the
        stage; the half-written folder is removed."""
        from .. import models

        sdir = self.stages / stage_dirname(i, typ)
        try:
            remove(sdir)
            models.save_stage_model(model, sdir / "model")
            manifest.setdefault("stages", {})[str(i)] = entry
            self.write_manifest(manifest)
            write_atomic(sdir / RECORD, json.dumps(record, indent=2))
            self.saved += 1
        except (OSError, StageError) as e:
            with contextlib.suppress(OSError):
                remove(sdir)
            reason = os_reason(e) if isinstance(e, OSError) else str(e)
            raise StageError(f"stage {i} ({typ}): cannot save its checkpoint in {sdir} ({reason}); the stages "
                             "finished before it are kept: fix that, then run again with --resume") from None

    def drop_stale(self, keep: set[str]) -> None:
        """Remove stage folders not in `keep` and half-written files (links are unlinked, never followed)."""
        for p in list(self.stages.iterdir()):
            if (p.name[:2].isdigit() and p.name not in keep) or p.name.endswith(".tmp"):
                remove(p)
