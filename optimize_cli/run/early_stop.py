"""Early stopping of a hopeless search trial (`search.early_stop`): `optimize-cli search` runs each trial
with the hidden option `run --early-stop-drop DROP` (RunOptions.early_stop_drop): the accuracy drop
(metric units, against the float baseline) past which the trial cannot meet gates.max_accuracy_drop any
more. After each stage that has stages after it, a Keras accuracy whose drop is above that stops the run:
exit 6 (EarlyStopped), its one line on stderr, and `early_stop.json` beside the finished stages in the
partial output directory. The stage's checkpoint is written before the check, so `run --resume` (without
the option) continues the run; a new run into that directory removes the stale marker. Without the option
(every ordinary run), nothing changes."""
from __future__ import annotations

import contextlib
import json
from typing import Optional

from ..errors import EarlyStopped
from ..measure.metrics import accuracy_drop

#: the hidden `run` option that sets the limit (search passes it to its trials)
OPTION = "--early-stop-drop"
MARKER = "early_stop.json"


def limit(opts) -> Optional[float]:
    """The drop past which the run stops early (RunOptions.early_stop_drop), or None."""
    value = getattr(opts, "early_stop_drop", None)
    return None if value is None else float(value)


def forget(partial) -> None:
    """A new or resumed run starts without an earlier run's marker."""
    with contextlib.suppress(OSError):
        (partial / MARKER).unlink()


def check(run, i: int, record, baseline_accuracy: Optional[float]) -> None:
    """Stop the run (EarlyStopped) when stage `i` is not the last and its Keras accuracy is more than the
    limit below the float baseline; write the marker first."""
    stop = limit(run.opts)
    if stop is None or i >= len(run.recipe.stages) or record.keras_accuracy is None:
        return
    drop = accuracy_drop(baseline_accuracy, record.keras_accuracy, run.inputs.higher_is_better)
    if drop is None or drop <= stop:
        return
    metric = run.inputs.metric
    doc = {"stage": i, "type": record.type, "metric": metric, "keras_accuracy": record.keras_accuracy,
           "baseline_accuracy": baseline_accuracy, "drop": drop, "limit": stop}
    run.out.write_result(lambda: (run.out.partial / MARKER).write_text(json.dumps(doc, indent=2) + "\n"))
    raise EarlyStopped(
        f"stopped early after stage {i} ({record.type}): keras {metric} {record.keras_accuracy:.4f} is "
        f"{drop:.4f} below the float baseline {baseline_accuracy:.4f}, past the search's early-stop limit "
        f"{stop:.4f}; the finished stages are kept (run --resume continues)")
