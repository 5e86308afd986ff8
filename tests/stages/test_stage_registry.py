"""Adding a stage type is one module and one registration line: `validate`, `tree`, the JSON Schema and
running the stage through the registry all pick up a throw-away stage written to a temporary module; a
module that is not a stage module is refused when it is registered."""
from __future__ import annotations

import importlib
import json
import sys
import textwrap

import pytest
from click.testing import CliRunner

STAGE_MODULE = '''
"""noise: a throw-away stage type for the registration test (fine-tunes, changes nothing else)."""
from typing import Literal

from pydantic import Field

from optimize_cli.stages.base import StageParams, resolve_common


class NoiseStage(StageParams):
    """Fine-tunes the model for a few epochs."""

    type: Literal["noise"] = "noise"
    epochs: int = Field(1, ge=0, le=10, description="Fine-tuning epochs.")


Params = NoiseStage
DISTRIBUTED = True


def resolve(params, previous, training):
    out = [(["epochs"], "must be at most 3 after cluster", False)] if "cluster" in previous and params.epochs > 3 else []
    return out + resolve_common(params, training)


def tree_label(previous):
    return "noise"


def run(model, params, ctx):
    from optimize_cli.stages.base import StageResult, stage_label
    from optimize_cli.stages.layers import copy_model
    from optimize_cli.training.fit import fit

    out = copy_model(model)
    history = fit(out, ctx, "noise", label=stage_label(ctx, "noise"), epochs=params.epochs,
                  learning_rate=params.learning_rate, batch_size=params.batch_size, distributed=DISTRIBUTED)
    return StageResult(model=out, scheme="noise", history=history, epochs=params.epochs,
                       learning_rate=params.learning_rate, record_extra={"noise": {"level": 0}})
'''


@pytest.fixture
def noise(tmp_path, monkeypatch):
    """The throw-away stage module, registered in one line (before qat), unregistered afterwards."""
    from optimize_cli import stages

    (tmp_path / "noise_stage.py").write_text(STAGE_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("noise_stage")
    try:
        with stages.registered(module, before="qat"):  # the one line
            yield module
    finally:
        sys.modules.pop("noise_stage", None)


@pytest.fixture
def work(tmp_path):
    (tmp_path / "model").mkdir()
    (tmp_path / "data.npz").write_bytes(b"")
    return tmp_path


def recipe(work, stages: str, name="r.yaml"):
    path = work / name
    path.write_text(textwrap.dedent(f"""\
        version: 1
        model: model
        data: {{train: {{path: data.npz}}}}
        stages: {stages}
        """))
    return str(path)


def test_stage_registry_validate_picks_up_a_new_stage(noise, work):
    from optimize_cli.cli import main
    from optimize_cli.recipe import load_recipe

    r = load_recipe(recipe(work, "[prune, {type: noise, epochs: 2}, qat]"))
    assert r.stage_types == ["prune", "noise", "qat"] and isinstance(r.stages[1], noise.NoiseStage)
    assert r.stages[1].learning_rate == pytest.approx(r.training.learning_rate)  # resolved like any stage
    assert r.qat_scheme == "PQAT"
    runner = CliRunner()
    assert runner.invoke(main, ["validate", recipe(work, "[prune, noise, qat]")]).exit_code == 0
    cases = {
        "[noise, prune]": "stages[1].type: 'prune' cannot come after 'noise': the order is filter_prune → prune → cluster → noise "
                          "→ qat (qat is always the last training stage)",
        "[cluster, {type: noise, epochs: 5}]": "stages[1].epochs: must be at most 3 after cluster",
        "[nois]": "unknown stage type 'nois' (did you mean 'noise'?)",
        "[{type: noise, depth: 3}]": "stages[0].depth: unknown key",
    }
    for i, (stages, message) in enumerate(cases.items()):
        res = runner.invoke(main, ["validate", recipe(work, stages, f"bad{i}.yaml")])
        assert res.exit_code == 2 and message in res.output, (stages, res.output)


def test_stage_registry_tree_draws_a_new_stage(noise):
    from rich.console import Console

    from optimize_cli.cli.tree_view import render_tree
    from optimize_cli.stages.order import stage_order

    console = Console(record=True, width=200, highlight=False)
    console.print(render_tree([]))
    text = console.export_text()
    assert "├── noise\n" in text or "└── noise\n" in text
    assert "PQAT (prune-preserving QAT) → int8" in text
    assert stage_order() == ["filter_prune", "prune", "cluster", "noise", "qat"]
    assert "noise" in CliRunner().invoke(__import__("optimize_cli.cli", fromlist=["main"]).main, ["tree"]).output


def test_stage_registry_schema_describes_a_new_stage(noise):
    from optimize_cli.cli import main
    from optimize_cli.recipe import json_schema

    schema = json_schema()
    assert schema["$defs"]["NoiseStage"]["properties"]["epochs"]["description"] == "Fine-tuning epochs."
    assert schema["$defs"]["NoiseStage"]["required"] == ["type"]
    assert "noise" in schema["properties"]["stages"]["items"]["anyOf"][0]["enum"]
    out = json.loads(CliRunner().invoke(main, ["schema"]).output)
    assert "NoiseStage" in out["$defs"]


def test_stage_registry_unregister_restores_the_builtin_stages(noise):
    from optimize_cli import stages
    from optimize_cli.recipe import json_schema

    stages.unregister("noise")
    assert list(stages.STAGES) == ["filter_prune", "prune", "cluster", "qat"] and "NoiseStage" not in json_schema()["$defs"]
    stages.register(noise, before="qat")


@pytest.mark.slow
def test_stage_registry_runs_a_new_stage(noise, tiny_model, make_ctx):
    from optimize_cli import stages

    params = noise.NoiseStage(epochs=1)
    res = stages.run_stage(tiny_model, params, make_ctx(samples=64, learning_rate=1e-3))
    assert res.scheme == "noise" and res.history.epochs == 1 and "loss" in res.history.metrics
    assert res.learning_rate == pytest.approx(1e-3) and params.learning_rate is None  # resolved once, on a copy
    assert res.model is not tiny_model


def test_stage_registry_leaves_the_builtin_stages_after_the_test(noise):
    from optimize_cli import stages

    with stages.registered(noise, before="prune"):
        assert stages.STAGE_ORDER[:2] == ["filter_prune", "noise"]
    assert list(stages.STAGES) == ["filter_prune", "prune", "cluster", "noise", "qat"]


@pytest.mark.parametrize("drop, says", [
    ("run", "has no run"),
    ("Params", "has no Params"),
    ("DISTRIBUTED", "has no DISTRIBUTED"),
])
def test_stage_registry_refuses_a_module_that_is_not_a_stage_module(noise, drop, says):
    import types

    from optimize_cli import stages

    broken = types.ModuleType("broken_stage")
    broken.__dict__.update({k: v for k, v in vars(noise).items() if k != drop and not k.startswith("__")})
    with pytest.raises(TypeError, match=f"stage module broken_stage {says}.*stages/base.StageModule"):
        stages.register(broken)
    assert "noise" in stages.STAGES and len(stages.STAGES) == 5


def test_stage_registry_refuses_params_without_a_type(noise):
    import types

    from optimize_cli import stages
    from optimize_cli.stages.base import StageParams

    broken = types.ModuleType("broken_stage")
    broken.__dict__.update({k: v for k, v in vars(noise).items() if not k.startswith("__")})
    broken.Params = StageParams
    with pytest.raises(TypeError, match="Params needs a `type"):
        stages.register(broken)
    broken.Params, broken.DISTRIBUTED = noise.NoiseStage, "yes"
    with pytest.raises(TypeError, match="DISTRIBUTED \\(a bool\\)"):
        stages.register(broken)


def test_stage_registry_record_copies_the_stage_fields_without_naming_them():
    from optimize_cli.run.records import StageRecord

    rec = StageRecord(index=1, type="noise", scheme="noise", seconds=1.0, epochs=1, learning_rate=1e-3,
                      keras_accuracy=None, sparsity=0.0, max_unique_weights=None, history={"loss": [1.0]},
                      extra={"noise": {"level": 0}})
    dumped = rec.dump()
    assert dumped["noise"] == {"level": 0} and list(dumped).index("noise") == list(dumped).index("history") + 1
    assert "extra" not in dumped and StageRecord.from_dict(dumped) == rec
