"""Cache entries are the cache's own and checked before use (issue 22): eviction and replacement touch only
marked entries, never a user's folder under baselines/; an entry that fails its schema or its content hash,
or that another user could have written, is a warning and a miss (a fresh measurement), never an error."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from optimize_cli.run import cache_entry
from optimize_cli.run.baseline_cache import BaselineCache
from optimize_cli.run.records import TfliteFigures


def _figures(n: int) -> dict:
    return TfliteFigures("none", n, n, 0.0, None, 1.0, 1.0, 1).dump()


def _cache(root: Path, max_bytes: int = 10**9):
    warned: list[str] = []
    return BaselineCache(root, lambda s, m: warned.append(m), max_bytes=max_bytes), warned


def _tree(d: Path) -> dict:
    return {str(p.relative_to(d)): (p.read_bytes() if p.is_file() else None) for p in sorted(d.rglob("*"))}


def _user_folders(base: Path) -> dict:
    """A user's own folders under baselines/: one named like an entry, one not, a file and a link."""
    base.mkdir(parents=True, exist_ok=True)
    (base / "my-models").mkdir()
    (base / "my-models" / "big.bin").write_bytes(b"\1" * 20000)
    (base / ("d" * 64)).mkdir()
    (base / ("d" * 64) / "notes.txt").write_text("mine")
    (base / ".tmp-mine").mkdir()
    (base / "readme.txt").write_text("keep")
    (base / ("e" * 64)).symlink_to(base / "my-models")
    os.utime(base / ".tmp-mine", (1, 1))
    return _tree(base)


def test_cache_entry_eviction_removes_only_marked_entries(tmp_path):
    cache, warned = _cache(tmp_path, max_bytes=4000)
    before = _user_folders(tmp_path / "baselines")
    for k in "abc":
        assert cache.put(k * 64, {"x": k}, _figures(1000), b"\0" * 1000) is not None
    left = sorted(p.name for p in (tmp_path / "baselines").iterdir() if cache_entry.is_entry(p))
    assert left == ["b" * 64, "c" * 64]  # the oldest of the cache's own went; 20 KB of the user's count for nothing
    after = _tree(tmp_path / "baselines")
    assert {k: after.get(k) for k in before} == before  # every file of the user's is still there, unchanged
    assert warned == []


def test_cache_entry_put_never_replaces_a_users_folder(tmp_path):
    cache, warned = _cache(tmp_path)
    before = _user_folders(tmp_path / "baselines")
    assert cache.get("d" * 64, {"x": "d"}) is None  # not an entry: damaged, but not removed
    assert cache.put("d" * 64, {"x": "d"}, _figures(10), b"\0" * 10) is None
    assert "not written by the cache" in warned[-1]
    after = _tree(tmp_path / "baselines")
    assert {k: after.get(k) for k in before} == before


@pytest.mark.parametrize("edit, why", [
    (lambda d: d["figures"].update(tflite_bytes=1), "does not match its content_sha256"),
    (lambda d: d.update(figures={}, content_sha256=cache_entry.content_hash(d["key"], {}, d["tflite_sha256"])),
     "its figures lack quantization"),
    (lambda d: d["figures"].update(latency_ms=float("nan")), "content_sha256"),
    (lambda d: d.update(format=99), "format 99"),
    (lambda d: d.pop("content_sha256"), "content_sha256"),
])
def test_cache_entry_failing_its_check_is_a_warning_and_a_miss(tmp_path, edit, why):
    cache, warned = _cache(tmp_path)
    where = cache.put("a" * 64, {"x": 1}, _figures(100), b"\0" * 100)
    doc = json.loads((where / "entry.json").read_text())
    edit(doc)
    (where / "entry.json").write_text(json.dumps(doc))
    assert cache.get("a" * 64, {"x": 1}) is None
    assert len(warned) == 1 and why in warned[0] and str(where) in warned[0]
    assert not where.exists()  # the cache's own damaged entry goes; the next run stores a fresh one
    assert cache.put("a" * 64, {"x": 1}, _figures(100), b"\0" * 100) is not None
    assert cache.get("a" * 64, {"x": 1}).figures["tflite_bytes"] == 100


@pytest.mark.parametrize("swap", ["fifo", "huge tflite", "link"])
def test_cache_entry_file_swapped_for_a_fifo_a_huge_file_or_a_link_is_a_miss(tmp_path, swap):
    cache, warned = _cache(tmp_path, max_bytes=10**6)
    where = cache.put("a" * 64, {"x": 1}, _figures(100), b"\0" * 100)
    if swap == "fifo":
        (where / "entry.json").unlink()
        os.mkfifo(where / "entry.json", 0o600)
    elif swap == "huge tflite":
        with open(where / "model.tflite", "r+b") as fh:
            fh.truncate(2**31)
    else:
        (tmp_path / "elsewhere.json").write_text((where / "entry.json").read_text())
        (where / "entry.json").unlink()
        (where / "entry.json").symlink_to(tmp_path / "elsewhere.json")
    assert cache.get("a" * 64, {"x": 1}) is None and len(warned) == 1  # neither blocks nor reads 2 GiB
    assert ("symbolic link" in warned[0]) if swap == "link" else ("damaged" in warned[0] and not where.exists())
    assert (tmp_path / "elsewhere.json").exists() or swap != "link"


def test_cache_entry_figures_of_a_measured_run_pass_and_target_figures_need_content():
    assert cache_entry.baseline_problem(_figures(5)) is None
    assert "tflite_bytes" in cache_entry.baseline_problem({**_figures(5), "tflite_bytes": "5"})
    assert cache_entry.target_problem({}) == "it has no figures"
    assert cache_entry.target_problem({"arena_bytes": 10}) is None


def test_cache_entry_writable_by_others_is_ignored_and_left_alone(tmp_path):
    cache, warned = _cache(tmp_path)
    where = cache.put("a" * 64, {"x": 1}, _figures(100), b"\0" * 100)
    os.chmod(where / "entry.json", 0o666)
    assert cache.get("a" * 64, {"x": 1}) is None
    assert "entry.json is writable by other users" in warned[-1] and where.exists()


def test_cache_entry_of_another_user_is_ignored(tmp_path, monkeypatch):
    cache, warned = _cache(tmp_path / "c")
    cache.put("a" * 64, {"x": 1}, _figures(100), b"\0" * 100)
    me = os.getuid()
    monkeypatch.setattr(os, "getuid", lambda: me + 1)
    again, warned = _cache(tmp_path / "c")
    assert again.get("a" * 64, {"x": 1}) is None
    assert warned == [f"not using the baseline cache: {tmp_path / 'c'} is owned by another user (uid {me}); "
                      "measuring every baseline"]
    assert again.put("b" * 64, {"x": 2}, _figures(1), b"\0") is None and len(warned) == 1  # warned once
    monkeypatch.setattr(os, "getuid", lambda: me)
    assert sorted(p.name for p in (tmp_path / "c" / "baselines").iterdir() if not p.name.startswith(".")) == ["a" * 64]


def test_cache_entry_group_writable_cache_folder_is_refused(tmp_path):
    root = tmp_path / "shared"
    root.mkdir()
    os.chmod(root, 0o775)
    cache, warned = _cache(root)
    assert cache.put("a" * 64, {"x": 1}, _figures(1), b"\0") is None
    assert "is writable by other users (mode 775" in warned[0] and list(root.iterdir()) == []


def test_cache_entry_new_folders_and_files_are_private(tmp_path):
    old = os.umask(0o002)
    try:
        cache, _ = _cache(tmp_path / "new" / "cache")
        where = cache.put("a" * 64, {"x": 1}, _figures(1), b"\0")
    finally:
        os.umask(old)
    for p in (tmp_path / "new" / "cache", where.parent, where, where / "entry.json", where / "model.tflite"):
        assert cache_entry.untrusted(p) is None, p


def test_cache_entry_legacy_entry_is_recognised_by_its_shape(tmp_path):
    parts = {"format": 1, "x": 1}
    d = tmp_path / cache_entry.key_digest(parts)
    d.mkdir()
    (d / "entry.json").write_text(json.dumps({"format": 1, "key": parts, "figures": {}}))
    assert cache_entry.is_ours(d)
    (d / "extra.txt").write_text("a user's")
    assert not cache_entry.is_ours(d)
