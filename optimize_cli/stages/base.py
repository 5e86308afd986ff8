"""What every training stage shares: its parameters' common fields and resolve rules, what it is given
(`StageContext`) and the typed record it hands back (`StageResult`). Never imports TensorFlow."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Optional

from pydantic import BaseModel, ConfigDict, Field

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


def resolved_for_run(module, params: StageParams, ctx) -> StageParams:
    """A copy of `params` with the stage's `resolve()` applied for `ctx` (a no-op on a loaded recipe's
    stages, which the recipe resolved already); what the stage runs, fits and records with."""
    p = params.model_copy(deep=True)
    module.resolve(p, list(ctx.previous), ctx.training)
    return p


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
class CompileInfo:
    """Loss and metric the fine-tuning uses (from the recipe, the saved compile config, or inferred)."""

    loss: Any                      # a Keras loss name or object
    metrics: list                  # Keras metric names/objects for fit/evaluate
    from_logits: bool = False      # the model's output is logits (no softmax/sigmoid)
    source: str = "inferred"       # "recipe" | "saved" | "inferred"


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
    """What a stage hands back: the stripped plain Keras model and what it did."""

    model: Any
    scheme: Optional[str] = None           # e.g. "PolynomialDecay(0.0→0.5, steps 0..96, every 8)", "PCQAT"
    skipped_layers: list[dict] = field(default_factory=list)  # [{"name":..., "reason":...}]
    history: FitHistory = field(default_factory=FitHistory)  # loss and metrics per epoch of its fine-tuning
    details: dict = field(default_factory=dict)               # anything else worth reporting
