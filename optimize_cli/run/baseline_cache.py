"""The baselines (float32 TFLite and int8 PTQ of the input model) cached across runs: a second run of the
same model on the same data reuses their .tflite and figures instead of converting and measuring again.

Where: $OPTIMIZE_CLI_CACHE_DIR, else $XDG_CACHE_HOME/optimize-cli, else ~/.cache/optimize-cli; one
folder per conversion, `baselines/<key>/` holding `entry.json` (the key's parts, the figures, the
.tflite's sha256) and `model.tflite`, written into a temporary folder and renamed into place. The key
is the sha256 of everything the conversion and its measurement depend on: the model's and the data's
contents (not their mtimes), the calibration and latency samples, the export and evaluation settings,
the metric, the library versions and this machine (a latency measured elsewhere is never reused). A
damaged entry is ignored with a warning and removed; beyond MAX_BYTES the least recently used entries
go. Concurrent runs (a search's workers) measure a missing baseline once: the first holds a lock on the
key while it measures, the others wait and then read its entry. `run --no-cache` neither reads nor
writes the cache."""
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
from .records import TfliteFigures

FORMAT = 1
MAX_BYTES = 500 * 1024 * 1024  # the whole cache; the least recently used entries are evicted beyond it
ENTRY, TFLITE = "entry.json", "model.tflite"
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


def digest(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


@dataclass
class Hit:
    tflite: bytes
    figures: TfliteFigures
    where: Path
    created: float


class BaselineCache:
    """The cache under `root`; `warn(source, message)` tells the user about a damaged entry."""

    def __init__(self, root: Path, warn: Callable[[str, str], None], max_bytes: int = MAX_BYTES):
        self.root, self.warn, self.max_bytes = Path(root), warn, max_bytes
        self.dir = self.root / "baselines"

    def get(self, key: str, parts: dict) -> Optional[Hit]:
        """The entry for `key`, or None (missing, or damaged: warned about and removed)."""
        where = self.dir / key
        if not where.is_dir():
            return None
        try:
            doc = json.loads((where / ENTRY).read_text(encoding="utf-8"))
            tfl = (where / TFLITE).read_bytes()
            if doc.get("key") != parts:
                raise ValueError("its key does not match")
            if hashlib.sha256(tfl).hexdigest() != doc.get("tflite_sha256"):
                raise ValueError("its .tflite does not match its checksum")
            figures = TfliteFigures(**{k: doc["figures"][k] for k in FIGURES})
            created = float(doc.get("created", 0.0))
        except (OSError, ValueError, TypeError, KeyError, AttributeError) as e:
            self.warn("cache", f"ignoring the damaged baseline cache entry {where} ({e}); measuring again")
            shutil.rmtree(where, ignore_errors=True)
            return None
        try:
            os.utime(where / ENTRY)  # recently used: evicted last
        except OSError:
            pass
        return Hit(tfl, figures, where, created)

    def put(self, key: str, parts: dict, tfl: bytes, figures: TfliteFigures) -> Optional[Path]:
        """Store an entry (atomically: a temporary folder renamed into place); None when it cannot be
        written (a read-only or full disk is a warning, not a failed run)."""
        final = self.dir / key
        tmp = self.dir / f".tmp-{key[:16]}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        doc = {"format": FORMAT, "key": parts, "created": time.time(), "tflite_sha256": hashlib.sha256(tfl).hexdigest(),
               "figures": {k: getattr(figures, k) for k in FIGURES}}
        try:
            tmp.mkdir(parents=True)
            (tmp / TFLITE).write_bytes(tfl)
            (tmp / ENTRY).write_text(json.dumps(doc, indent=1), encoding="utf-8")
            if final.exists():  # another run stored it meanwhile (or it was damaged): ours replaces it
                shutil.rmtree(final, ignore_errors=True)
            os.rename(tmp, final)
        except OSError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            self.warn("cache", f"cannot write the baseline cache entry {final} ({e.strerror or e})")
            return None
        self.evict()
        return final

    @contextmanager
    def locked(self, key: str):
        """Held while the baseline of `key` is measured, so that concurrent runs measure it once."""
        fd = None
        if fcntl is not None:
            try:
                self.dir.mkdir(parents=True, exist_ok=True)
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
        """Remove the least recently used entries beyond max_bytes, and temporary folders over a day old."""
        entries = []
        now = time.time()
        try:
            children = list(self.dir.iterdir())
        except OSError:
            return
        for p in children:
            try:
                if not p.is_dir():
                    continue
                if p.name.startswith(".tmp-"):
                    if now - p.stat().st_mtime > 86400:
                        shutil.rmtree(p, ignore_errors=True)
                    continue
                size = sum(f.stat().st_size for f in p.iterdir())
                used = (p / ENTRY).stat().st_mtime if (p / ENTRY).exists() else 0.0
            except OSError:
                continue
            entries.append((used, size, p))
        total = sum(size for _, size, _ in entries)
        for _, size, p in sorted(entries, key=lambda e: e[0]):
            if total <= self.max_bytes:
                break
            shutil.rmtree(p, ignore_errors=True)
            total -= size


def open_cache(no_cache: bool, warn) -> Optional[BaselineCache]:
    """The user's cache, or None with --no-cache."""
    return None if no_cache else BaselineCache(cache_dir(), warn)


def baseline(run, model, quantization: str, name: str) -> tuple[bytes, TfliteFigures]:
    """run's input model converted to `quantization` and measured — or both taken from the cache (said
    in the log and on the figures: `cached`, `cached_from`)."""
    cache = getattr(run, "cache", None)

    def make() -> tuple[bytes, TfliteFigures]:
        tfl = run.convert(model, quantization, name)
        return tfl, run.measure(tfl, quantization)

    if cache is None:
        return make()
    parts = key_parts(run, quantization)
    key = digest(parts)
    hit = cache.get(key, parts)
    if hit is None:
        with cache.locked(key):
            hit = cache.get(key, parts)  # another run may have measured it while this one waited
            if hit is None:
                tfl, figures = make()
                cache.put(key, parts, tfl, figures)
                return tfl, figures
    hit.figures.cached, hit.figures.cached_from = True, str(hit.where)
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(hit.created))
    run.reporter.log(f"{name.replace('_', ' ')}: reused from the cache (measured {when} on this machine; "
                     f"{hit.where}; --no-cache measures it again)")
    return hit.tflite, hit.figures
