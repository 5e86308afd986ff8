"""`python -m optimize_cli` run from a data folder: the working directory is not an import location."""
from __future__ import annotations

import subprocess
import sys

from optimize_cli import __version__


def test_main_module_ignores_modules_planted_in_the_working_directory(tmp_path):
    marker = tmp_path / "marker"
    for planted in ("click", "yaml", "pydantic", "rich"):  # what the CLI imports first
        (tmp_path / f"{planted}.py").write_text(f"open({str(marker)!r}, 'a').write({planted!r})\n")
    proc = subprocess.run([sys.executable, "-m", "optimize_cli", "--version"], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert not marker.exists(), f"planted module ran: {marker.read_text()}"
    assert proc.returncode == 0 and __version__ in proc.stdout, proc.stderr
