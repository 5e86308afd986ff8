"""The recipe language (DESIGN.md, `version: 1`): models, loading, overrides, tree rules and schema.

Never imports TensorFlow. model.py (Recipe and its sections) · sources.py (data sources) · load.py (file →
Recipe) · yaml_lines.py (line numbers) · problems.py (one-line problems, did you mean) · overrides.py
(--set) · resolve.py (tree rules, each stage's resolve, path checks) · schema.py (JSON Schema).
"""
from __future__ import annotations

from ..data import (
    DATA_SOURCES,
    DataConfig,
    DataSource,
    EvalSource,
    FeatureSpec,
    ImageDirSource,
    NpzSource,
    PythonSource,
    TfdsSource,
    TfrecordSource,
    ValidationSplit,
)
from ..stages import STAGE_ORDER, STAGES, ClusterStage, PruneStage, QatStage
from ..stages.qat import path_scheme as scheme_for
from .load import load_recipe
from .model import (
    NULLABLE_SECTIONS,
    QUANTIZATIONS,
    EvaluationConfig,
    ExportConfig,
    GatesConfig,
    Recipe,
    TrainingConfig,
    stage_union,
)
from .overrides import parse_set, set_path
from .paths import Rule
from .problems import DataProblems, Problem, RecipeProblems
from .resolve import check_rules
from .schema import json_schema

__all__ = [
    "DATA_SOURCES", "NULLABLE_SECTIONS", "QUANTIZATIONS", "STAGES", "STAGE_ORDER", "ClusterStage", "DataConfig",
    "DataSource", "EvalSource", "EvaluationConfig", "ExportConfig", "FeatureSpec", "GatesConfig", "ImageDirSource",
    "DataProblems", "NpzSource", "Problem", "PruneStage", "PythonSource", "QatStage", "Recipe", "RecipeProblems", "Rule",
    "TfdsSource", "TfrecordSource", "TrainingConfig", "ValidationSplit", "check_rules", "json_schema",
    "load_recipe", "parse_set", "scheme_for", "set_path", "stage_union",
]
