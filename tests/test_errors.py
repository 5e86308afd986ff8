"""errors.py: exit codes and the one definition of an error's one-line text."""
from __future__ import annotations

from optimize_cli.errors import InputError, one_line


def test_errors_one_line_joins_lines_and_whitespace():
    assert one_line(ValueError("first\n  second\tthird ")) == "first second third"
    assert one_line("a\nb") == "a b"


def test_errors_one_line_names_an_exception_without_message():
    assert one_line(KeyError()) == "KeyError"
    assert one_line("") == ""


def test_errors_one_line_shortens_past_the_limit():
    text = one_line("x" * 400)
    assert len(text) == 300 and text.endswith("…")
    assert one_line("abcdef", limit=4) == "abc…"


def test_errors_optimize_error_is_one_line_with_its_exit_code():
    e = InputError("model: broken\nsecond line")
    assert str(e) == "model: broken second line" and e.exit_code == 3
