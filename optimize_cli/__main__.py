"""`python -m optimize_cli`. Python puts the working directory first on sys.path for `-m`; a module planted
there (in a data folder, say) would shadow any import that follows, so the working directory is dropped
from sys.path before anything else is imported — unless it is where this package itself was found."""
import os
import sys
from pathlib import Path


def _drop_working_directory() -> None:
    here = Path(__file__).resolve().parent.parent  # the folder the package was imported from
    cwd = Path.cwd().resolve()
    for entry in list(sys.path):
        try:
            where = Path(entry or os.curdir).resolve()
        except OSError:
            continue
        if where == cwd and where != here:
            sys.path.remove(entry)


_drop_working_directory()

from .cli import main  # noqa: E402 - after sys.path is safe

if __name__ == "__main__":
    main()
