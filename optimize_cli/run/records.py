"""The typed records of a run. `report.json` is `RunResult.dump()`: the same keys, in the same order
(DESIGN.md, report.json contract, schema_version 1); a stage's `record.json` is `StageRecord.dump()`."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from ..errors import EXIT_GATE, EXIT_OK

SCHEMA_VERSION = 1
_NOT_IN_REPORT = {"report": False}  # field metadata: kept on the record, left out of its dump


def dump(value: Any) -> Any:
    """A record (or a list / dict of them) as plain JSON-ready values, fields in declaration order."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        plain = {f.name: dump(getattr(value, f.name)) for f in dataclasses.fields(value)
                 if f.metadata.get("report", True)}
        return value.merged(plain) if isinstance(value, Record) else plain
    if isinstance(value, (list, tuple)):
        return [dump(v) for v in value]
    if isinstance(value, dict):
        return {k: dump(v) for k, v in value.items()}
    if hasattr(value, "tolist") and type(value).__module__ == "numpy":  # a numpy scalar from a stage's details
        return value.tolist()
    return value


class Record:
    def dump(self) -> dict:
        return dump(self)

    def merged(self, plain: dict) -> dict:
        """The dump of the record's fields, with whatever the record adds to it (as it is, here)."""
        return plain


@dataclass
class TfliteFigures(Record):
    """A .tflite measured: `baseline` (float32) and `ptq_baseline` (int8 post-training quantization)."""

    quantization: str
    tflite_bytes: int
    compressed_bytes: int
    compression_saved_percent: float
    accuracy: Optional[float]
    latency_ms: float
    latency_p90_ms: float
    threads: int
    targets: dict = field(default_factory=dict)  # recipe `targets:` name → that target's figures
    cached: bool = False  # taken from the baseline cache (run/baseline_cache.py), measured by an earlier run
    cached_from: Optional[str] = None  # the cache entry's folder when cached


@dataclass
class StageLayer(Record):
    """One layer's Keras weights after a stage."""

    name: str
    sparsity: float
    unique_weights: int
    max_unique_per_channel: int


@dataclass
class StageRecord(Record):
    """What a stage did and measured (after its strip step); also the stage's `record.json`.

    The fields are what every stage has; `extra` holds the stage's own fields (its StageResult's
    `record_extra`, e.g. filter_prune's `filters`), which the dump merges in after `history`."""

    index: int
    type: str
    scheme: str
    seconds: float
    epochs: Optional[int]
    learning_rate: Optional[float]
    keras_accuracy: Optional[float]
    sparsity: float
    max_unique_weights: Optional[int]
    skipped_layers: list[dict] = field(default_factory=list)
    layers: list[StageLayer] = field(default_factory=list)
    history: dict[str, list[float]] = field(default_factory=dict)   # per-epoch loss/metrics of the fit
    extra: dict = field(default_factory=dict, metadata=_NOT_IN_REPORT)  # the stage's own fields (merged in)
    distill: Optional[dict] = None   # {alpha, temperature, loss} when the stage distilled from the input model
    distribute: Optional[dict] = None  # {strategy, replicas, workers, note} under training.distribute

    def merged(self, plain: dict) -> dict:
        """The record as report.json's `stages[]` has it: the stage's own fields after `history`."""
        out: dict = {}
        for k, v in plain.items():
            out[k] = v
            if k == "history":
                out.update({e: dump(x) for e, x in self.extra.items() if e not in plain})
        return out

    @classmethod
    def from_dict(cls, d: dict) -> "StageRecord":
        """A record.json read back (written by this or an earlier version): keys that are no field of the
        record are the stage's own (`extra`)."""
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        kw = {k: v for k, v in d.items() if k in names}
        kw["layers"] = [StageLayer(**lay) for lay in d.get("layers", [])]
        return cls(**kw, extra={k: v for k, v in d.items() if k not in names})


@dataclass
class ResultLayer(Record):
    """One weight tensor measured in the final .tflite's buffers."""

    name: str
    op: str
    dtype: str
    params: int
    sparsity: float
    unique_weights: int
    max_unique_per_channel: int


@dataclass
class ResultRecord(Record):
    """The final .tflite."""

    path: str
    quantization: str
    tflite_bytes: int
    compressed_bytes: int
    compression_saved_percent: float
    compression_ratio: float
    accuracy: Optional[float]
    accuracy_drop: Optional[float]
    latency_ms: float
    latency_p90_ms: float
    speedup: Optional[float]
    threads: int
    layers: list[ResultLayer] = field(default_factory=list)
    targets: dict = field(default_factory=dict)  # recipe `targets:` name → that target's figures


@dataclass
class CheckRecord(Record):
    """Did the export keep what a stage made (sparsity, clusters)?"""

    name: str
    passed: bool
    message: str


@dataclass
class GateRecord(Record):
    name: str
    limit: float
    value: Optional[float]
    passed: bool


@dataclass
class ToolInfo(Record):
    name: str
    version: str


@dataclass
class RecipeInfo(Record):
    name: str
    path: str
    sha256: Optional[str]


@dataclass
class ModelInfo(Record):
    path: str
    format: str
    translation: Optional[dict] = None  # format keras3: the check against Keras 3 (models/keras3_check.py)
    loss: Optional[dict] = None  # the fine-tuning's loss and why (models/compile.py CompileInfo.dump)


@dataclass
class MetricInfo(Record):
    name: str
    higher_is_better: bool
    eval_samples: Optional[int]


@dataclass
class WarningRecord(Record):
    """Something the user should know about the run that is not an error: `source` says where it comes
    from (model, data, calibration, baseline, stage …), `message` is one line."""

    source: str
    message: str


@dataclass
class RunResult(Record):
    """What `run_path` returns; its dump is report.json. `output` (DIR as given) and `densities` (the
    weight-density series of the HTML plot) are not part of the report."""

    tool: ToolInfo
    versions: dict
    recipe: RecipeInfo
    model: ModelInfo
    metric: MetricInfo
    baseline: TfliteFigures
    ptq_baseline: Optional[TfliteFigures]
    stages: list[StageRecord]
    result: ResultRecord
    checks: list[CheckRecord]
    warnings: list[WarningRecord] = field(default_factory=list)
    gates: list[GateRecord] = field(default_factory=list)
    passed: bool = True
    seconds_total: float = 0.0
    schema_version: int = SCHEMA_VERSION
    output: Optional[Path] = field(default=None, metadata=_NOT_IN_REPORT)
    densities: Optional[dict] = field(default=None, metadata=_NOT_IN_REPORT)

    #: report.json's key order (schema_version first, as every report so far)
    ORDER = ("schema_version", "tool", "versions", "recipe", "model", "metric", "baseline", "ptq_baseline",
             "stages", "result", "checks", "warnings", "gates", "passed", "seconds_total")

    def dump(self, upto: Optional[str] = None) -> dict:
        """report.json; `upto`: only the keys before that one (what the gates are evaluated on)."""
        plain = dump(self)
        keys = self.ORDER if upto is None else self.ORDER[: self.ORDER.index(upto)]
        return {k: plain[k] for k in keys}

    @property
    def exit_code(self) -> int:
        """0, or 5 (EXIT_GATE) when a gate was missed."""
        return EXIT_OK if self.passed else EXIT_GATE

    @property
    def missed_gates(self) -> list[GateRecord]:
        return [g for g in self.gates if not g.passed]
