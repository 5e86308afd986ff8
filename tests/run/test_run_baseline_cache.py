"""The baseline cache across runs: a second run of the same model and data reuses the baseline's .tflite
and figures (report.json `baseline.cached`) and a target's figures of it, a change of what they depend on or this machine measures
again, a damaged entry is a warning, --no-cache neither reads nor writes, the size bound evicts."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from run_helpers import cli, ptq_recipe, write_recipe

from optimize_cli.run import baseline_cache
from optimize_cli.run.baseline_cache import BaselineCache
from optimize_cli.run.records import TfliteFigures


def _run(tmp_path: Path, name: str, *extra, targets=None) -> dict:
    out = tmp_path / name
    doc = {**ptq_recipe("cache", eval_samples=60), **({"targets": targets} if targets else {})}
    res = cli("run", write_recipe(tmp_path, doc), "--output", out, "--force", *extra)
    assert res.exit_code == 0, res.output
    report = json.loads((out / "report.json").read_text())
    report["_log"] = res.output
    return report


def _entries() -> list[Path]:
    d = baseline_cache.cache_dir() / "baselines"
    return sorted(p for p in d.iterdir() if p.is_dir() and not p.name.startswith(".")) if d.is_dir() else []


@pytest.mark.slow
def test_second_run_reuses_the_baseline_and_no_cache_measures_again(tmp_path, monkeypatch):
    assert str(baseline_cache.cache_dir()) == os.environ["OPTIMIZE_CLI_CACHE_DIR"]  # conftest: never ~/.cache
    first = _run(tmp_path, "a", "--no-cache")  # --no-cache: neither read nor written
    assert first["baseline"]["cached"] is False and _entries() == []  # --no-cache wrote nothing
    second = _run(tmp_path, "b", targets=["litert", "tflm"])
    assert second["baseline"]["cached"] is False and len(_entries()) == 2  # LiteRT's and TFLM's figures
    third = _run(tmp_path, "c", targets=["litert", "tflm"])
    b, c = second["baseline"], third["baseline"]
    assert c["cached"] is True and c["cached_from"] in {str(p) for p in _entries()}
    assert "baseline: reused from the cache" in third["_log"]
    assert "target tflm: baseline: reused from the cache" in third["_log"]
    assert c["targets"]["tflm"] == b["targets"]["tflm"] and c["targets"]["tflm"]["arena_bytes"] > 0
    for k in ("tflite_bytes", "compressed_bytes", "accuracy", "latency_ms", "latency_p90_ms"):
        assert c[k] == b[k], k
    assert third["result"]["compression_ratio"] == second["result"]["compression_ratio"]
    # another machine (or CPU): its latency is not this one's, so the key differs
    monkeypatch.setattr(baseline_cache, "host_identity", lambda: {"node": "elsewhere"})
    assert _run(tmp_path, "e")["baseline"]["cached"] is False and len(_entries()) == 3


@pytest.mark.slow
def test_changed_settings_miss_and_damaged_entry_is_a_warning(tmp_path):
    _run(tmp_path, "a")
    assert _run(tmp_path, "b", "--set", "evaluation.latency_runs=3")["baseline"]["cached"] is False
    assert len(_entries()) == 2
    for entry in _entries():
        (entry / "model.tflite").write_bytes(b"truncated")
    again = _run(tmp_path, "c")
    assert again["baseline"]["cached"] is False
    assert any(w["source"] == "cache" and "damaged" in w["message"] for w in again["warnings"])
    assert len(_entries()) == 2 and (_entries()[0] / "entry.json").is_file()  # measured and stored again


def _figures(n: int) -> dict:
    return TfliteFigures("none", n, n, 0.0, None, 1.0, 1.0, 1).dump()


def test_cache_entries_are_checked_and_evicted_least_recently_used(tmp_path):
    warned = []
    cache = BaselineCache(tmp_path, lambda s, m: warned.append(m), max_bytes=4000)
    parts = {k: {"x": k} for k in "abc"}
    for k in "ab":
        assert cache.put(k * 64, parts[k], _figures(1000), b"\0" * 1000) is not None
    hit = cache.get("a" * 64, parts["a"])  # a is used again: b is now the oldest
    assert hit is not None and hit.tflite == b"\0" * 1000 and hit.figures["tflite_bytes"] == 1000
    os.utime(tmp_path / "baselines" / ("b" * 64) / "entry.json", (1, 1))
    cache.put("c" * 64, parts["c"], _figures(1000), b"\0" * 1000)
    assert cache.get("b" * 64, parts["b"]) is None and cache.get("c" * 64, parts["c"]) is not None
    assert cache.get("a" * 64, parts["a"]) is not None and warned == []
    assert cache.get("a" * 64, {"x": "other"}) is None and "does not match" in warned[-1]  # a collision
    (tmp_path / "baselines" / ("c" * 64) / "entry.json").write_text("{half")
    assert cache.get("c" * 64, parts["c"]) is None and len(warned) == 2
    assert not (tmp_path / "baselines" / ("c" * 64)).exists()
    assert not [p for p in (tmp_path / "baselines").iterdir() if p.name.startswith(".tmp-")]


def test_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("OPTIMIZE_CLI_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert baseline_cache.cache_dir() == tmp_path / "xdg" / "optimize-cli"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert baseline_cache.cache_dir() == tmp_path / "home" / ".cache" / "optimize-cli"


def test_hidden_cache_dir_option_gives_the_run_a_cache_of_its_own(tmp_path):
    """`run --cache-dir DIR` (what search --no-cache gives its trials): the cache in DIR, the user's untouched."""
    own = tmp_path / "own"
    first = _run(tmp_path, "a", "--cache-dir", own)
    assert first["baseline"]["cached"] is False and _entries() == []
    second = _run(tmp_path, "b", "--cache-dir", own)
    assert second["baseline"]["cached"] is True and Path(second["baseline"]["cached_from"]).parent == own / "baselines"
    assert _entries() == []


def test_a_reused_baseline_is_said_in_one_short_line(tmp_path):
    """One line per reused baseline, under 80 columns, without the entry's 64-hex folder (report.json's
    `cached_from` has it); only the first says when it was measured and how to measure again."""
    import re
    import time
    from types import SimpleNamespace

    logged: list[str] = []
    run = SimpleNamespace(reporter=SimpleNamespace(log=logged.append), cache_said=False)
    hit = baseline_cache.Hit({}, b"", tmp_path / "baselines" / ("a" * 64), time.time())
    baseline_cache._reused(run, "baseline", hit)
    baseline_cache._reused(run, "target tflm: baseline", hit)
    assert len(logged) == 2
    for line in logged:
        assert "\n" not in line and len(line) <= 80 and not re.search(r"[0-9a-f]{64}", line), line
        assert "on this machine" not in line, line
    assert logged[0].startswith("baseline: reused from the cache (") and "--no-cache" in logged[0]
    assert logged[1] == "target tflm: baseline: reused from the cache"
