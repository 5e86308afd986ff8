"""One baseline cache entry (run/baseline_cache.py): the marker that says the cache wrote a folder, the
trust and schema checks an entry passes before its figures are used, and the content hash that detects an
edited one. Never imports TensorFlow.

- Marker: every entry folder (and its temporary folder, before the rename) holds `.optimize-cli-cache`;
  the cache removes, replaces or evicts only folders that carry it (or an entry of the format before it,
  recognised by its exact shape), never anything else a user keeps under `baselines/`.
- Trust: the cache folders, the entry folder and its files must be owned by this user and writable by no
  one else (no group/other write bit); an entry that is not is ignored with a warning, never removed.
- Schema: entry.json is a JSON object of this format whose key is the one looked up, with a 64-hex .tflite
  checksum or none, a creation time, and figures that the caller's check accepts (`baseline_problem`).
- Hash: `content_sha256` is the sha256 of the key, the figures and the .tflite checksum (canonical JSON);
  an entry whose figures were edited no longer matches it.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
from pathlib import Path
from typing import Callable, Optional

from ..safe_files import read_bounded

MARKER = ".optimize-cli-cache"
MARK = {"tool": "optimize-cli", "kind": "baseline-cache-entry"}
ENTRY, TFLITE = "entry.json", "model.tflite"
TMP_PREFIX = ".tmp-"
#: the largest entry.json read (figures and key parts are a few KB)
MAX_ENTRY_BYTES = 1 << 20
_KEY = re.compile(r"[0-9a-f]{64}")
_SHA = re.compile(r"[0-9a-f]{64}")
_LOCK = re.compile(r"\.[0-9a-f]{32}\.lock")


class EntryProblem(ValueError):
    """Why an entry cannot be used (one phrase)."""


def key_digest(parts: dict) -> str:
    """The folder name of the entry for `parts`."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def content_hash(parts, figures, tflite_sha256) -> str:
    """sha256 over what an entry claims: its key, its figures and its .tflite checksum."""
    doc = {"key": parts, "figures": figures, "tflite_sha256": tflite_sha256}
    return hashlib.sha256(json.dumps(doc, sort_keys=True, allow_nan=True).encode()).hexdigest()


def write_private(path: Path, data: bytes) -> None:
    """A new file readable and writable by this user only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def mark(d: Path) -> None:
    """Mark `d` as a folder the cache wrote."""
    write_private(d / MARKER, json.dumps(MARK).encode())


def is_marked(d: Path) -> bool:
    """`d` holds the cache's marker (a real file, not a link, naming the tool)."""
    m = d / MARKER
    try:
        if not stat.S_ISREG(os.lstat(m).st_mode):
            return False
        doc = json.loads(read_bounded(m, 4096, "marker"))
    except (OSError, ValueError):
        return False
    return isinstance(doc, dict) and doc.get("tool") == MARK["tool"] and doc.get("kind") == MARK["kind"]


def is_legacy(d: Path) -> bool:
    """An entry written before the marker existed: a 64-hex folder holding only entry.json (and
    model.tflite), whose entry.json is of format 1 and whose key digests to the folder's name."""
    try:
        names = {p.name for p in d.iterdir()}
        if not _KEY.fullmatch(d.name) or ENTRY not in names or not names <= {ENTRY, TFLITE}:
            return False
        if any(not stat.S_ISREG(os.lstat(d / n).st_mode) for n in names):
            return False
        doc = json.loads(read_bounded(d / ENTRY, MAX_ENTRY_BYTES, "cache entry"))
    except (OSError, ValueError, RecursionError):
        return False
    return isinstance(doc, dict) and doc.get("format") == 1 and key_digest(doc.get("key")) == d.name


def untrusted(p: Path) -> Optional[str]:
    """Why `p` (a cache folder or an entry's file) cannot be trusted: a link, owned by another user, or
    writable by group or others; None when it is this user's own. A missing path is trusted (nothing to use)."""
    try:
        st = os.lstat(p)
    except FileNotFoundError:
        return None
    except OSError as e:
        return f"cannot be checked ({e.strerror or e})"
    if stat.S_ISLNK(st.st_mode):
        return "is a symbolic link"
    if hasattr(os, "getuid") and st.st_uid != os.getuid():
        return f"is owned by another user (uid {st.st_uid})"
    if st.st_mode & 0o022:
        return f"is writable by other users (mode {stat.S_IMODE(st.st_mode):o}; chmod go-w fixes that)"
    return None


def entry_untrusted(where: Path) -> Optional[str]:
    """untrusted() for an entry folder and every file in it: '<path> is owned by another user (uid 0)'."""
    for p in (where, where / MARKER, where / ENTRY, where / TFLITE):
        why = untrusted(p)
        if why is not None:
            return f"{p} {why}"
    return None


def is_ours(d: Path) -> bool:
    """A folder the cache may remove: a real folder of this user's, marked (or a legacy entry), whose files
    are this user's too (an entry another user could have written is left alone)."""
    try:
        if not stat.S_ISDIR(os.lstat(d).st_mode) or entry_untrusted(d) is not None:
            return False
    except OSError:
        return False
    return is_marked(d) or is_legacy(d)


def is_entry(d: Path) -> bool:
    """One of the cache's entries (not a temporary folder): a 64-hex name, ours."""
    return bool(_KEY.fullmatch(d.name)) and is_ours(d)


def is_lock(p: Path) -> bool:
    """One of the cache's lock files (`.<32 hex>.lock`, a regular file)."""
    try:
        return bool(_LOCK.fullmatch(p.name)) and stat.S_ISREG(os.lstat(p).st_mode)
    except OSError:
        return False


def _finite(v, low: float = -math.inf) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= low


def _count(v, low: int = 0) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= low


def baseline_problem(figures: dict) -> Optional[str]:
    """Why the figures of a baseline entry are not a measured .tflite's, or None."""
    checks = {
        "quantization": lambda v: isinstance(v, str) and bool(v),
        "tflite_bytes": lambda v: _count(v, 1), "compressed_bytes": lambda v: _count(v, 1),
        "compression_saved_percent": lambda v: _finite(v, -math.inf) and v <= 100,
        "accuracy": lambda v: v is None or _finite(v),
        "latency_ms": lambda v: _finite(v, 0), "latency_p90_ms": lambda v: _finite(v, 0),
        "threads": lambda v: _count(v, 1),
    }
    missing = [k for k in checks if k not in figures]
    if missing:
        return f"its figures lack {', '.join(missing)}"
    bad = [k for k, ok in checks.items() if not ok(figures[k])]
    return f"its figures have bad values for {', '.join(bad)}" if bad else None


def target_problem(figures: dict) -> Optional[str]:
    """Why the figures of a target entry are not a target's measurement, or None."""
    if not figures:
        return "it has no figures"
    if figures.get("error"):
        return "it holds a failed measurement"
    return None


def check(doc, parts: dict, fmt: int, figures_problem: Callable[[dict], Optional[str]]) -> dict:
    """The figures of entry.json's `doc`, after the schema and the content hash; EntryProblem otherwise."""
    if not isinstance(doc, dict):
        raise EntryProblem("entry.json is not a JSON object")
    if doc.get("format") != fmt:
        raise EntryProblem(f"it is of format {doc.get('format')!r}, not {fmt}")
    if doc.get("key") != parts:
        raise EntryProblem("its key does not match")
    figures, sha, created = doc.get("figures"), doc.get("tflite_sha256"), doc.get("created")
    if not isinstance(figures, dict):
        raise EntryProblem("it has no figures")
    if sha is not None and not (isinstance(sha, str) and _SHA.fullmatch(sha)):
        raise EntryProblem("its .tflite checksum is not a sha256")
    if not _finite(created, 0):
        raise EntryProblem("its creation time is not a time")
    if doc.get("content_sha256") != content_hash(parts, figures, sha):
        raise EntryProblem("its content does not match its content_sha256 (edited after it was written)")
    why = figures_problem(figures)
    if why is not None:
        raise EntryProblem(why)
    return figures
