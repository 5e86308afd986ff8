"""One-line words for a study storage URL that cannot be opened because of what it names (exit 2): a
database whose driver is not installed, or a file that is not a database. Never imports TensorFlow."""
from __future__ import annotations

#: SQLAlchemy dialect → the package its default driver is in
DRIVERS = {"mysql": "mysqlclient (or PyMySQL: mysql+pymysql://)", "mariadb": "mysqlclient (or PyMySQL)",
           "postgresql": "psycopg (pip install 'optimize-cli[postgres]')", "oracle": "oracledb",
           "mssql": "pyodbc"}


def storage_problem(url: str, e: BaseException) -> str:
    """'--storage URL: ...' for an ImportError (no driver) or a DatabaseError (not a database)."""
    dialect = url.partition("://")[0].split("+")[0]
    if isinstance(e, ImportError):
        need = DRIVERS.get(dialect, f"the Python driver for {dialect!r}")
        return f"--storage {url}: the database driver is not installed; install {need}"
    first = (str(getattr(e, "orig", None) or e).strip().splitlines() or ["not a database"])[0]
    if url.startswith("sqlite:"):
        return f"--storage {url}: not an SQLite database ({first}); name a new file or a study database"
    return f"--storage {url}: not a study storage ({first})"
