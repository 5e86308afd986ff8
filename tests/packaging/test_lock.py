"""`make install` reproduces the versions the tests ran with: constraints.txt (pip-compile's lock, used by the
Makefile) pins every dependency, and the environment running these tests has exactly those versions."""
from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "constraints.txt"


def _pins() -> dict[str, str]:
    pins = {}
    for line in LOCK.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9._-]+)==([^\s;]+)", line)
        if m:
            pins[re.sub(r"[-_.]+", "-", m.group(1)).lower()] = m.group(2)
    return pins


def test_lock_pins_every_declared_dependency():
    pins = _pins()
    declared = metadata.requires("optimize-cli") or []
    names = {re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9._-]+", r).group(0)).lower()
             for r in declared if "extra ==" not in r or 'extra == "test"' in r}
    missing = sorted(n for n in names if n not in pins)
    assert not missing, f"constraints.txt does not pin {missing}: run `make lock`"


def test_lock_versions_are_the_installed_ones():
    wrong = {}
    for name, version in _pins().items():
        try:
            got = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong[name] = (version, None)
            continue
        if got != version:
            wrong[name] = (version, got)
    assert not wrong, f"installed versions differ from constraints.txt (pinned, installed): {wrong}"


def test_lock_is_used_by_make_install():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"pip install .*-c \$\(LOCK\)", makefile) and "LOCK   := constraints.txt" in makefile
