"""What a stage is given to work with (no TensorFlow import here; datasets are built lazily)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from .progress import Reporter


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
    history: dict = field(default_factory=dict)               # Keras history (loss/accuracy per epoch)
    details: dict = field(default_factory=dict)               # anything else worth reporting
