"""`RunState`: what one run of a recipe shares between its steps (run/path.py), its non-chief worker
(run/worker.py), and the helpers the steps call with it (baseline_cache.py, early_stop.py, targets.py).

Those helpers read the documented fields below and call `warn`, `convert` and `measure`; only the steps
of run/path.py set them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ..interrupt import check
from ..progress import Reporter
from .inputs import RunInputs
from .measurements import measure_tflite
from .records import TfliteFigures, WarningRecord
from .run_dir import MANIFEST_FORMAT, RunDir


@dataclass
class RunState:
    """The state of one run of a recipe.

    Given: `recipe` (validated and resolved), `opts` (run.RunOptions), `reporter` (stderr), `out` (the
    output directory being written: its partial folder, scratch folders, checkpoints) and `inputs` (the
    loaded model, data splits, compile info and metric). Filled in by the steps, in this order:
    `made_from` / `evaluated_with` / `done_before` / `manifest` (what the stages are made from and, with
    --resume, how many finished ones are reused), `rep` / `sample` (int8 calibration samples, one input
    for the latency runs), `cache` (the baseline cache, None with --no-cache), `ptq_tfl` (the int8 PTQ
    baseline's .tflite, the Ethos-U target's baseline), `density` (the plotted kernel's series),
    `teacher` (the input model, copied before the first stage that distils), `base_tfl` (the float32
    baseline's .tflite), `samples` / `main_figures` (the eval samples deployable files are checked on, and
    the deployable figures of model.tflite: run/targets.py) and `warnings` (report.json's `warnings`, also
    said on stderr by `warn`)."""

    recipe: Any
    opts: Any  # run.RunOptions
    reporter: Reporter
    out: RunDir
    inputs: RunInputs
    rep: Any = None  # representative samples (int8 calibration)
    sample: Any = None  # one input for the latency runs
    made_from: Optional[dict] = None
    evaluated_with: Optional[dict] = None
    done_before: int = 0  # stages reused by --resume
    manifest: dict = field(default_factory=lambda: {"format": MANIFEST_FORMAT, "stages": {}})
    density: Optional[dict] = None  # the plotted kernel: {"layer", "series": [{"label", "values"}]}
    warnings: list = field(default_factory=list)  # WarningRecord: report.json's `warnings`, also on stderr
    ptq_tfl: Optional[bytes] = None  # the int8 PTQ baseline's .tflite (the Ethos-U target's baseline)
    teacher: Any = None  # the input model, copied before the first stage, when a stage distils
    cache: Any = None  # baseline_cache.BaselineCache, None with --no-cache
    cache_said: bool = False  # the first reused baseline's log line was written (baseline_cache._reused)
    base_tfl: Optional[bytes] = None  # the float32 baseline's .tflite
    samples: Any = None  # () -> the eval samples each deployable file is checked on (run/targets.py)
    main_figures: Optional[dict] = None  # `targets.<name>` of the run's own runtime: deployable bytes, slim
    raw_tfl: Optional[bytes] = None  # the result as converted, before any target's slimming (tensor names kept)
    int4_layers: Optional[list] = None  # the weight bits ai-edge-quantizer gave each layer (export.weight_bits)

    def warn(self, source: str, message: str) -> None:
        """Tell the user (stderr) and record it in the report."""
        self.warnings.append(WarningRecord(source, message))
        self.reporter.warn(f"{source}: {message}")

    def convert(self, model, quantization: str, name: str) -> bytes:
        """TFLite bytes; a failed conversion is a StageError naming which one, its logs kept."""
        from .. import export
        from ..errors import StageError

        ex = self.recipe.export
        in_t = ex.inference_input_type if quantization == ex.quantization else None
        out_t = ex.inference_output_type if quantization == ex.quantization else None
        work = self.out.scratch(name)
        try:
            per_channel = ex.per_channel or name != "result"  # export.per_channel is the result's alone
            tfl = export.convert(model, quantization, self.rep, in_t, out_t, work, per_channel=per_channel)
            check()  # a safe point: a Ctrl-C / SIGTERM during the conversion stops the run here
            return tfl
        except StageError as e:
            err = self.out.keep_logs(e, work)
            if name != "result" and str(err).startswith("export:"):  # say which conversion failed
                err = StageError(f"{name.replace('_', ' ')}:{str(err)[len('export:'):]}")
            raise err from None

    def measure(self, tfl: bytes, quantization: str) -> TfliteFigures:
        """A .tflite measured like the result: sizes, accuracy over the eval split, latency."""
        i = self.inputs
        figures = measure_tflite(tfl, i.eval, i.metric, self.recipe.evaluation, quantization, self.sample,
                                 i.output_name)
        check()  # a safe point
        return figures
