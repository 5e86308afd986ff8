"""qat: quantization-aware training; the scheme (QAT, PQAT, CQAT, PCQAT) follows from the path."""
from __future__ import annotations

from typing import ClassVar, Literal, Optional

from pydantic import Field

from ..tree import SCHEME_TITLES, SCHEMES, scheme_keeping, scheme_note
from .base import StageParams, StageProblem, resolve_common


class QatStage(StageParams):
    """Quantization-aware training with 8-bit weights and activations; must be the last stage."""

    DEFAULT_LEARNING_RATE: ClassVar[Optional[float]] = 1e-4  # see the learning_rate description

    type: Literal["qat"] = "qat"
    learning_rate: Optional[float] = Field(
        None,
        gt=0,
        le=10,
        description="Learning rate for this stage (default: training.learning_rate where the recipe sets it, else 1e-4). QAT "
        "starts from an already fine-tuned model; 1e-3 dropped accuracy by up to 5 points in the first epoch "
        "on the real DS-CNN and ended below 1e-4 in 3 of 5 PCQAT runs (the others within 0.2 points).",
    )
    epochs: int = Field(
        4,
        ge=0,
        le=10_000,
        description="Fine-tuning epochs with fake quantization. 4: at lr 1e-4 PCQAT accuracy plateaued after "
        "2–4 epochs on the real DS-CNN and the digits models.",
    )
    calibrate_ranges: bool = Field(
        True,
        description="Set the activation ranges from the training data before fine-tuning. tfmot starts them at "
        "[-6, 6] and moves them by an EMA with decay 0.999, so after the few hundred steps of a small data set "
        "they are still ≈[-6, 6] (even after ReLU) and waste most of the int8 levels.",
    )


# ---------------------------------------------------------------------------------------------- run

#: the export a path through qat ends in, and why (the tree rules and `optimize-cli tree` read them)
EXPORT = "int8"
EXPORT_REASON = "quantization-aware training produces an int8 model"
#: its fit runs on one replica under training.distribute, and why
DISTRIBUTED = False
LOCAL_REASON = "tfmot's quantization-aware training does not support tf.distribute"
#: scheme name → "QAT (Default8BitQuantizeScheme)", as the stage record's tfmot_scheme shows it
SCHEME_NOTES = {name: scheme_note(name) for name in SCHEMES}


def make_scheme(name: str):
    """The tfmot quantize scheme object for QAT / PQAT / CQAT / PCQAT."""
    from ..tf import tfmot

    combine = tfmot.experimental.combine
    if name == "PQAT":
        return combine.Default8BitPrunePreserveQuantizeScheme()
    if name == "CQAT":
        return combine.Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=False)
    if name == "PCQAT":
        return combine.Default8BitClusterPreserveQuantizeScheme(preserve_sparsity=True)
    return tfmot.quantization.keras.default_8bit.Default8BitQuantizeScheme()


def _inbound(layer) -> list:
    try:
        inb = layer._inbound_nodes[0].inbound_layers  # noqa: SLF001 - Keras 2 has no public API for this
    except (AttributeError, IndexError):
        return []
    return list(inb) if isinstance(inb, (list, tuple)) else [inb]


def unquantizable_activation(config, layer) -> Optional[str]:
    """The name of an activation `config` would fake-quantize in `layer` that tfmot cannot (its
    QuantizeAwareActivation knows linear, relu, swish, gelu, softmax, sigmoid, tanh: a fused 'relu6' fails
    quantize_apply with "Only some Keras activations ... are supported"), or None."""
    from tensorflow_model_optimization.python.core.quantization.keras.quantize_aware_activation import (
        QuantizeAwareActivation,
    )

    probe = object.__new__(QuantizeAwareActivation)  # only its class tables are read
    for activation, _ in config.get_activations_and_quantizers(layer):
        if not probe._is_supported_activation(activation):  # noqa: SLF001 - tfmot has no public API for this
            return str(getattr(activation, "__name__", type(activation).__name__))
    return None


def configurable(registry, layer) -> bool:
    """The registry both claims `layer` and can quantize it. tfmot's prune- and cluster-preserving
    registries claim every layer without trainable weights and then ask the 8-bit registry, which raises
    for the classes it lacks (Rescaling, Normalization, Resizing, …); and a supported layer with a fused
    activation tfmot cannot fake-quantize (relu6, elu, …) fails when it is wrapped."""
    if not registry.supports(layer):
        return False
    try:
        config = registry.get_quantize_config(layer)
        if config is None:
            return True  # quantize_apply leaves it alone
        config.get_output_quantizers(layer)  # raises for an Activation layer tfmot does not know
        return unquantizable_activation(config, layer) is None
    except (ValueError, KeyError, AttributeError, TypeError, RuntimeError):
        return False


class _HonestRegistry:
    """A tfmot quantize registry whose supports() is `configurable`: quantize_apply asks supports() of
    every float layer that feeds a quantized one, then get_quantize_config(), which must not raise."""

    def __init__(self, registry):
        self._registry = registry

    def supports(self, layer) -> bool:
        return configurable(self._registry, layer)

    def get_quantize_config(self, layer):
        return self._registry.get_quantize_config(layer)


class _HonestScheme:
    """A tfmot quantize scheme with its registry made honest (see _HonestRegistry); same layout transforms."""

    def __init__(self, scheme):
        self._scheme = scheme

    def get_layout_transformer(self):
        return self._scheme.get_layout_transformer()

    def get_quantize_registry(self):
        return _HonestRegistry(self._scheme.get_quantize_registry())


def output_only_config():
    """The QuantizeConfig tfmot gives Add/Concatenate: no weights quantized, the output quantized 8-bit
    (moving-average range): what Rescaling, Normalization and LayerNormalization need (see `_output_only`)."""
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as registry8,
    )

    return registry8.Default8BitQuantizeConfig([], [], True)


def _output_only(layer) -> bool:
    """Rescaling / Normalization (elementwise affine maps without trainable weights) and LayerNormalization:
    no tfmot registry configures them; quantized here with `output_only_config`, so the layer after them
    reads a quantized tensor (a Dense after a float LayerNormalization lost its clusters in the int8 export:
    the converter quantized it from tfmot's unclustered variable) and the converter computes them in int8
    (MUL/SUB/ADD; MEAN/SQUARED_DIFFERENCE/RSQRT for LayerNormalization)."""
    from ..tf import keras

    if isinstance(layer, keras.layers.LayerNormalization):
        return True
    return isinstance(layer, (keras.layers.Rescaling, keras.layers.Normalization)) and not layer.trainable_weights


def _qat_decider(registry):
    from ..tf import keras, tfmot

    annotated: set[str] = set()
    layers = keras.layers

    def folds_into(layer) -> bool:
        """BatchNorm right after an annotated, linear Conv2D / DepthwiseConv2D / Dense: tfmot's layout
        transforms fold it (Conv2DBatchNormQuantize, DenseBatchNormQuantize)."""
        inb = _inbound(layer)
        if len(inb) != 1 or inb[0].name not in annotated:
            return False
        prev = inb[0]
        act = getattr(getattr(prev, "activation", None), "__name__", "")
        return isinstance(prev, (layers.Conv2D, layers.DepthwiseConv2D, layers.Dense)) and act == "linear"

    def fed_by_float(layer) -> list[str]:
        """The names of its inputs when all come from layers left in float (not the model's inputs)."""
        inb = _inbound(layer)
        if not inb or any(isinstance(i, layers.InputLayer) or i.name in annotated for i in inb):
            return []
        return [i.name for i in inb]

    def decide(layer):
        if isinstance(layer, layers.Lambda):
            return "Lambda layers cannot be quantized automatically; left in float"
        floats = [] if layer.trainable_weights else fed_by_float(layer)
        if floats:  # a quantized pooling/reshape/… after a float layer breaks the converter's same-scale rule
            return f"its input{'s' if len(floats) > 1 else ''} ({', '.join(floats)}) stay in float; left in float too"
        if isinstance(layer, layers.BatchNormalization):
            if not folds_into(layer):
                return ("BatchNormalization that does not follow a linear Conv2D/DepthwiseConv2D/Dense cannot be "
                        "quantized by tfmot; left in float")
        elif _output_only(layer):
            annotated.add(layer.name)
            return tfmot.quantization.keras.quantize_annotate_layer(layer, output_only_config())
        elif not configurable(registry, layer):
            act = getattr(getattr(layer, "activation", None), "__name__", None)
            if registry.supports(layer) and act and act not in ("linear", "relu", "softmax", "sigmoid", "tanh"):
                return (f"tfmot cannot quantize its fused activation '{act}' ({type(layer).__name__}); left in "
                        f"float (an activation layer after it, e.g. ReLU(max_value=6) for relu6, can be quantized)")
            return f"not supported by tfmot's 8-bit quantization ({type(layer).__name__}); left in float"
        annotated.add(layer.name)
        return tfmot.quantization.keras.quantize_annotate_layer(layer)

    return decide


def _calibration_batch(ctx, limit_bytes: int = 64 << 20, most: int = 512):
    """Up to `most` training samples (fewer for large inputs) as one array."""
    import numpy as np

    xs, n = [], 0
    for batch in ctx.train_dataset(ctx.training.batch_size):
        x = batch[0] if isinstance(batch, (tuple, list)) else batch
        x = np.asarray(x)
        if not xs:
            per = max(1, int(x[0].nbytes))
            most = max(1, min(most, limit_bytes // per))
        xs.append(x)
        n += len(x)
        if n >= most:
            break
    return np.concatenate(xs)[:most] if xs else None


def calibrate_ranges(qmodel, ctx) -> int:
    """Set every activation range (tfmot MovingAverageQuantizer min/max) to the min/max seen on a batch of
    training samples: one eager forward pass in training mode with the EMA decay forced to 0, BatchNorm in
    inference mode and dropout off. Returns the number of samples used (0 when not possible)."""
    from tensorflow_model_optimization.python.core.quantization.keras import quant_ops

    from ..tf import keras
    from ..training.fit import batchnorm_layers

    x = _calibration_batch(ctx)
    original = getattr(quant_ops, "MovingAvgQuantize", None)
    if x is None or original is None:
        return 0

    def no_ema(*args, **kwargs):
        kwargs["ema_decay"] = 0.0
        return original(*args, **kwargs)

    bns = [bn for bn in batchnorm_layers(qmodel) if bn.trainable]
    drops = []
    for layer in qmodel.layers:
        inner = getattr(layer, "layer", layer)
        if isinstance(inner, keras.layers.Dropout) and inner.rate:
            drops.append((inner, inner.rate))
    quant_ops.MovingAvgQuantize = no_ema
    try:
        for bn in bns:
            bn.trainable = False
        for d, _ in drops:
            d.rate = 0.0
        qmodel(x, training=True)
    finally:
        quant_ops.MovingAvgQuantize = original
        for bn in bns:
            bn.trainable = True
        for d, rate in drops:
            d.rate = rate
    return int(len(x))


def run(model, params: QatStage, ctx):
    """Quantization-aware training with the scheme that preserves what the earlier stages made.

    Returns the QAT model (with tfmot's quantize wrappers): the converter exports it to int8 with its
    learnt ranges."""
    from ..errors import StageError
    from ..tf import tfmot
    from ..training.fit import fit
    from .base import StageResult, stage_label
    from .layers import check_skip_layers, freeze_preserved, wrap_stage_layers

    label = stage_label(ctx, "qat")
    name = path_scheme(list(ctx.previous))
    scheme = make_scheme(name)
    check_skip_layers(model, params.skip_layers, "qat", ctx)
    annotated, wrapped, skipped = wrap_stage_layers(
        model, params, ctx, "qat", _qat_decider(scheme.get_quantize_registry()), "quantized")
    try:
        with tfmot.quantization.keras.quantize_scope():
            qmodel = tfmot.quantization.keras.quantize_apply(annotated, _HonestScheme(scheme))
    except Exception as e:
        raise StageError(f"{label}: tfmot could not apply {name} ({' '.join(str(e).split())[:300]}); "
                         "list the layer in skip_layers to leave it in float") from None
    # a layer left in float is fine-tuned without tfmot's masks and centroids: freeze what PQAT/CQAT/PCQAT keep
    frozen = freeze_preserved(qmodel, skipped, name in ("PQAT", "PCQAT"), name in ("CQAT", "PCQAT"))
    for layer in frozen:
        ctx.reporter.log(f"  {label}: {layer} left in float and frozen: fine-tuning it would undo the earlier stages")
    calibrated = calibrate_ranges(qmodel, ctx) if params.calibrate_ranges else 0
    history = fit(qmodel, ctx, "qat", label=label, epochs=params.epochs, learning_rate=params.learning_rate,
                  batch_size=params.batch_size, distributed=DISTRIBUTED, why_local=LOCAL_REASON)
    return StageResult.fine_tuned(
        params, qmodel, name, skipped, history,
        details={"scheme": name, "tfmot_scheme": SCHEME_NOTES[name], "quantized_layers": wrapped,
                 "calibration_samples": calibrated, "frozen_float_layers": frozen},
    )


# ------------------------------------------------------------------------------------------- tree


def resolve(params: QatStage, previous: list[str], training) -> list[StageProblem]:
    """Derived defaults (learning rate, batch size) and the rules that concern a qat stage (its export
    follows from EXPORT: the recipe's resolve checks export.quantization against it)."""
    return resolve_common(params, training)


def path_scheme(previous: list[str]) -> str:
    """The QAT scheme that preserves what the stages `previous` made: PQAT after prune, CQAT after cluster,
    PCQAT after both, else QAT."""
    return scheme_keeping(sparsity="prune" in previous, clusters="cluster" in previous)


def tree_label(previous: list[str]) -> str:
    """How `optimize-cli tree` names this stage after `previous`: 'PQAT (prune-preserving QAT) → int8'."""
    return f"{SCHEME_TITLES[path_scheme(previous)]} → {EXPORT}"


#: the parameter model the registry reads
Params = QatStage
