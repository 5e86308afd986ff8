"""The recipe's pydantic models (DESIGN.md, `version: 1`): the sections and the Recipe itself.

The list of stages is a discriminated union (on `type`) built from the stage registry on demand: before
`Recipe` validates or describes itself it makes sure its union is the registry's as it is then (a test
that registers a throw-away stage changes it). Never imports TensorFlow.
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, Optional, Union

import yaml
from pydantic import Field, PrivateAttr, field_validator, model_validator
from pydantic.fields import FieldInfo

from .. import stages as stage_registry
from .. import targets as target_registry
from ..data import DataConfig
from ..integrations.config import TrackingConfig
from ..measure.metrics import METRICS
from ..stages.order import path_scheme
from ..strict import Strict as _Strict
from ..training.distill import DistillSetting
from ..training.distribute import DistributeConfig
from ..tree import QUANTIZATIONS
from .text import show_value

__all__ = ["QUANTIZATIONS", "TrainingConfig", "EvaluationConfig", "ExportConfig", "GatesConfig", "Recipe",
           "NULLABLE_SECTIONS", "current_stage_union", "stage_union"]

# ----------------------------------------------------------------------------------------- training


class TrainingConfig(_Strict):
    """Defaults for every training stage (each stage may override epochs, learning_rate, batch_size)."""

    batch_size: int = Field(64, ge=1, le=65_536, description="Samples per training step.")
    optimizer: Literal["adam", "sgd", "rmsprop"] = Field("adam", description="Optimizer for fine-tuning.")
    learning_rate: float = Field(
        1.0e-3,
        gt=0,
        le=10,
        description="Fine-tuning learning rate of every stage that sets none; when not given here, prune uses "
        "this default and cluster and qat their own (1e-4). Default 1e-3: on the real DS-CNN, 1e-4 (the "
        "tutorials' value) left 50%-pruned accuracy at 74.6% against 89.8% with 1e-3.",
    )
    freeze_batchnorm: bool = Field(
        True,
        description="Keep BatchNormalization layers in inference mode while fine-tuning (their statistics "
        "are not re-estimated from small fine-tuning batches; +1 point on the real DS-CNN).",
    )
    loss: Optional[str] = Field(
        None,
        description="Keras loss name; default: the model's saved compile config, else inferred from the "
        "output layer (probabilities or logits).",
    )
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Seed for Python, NumPy and TensorFlow.")
    distill: Optional[DistillSetting] = Field(
        None, description="Distillation from the input model in every training stage (a stage's own overrides): "
        "{alpha, temperature}, true (alpha 0.5, temperature 4) or false. Absent: on for single-output "
        "classifiers (alpha 0.5, temperature 4), off for regression and multi-output models.")
    distribute: Optional[DistributeConfig] = Field(
        None, description="Train the prune, cluster and filter_prune stages under tf.distribute (absent: one "
        "device, as always).")
    tensorboard: Optional[str] = Field(
        None, min_length=1, exclude=True, description="Write TensorBoard logs of every training stage under this "
        "folder (relative to the recipe), one NN_<type> subfolder each (extra [tensorboard]); --tensorboard "
        "overrides.")


class EvaluationConfig(_Strict):
    """How the result is measured."""

    metric: Optional[Literal[METRICS]] = Field(  # type: ignore[valid-type]
        None, description="Primary metric; default inferred from the loss (accuracy for classification)."
    )
    top_k: int = Field(5, ge=1, description="k for top_k_accuracy.")
    latency_runs: int = Field(50, ge=1, le=100_000, description="Timed single-sample invocations.")
    latency_warmup: int = Field(5, ge=0, le=10_000, description="Untimed invocations before timing.")
    threads: int = Field(1, ge=1, le=256, description="Interpreter threads for accuracy and latency.")
    output: Optional[Union[Annotated[int, Field(ge=0)], Annotated[str, Field(min_length=1)]]] = Field(
        None, description="For models with several outputs: the output the metric scores and the labels belong "
        "to, by name or index (default: the first output).")

    @field_validator("output", mode="before")
    @classmethod
    def _output(cls, v):
        if v is None or (isinstance(v, str) and v):
            return v
        if isinstance(v, int) and not isinstance(v, bool) and v >= 0:
            return v
        raise ValueError(f"must be an output name or an index >= 0 (got {show_value(v)})")


# ------------------------------------------------------------------------------------------- export


class ExportConfig(_Strict):
    """The TFLite conversion."""

    quantization: Optional[Literal[QUANTIZATIONS]] = Field(  # type: ignore[valid-type]
        None, description="none | dynamic | float16 | int8 | int16x8 (default int8; after qat always int8)."
    )
    inference_input_type: Optional[Literal["float32", "int8", "uint8", "int16"]] = Field(
        None, description="Input tensor type of the .tflite (default: int8 for int8, float32 otherwise)."
    )
    inference_output_type: Optional[Literal["float32", "int8", "uint8", "int16"]] = Field(
        None, description="Output tensor type of the .tflite (default: as inference_input_type)."
    )
    slim: bool = Field(
        True, description="Rewrite each target's file without what its runtime never reads (tensor names, "
        "metadata, all-zero zero points for TFLM), checked bit-identical on the runtime.")
    weight_bits: Union[Literal[4, 8], dict[str, Literal[4, 8]]] = Field(
        8, description="Weight bits of Conv2D/Dense: 8, 4 (int4 through ai-edge-quantizer, LiteRT only), or "
        "{layer name or regex: 4|8}.")
    per_channel: bool = Field(
        True, description="Per-channel int8 weight scales (false: one scale per tensor; post-training int8 "
        "only).")

    @field_validator("weight_bits", mode="before")
    @classmethod
    def _no_bool_bits(cls, v):
        if isinstance(v, bool) or (isinstance(v, dict) and any(isinstance(b, bool) for b in v.values())):
            raise ValueError("weight bits are 4 or 8")
        return v

    @property
    def int4(self) -> bool:
        """Some weights are asked for in 4 bits."""
        bits = self.weight_bits
        return bits == 4 or (isinstance(bits, dict) and 4 in bits.values())


class GatesConfig(_Strict):
    """Limits checked after the run; a missed gate exits 5 with everything still written."""

    max_accuracy_drop: Optional[float] = Field(
        None, ge=0, description="Largest allowed baseline − result accuracy (metric units, 0.02 = 2 points)."
    )
    min_compression_ratio: Optional[float] = Field(
        None, gt=0, description="Smallest allowed baseline.compressed_bytes / result.compressed_bytes."
    )
    max_compressed_bytes: Optional[int] = Field(None, gt=0, description="Largest allowed zipped .tflite size.")
    max_latency_ms: Optional[float] = Field(None, gt=0, description="Largest allowed median latency (ms).")
    max_deployable_bytes: Optional[Union[Annotated[int, Field(gt=0)], dict[str, Annotated[int, Field(gt=0)]]]] = Field(
        None, description="Largest allowed bytes the device stores (targets.<name>.deployable_bytes): one number "
        "for every target, or {target: number}.")
    # the gates on target figures (recipe `targets:`) follow, from the target registry (targets.apply)


# ------------------------------------------------------------------------------------------- recipe

#: sections that may be written empty (`training:` alone) to mean "all defaults"
NULLABLE_SECTIONS = ("data", "training", "export", "evaluation", "gates")


def stage_union():
    """The stage parameter models of the registry as one union, discriminated on `type`."""
    models = tuple(stage_registry.STAGES.values())
    return Annotated[Union[models], Field(discriminator="type")] if len(models) > 1 else models[0]


class Recipe(_Strict):
    """A path through the collaborative-optimization tree, from a model to a .tflite."""

    version: Literal[1] = Field(..., description="Recipe format version; always 1.")
    name: Optional[str] = Field(
        None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", description="Run name (default: the file's stem)."
    )
    description: str = Field("", description="One line saying what this recipe does.")
    model: Optional[str] = Field(
        None, description="SavedModel directory, .h5 or .keras file (relative to the recipe; --model overrides)."
    )
    data: DataConfig = Field(default_factory=DataConfig)
    training: TrainingConfig = Field(default_factory=TrainingConfig)
    stages: list[stage_union()] = Field(
        default_factory=list, description="The path: prune → cluster → qat, any subset in that order."
    )
    export: ExportConfig = Field(default_factory=ExportConfig)
    evaluation: EvaluationConfig = Field(default_factory=EvaluationConfig)
    gates: GatesConfig = Field(default_factory=GatesConfig)
    targets: list[target_registry.target_union()] = Field(
        default_factory=target_registry.default_targets, description=target_registry.FIELD_DESCRIPTION)
    tracking: Optional[TrackingConfig] = Field(
        None, exclude=True, description="Log the run to MLflow (extra [mlflow]): {mlflow: URI, experiment: NAME}; "
        "`tracking:` alone uses $MLFLOW_TRACKING_URI; --mlflow overrides.")

    _source: Optional[Path] = PrivateAttr(None)
    _sha256: Optional[str] = PrivateAttr(None)
    _places: dict = PrivateAttr(default_factory=dict)  # dotted key → "file:line" or "--set KEY" (locate)

    @model_validator(mode="before")
    @classmethod
    def _empty_sections(cls, v):
        # `training:` with every sub-key commented out reads as null: it means "all defaults"
        if isinstance(v, dict) and any(v.get(k, 0) is None for k in NULLABLE_SECTIONS):
            return {k: x for k, x in v.items() if not (k in NULLABLE_SECTIONS and x is None)}
        return v

    @field_validator("tracking", mode="before")
    @classmethod
    def _tracking_on(cls, v):
        return {} if v is None else v  # `tracking:` alone: on, every default

    @field_validator("targets", mode="before")
    @classmethod
    def _bare_targets(cls, v):
        return target_registry.bare_targets(v)

    @field_validator("stages", mode="before")
    @classmethod
    def _bare_types(cls, v):
        # the shortest recipe lists stage types only: `stages: [prune, cluster, qat]`
        if isinstance(v, list):
            return [{"type": s} if isinstance(s, str) else s for s in v]
        return v

    # ---- derived facts (filled in by `resolve`)
    def set_source(self, source: Path, sha256: str) -> None:
        """Record the file the recipe was read from and the SHA-256 of its bytes (the loader does)."""
        self._source, self._sha256 = source, sha256

    def set_places(self, places: dict[str, str]) -> None:
        """Where the keys that errors of the data and the model name are written: dotted key → "file:line",
        or "--set KEY" / "--model" for a value from the command line (the loader records them)."""
        self._places = dict(places)

    def locate(self, message: str) -> str:
        """An error message that starts with a recipe key (`data.eval: sample 3 …`, from the loaders and the
        checks against the model) with the file and line of that key in front, as recipe errors have them
        (or the option it came from after it)."""
        key = message.split(":", 1)[0].strip()
        while key and key not in self._places:
            key = key.rpartition(".")[0]
        place = self._places.get(key)
        if place is None or not message.startswith(key):
            return message
        return f"{message} (from {place})" if place.startswith("--") else f"{place}: {message}"

    @property
    def source(self) -> Optional[Path]:
        return self._source

    @property
    def sha256(self) -> Optional[str]:
        return self._sha256

    @property
    def stage_types(self) -> list[str]:
        return [s.type for s in self.stages]

    @property
    def qat_scheme(self) -> Optional[str]:
        """The QAT scheme that follows from the path (QAT, PQAT, CQAT, PCQAT), None without a QAT stage."""
        return path_scheme(self.stage_types)

    # ---- the stage union, as the registry is now
    @classmethod
    def model_validate(cls, obj: Any, **kwargs) -> "Recipe":
        current_stage_union()
        return super().model_validate(obj, **kwargs)

    @classmethod
    def model_json_schema(cls, *args, **kwargs) -> dict:
        current_stage_union()
        return super().model_json_schema(*args, **kwargs)

    def resolved_dict(self) -> dict:
        """The recipe with every default and override filled in (recipe.resolved.yaml)."""
        return self.model_dump(mode="json")

    def resolved_yaml(self) -> str:
        return yaml.safe_dump(self.resolved_dict(), sort_keys=False, allow_unicode=True)



#: the registry's modules the stages field was last built from
_BUILT_FOR: list = [stage_registry.stage_modules()]


def current_stage_union() -> None:
    """Make Recipe.stages the union of the registry as it is now (rebuilt only when the registry changed
    since the last build: a registered or unregistered throw-away stage)."""
    mods = stage_registry.stage_modules()
    if _BUILT_FOR[0] is mods:
        return
    Recipe.model_fields["stages"] = FieldInfo.merge_field_infos(
        Recipe.model_fields["stages"], annotation=list[stage_union()])
    Recipe.model_rebuild(force=True)
    _BUILT_FOR[0] = mods


target_registry.apply(Recipe, GatesConfig)  # the registry's target union and target gates
