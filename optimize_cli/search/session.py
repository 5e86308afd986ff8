"""What one session of a study starts from: its sampler's seed, and the trials it owes the study.

- The seed is drawn from the study's state, never the same twice: `search.seed`, the number of trials the
  study holds when the session opens it, and the worker's index (K local worker processes; a worker on
  another machine adds its host and process id). A resumed session therefore never re-draws the first
  session's first trial. (The grid keeps search.seed: it shuffles the grid once for every session, and
  Optuna's grid gives trial N the shuffled grid's point N, never a point visited before.)
- A trial an interruption stopped after its parameters were chosen is tried again once, on purpose, with
  the same parameters: a WAITING trial (Optuna's enqueue) with the user attr `retry_of` naming it. A
  retry that is interrupted again is not retried; a trial whose worker died is retried by Optuna's
  heartbeat callback instead (system attr `failed_trial`, read as a retry too).
"""
from __future__ import annotations

import hashlib
import os
import socket
from typing import Optional

#: the user attr of a trial that repeats an interrupted one's parameters on purpose: its number
RETRY_OF = "retry_of"


def session_seed(seed: int, trials_in_study: int, worker: Optional[int] = 0) -> int:
    """The sampler's seed of a session: a hash of `search.seed`, the study's trial count at opening and
    the worker index (None: a worker of unknown index, e.g. on another machine — its host and process id
    stand in)."""
    who = f"{socket.gethostname()}/{os.getpid()}" if worker is None else str(worker)
    digest = hashlib.sha256(f"{seed}:{trials_in_study}:{who}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % (2**31 - 1)


def retry_of(t) -> Optional[int]:
    """The number of the trial `t` (an Optuna FrozenTrial) repeats on purpose, or None."""
    n = t.user_attrs.get(RETRY_OF)
    if n is None:
        n = t.system_attrs.get("failed_trial")
    return int(n) if isinstance(n, int) else None


def interrupted(t) -> bool:
    """A trial an interruption stopped (told FAIL by its worker while stopping, or left RUNNING and
    failed by --resume): failed without its run's exit code, and not a surplus trial."""
    a = t.user_attrs
    return t.state.name == "FAIL" and "exit_code" not in a and not str(a.get("reason") or "").startswith("surplus")


def owed_retries(trials) -> list:
    """The interrupted trials (with parameters) that no trial retries yet and that are not retries
    themselves, in number order."""
    retried = {retry_of(t) for t in trials} - {None}
    return [t for t in sorted(trials, key=lambda t: t.number)
            if interrupted(t) and t.params and retry_of(t) is None and t.number not in retried]


def enqueue_retries(study, room: int) -> list[int]:
    """Enqueue one retry of each owed interrupted trial (same parameters, user attr retry_of), at most
    `room` (the trials the study is short of its total); the numbers of the trials retried."""
    import optuna

    waiting = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,))
    pending = {t.user_attrs.get(RETRY_OF) for t in waiting}
    done = []
    for t in owed_retries(study.get_trials(deepcopy=False)):
        if len(done) >= room - len(pending):
            break
        if t.number not in pending:
            study.enqueue_trial(dict(t.params), user_attrs={RETRY_OF: t.number}, skip_if_exists=False)
            done.append(t.number)
    return done
