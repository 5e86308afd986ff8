"""The library's public names resolve lazily: importing optimize_cli imports no TensorFlow, and the
names are the ones the CLI itself uses."""
from __future__ import annotations

import subprocess
import sys


def test_public_api_is_lazy_and_tensorflow_free():
    code = ("import sys, optimize_cli as o; r = o.load_recipe; R = o.Recipe; "
            "print('tensorflow' in sys.modules, o.run_recipe.__module__, o.RunResult.__name__, o.__version__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    tf_loaded, module, result_name, version = out.stdout.split()
    assert tf_loaded == "False"
    assert module == "optimize_cli.run" and result_name == "RunResult" and version


def test_public_api_unknown_name_is_an_attribute_error():
    import optimize_cli

    try:
        optimize_cli.no_such_thing  # noqa: B018
    except AttributeError as e:
        assert "no_such_thing" in str(e)
    else:
        raise AssertionError("no AttributeError")
