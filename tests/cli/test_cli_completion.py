"""Shell completion (click's): built-in recipe names after run / validate / search / tree, recipe keys
after --set. Through click's completion protocol, as the shell calls it."""
from __future__ import annotations

from click.shell_completion import ShellComplete
from click.testing import CliRunner

from optimize_cli.cli import main
from optimize_cli.cli.completion import COMPLETE_VAR


def complete(*words: str) -> list[str]:
    """What completing the last of `words` offers (the words before it are typed)."""
    args, incomplete = list(words[:-1]), words[-1]
    return [c.value for c in ShellComplete(main, {}, "optimize-cli", COMPLETE_VAR).get_completions(args, incomplete)]


def test_completion_offers_builtin_recipe_names_after_run_validate_search_and_tree():
    for command in ("run", "validate", "search", "tree"):
        got = complete(command, "ptq-")
        assert "ptq-int8" in got and all(g.startswith("ptq-") or g == "ptq-" for g in got), (command, got)
    assert "search-quantization" in complete("search", "search-q")
    assert "ptq-int8" in complete("validate", "ptq-int16x8", "ptq-i")  # every RECIPE of validate
    assert "ptq-int8" not in complete("run", "recipes/ptq-")  # a path: the shell completes files


def test_completion_offers_recipe_keys_after_set():
    got = complete("run", "prune-cluster-pcqat", "--set", "stages.1.")
    assert "stages.1.clusters=" in got and "stages.1.epochs=" in got
    assert "stages.0.target_sparsity=" not in got
    got = complete("run", "prune-cluster-pcqat", "--set", "")
    for key in ("training.learning_rate=", "export.quantization=", "gates.max_accuracy_drop=",
                "data.train.path=", "stages.0.target_sparsity=", "stages.2.epochs="):
        assert key in got, key
    assert not [k for k in got if ".search" in k or k.endswith(".optional=")]
    assert complete("run", "prune-cluster-pcqat", "--set", "stages.0.epochs=3") == []
    assert "gates.max_accuracy_drop=" in complete("validate", "ptq-int8", "--set", "gates.max_a")


def test_completion_through_the_environment_variable_as_bash_calls_it():
    r = CliRunner().invoke(main, [], env={COMPLETE_VAR: "bash_complete", "COMP_WORDS": "optimize-cli run ptq-in",
                                          "COMP_CWORD": "2"}, prog_name="optimize-cli")
    assert "plain,ptq-int8" in r.output.splitlines(), r.output
