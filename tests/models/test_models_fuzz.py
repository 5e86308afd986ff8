"""Fuzzing the Keras config check and the loader (issue 11): JSON mutations of a small real model's config
(values replaced, keys deleted, class names changed, hostile nodes — a Lambda, a `__lambda__`, a foreign
module — planted anywhere). The check never raises and always finds what was planted; the loader gives a
model or a one-line InputError and never runs the planted code.

Bounded time and memory: hypothesis runs derandomized with a fixed number of examples; the loader runs in a
child process under a 4 GiB address-space limit (a config asking for a huge layer fails there) and a
timeout."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from optimize_cli.models.safety import find_unsafe


def fuzz(examples: int):
    """Hypothesis settings of these tests: derandomized (the same examples every run), no example database
    (nothing written into the repository), no deadline (the time is bounded by the number of examples)."""
    return settings(max_examples=examples, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))

#: what a mutation may plant; each would run code (or import a module) if tf_keras deserialized it
HOSTILE = [
    {"class_name": "__lambda__", "config": {"value": "4wEAAAAA", "name": "x"}},
    {"module": "os", "class_name": "system", "config": {"command": "true"}, "registered_name": None},
    {"module": "posix", "class_name": "function", "config": "system", "registered_name": "system"},
    {"class_name": "Lambda", "config": {"name": "lam", "function": ["4wEAAAAA", None, None],
                                        "function_type": "lambda", "module": "__main__", "arguments": {}}},
    {"class_name": "Lambda", "config": {"name": "passive"}, "__passive_serialization__": True},
    {"name": "x", "function": ["4wEAAAAA", None, None], "function_type": "lambda"},
]

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 2**20) | st.text(max_size=12) | st.sampled_from(
        ["Dense", "Lambda", "function", "Functional", "Sequential", "__tuple__", "keras.layers", "relu"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["class_name", "config", "module", "name", "layers", "items", "registered_name"]),
        inner, max_size=3),
    max_leaves=8)


def _paths(node, prefix=()):
    """Every (path) of a JSON tree, the root included."""
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, prefix + (i,))
    return out


def _get(node, path):
    for k in path:
        node = node[k]
    return node


def mutate(cfg, ops):
    """Apply (kind, index, value) mutations, the plants last (so that no later mutation defangs them);
    returns (config, whether a hostile node was planted)."""
    planted = False
    for kind, index, value in sorted(ops, key=lambda op: op[0] == "plant"):
        paths = _paths(cfg)
        path = paths[index % len(paths)]
        if not path:
            if kind == "replace":
                cfg = value
            continue
        parent, key = _get(cfg, path[:-1]), path[-1]
        if kind == "replace":
            parent[key] = value
        elif kind == "delete" and isinstance(parent, dict):
            del parent[key]
        elif kind == "class" and isinstance(_get(cfg, path), dict):
            _get(cfg, path)["class_name"] = value if isinstance(value, str) else "Dense"
        elif kind == "plant" and not planted:  # one plant: a second could land inside the first
            node = json.loads(json.dumps(HOSTILE[index % len(HOSTILE)]))
            target = _get(cfg, path)
            if isinstance(target, list):
                target.append(node)
            elif isinstance(target, dict):
                target["planted"] = node
            else:
                parent[key] = node
            planted = True
    return cfg, planted


OPS = st.lists(st.tuples(st.sampled_from(["replace", "delete", "class", "plant"]), st.integers(0, 10**6),
                         JSON_VALUES), min_size=1, max_size=4)


@pytest.fixture(scope="module")
def base_configs(tmp_path_factory, small_model):
    import h5py

    d = tmp_path_factory.mktemp("fuzzcfg")
    m = small_model()
    m.save(str(d / "m.keras"))
    m.save(str(d / "m.h5"))
    with zipfile.ZipFile(d / "m.keras") as z:
        keras_cfg = json.loads(z.read("config.json"))
    with h5py.File(d / "m.h5") as f:
        h5_cfg = json.loads(f.attrs["model_config"])
    return d, {"keras": keras_cfg, "h5": h5_cfg}


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["keras", "h5"])
def test_fuzzed_configs_never_break_the_check_and_planted_code_is_always_found(base_configs, fmt):
    _, cfgs = base_configs
    base = json.dumps(cfgs[fmt])
    assert find_unsafe(json.loads(base)) is None  # the real model is clean

    @fuzz(150)
    @given(OPS)
    def check(ops):
        cfg, planted = mutate(json.loads(base), ops)
        for custom_too in (True, False):
            found = find_unsafe(cfg, custom_too=custom_too)
            if planted:
                assert found is not None, (ops, custom_too)

    check()


_CHILD = r"""
import json, resource, sys, zipfile
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from test_models_fuzz import OPS, fuzz, mutate
from hypothesis import given
from optimize_cli import models
from optimize_cli.errors import InputError

base, work, examples = Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
with zipfile.ZipFile(base) as z:
    members = {n: z.read(n) for n in z.namelist()}
base_cfg = members["config.json"].decode()
target = work / "fuzzed.keras"
seen = {"loaded": 0, "InputError": 0, "refused": 0}

@fuzz(examples)
@given(OPS)
def check(ops):
    cfg, planted = mutate(json.loads(base_cfg), ops)
    with zipfile.ZipFile(target, "w") as z:
        for n, data in members.items():
            z.writestr(n, json.dumps(cfg) if n == "config.json" else data)
    try:
        models.load_model(str(target))
        assert not planted, ops
        seen["loaded"] += 1
    except InputError as e:
        assert "\n" not in str(e) and str(target) in str(e), str(e)
        seen["refused" if "--trust-model" in str(e) else "InputError"] += 1

check()
print(json.dumps(seen))
"""


@pytest.mark.slow
def test_fuzzed_keras_files_load_or_give_one_line_input_error(base_configs, tmp_path):
    from pathlib import Path

    d, _ = base_configs
    env = {**os.environ, "HYPOTHESIS_STORAGE_DIRECTORY": str(tmp_path / ".hypothesis")}
    r = subprocess.run([sys.executable, "-c", _CHILD, str(Path(__file__).parent), str(d / "m.keras"),
                        str(tmp_path), "40"], capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    assert sum(seen.values()) >= 40 and seen["refused"] > 0
