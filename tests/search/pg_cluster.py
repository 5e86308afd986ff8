"""A throw-away PostgreSQL cluster for the search tests, when OPTIMIZE_CLI_TEST_PG names none: initdb in a
temporary folder (as the `postgres` system user when run as root: PostgreSQL refuses root), listening on
127.0.0.1 on a free port, trust authentication; `stop` removes it. `.ci/run` does the same in bash."""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import Optional


def _bin(name: str) -> Optional[str]:
    found = shutil.which(name)
    if found:
        return found
    versions = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return versions[-1] if versions else None


def _as_postgres() -> Optional[list[str]]:
    """The prefix that runs a command as a non-root user (none needed when not root)."""
    if os.geteuid() != 0:
        return []
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        return None
    runuser = shutil.which("runuser")
    return [runuser, "-u", "postgres", "--"] if runuser else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, folder: Path, url: str, pg_ctl: list[str]):
        self.folder, self.url, self.pg_ctl = folder, url, pg_ctl

    def stop(self) -> None:
        subprocess.run([*self.pg_ctl, "stop", "-D", str(self.folder / "data"), "-m", "immediate", "-w"],
                       capture_output=True, timeout=60)
        shutil.rmtree(self.folder, ignore_errors=True)


def start() -> Optional[Cluster]:
    """A running cluster, or None when initdb/pg_ctl or a non-root user are missing."""
    initdb, pg_ctl, prefix = _bin("initdb"), _bin("pg_ctl"), _as_postgres()
    if initdb is None or pg_ctl is None or prefix is None:
        return None
    folder = Path(tempfile.mkdtemp(prefix="optimize-cli-pg-"))
    if prefix:
        shutil.chown(folder, "postgres", "postgres")
    data, port = folder / "data", free_port()
    try:
        subprocess.run([*prefix, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"],
                       check=True, capture_output=True, timeout=120)
        subprocess.run([*prefix, pg_ctl, "start", "-D", str(data), "-w", "-t", "60", "-l", str(folder / "log"),
                        "-o", f"-h 127.0.0.1 -p {port} -k {folder} -c fsync=off"],
                       check=True, capture_output=True, timeout=120)
    except (subprocess.SubprocessError, OSError):
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return Cluster(folder, f"postgresql://postgres@127.0.0.1:{port}/postgres", [*prefix, pg_ctl])
