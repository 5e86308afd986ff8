"""Training under tf.distribute: `training.distribute: {strategy: mirrored | multi_worker}`.

mirrored: tf.distribute.MirroredStrategy over this machine's devices (one replica on a CPU-only machine).
multi_worker: tf.distribute.MultiWorkerMirroredStrategy, the workers named by the TF_CONFIG environment
variable (`{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": i}}`; a
"chief" job may name the chief, else worker 0 is it). Every worker runs `optimize-cli run` with the same
recipe; the chief writes the outputs, the others train along (the same collective ops, in the same
order) and write nothing (run/worker.py).

What trains under the strategy: the fit of the stages whose module says `DISTRIBUTED = True` (prune, cluster,
filter_prune; the stage passes it to fit()). fit() copies the
stage's (wrapped) model into the strategy's scope, fits that copy with the optimizer made there on the
global batch (each replica gets batch / replicas; the data set is sharded by element, AutoShardPolicy
DATA, so each worker sees its own part of every batch) and copies the weights back, so that everything
after the fit (strip, measurement, conversion) runs on plain, local variables. QAT trains on one replica
(its module's `LOCAL_REASON`: tfmot lists distributed quantization-aware training as not supported).

The strategy is created once per process, by the entry point (`start`, before TensorFlow's runtime starts:
`run.run` and the non-chief worker's `run/worker.py`); a stage's fit only looks it up.

The settings model and the TF_CONFIG checks import no TensorFlow (`validate` uses them).
"""
from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass
from typing import Literal, Optional

from pydantic import Field

from ..errors import RecipeError
from ..limits import tf_config_json
from ..strict import Strict


class DistributeConfig(Strict):
    """`training.distribute`: train the prune, cluster and filter_prune stages under a tf.distribute strategy."""

    strategy: Literal["mirrored", "multi_worker"] = Field(
        ..., description="mirrored: MirroredStrategy over this machine's devices (GPUs; one replica on a "
        "CPU-only machine). multi_worker: MultiWorkerMirroredStrategy over the workers in TF_CONFIG; every "
        "worker runs the same command, the chief writes the outputs. training.batch_size is the global batch "
        "(each replica trains on batch_size / replicas). QAT trains on one replica.")


@dataclass(frozen=True)
class Worker:
    """This process's place in a multi-worker cluster, from TF_CONFIG."""

    task_type: str
    index: int
    workers: int  # chief + workers
    has_chief: bool = False  # the cluster has a "chief" job (else worker 0 is the chief)

    @property
    def is_chief(self) -> bool:
        return self.task_type == "chief" or (self.task_type == "worker" and self.index == 0 and not self.has_chief)

    def describe(self) -> str:
        return f"{self.task_type} {self.index} of {self.workers} workers"


def settings(training) -> Optional[DistributeConfig]:
    return getattr(training, "distribute", None)


def worker_from_env(env=None) -> Worker:
    """The cluster and task TF_CONFIG names; RecipeError (exit 2, one line naming TF_CONFIG) when it is
    missing or not what MultiWorkerMirroredStrategy reads."""
    raw = (os.environ if env is None else env).get("TF_CONFIG")
    need = ('training.distribute.strategy multi_worker needs TF_CONFIG, e.g. {"cluster": {"worker": '
            '["host1:port", "host2:port"]}, "task": {"type": "worker", "index": 0}}')
    if not raw or not raw.strip():
        raise RecipeError(f"TF_CONFIG is not set: {need}")
    try:
        cfg = tf_config_json(raw)
    except ValueError as e:
        raise RecipeError(f"TF_CONFIG is not valid JSON ({e}): {need}") from None
    cluster = cfg.get("cluster") if isinstance(cfg, dict) else None
    task = cfg.get("task") if isinstance(cfg, dict) else None
    if not isinstance(cluster, dict) or not isinstance(task, dict):
        raise RecipeError(f"TF_CONFIG has no \"cluster\" and \"task\" objects: {need}")
    jobs = {}
    for job, hosts in cluster.items():
        if job not in ("chief", "worker"):
            raise RecipeError(f"TF_CONFIG: cluster job {job!r} is not supported (only \"chief\" and \"worker\")")
        if not isinstance(hosts, list) or not hosts or not all(isinstance(h, str) and ":" in h for h in hosts):
            raise RecipeError(f"TF_CONFIG: cluster.{job} must be a list of \"host:port\" strings")
        jobs[job] = hosts
    if len(jobs.get("chief", [])) > 1:
        raise RecipeError("TF_CONFIG: cluster.chief must name one host")
    typ, index = task.get("type"), task.get("index", 0)
    if typ not in jobs:
        raise RecipeError(f"TF_CONFIG: task.type {typ!r} is not a job of the cluster ({', '.join(jobs) or 'none'})")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(jobs[typ]):
        raise RecipeError(f"TF_CONFIG: task.index {index!r} is not an index of cluster.{typ} "
                          f"(0..{len(jobs[typ]) - 1})")
    return Worker(typ, index, sum(len(h) for h in jobs.values()), "chief" in jobs)


def worker_of(recipe, resume: bool = False) -> Optional[Worker]:
    """This process's worker for a multi_worker recipe (None for any other); TF_CONFIG checked, and
    `--resume` refused (the workers would not train the same stages). Imports no TensorFlow."""
    cfg = settings(recipe.training)
    if cfg is None or cfg.strategy != "multi_worker":
        return None
    worker = worker_from_env()
    if resume:
        raise RecipeError("--resume: not with training.distribute.strategy multi_worker (every worker must "
                          "train the same stages); run again without --resume")
    return worker


# ----------------------------------------------------------------------------- with TensorFlow

_STRATEGY: dict = {}


def start(training) -> None:
    """Create the recipe's strategy now, once per process: MultiWorkerMirroredStrategy must exist before
    TensorFlow's runtime starts (collective ops are configured at program startup), so the run calls
    this before it loads anything. It waits until every worker in TF_CONFIG has joined."""
    cfg = settings(training)
    if cfg is None or cfg.strategy in _STRATEGY:
        return
    from ..tf import tf

    if cfg.strategy == "multi_worker":
        from ..interrupt import restore_handlers, set_handlers

        worker_from_env()
        # it blocks in native code until every worker has joined: Ctrl-C and SIGTERM end the process there
        # (a flag would never be looked at); nothing has been written yet when the run calls this first
        saved = set_handlers(signal.SIG_DFL)
        try:
            _STRATEGY[cfg.strategy] = tf.distribute.MultiWorkerMirroredStrategy()
            tf.config.list_logical_devices()  # starts the runtime: the wait for the other workers is here
        except RuntimeError as e:  # TensorFlow's runtime started already (e.g. a run inside another command)
            raise RecipeError(f"training.distribute.strategy multi_worker: {' '.join(str(e).split())}; it needs a "
                              "process of its own: run `optimize-cli run` on each worker") from None
        finally:
            restore_handlers(saved)
    else:
        _STRATEGY[cfg.strategy] = tf.distribute.MirroredStrategy()


class Local:
    """No strategy: the fit as it always was (the model itself, its data set, no scope)."""

    record: Optional[dict] = None

    def scope(self):
        return contextlib.nullcontext()

    def replicate(self, model):
        return model

    def dataset(self, ds):
        return ds

    def copy_back(self, replica, model) -> None:
        return None


class Distributed(Local):
    """A stage's fit under `strategy`: the model copied into its scope, the data set sharded by element."""

    def __init__(self, strategy, name: str, stage: str):
        self.strategy = strategy
        resolver = getattr(strategy, "cluster_resolver", None)
        spec = resolver.cluster_spec().as_dict() if resolver is not None else {}
        workers = sum(len(v) for v in spec.values()) or 1
        replicas = int(strategy.num_replicas_in_sync)
        note = (f"{stage}: each global batch split over {replicas} replicas on {workers} worker(s)" if replicas > 1
                else f"{stage}: one replica (MirroredStrategy found one device), the same fit as "
                     "without a strategy")
        self.record = {"strategy": name, "replicas": replicas, "workers": workers, "note": note}

    def scope(self):
        return self.strategy.scope()

    def replicate(self, model):
        """A copy of `model` (tfmot wrappers included) whose variables the strategy made, same weights."""
        from ..errors import StageError
        from ..tf import keras, tfmot

        try:
            with tfmot.sparsity.keras.prune_scope(), tfmot.clustering.keras.cluster_scope():
                copy = keras.models.clone_model(model)
            copy.set_weights(model.get_weights())
        except Exception as e:  # noqa: BLE001 - any failure to copy is the same one-line error
            raise StageError(f"distribute: cannot copy the model into the strategy's scope "
                             f"({' '.join(str(e).split())[:200]})") from None
        return copy

    def dataset(self, ds):
        from ..tf import tf

        opts = tf.data.Options()
        opts.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
        return ds.with_options(opts)

    def copy_back(self, replica, model) -> None:
        model.set_weights(replica.get_weights())


def for_stage(ctx, stage: str, distributed: bool, why_local: Optional[str] = None) -> Local:
    """How stage `stage` fits: under the recipe's strategy when the stage is `distributed` (its module's
    DISTRIBUTED), else locally (`why_local`: its module's LOCAL_REASON, said in the record's note). The
    strategy must have been created by `start` (the entry point does, before anything is loaded)."""
    cfg = settings(getattr(ctx, "training", None))
    if cfg is None:
        return Local()
    if not distributed:
        local = Local()
        where = "on the chief alone" if cfg.strategy == "multi_worker" else "on one device"
        why = f": {why_local}" if why_local else ""
        local.record = {"strategy": cfg.strategy, "replicas": 1, "workers": 1, "note": f"{stage}: trained {where}{why}"}
        return local
    if cfg.strategy not in _STRATEGY:
        from ..errors import StageError

        raise StageError(f"{stage}: training.distribute.strategy {cfg.strategy} was not started (call "
                         "training.distribute.start(training) once, before the first stage)")
    return Distributed(_STRATEGY[cfg.strategy], cfg.strategy, stage)
