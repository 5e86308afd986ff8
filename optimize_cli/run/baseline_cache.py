"""The baselines (float32 TFLite and int8 PTQ of the input model) cached across runs: a second run of the
same model on the same data reuses their .tflite and figures instead of converting and measuring again.

Where: $OPTIMIZE_CLI_CACHE_DIR, else $XDG_CACHE_HOME/optimize-cli, else ~/.cache/optimize-cli; one
folder per conversion, `baselines/<key>/` holding `entry.json` (the key's parts, the figures, the
.tflite's sha256) and `model.tflite`, written into a temporary folder and renamed into place. The key
is the sha256 of everything the conversion and its measurement depend on: the model's and the data's
contents (not their mtimes), the calibration and latency samples, the export and evaluation settings,
the metric, the library versions and this machine (a latency measured elsewhere is never reused). Every
entry is marked and checked before use (run/cache_entry.py): a damaged, edited or malformed entry is
ignored with a warning (and removed), one another user could have written is ignored with a warning (and
left alone); beyond MAX_BYTES the least recently used entries go — only the cache's own, marked ones.
Concurrent runs (a search's workers) measure a missing baseline once: the first holds a lock on the
key while it measures, the others wait and then read its entry. `run --no-cache` neither reads nor
writes the cache; the hidden `run --cache-dir DIR` (RunOptions.cache_dir) uses the cache in DIR (search
--no-cache gives its trials one of the study's own)."""
from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from .. import __version__
from ..errors import InputError
from ..safe_files import read_bounded
from . import cache_entry
from .records import TfliteFigures

FORMAT = 2  # 2: entries carry the cache's marker and a content hash (run/cache_entry.py)
MAX_BYTES = 500 * 1024 * 1024  # the whole cache; the least recently used entries are evicted beyond it
ENTRY, TFLITE = cache_entry.ENTRY, cache_entry.TFLITE
#: the figures an entry holds (TfliteFigures without `targets` and the cache's own fields)
FIGURES = ("quantization", "tflite_bytes", "compressed_bytes", "compression_saved_percent", "accuracy",
           "latency_ms", "latency_p90_ms", "threads")

try:
    import fcntl
except ImportError:  # pragma: no cover - not on POSIX: no lock (two runs may both measure)
    fcntl = None  # type: ignore[assignment]


def cache_dir() -> Path:
    """$OPTIMIZE_CLI_CACHE_DIR, else $XDG_CACHE_HOME/optimize-cli, else ~/.cache/optimize-cli."""
    given = os.environ.get("OPTIMIZE_CLI_CACHE_DIR")
    if given:
        return Path(given).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "optimize-cli"


def host_identity() -> dict:
    """This machine, as far as a latency depends on it: host name, architecture, CPU model and count."""
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.lower().startswith("model name")), cpu)
    except OSError:
        pass
    return {"node": platform.node(), "machine": platform.machine(), "cpu": cpu, "cpus": os.cpu_count()}


def array_digest(value) -> Optional[str]:
    """sha256 over an array's dtype, shape and bytes (None for None)."""
    if value is None:
        return None
    a = np.ascontiguousarray(np.asarray(value))
    h = hashlib.sha256(f"{a.dtype.str}{a.shape}".encode())
    h.update(a.tobytes())
    return h.hexdigest()


def _environment() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    from ..tf import versions

    def _v(dist: str) -> Optional[str]:
        try:
            return version(dist)
        except PackageNotFoundError:
            return None

    return {"optimize_cli": __version__, **versions(), "keras": _v("keras"), "numpy": np.__version__}


def key_parts(run, quantization: str) -> dict:
    """What the conversion of run's input model to `quantization` and its measurement depend on."""
    from . import fingerprint

    recipe, inputs = run.recipe, run.inputs
    ex = recipe.export
    io_types = [ex.inference_input_type, ex.inference_output_type] if quantization == ex.quantization else None
    calibrated = quantization in ("int8", "int16x8")
    parts = {
        "format": FORMAT,
        "quantization": quantization,
        "io_types": io_types,
        "model": fingerprint.hash_path(recipe.model),
        "model_format": inputs.loaded.format,
        "keras_model": inputs.keras_model is not None,
        "calibration": array_digest(run.rep) if calibrated else None,
        "latency_sample": array_digest(run.sample),
        "eval": fingerprint.evaluated_with(recipe, inputs.metric),
        "output_name": inputs.output_name,
        "evaluation": recipe.evaluation.model_dump(mode="json"),
        "environment": _environment(),
        "host": host_identity(),
    }
    return json.loads(json.dumps(parts))  # as it reads back from entry.json


digest = cache_entry.key_digest


@dataclass
class Hit:
    figures: dict
    tflite: Optional[bytes]
    where: Path
    created: float


class BaselineCache:
    """The cache under `root`; `warn(source, message)` tells the user about a damaged entry."""

    def __init__(self, root: Path, warn: Callable[[str, str], None], max_bytes: int = MAX_BYTES):
        self.root, self.warn, self.max_bytes = Path(root), warn, max_bytes
        self.dir = self.root / "baselines"
        self._refused: Optional[bool] = None  # the cache folders are not this user's own (warned once)
        self._ignored: set[Path] = set()  # entries another user could have written (warned once each)

    def usable(self) -> bool:
        """The cache folders are this user's own and writable by no one else (else: warned once, unused)."""
        if self._refused is None:
            why = next((f"{p} {w}" for p in (self.root, self.dir) if (w := cache_entry.untrusted(p))), None)
            if why is not None:
                self.warn("cache", f"not using the baseline cache: {why}; measuring every baseline")
            self._refused = why is not None
        return not self._refused

    def get(self, key: str, parts: dict, problem=cache_entry.baseline_problem) -> Optional[Hit]:
        """The entry for `key`, or None: missing; untrusted (another user's, or writable by others: warned
        about, left alone); damaged, edited or of another schema (warned about, removed when ours)."""
        where = self.dir / key
        if not self.usable() or not where.is_dir():
            return None
        why = cache_entry.entry_untrusted(where)
        if why is not None:
            if where not in self._ignored:  # once per entry and run
                self._ignored.add(where)
                self.warn("cache", f"ignoring the baseline cache entry {where}: {why}; measuring again")
            return None
        try:
            doc = json.loads(read_bounded(where / ENTRY, cache_entry.MAX_ENTRY_BYTES, "cache entry"))
            figures = cache_entry.check(doc, parts, FORMAT, problem)
            tfl = None
            if doc["tflite_sha256"] is not None:
                tfl = read_bounded(where / TFLITE, self.max_bytes, "cached .tflite")
                if hashlib.sha256(tfl).hexdigest() != doc["tflite_sha256"]:
                    raise ValueError("its .tflite does not match its checksum")
            created = float(doc["created"])
        except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError, InputError) as e:
            self.warn("cache", f"ignoring the damaged baseline cache entry {where} ({e}); measuring again")
            if cache_entry.is_ours(where):
                shutil.rmtree(where, ignore_errors=True)
            return None
        try:
            os.utime(where / ENTRY)  # recently used: evicted last
        except OSError:
            pass
        return Hit(figures, tfl, where, created)

    def put(self, key: str, parts: dict, figures: dict, tfl: Optional[bytes] = None) -> Optional[Path]:
        """Store an entry (atomically: a marked temporary folder renamed into place); None when it cannot be
        written (a read-only or full disk is a warning, not a failed run) or its place holds a folder the
        cache did not write."""
        final = self.dir / key
        if not self.usable() or final in self._ignored:  # an entry warned about already is left as it is
            return None
        tmp = self.dir / f"{cache_entry.TMP_PREFIX}{key[:16]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        sha = None if tfl is None else hashlib.sha256(tfl).hexdigest()
        doc = {"format": FORMAT, "key": parts, "created": time.time(), "figures": figures, "tflite_sha256": sha,
               "content_sha256": cache_entry.content_hash(parts, figures, sha)}
        try:
            self._make_dirs()
            tmp.mkdir(mode=0o700)
            cache_entry.mark(tmp)
            if tfl is not None:
                cache_entry.write_private(tmp / TFLITE, tfl)
            cache_entry.write_private(tmp / ENTRY, json.dumps(doc, indent=1).encode())
            if final.exists() or final.is_symlink():  # another run stored it meanwhile (or it was damaged)
                if not cache_entry.is_ours(final):
                    raise OSError(f"{final} exists and was not written by the cache; it is left as it is")
                shutil.rmtree(final, ignore_errors=True)
            os.rename(tmp, final)
        except (OSError, TypeError, ValueError) as e:
            shutil.rmtree(tmp, ignore_errors=True)
            self.warn("cache", f"cannot write the baseline cache entry {final} ({getattr(e, 'strerror', None) or e})")
            return None
        self.evict()
        return final

    def _make_dirs(self) -> None:
        """The cache folder and baselines/, created readable and writable by this user only."""
        for d in (self.root, self.dir):
            if not d.is_dir():
                d.parent.mkdir(parents=True, exist_ok=True)
                d.mkdir(mode=0o700, exist_ok=True)

    def measured(self, parts: dict, make: Callable[[], tuple[dict, Optional[bytes]]],
                 keep: Callable[[dict], bool] = lambda figures: True,
                 problem=cache_entry.baseline_problem) -> tuple[dict, Optional[bytes], Optional[Hit]]:
        """(figures, .tflite, the hit or None): from the cache (figures that pass `problem`), else made by
        `make()` and stored (when `keep(figures)`) — once among concurrent runs (the others wait on the key's
        lock, then read it)."""
        key = digest(parts)
        hit = self.get(key, parts, problem)
        if hit is None:
            with self.locked(key):
                hit = self.get(key, parts, problem)  # another run may have measured it while this one waited
                if hit is None:
                    figures, tfl = make()
                    if keep(figures):
                        self.put(key, parts, figures, tfl)
                    return figures, tfl, None
        return hit.figures, hit.tflite, hit

    @contextmanager
    def locked(self, key: str):
        """Held while the baseline of `key` is measured, so that concurrent runs measure it once."""
        fd = None
        if fcntl is not None and self.usable():
            try:
                self._make_dirs()
                fd = os.open(self.dir / f".{key[:32]}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
                fcntl.flock(fd, fcntl.LOCK_EX)
            except OSError:
                if fd is not None:
                    os.close(fd)
                fd = None  # no lock: at worst two runs measure the same baseline
        try:
            yield
        finally:
            if fd is not None:
                os.close(fd)

    def evict(self) -> None:
        """Remove the least recently used entries beyond max_bytes, and temporary folders over a day old —
        only folders the cache wrote (marked, this user's): nothing else under baselines/ is touched."""
        entries = []
        now = time.time()
        try:
            children = list(self.dir.iterdir())
        except OSError:
            return
        for p in children:
            try:
                if p.name.startswith(cache_entry.TMP_PREFIX):
                    if now - p.lstat().st_mtime > 86400 and cache_entry.is_ours(p):
                        shutil.rmtree(p, ignore_errors=True)
                    continue
                if not cache_entry.is_entry(p):
                    continue
                size = sum(f.lstat().st_size for f in p.iterdir())
                used = (p / ENTRY).stat().st_mtime if (p / ENTRY).exists() else 0.0
            except OSError:
                continue
            entries.append((used, size, p))
        total = sum(size for _, size, _ in entries)
        for _, size, p in sorted(entries, key=lambda e: e[0]):
            if total <= self.max_bytes:
                break
            shutil.rmtree(p, ignore_errors=True)
            lock = self.dir / f".{p.name[:32]}.lock"
            if cache_entry.is_lock(lock):
                lock.unlink(missing_ok=True)  # at worst two runs measure it again
            total -= size


def open_cache(opts, warn) -> Optional[BaselineCache]:
    """The run's cache (RunOptions): the one in `cache_dir` (the hidden `run --cache-dir`, what search gives
    its trials), else the user's (`cache_dir()`); None with --no-cache."""
    if getattr(opts, "no_cache", False):
        return None
    given = getattr(opts, "cache_dir", None)
    return BaselineCache(Path(given).expanduser() if given else cache_dir(), warn)


def _reused(run, what: str, hit: Hit) -> None:
    """One short line per reused baseline; the first of a run says when and how to measure again (the entry's
    folder is report.json's `cached_from`)."""
    if getattr(run, "cache_said", False):
        run.reporter.log(f"{what}: reused from the cache")
        return
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(hit.created))
    run.reporter.log(f"{what}: reused from the cache ({when}; --no-cache measures again)")
    run.cache_said = True


def baseline(run, model, quantization: str, name: str) -> tuple[bytes, TfliteFigures]:
    """run's input model converted to `quantization` and measured — or both taken from the cache (said
    in the log and on the figures: `cached`, `cached_from`)."""
    cache = getattr(run, "cache", None)

    def make() -> tuple[dict, bytes]:
        tfl = run.convert(model, quantization, name)
        figures = run.measure(tfl, quantization)
        return {k: getattr(figures, k) for k in FIGURES}, tfl

    if cache is None:
        figures, tfl = make()
        return tfl, TfliteFigures(**figures)
    figures, tfl, hit = cache.measured(key_parts(run, quantization), make)
    result = TfliteFigures(**{k: figures[k] for k in FIGURES})
    if hit is not None:
        result.cached, result.cached_from = True, str(hit.where)
        _reused(run, name.replace("_", " "), hit)
    return tfl, result


def translation_problem(record: dict) -> Optional[str]:
    """Why a cached record is not a passed Keras 3 translation check's, or None."""
    ok = isinstance(record, dict) and record.get("from") == "keras3" and isinstance(record.get("samples"), int)
    return None if ok else "it is not a translation check's record"


def translation(cache: Optional[BaselineCache], model_path: str, verify: Callable, x, log: Callable[[str], None]) -> dict:
    """The record of a translated Keras 3 model's check against Keras 3 (models/keras3_check; about 10 s:
    Keras 3 runs in a subprocess): from the cache when the same model file was checked on the same samples
    with the same libraries before (then `cached: true`, and said in the log), else checked and stored.
    Only a passed check is stored: a failing one raises its InputError on every run."""
    if cache is None:
        return verify(x)
    from ..models.keras3_check import SAMPLES
    from . import fingerprint

    batch = x.first(SAMPLES) if hasattr(x, "first") else x
    batch = batch if isinstance(batch, (list, tuple)) else [batch]
    parts = json.loads(json.dumps({
        "format": FORMAT, "kind": "keras3_translation", "model": fingerprint.hash_path(model_path),
        "samples": [array_digest(b) for b in batch] if x is not None else None, "environment": _environment()}))
    record, _, hit = cache.measured(parts, lambda: (verify(x), None), problem=translation_problem)
    if hit is None:
        return record
    log("Keras 3 translation check: reused from the cache (the same file and samples passed it before)")
    return {**record, "cached": True}


def target_baseline(run, target, name: str, tfl: bytes, accuracy: bool, make: Callable[[], dict]) -> dict:
    """A deployment target's figures of a baseline .tflite (recipe `targets:`), from the cache when the same
    .tflite was measured on the same target, eval data and library versions before."""
    from importlib.metadata import PackageNotFoundError, version

    from .. import targets
    from . import fingerprint

    cache = getattr(run, "cache", None)
    if cache is None:
        return make()
    libs = {}
    for dist in targets.package_dists():
        try:
            libs[dist] = version(dist)
        except PackageNotFoundError:
            libs[dist] = None
    parts = json.loads(json.dumps({
        "format": FORMAT, "target": target.model_dump(mode="json"), "tflite": hashlib.sha256(tfl).hexdigest(),
        "eval": fingerprint.evaluated_with(run.recipe, run.inputs.metric) if accuracy else None,
        "environment": {**_environment(), **libs}, "host": host_identity()}))
    # a target that could not measure (its `error`) is measured again next time
    figures, _, hit = cache.measured(parts, lambda: (make(), None), keep=lambda f: not f.get("error"),
                                     problem=cache_entry.target_problem)
    if hit is not None:
        _reused(run, f"target {name}: baseline", hit)
    return dict(figures)
