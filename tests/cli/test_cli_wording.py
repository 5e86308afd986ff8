"""The CLI's words for common mistakes: an unknown recipe name, a plain recipe given to search. Never
imports TensorFlow."""
from __future__ import annotations

from click.testing import CliRunner

from optimize_cli.cli import main


def cli(*args: str):
    return CliRunner(env={"NO_COLOR": "1"}).invoke(main, list(args))


def test_cli_unknown_recipe_name_gets_a_did_you_mean():
    for command in ("run", "validate", "search"):
        r = cli(command, "ptq-int9")
        assert r.exit_code == 2, r.output
        assert "did you mean 'ptq-int8'?" in r.stderr, (command, r.stderr)
    r = cli("run", "nothing-like-any-recipe")
    assert r.exit_code == 2 and "did you mean" not in r.stderr


def test_cli_search_of_a_plain_recipe_says_it_is_not_a_search_recipe_and_names_the_builtin_ones():
    from optimize_cli.builtin import search_recipe_names

    r = cli("search", "ptq-int8")
    assert r.exit_code == 2, r.output
    assert "not a search recipe" in r.stderr and "search section is there" not in r.stderr
    names = search_recipe_names()
    assert "search-quantization" in names and "ptq-int8" not in names
    for name in names:
        assert name in r.stderr


def test_cli_help_summaries_are_whole_at_80_columns_and_package_names_never_split():
    from optimize_cli.cli import SHORT_HELP

    for columns in ("80", "90", "100", "120"):
        r = CliRunner(env={"COLUMNS": columns}).invoke(main, ["--help"])
        commands = r.output.split("Commands:", 1)[1].split("\n\n", 1)[0]
        assert "..." not in commands, (columns, commands)
        for name, line in SHORT_HELP.items():
            assert line in commands, (columns, name)
    for columns in range(60, 121, 2):
        for command in ("search", "run", "validate", "inspect", "compare", "schema", "completion"):
            out = CliRunner(env={"COLUMNS": str(columns)}).invoke(main, [command, "--help"]).output
            assert not [line for line in out.splitlines() if line.rstrip().endswith("optimize-")], (columns, out)
        out = CliRunner(env={"COLUMNS": str(columns)}).invoke(main, ["search", "--help"]).output
        assert "pip install 'optimize-cli[postgres]'" in out, columns
