"""measure.metrics: compute_metric, and the metric direction, accuracy drop and saved percent defined once."""
from __future__ import annotations

import numpy as np
import pytest

from optimize_cli import measure


def test_compute_metric_accuracy_top_k_binary_and_errors():
    pred = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3], [0.3, 0.3, 0.4], [0.1, 0.3, 0.6]])
    y = np.array([1, 2, 0, 0])
    assert measure.compute_metric(pred, y) == 0.25
    assert measure.compute_metric(pred, y.reshape(-1, 1)) == 0.25
    assert measure.compute_metric(pred, np.eye(3)[y]) == 0.25
    # label 0 in row 2 ties with class 1 at 0.3: in the top 2 (ties count as in, like tf.math.in_top_k)
    assert measure.compute_metric(pred, y, "top_k_accuracy", top_k=2) == 0.75
    assert measure.compute_metric(pred, y, "top_k_accuracy", top_k=5) == 1.0
    prob = np.array([[0.9], [0.2], [0.51], [0.5]])
    lab = np.array([1, 0, 0, 1])
    assert measure.compute_metric(prob, lab, "binary_accuracy") == 0.5
    assert measure.compute_metric(prob, lab, "accuracy") == 0.5  # one unit: binary, like Keras
    assert measure.compute_metric(np.array([1.0, 2.0]), np.array([2.0, 2.0]), "mse") == 0.5
    assert measure.compute_metric(np.array([1.0, 2.0]), np.array([2.0, 4.0]), "mae") == 1.5
    with pytest.raises(ValueError):
        measure.compute_metric(pred, y, "f1")
    with pytest.raises(ValueError):
        measure.compute_metric(pred, y[:3])




def test_metrics_direction_drop_and_saved_percent_are_defined_once():
    from optimize_cli import report
    from optimize_cli.measure import metrics

    assert set(metrics.ERROR_METRICS) | set(metrics.FRACTION_METRICS) == set(metrics.METRICS)
    assert [metrics.higher_is_better(m) for m in metrics.METRICS] == [True, True, True, False, False]
    assert metrics.accuracy_drop(0.92, 0.908) == pytest.approx(0.012)
    assert metrics.accuracy_drop(0.10, 0.13, higher_is_better=False) == pytest.approx(0.03)
    assert metrics.accuracy_drop(None, 0.9) is None and metrics.accuracy_drop(0.9, None) is None
    assert metrics.saved_percent(528128, 434879) == pytest.approx(17.656, abs=1e-3)
    assert metrics.saved_percent(0, 0) == 0.0
    # report and the measure package re-export the same objects, not copies
    assert report.accuracy_drop is metrics.accuracy_drop and report.saved_percent is metrics.saved_percent
    assert measure.saved_percent is metrics.saved_percent and measure.LOWER_IS_BETTER == metrics.ERROR_METRICS


def test_metrics_unknown_name_is_refused_everywhere():
    with pytest.raises(ValueError, match="unknown metric 'f1'; one of accuracy, top_k_accuracy"):
        measure.check_metric("f1")
    with pytest.raises(ValueError, match="unknown metric 'f1'"):
        measure.evaluate_keras_batches(None, [], "f1")
