"""quiet.py: the one fd-silencing helper (native logs kept out of the tool's stderr)."""
from __future__ import annotations

import os
import warnings

import pytest

from optimize_cli.quiet import native_output_silenced, native_stderr_silenced


def test_quiet_converter_style_sends_fd1_fd2_and_warnings_to_the_log(tmp_path, capfd, monkeypatch):
    monkeypatch.setenv("OPTIMIZE_CLI_NATIVE_LOGS", "1")  # honour_env=False: silenced all the same
    log = tmp_path / "convert.log"
    with native_output_silenced(fds=(1, 2), log_path=log, replay_on_error=False, ignore_warnings=True,
                                honour_env=False) as path:
        os.write(1, b"native stdout\n")
        os.write(2, b"native stderr\n")
        warnings.warn("dropped", UserWarning, stacklevel=1)
    assert path == log
    assert log.read_text() == "native stdout\nnative stderr\n"
    captured = capfd.readouterr()
    assert captured.out == "" and captured.err == ""


def test_quiet_keep_log_without_a_path_keeps_a_temporary_log():
    with native_output_silenced(fds=(2,), keep_log=True, honour_env=False) as path:
        os.write(2, b"kept\n")
    try:
        assert path.name.startswith("tflite-convert-") and path.read_text() == "kept\n"
    finally:
        path.unlink()


def test_quiet_native_stderr_replays_what_it_caught_when_the_block_raises(capfd, monkeypatch):
    monkeypatch.delenv("OPTIMIZE_CLI_NATIVE_LOGS", raising=False)
    with native_stderr_silenced():
        os.write(2, b"probing noise\n")
    assert capfd.readouterr().err == ""
    with pytest.raises(RuntimeError), native_stderr_silenced():
        os.write(2, b"why it failed\n")
        raise RuntimeError("boom")
    assert "why it failed" in capfd.readouterr().err


def test_quiet_env_variable_keeps_native_logs(capfd, monkeypatch):
    monkeypatch.setenv("OPTIMIZE_CLI_NATIVE_LOGS", "1")
    with native_stderr_silenced():
        os.write(2, b"shown\n")
    assert capfd.readouterr().err == "shown\n"


def test_native_logs_to_file_replays_the_tail_only_on_an_internal_error(capfd):
    import os

    import pytest

    from optimize_cli.errors import InputError
    from optimize_cli.quiet import native_logs_to_file

    with pytest.raises(InputError), native_logs_to_file():
        os.write(2, b"native noise before a user error\n")
        raise InputError("bad data")
    assert "native noise" not in capfd.readouterr().err
    with pytest.raises(RuntimeError), native_logs_to_file():
        os.write(2, b"native noise before a crash\n")
        raise RuntimeError("bug")
    err = capfd.readouterr().err
    assert "--- native log (tail) ---" in err and "native noise before a crash" in err
    with native_logs_to_file() as log:
        os.write(2, b"kept in the log\n")
        assert "kept in the log" in log.read_text()
    assert not log.exists() and "kept in the log" not in capfd.readouterr().err
