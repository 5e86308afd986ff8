"""The stage contract: what a stage module must hold (`StageModule`, checked by the registry's
`register()`), its parameters' common fields and resolve rules (`StageParams`), what it is given
(`StageContext`) and the typed result it hands back (`StageResult`). Never imports TensorFlow."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, ClassVar, Optional, Protocol

from pydantic import BaseModel, ConfigDict, Field

from ..models.compile import CompileInfo
from ..progress import Reporter
from ..training.distill import DistillConfig, DistillSetting
from ..training.fit import FitHistory

#: a problem a stage's `resolve()` finds: (path inside the stage, message, show the key's line)
StageProblem = tuple[list, str, bool]


class StageParams(BaseModel):
    """Fields every training stage accepts; `None` means "use the recipe's `training` default"."""

    model_config = ConfigDict(extra="forbid")

    #: the stage's own default learning rate, used when neither the stage nor training sets one (None:
    #: training.learning_rate's default); see each stage's learning_rate description
    DEFAULT_LEARNING_RATE: ClassVar[Optional[float]] = None

    learning_rate: Optional[float] = Field(
        None, gt=0, le=10, description="Learning rate for this stage (default: training.learning_rate)."
    )
    batch_size: Optional[int] = Field(
        None, ge=1, le=65_536, description="Batch size for this stage (default: training.batch_size)."
    )
    skip_layers: list[str] = Field(
        default_factory=list,
        description="Layer names or regular expressions (full match) this stage leaves as they are.",
    )
    distill: Optional[DistillSetting] = Field(
        None, description="Distillation from the input model for this stage: {alpha, temperature}, true or "
        "false (default: training.distill)."
    )


#: the former name
StageBase = StageParams


def resolve_common(params: StageParams, training) -> list[StageProblem]:
    """The defaults and rules every stage shares, computed here once: the effective learning rate
    (`effective_learning_rate`) and batch size, and usable skip_layers patterns."""
    out: list[StageProblem] = []
    for j, pat in enumerate(params.skip_layers):
        try:
            re.compile(pat)
        except re.error as e:
            out.append((["skip_layers", j], f"not a valid regular expression ({e})", False))
        except (OverflowError, RecursionError, ValueError) as e:
            out.append((["skip_layers", j], f"not a usable regular expression "
                        f"({' '.join(str(e).split()) or type(e).__name__})", False))
    if params.learning_rate is None:
        params.learning_rate = effective_learning_rate(params, training)
    if params.batch_size is None:
        params.batch_size = training.batch_size
    return out


def effective_learning_rate(params: StageParams, training) -> float:
    """The rate a stage fits with, as the user wrote it: the stage's own learning_rate, else an explicit
    training.learning_rate (it applies to every stage that sets none), else the stage's own default
    (DEFAULT_LEARNING_RATE), else training.learning_rate's default."""
    if params.learning_rate is not None:
        return float(params.learning_rate)
    own = type(params).DEFAULT_LEARNING_RATE
    given = "learning_rate" in getattr(training, "model_fields_set", ())
    return float(training.learning_rate if given or own is None else own)


def stage_label(ctx, stage: str) -> str:
    """'stage 2 (cluster)': the label used in messages (1-based index, as the report numbers stages)."""
    return f"stage {ctx.index} ({stage})" if getattr(ctx, "index", 0) else stage


def seed(ctx) -> int:
    """Seed Python, NumPy and TensorFlow for this stage: training.seed + stage index (as the pipeline)."""
    from ..tf import keras

    s = int(getattr(ctx.training, "seed", 0) or 0) + int(getattr(ctx, "index", 0) or 0)
    keras.utils.set_random_seed(s)
    return s


@dataclass
class StageContext:
    """Everything a stage's `run(model, params, ctx)` may use.

    `train_dataset(batch_size)` returns a fresh, batched, shuffled (seeded) `tf.data.Dataset` of
    (x, y) pairs over the whole training split; `train_samples` is its size, so steps per epoch is
    `ceil(train_samples / batch_size)`.
    """

    train_dataset: Callable[[int], Any]
    train_samples: int
    training: Any                  # recipe.TrainingConfig (batch_size, optimizer, learning_rate, freeze_batchnorm, seed)
    compile_info: CompileInfo
    previous: list[str]            # types of the stages that ran before this one
    reporter: Reporter
    workdir: Path                  # scratch folder for this stage
    index: int = 0
    extra: dict = field(default_factory=dict)
    distill: Optional[DistillConfig] = None   # the stage's distillation settings (None: off)
    teacher: Any = None                        # the input model, frozen: the distillation teacher

    def batch_size(self, params) -> int:
        return params.batch_size or self.training.batch_size

    def steps_per_epoch(self, params) -> int:
        bs = self.batch_size(params)
        return max(1, -(-self.train_samples // bs))


@dataclass
class StageResult:
    """What a stage hands back: the stripped plain Keras model and what it did.

    `epochs` and `learning_rate` are what its fine-tuning used (None: it did not fine-tune). `record_extra`
    holds the stage's own report fields: the run loop copies them into the stage's record (report.json's
    `stages[]`, e.g. filter_prune's `filters`) without naming them; `details` is what the stage's tests
    and log lines read, and is not reported."""

    model: Any
    scheme: Optional[str] = None           # e.g. "PolynomialDecay(0.0→0.5, steps 0..96, every 8)", "PCQAT"
    skipped_layers: list[dict] = field(default_factory=list)  # [{"name":..., "reason":...}]
    history: FitHistory = field(default_factory=FitHistory)  # loss and metrics per epoch of its fine-tuning
    epochs: Optional[int] = None
    learning_rate: Optional[float] = None
    record_extra: dict = field(default_factory=dict)          # stage-owned fields of its record (report.json)
    details: dict = field(default_factory=dict)               # anything else the stage found (not reported)

    @classmethod
    def fine_tuned(cls, params, model, scheme: Optional[str], skipped: list, history: FitHistory,
                   **more) -> "StageResult":
        """The result of a stage that fine-tuned with `params`' epochs and learning rate (resolved)."""
        return cls(model=model, scheme=scheme, skipped_layers=skipped, history=history, epochs=params.epochs,
                   learning_rate=params.learning_rate, **more)


class StageModule(Protocol):
    """What a stage module (`stages/<type>.py`) holds; the registry's `register()` refuses a module that
    lacks one of these. Optional: `export_check(params, record, tflite_layers) -> dict` (did what it made
    survive the export), `EXPORT` / `EXPORT_REASON` (the stage decides the export: qat → int8),
    `LOCAL_REASON` (why its fit is not distributed) and `path_scheme(previous) -> str` (a scheme that
    follows from the path: qat's QAT / PQAT / CQAT / PCQAT)."""

    #: the parameter model: a StageParams with a `type: Literal["<type>"]` field
    Params: type[StageParams]
    #: its fit runs under training.distribute's strategy (False: on one replica, see LOCAL_REASON)
    DISTRIBUTED: bool

    def resolve(self, params: StageParams, previous: list[str], training: Any) -> list[StageProblem]:
        """Fill in the derived defaults of `params` (in place) and return the problems of the tree rules
        that concern it, given the types of the stages before it."""

    def run(self, model: Any, params: StageParams, ctx: StageContext) -> StageResult:
        """Apply → fine-tune → strip, with `params` resolved (the registry's `run_stage` resolved them)."""

    def tree_label(self, previous: list[str]) -> str:
        """How `optimize-cli tree` names the stage after the stages `previous`."""


#: the members of StageModule that are functions / values, as `check_stage_module` looks for them
_CALLABLES = ("resolve", "run", "tree_label")


def check_stage_module(module: ModuleType) -> str:
    """The stage type `module` owns; a TypeError naming what is missing when it is not a StageModule."""
    name = getattr(module, "__name__", repr(module))
    need = "a stage module needs Params, DISTRIBUTED, resolve, run and tree_label (stages/base.StageModule)"
    missing = [n for n in ("Params", "DISTRIBUTED", *_CALLABLES) if not hasattr(module, n)]
    if missing:
        raise TypeError(f"stage module {name} has no {', '.join(missing)}: {need}")
    params = module.Params
    if not (isinstance(params, type) and issubclass(params, StageParams)):
        raise TypeError(f"stage module {name}: Params must be a StageParams subclass (got {params!r})")
    typ = params.model_fields.get("type")
    if typ is None or not isinstance(typ.default, str) or not typ.default:
        raise TypeError(f"stage module {name}: Params needs a `type: Literal[\"<type>\"] = \"<type>\"` field")
    bad = [n for n in _CALLABLES if not callable(getattr(module, n))]
    if not isinstance(module.DISTRIBUTED, bool):
        bad.append("DISTRIBUTED (a bool)")
    for opt in ("export_check", "path_scheme"):
        if hasattr(module, opt) and not callable(getattr(module, opt)):
            bad.append(opt)
    if bad:
        raise TypeError(f"stage module {name}: {', '.join(bad)} {'is' if len(bad) == 1 else 'are'} not as "
                        f"StageModule says: {need}")
    return typ.default
