"""What loading gives the run: `LoadedModel` (made by models/load.py and models/keras3_build.py)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Optional


@dataclass
class LoadedModel:
    """The input model as loaded: a Keras model, or (format ``tf_savedmodel``) a plain TF SavedModel that
    can only be converted (``keras_model`` is None; ``concrete_function`` is its serving signature)."""

    keras_model: Any
    format: str
    path: str
    concrete_function: Any = None
    signature_key: Optional[str] = None
    warnings: list[str] = field(default_factory=list)
    #: (format keras3) verify(x) compares the translation with Keras 3 on inputs x; its record is `translation`
    verify: Optional[Callable[[Any], dict]] = None
    translation: Optional[dict] = None
