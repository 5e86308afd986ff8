"""Fuzzing the recipe loader: whatever the file holds, `load_recipe` either returns a Recipe or raises a
RecipeError with a one-line message; nothing else escapes. Never imports TensorFlow."""
from __future__ import annotations

import atexit
import math
import random
import re
import shutil
import tempfile
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from optimize_cli.errors import RecipeError
from optimize_cli.recipe import Recipe, RecipeProblems, load_recipe

ROOT = Path(__file__).resolve().parent.parent.parent
BUILTIN = sorted(p for p in (ROOT / "recipes").glob("*.yaml") if not p.stem.startswith("search-"))  # plain ones
BUILTIN_RAW = {p.stem: yaml.safe_load(p.read_text()) for p in BUILTIN}
BUILTIN_TEXT = {p.stem: p.read_text() for p in BUILTIN}

FUZZ = settings(max_examples=150, deadline=None, derandomize=False, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

#: names the loader knows, so that random documents often reach deep validation
VOCAB = ["version", "name", "description", "model", "data", "train", "eval", "representative", "type", "npz",
         "path", "x", "y", "start", "stop", "training", "batch_size", "optimizer", "learning_rate", "stages",
         "prune", "cluster", "qat", "target_sparsity", "initial_sparsity", "clusters", "preserve_sparsity",
         "epochs", "skip_layers", "sparsity_m_by_n", "export", "quantization", "int8", "float16", "gates",
         "max_accuracy_drop", "evaluation", "threads", "begin_step", "end_step", "<<"]

_DIR = Path(tempfile.mkdtemp(prefix="optimize-cli-fuzz-"))
atexit.register(shutil.rmtree, _DIR, ignore_errors=True)
(_DIR / "model").mkdir(exist_ok=True)
(_DIR / "data.npz").write_bytes(b"")


def _write(data: bytes | str, name: str = "fuzz.yaml") -> Path:
    path = _DIR / name
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    path.write_bytes(data)
    return path


def check(path: Path, overrides=(), check_paths: bool = True, model=None) -> Recipe | None:
    """The property: a Recipe, or a one-line RecipeError; if a Recipe, its resolved form loads again."""
    raw = path.read_bytes()
    # lines as YAML counts them: a lone \r, NEL, LS and PS end a line too (PyYAML's marks count them)
    n_lines = len(re.split("\r\n|[\r\n\x85\u2028\u2029]", raw.decode("utf-8", "replace")))
    try:
        recipe = load_recipe(path, list(overrides), model=model, check_paths=check_paths)
    except RecipeError as e:
        text = str(e)
        assert text and "\n" not in text and "Traceback" not in text
        assert text.startswith(f"{path}:") or text.startswith(f"{path} "), text
        if isinstance(e, RecipeProblems):
            assert e.problems
            for p in e.problems:
                assert p.line is None or 1 <= p.line <= n_lines, (p, n_lines)
                assert "\n" not in p.message
        assert len(text) < 2000, f"message too long ({len(text)} chars)"
        return None
    assert isinstance(recipe, Recipe)
    for where, value in _paths(recipe.resolved_dict()):
        assert not (isinstance(value, float) and not math.isfinite(value)), f"accepted {value} at {where}"
    # what a run writes as recipe.resolved.yaml is itself a valid recipe with the same meaning
    again_path = _write(recipe.resolved_yaml(), "resolved.yaml")
    again = load_recipe(again_path, check_paths=False)
    a, b = recipe.resolved_dict(), again.resolved_dict()
    a.pop("name"), b.pop("name")
    assert a == b
    return recipe


# --------------------------------------------------------------------------------- random documents

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(), st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(VOCAB), st.text(max_size=20),
    st.sampled_from([0, 1, 2, -1, 0.5, 1.0, 0.0, 64, "adam", "int8", "none", "", "../x", "~", "(", ".*"]),
)
keys = st.one_of(st.sampled_from(VOCAB), st.text(max_size=12), st.integers(-5, 5), st.booleans(), st.none())
documents = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=5), st.dictionaries(keys, children, max_size=6)),
    max_leaves=40,
)


@pytest.mark.slow
@FUZZ
@given(doc=documents)
@example(doc={"version": 1, "model": "model", "stages": ["prune"], "data": {"train": {"path": "data.npz"}}})
@example(doc={"version": 1, "model": "model", "export": {"quantization": "none"}, "gates": {"max_latency_ms": math.inf}})
@example(doc={"version": 1, "model": "model", "stages": [{"type": "prune", "target_sparsity": math.nan}]})
@example(doc={"version": True, "model": "model", "export": None, "training": {"batch_size": True}})
@example(doc={"version": 1, "model": "model", 1: 2, None: 3, False: 4, 2.5: 5})
@example(doc={"version": 1, "model": "\x00", "export": {"quantization": "none"}})
@example(doc={"version": 1, "model": "x" * 5000, "export": {"quantization": "none"}})
@example(doc={"version": 1, "model": "~nosuchuser/m", "export": {"quantization": "none"}})
@example(doc={"version": 1, "model": "model", "stages": [{"type": "prune", "skip_layers": ["(" * 3000]}]})
@example(doc={"version": 1, "model": "model", "stages": [{"type": "prune", "skip_layers": ["a{99999999999}"]}]})
@example(doc={"version": 1, "model": "model", "stages": [{"type": ["prune"]}, {"type": None}, {"type": {}}]})
@example(doc={"version": 1, "model": "model", "stages": [None, 1, [], "prune"]})
@example(doc={"version": 1, "model": "model", "stages": [{"type": "prune", "sparsity_m_by_n": [True, 4]}]})
@example(doc={"version": 1, "model": "model", "data": {"train": {"type": None, "path": "data.npz"}}})
@example(doc={"version": 10**100, "description": -(10**39)})
def test_fuzz_random_documents(doc):
    try:
        text = yaml.safe_dump(doc, allow_unicode=True)
    except yaml.YAMLError:
        assume(False)
    check(_write(text), check_paths=random.random() < 0.5)


@FUZZ
@given(data=st.binary(max_size=300))
@example(data=b"\xef\xbb\xbfversion: 1\n")
@example(data=b"version: 1\r\nmodel: model\r\n")
@example(data=b"a: &a [*a]\n")
@example(data=b"a: *missing\n")
@example(data=b"? [a, b]\n: 1\n")
@example(data=b"!!binary aGVsbG8=\n")
@example(data=b"--- 1\n--- 2\n")
@example(data=b"version: 1\n\tmodel: x\n")
@example(data=b"version: 1\nversion: 1\n")
@example(data=b"\x00")
@example(data=b"\xff\xfe\x00\x00")
@example(data=b"version: !!float 1\n")
@example(data=b"version: !!python/name:os.system\n")
@example(data=b"{" * 1000)
@example(data=b"- " * 1000)
@example(data=b"version: 1\nmodel: model\nexport: {quantization: none}\n<<: {name: merged}\n")
def test_fuzz_random_bytes(data):
    check(_write(data))


@FUZZ
@given(text=st.text(alphabet=st.one_of(st.characters(), st.sampled_from(list("{}[]:,-&*!|>'\"#%@`?\n\t "))),
                    max_size=200))
def test_fuzz_random_text(text):
    check(_write(text))


# ------------------------------------------------------------------------- mutated built-in recipes


def _paths(node, prefix=()):
    """Every (path, value) in a nested structure, the root included."""
    yield prefix, node
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, prefix + (i,))


def _get(node, path):
    for p in path:
        node = node[p]
    return node


def _mutate(doc, draw):
    paths = [p for p, _ in _paths(doc)]
    kind = draw(st.sampled_from(["delete", "replace", "rename", "duplicate", "swap", "misspell", "nest"]))
    path = draw(st.sampled_from(paths))
    if not path:
        return doc
    parent, last = _get(doc, path[:-1]), path[-1]
    if kind == "delete":
        del parent[last]
    elif kind == "replace":
        parent[last] = draw(documents)
    elif kind == "rename" and isinstance(parent, dict):
        new = draw(keys)
        parent[new] = parent.pop(last)
    elif kind == "misspell" and isinstance(parent, dict) and isinstance(last, str) and last:
        i = draw(st.integers(0, len(last) - 1))
        new = last[:i] + draw(st.sampled_from(["", "_", "s", last[i] * 2])) + last[i + 1:]
        parent[new] = parent.pop(last)
    elif kind == "nest":
        parent[last] = {"x": parent[last]} if draw(st.booleans()) else [parent[last]]
    stages = doc.get("stages")
    if isinstance(stages, list) and stages:
        if kind == "duplicate":
            i = draw(st.integers(0, len(stages) - 1))
            stages.insert(i, stages[i] if not isinstance(stages[i], dict) else dict(stages[i]))
        elif kind == "swap" and len(stages) > 1:
            i, j = draw(st.integers(0, len(stages) - 1)), draw(st.integers(0, len(stages) - 1))
            stages[i], stages[j] = stages[j], stages[i]
    return doc


@st.composite
def mutated_recipes(draw):
    import copy

    name = draw(st.sampled_from(sorted(BUILTIN_RAW)))
    doc = copy.deepcopy(BUILTIN_RAW[name])
    for _ in range(draw(st.integers(1, 4))):
        doc = _mutate(doc, draw)
    return doc


@FUZZ
@given(doc=mutated_recipes(), check_paths=st.booleans())
def test_fuzz_mutated_builtin_recipes(doc, check_paths):
    try:
        text = yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)
    except yaml.YAMLError:
        assume(False)
    check(_write(text), check_paths=check_paths, model=str(_DIR / "model") if check_paths else None)


@FUZZ
@given(name=st.sampled_from(sorted(BUILTIN_TEXT)), data=st.data())
def test_fuzz_text_edits_of_builtin_recipes(name, data):
    text = BUILTIN_TEXT[name]
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(text)))
        j = data.draw(st.integers(i, min(len(text), i + 8)))
        text = text[:i] + data.draw(st.text(alphabet=st.sampled_from(list("{}[]:,-&*!|'\"#\n\t 01.ae~")),
                                            max_size=4)) + text[j:]
    check(_write(text), check_paths=False)


set_keys = st.one_of(
    st.sampled_from(["stages.0.target_sparsity", "stages.1.clusters", "stages.-1.epochs", "stages.9.x", "stages",
                     "training.batch_size", "training", "export.quantization", "data.train.path", "model",
                     "gates.max_accuracy_drop", "version", "a.b.c", "stages.0", "stages.0.type", "data.0",
                     "stages.-0", "stages.00", "stages.٣", "stages.²"]),
    st.lists(st.one_of(st.sampled_from(VOCAB), st.text(max_size=6), st.integers(-3, 3).map(str)), min_size=1,
             max_size=4).map(".".join),
)
set_values = st.one_of(st.sampled_from(["0.6", "8", "true", "null", "[prune, qat]", "{a: 1}", ".nan", "-.inf",
                                        "[1", "'x'", "", "9" * 5000, "int8", "&a [*a]", "*nope", "!!set {a}"]),
                       st.text(max_size=12))


@FUZZ
@given(name=st.sampled_from(sorted(BUILTIN_TEXT)), sets=st.lists(st.tuples(set_keys, set_values), max_size=3),
       raw_item=st.one_of(st.none(), st.text(max_size=10)))
@pytest.mark.slow
@example(name="qat", sets=[("description", "[" * 1000)], raw_item=None)  # slow to parse: an example, not a draw
def test_fuzz_set_overrides(name, sets, raw_item):
    items = [f"{k}={v}" for k, v in sets] + ([raw_item] if raw_item is not None else [])
    check(_write(BUILTIN_TEXT[name]), overrides=items, check_paths=False)


@pytest.mark.parametrize("depth", [50, 300, 1000])
def test_fuzz_deep_nesting(depth):
    check(_write("version: 1\nmodel: model\ndescription: " + "[" * depth + "]" * depth + "\n"))
    check(_write("a:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, depth // 10 + 2))))


def test_fuzz_exponential_aliases_stay_fast():
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 12):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]")
    text = "\n".join(lines) + "\nversion: 1\nmodel: model\ntraining: {optimizer: *a11}\ndescription: *a11\n"
    check(_write(text))
