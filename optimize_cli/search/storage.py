"""Where the study lives: the storage URL (SQLite file in the output directory by default; PostgreSQL for
workers on many machines), Optuna's RDB storage with heartbeats (a dead worker's RUNNING trial is failed and
retried), which trials count towards the study's total, and the study-wide lock under which a worker
counts and asks, so that workers in many processes or on many machines never overshoot `--trials`."""
from __future__ import annotations

import contextlib
import fcntl
import json
import time
from pathlib import Path
from typing import Iterator, Optional

from ..errors import InputError, RecipeError
from ..storage_errors import storage_problem

_DONE = ("COMPLETE", "FAIL", "PRUNED")
#: seconds between a worker's heartbeats (default); a RUNNING trial without one for GRACE × that is failed
HEARTBEAT_S = 10
GRACE = 3
#: how long connecting to a storage server may take before it is reported unreachable
CONNECT_TIMEOUT_S = 10
_LOCK_CLASS = 0x6F63  # pg_advisory_lock's first key: optimize-cli's own lock space ("oc")


def rdb_url(url: str) -> str:
    """The SQLAlchemy URL for the user's: `postgresql://` (and `postgres://`) use psycopg 3, the extra
    `optimize-cli[postgres]` installs; sqlite URLs and explicit dialects pass as they are."""
    head, sep, rest = url.partition("://")
    if not sep:
        raise RecipeError(f"--storage {url!r}: not a storage URL (sqlite:///FILE or postgresql://USER@HOST:PORT/DB)")
    if head in ("postgresql", "postgres"):
        head = "postgresql+psycopg"
    if head.startswith("postgresql+psycopg"):
        try:
            import psycopg  # noqa: F401 - only its presence is checked here
        except ImportError:
            raise RecipeError("--storage postgresql://...: psycopg is not installed; "
                              "pip install 'optimize-cli[postgres]'") from None
    return f"{head}://{rest}"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite:")


def _engine_kwargs(url: str) -> dict:
    if is_sqlite(url):  # several worker processes write one file: wait for its lock rather than fail
        return {"connect_args": {"timeout": 60}}
    if url.startswith("postgresql"):
        return {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_S}, "pool_pre_ping": True}
    return {}


def open_storage(url: str, heartbeat: Optional[int] = None):
    """Optuna's RDBStorage for `url` with heartbeats every `heartbeat` seconds (default HEARTBEAT_S): a
    RUNNING trial without one for GRACE intervals is failed by the next worker that looks, and retried
    once (RetryHeartbeatStaleTrialCallback: a WAITING copy with the same parameters)."""
    import optuna
    import sqlalchemy.exc

    interval = int(heartbeat or HEARTBEAT_S)
    target = rdb_url(url)
    for attempt in range(3):
        try:
            with quiet_experimental():
                return optuna.storages.RDBStorage(
                    target, engine_kwargs=_engine_kwargs(target), heartbeat_interval=interval,
                    grace_period=GRACE * interval,
                    heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(max_retry=2))
        except sqlalchemy.exc.IntegrityError:  # workers creating the tables of a new database at once
            if attempt == 2:
                raise
            time.sleep(0.5 + attempt)
        except sqlalchemy.exc.OperationalError as e:
            first = str(getattr(e, "orig", e)).strip().splitlines() or ["cannot connect"]
            raise InputError(f"--storage {redact(url)}: cannot open the study storage: {first[0]}") from None
        except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError, ValueError) as e:
            raise RecipeError(f"--storage {redact(url)}: {e}") from None
        except (ImportError, sqlalchemy.exc.DatabaseError) as e:  # no driver; a file that is not a database
            raise RecipeError(storage_problem(redact(url), e)) from None
    raise AssertionError("unreachable")


@contextlib.contextmanager
def quiet_experimental() -> Iterator[None]:
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*experimental.*")
        warnings.filterwarnings("ignore", message="Heartbeat of storage is supposed to be used with Study.optimize")
        yield


def redact(url: str) -> str:
    """The URL without a password (user:secret@host → user:***@host)."""
    head, sep, rest = url.partition("://")
    auth, at, host = rest.rpartition("@")
    if sep and at and ":" in auth:
        return f"{head}://{auth.split(':', 1)[0]}:***@{host}"
    return url


def retried(trials) -> set[int]:
    """Numbers of the trials a heartbeat failed and a retry replaced (the retry counts instead)."""
    out: set[int] = set()
    for t in trials:
        out.update(t.system_attrs.get("retry_history") or [])
    return out


#: the user attr of a trial whose recipe an earlier trial ran already: told with that trial's outcome, not
#: run again (study.py)
DUPLICATE_OF = "duplicate_of"
#: how many such repeats a study gets free (not counted towards its total); later ones count, so a sampler
#: that keeps proposing what it knows still ends the search
FREE_REPEATS = 12


def free_repeats(trials) -> set[int]:
    """Numbers of the repeated trials that do not count (the first FREE_REPEATS of them)."""
    return set(sorted(t.number for t in trials if t.user_attrs.get(DUPLICATE_OF) is not None)[:FREE_REPEATS])


def counts(t, replaced: set[int]) -> bool:
    """Whether trial `t` counts towards the study's total: running, or finished with its run's exit code
    (a trial stopped by an interruption, a surplus one, one a retry replaced, or a free repeat of an earlier
    trial's recipe — `replaced` holds both kinds — does not count)."""
    if t.state.name == "RUNNING":
        return True
    return t.state.name in _DONE and t.user_attrs.get("exit_code") is not None and t.number not in replaced


def _not_counted(trials) -> set[int]:
    return retried(trials) | free_repeats(trials)


def tally(study) -> tuple[int, int]:
    """(counted, finished-and-counted) trials of the study."""
    trials = study.get_trials(deepcopy=False)
    replaced = _not_counted(trials)
    counted = [t for t in trials if counts(t, replaced)]
    return len(counted), sum(1 for t in counted if t.state.name != "RUNNING")


def rank(study, number: int) -> int:
    """How many counted trials have a smaller number than trial `number` (its place in the total)."""
    trials = study.get_trials(deepcopy=False)
    replaced = _not_counted(trials)
    return sum(1 for t in trials if t.number < number and counts(t, replaced))


@contextlib.contextmanager
def study_lock(storage, study_id: int, url: str) -> Iterator[None]:
    """Held while a worker counts the study's trials and asks for one: PostgreSQL's advisory lock keyed by
    the study (every worker on every machine takes the same one; the server frees it if the worker dies),
    or an flock beside a SQLite file (whose workers share one machine). Other databases: no lock; the
    re-check after asking (`rank`) then tells a surplus trial as not counted."""
    if url.startswith("postgresql"):
        import sqlalchemy

        with storage.engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:a, :b)"), {"a": _LOCK_CLASS, "b": study_id})
            try:
                yield
            finally:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:a, :b)"), {"a": _LOCK_CLASS, "b": study_id})
                conn.commit()
    elif is_sqlite(url) and (path := _sqlite_file(url)) is not None:
        with open(f"{path}.lock", "a+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
    else:
        yield


def _sqlite_file(url: str) -> Optional[Path]:
    name = url.split(":///", 1)[1] if ":///" in url else ""
    return Path(name.split("?", 1)[0]) if name and name != ":memory:" else None


_SPACE_ATTR = "optimize_cli.search"


def remember_space(study, space) -> None:
    """The search recipe (its path and raw content) in the study, so that `--report-only` on any machine
    can write the outputs without it."""
    raw = json.loads(json.dumps(space.raw, default=str))
    if study.user_attrs.get(_SPACE_ATTR, {}).get("raw") != raw:
        study.set_user_attr(_SPACE_ATTR, {"recipe": str(space.source), "raw": raw})


def stored_space(study):
    """The SearchSpace `remember_space` kept in the study."""
    from ..recipe.space import parse_space

    kept = study.user_attrs.get(_SPACE_ATTR)
    if not kept:
        raise RecipeError(f"study {study.study_name!r} holds no search recipe (not made by optimize-cli "
                          "search): give its RECIPE")
    space = parse_space(kept["recipe"], kept["raw"])
    space.source = Path(kept["recipe"])
    return space
