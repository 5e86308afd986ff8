"""A finished run or search, logged to MLflow (extra [mlflow], the `mlflow-skinny` client).

It reads only what the run wrote (report.json, recipe.resolved.yaml, search.json), after the run, so the run
loop knows nothing of it. A run becomes one MLflow run:

- params: the resolved recipe's values, flattened (`training.learning_rate`, `stages.0.target_sparsity`);
- metrics: every numeric figure of report.json's `result` (`compressed_bytes`, `accuracy_drop` ...), of
  `result.targets.<name>` (`targets.tflm.arena_bytes`, deployable bytes once targets report them),
  `baseline.*`, `ptq_baseline.*`, each stage's own figures (`01_prune/keras_accuracy`), its per-epoch
  history as step metrics (`01_prune/epoch_loss`, step = epoch, from 0 as in TensorBoard), `passed` (1/0)
  and `seconds_total`;
- artifacts: report.json, report.md, report.html, recipe.resolved.yaml and the .tflite files;
- tags: the path (`optimize_cli.path`), the tool's and the libraries' versions, the recipe and its sha256.

A search is one parent run (its settings, the recommended trial's figures, search.json and the outputs)
and one child run per trial (tag `mlflow.parentRunId`), each logged as above from its trials/NNNN/ folder.

Tracking never fails a run: a server that cannot be reached is one warning line at the start (and nothing
is logged); an error while logging is one warning line at the end. Only a missing client, when tracking
was asked for, is an error (exit 2) — before any work.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from ..errors import RecipeError
from .config import EXTRAS, tracking_uri

Warn = Callable[[str], None]

#: the files of an output directory that are logged as artifacts, when they are there
RUN_ARTIFACTS = ("report.json", "report.md", "report.html", "recipe.resolved.yaml", "model.tflite",
                 "model_tflm.tflite", "model_vela.tflite")
SEARCH_ARTIFACTS = ("search.json", "search.md", "search.html", "best.yaml", "compact.yaml", "balanced.yaml",
                    "quality.yaml", *RUN_ARTIFACTS)
TRIAL_ARTIFACTS = ("report.json", "report.html", "recipe.resolved.yaml")
#: seconds the start waits for the server's /health answer
PROBE_SECONDS = 5.0
_BAD_KEY = re.compile(r"[^A-Za-z0-9_\-. /]")


@dataclass
class Tracking:
    """Where to log: `uri` (None: MLflow's own default) and the experiment's name."""

    uri: Optional[str]
    experiment: str


def requested(cli_uri: Optional[str], recipe) -> Optional[Tracking]:
    """The tracking asked for by `--mlflow URI` or the recipe's `tracking:` (None when neither: a
    $MLFLOW_TRACKING_URI set for other tools does not make every run log). The URI is --mlflow's, else
    tracking.mlflow, else $MLFLOW_TRACKING_URI; the experiment tracking.experiment, else
    $MLFLOW_EXPERIMENT_NAME, else the recipe's name."""
    cfg = getattr(recipe, "tracking", None)
    if cli_uri is None and cfg is None:
        return None
    uri = tracking_uri(cli_uri) if cli_uri else (cfg.mlflow if cfg is not None and cfg.mlflow else None)
    uri = uri or os.environ.get("MLFLOW_TRACKING_URI") or None
    experiment = (cfg.experiment if cfg is not None and cfg.experiment else None)
    return Tracking(uri, experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or recipe.name)


def require_client() -> None:
    """Exit 2 (RecipeError) when tracking is asked for but the MLflow client is not installed."""
    import importlib.util

    try:
        missing = importlib.util.find_spec("mlflow") is None
    except ValueError:  # sys.modules["mlflow"] is None: blocked
        missing = True
    if missing:
        raise RecipeError(f"MLflow tracking (--mlflow / tracking:) needs the MLflow client: {EXTRAS['mlflow']}")


def start(cli_uri: Optional[str], recipe, warn: Warn) -> Optional[Tracking]:
    """At the start of a run or search: the tracking to do after it, or None. Exit 2 without the client;
    a server that does not answer is one warning line, and the run goes on untracked."""
    tracking = requested(cli_uri, recipe)
    if tracking is None:
        return None
    require_client()
    why = unreachable(tracking.uri)
    if why is not None:
        warn(f"MLflow tracking server {tracking.uri} cannot be reached ({why}); the run goes on without tracking")
        return None
    if tracking.uri and tracking.uri.startswith("file:"):  # asked for by name: MLflow 3 wants the opt-in
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = os.environ.get("MLFLOW_ALLOW_FILE_STORE") or "true"
    # a server that goes away during the run costs a few seconds at the end, not MLflow's minutes of retries
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    return tracking


def unreachable(uri: Optional[str]) -> Optional[str]:
    """Why an http(s) tracking server does not answer its /health endpoint (None: it does, or the URI is
    not a server's)."""
    if not uri or not uri.startswith(("http://", "https://")):
        return None
    try:
        with urllib.request.urlopen(uri.rstrip("/") + "/health", timeout=PROBE_SECONDS) as resp:
            resp.read(64)
    except urllib.error.HTTPError as e:  # it answered: a proxy or an older server without /health
        return None if e.code < 500 else f"HTTP {e.code}"
    except (OSError, ValueError) as e:
        reason = getattr(e, "reason", None) or e
        if isinstance(reason, ssl.SSLError):  # it answered; the client has its own TLS settings
            return None
        return str(getattr(reason, "strerror", None) or reason)
    return None


# ------------------------------------------------------------------------------------------ logging


def log_run(tracking: Optional[Tracking], out_dir: Path, warn: Warn, command: str = "run") -> Optional[str]:
    """Log the finished run in `out_dir` as one MLflow run; returns its id (None when nothing was logged:
    no tracking, or an error, which is one warning line)."""
    if tracking is None:
        return None
    try:
        with _hushed():  # stdout carries only the result; the client's own lines are replaced by the caller's
            client, experiment_id = _client(tracking)
            return _log_dir(client, experiment_id, Path(out_dir), RUN_ARTIFACTS, {"optimize_cli.command": command})
    except Exception as e:  # noqa: BLE001 - tracking never fails a run
        warn(f"MLflow: the run was not logged to {tracking.uri or 'the default tracking URI'} ({_one_line(e)})")
        return None


def log_search(tracking: Optional[Tracking], out_dir: Path, doc: dict, warn: Warn) -> Optional[str]:
    """Log a finished search: one parent run, one child run per trial; returns the parent's id."""
    if tracking is None:
        return None
    try:
        with _hushed():
            client, experiment_id = _client(tracking)
            return _log_search(client, experiment_id, Path(out_dir), doc)
    except Exception as e:  # noqa: BLE001
        warn(f"MLflow: the search was not logged to {tracking.uri or 'the default tracking URI'} ({_one_line(e)})")
        return None


@contextlib.contextmanager
def _hushed():
    """The MLflow client's prints ("View run at ...") and log lines kept off stdout and stderr."""
    import io
    import logging

    log = logging.getLogger("mlflow")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        log.setLevel(level)


def _client(tracking: Tracking):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking.uri) if tracking.uri else MlflowClient()
    exp = client.get_experiment_by_name(tracking.experiment)
    if exp is not None and exp.lifecycle_stage == "deleted":
        client.restore_experiment(exp.experiment_id)
    return client, (exp.experiment_id if exp is not None else client.create_experiment(tracking.experiment))


def _log_dir(client, experiment_id: str, out: Path, artifacts, tags: dict, parent: Optional[str] = None,
             name: Optional[str] = None, extra_params: Optional[dict] = None, status: str = "FINISHED") -> str:
    """One MLflow run from an output directory (report.json and recipe.resolved.yaml, when there)."""
    report = _read_json(out / "report.json")
    recipe = _read_yaml(out / "recipe.resolved.yaml")
    all_tags = {**run_tags(report), **tags}
    if parent is not None:
        all_tags["mlflow.parentRunId"] = parent
    run = client.create_run(experiment_id, run_name=name or (report or {}).get("recipe", {}).get("name"),
                            tags=_clean_tags(all_tags))
    run_id = run.info.run_id
    try:
        params = {**flatten(recipe or {}), **(extra_params or {})}
        _log_all(client, run_id, params, report_metrics(report or {}))
        for f in artifacts:
            if (out / f).is_file():
                client.log_artifact(run_id, str(out / f))
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, status)
    return run_id


def _log_search(client, experiment_id: str, out: Path, doc: dict) -> str:
    report = _read_json(out / "report.json") or {}
    tags = {**run_tags(report), "optimize_cli.command": "search", "optimize_cli.study": doc.get("study"),
            "optimize_cli.recommended": doc.get("recommended")}
    name = Path(str(doc.get("recipe") or "search")).stem
    run_id = client.create_run(experiment_id, run_name=f"{name} (search)", tags=_clean_tags(tags)).info.run_id
    try:
        params = {"search.objectives": ",".join(doc.get("objectives") or []), "search.sampler": doc.get("sampler"),
                  "search.study": doc.get("study"), **flatten({"space": doc.get("space")})}
        metrics = [*report_metrics(report), _metric("trials", len(doc.get("trials") or [])),
                   _metric("pareto_size", len(doc.get("pareto") or []))]
        _log_all(client, run_id, params, metrics)
        for f in SEARCH_ARTIFACTS:
            if (out / f).is_file():
                client.log_artifact(run_id, str(out / f))
        for r in doc.get("trials") or []:
            _log_trial(client, experiment_id, out, r, doc, run_id)
    except BaseException:
        client.set_terminated(run_id, "FAILED")
        raise
    client.set_terminated(run_id, "FINISHED")
    return run_id


def _log_trial(client, experiment_id: str, out: Path, r: dict, doc: dict, parent: str) -> str:
    """One trial as a child run: from its folder trials/NNNN/ (its recipe file when the run left no folder)."""
    number = int(r["number"])
    folder = out / "trials" / f"{number:04d}"
    tags = {"optimize_cli.command": "search trial", "optimize_cli.trial": number,
            "optimize_cli.trial_state": r.get("state"), "optimize_cli.pareto": number in (doc.get("pareto") or []),
            "optimize_cli.recommended": number == doc.get("recommended"), "optimize_cli.reason": r.get("reason")}
    sampled = {f"sampled.{k}": v for k, v in (r.get("params") or {}).items()}
    if not (folder / "recipe.resolved.yaml").is_file():  # failed before it wrote anything: its recipe
        trial_recipe = out / "trials" / f"{number:04d}.yaml"
        sampled.update(flatten(_read_yaml(trial_recipe) or {}))
    return _log_dir(client, experiment_id, folder, TRIAL_ARTIFACTS, tags, parent=parent,
                    name=f"trial {number:04d}", extra_params=sampled,
                    status="FINISHED" if r.get("state") == "complete" else "FAILED")


def _log_all(client, run_id: str, params: dict, metrics: list) -> None:
    """Params and metrics in batches within the server's limits (100 params, 1000 metrics a call)."""
    from mlflow.entities import Param

    items = [Param(_key(k), _param_value(v)) for k, v in params.items()]
    for i in range(0, len(items), 100):
        client.log_batch(run_id, params=items[i:i + 100])
    for i in range(0, len(metrics), 1000):
        client.log_batch(run_id, metrics=metrics[i:i + 1000])


# ------------------------------------------------------------------------ what a report is logged as


def flatten(value, prefix: str = "") -> dict:
    """{'a': {'b': [1, 2]}} → {'a.b.0': 1, 'a.b.1': 2}; empty mappings and lists stay as values."""
    if isinstance(value, dict) and value:
        out = {}
        for k, v in value.items():
            out.update(flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(value, list) and value:
        out = {}
        for i, v in enumerate(value):
            out.update(flatten(v, f"{prefix}.{i}" if prefix else str(i)))
        return out
    return {prefix: value} if prefix else {}


def _number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and v == v and abs(v) != float("inf")


def _metric(key: str, value, step: int = 0):
    from mlflow.entities import Metric

    return Metric(_key(key), float(value), int(time.time() * 1000), step)


def _figures(prefix: str, section: dict) -> list:
    """The numeric figures of a report section, and those of its `targets.<name>` (nested, generically)."""
    out = [_metric(f"{prefix}{k}", v) for k, v in section.items() if _number(v)]
    for tname, figs in (section.get("targets") or {}).items():
        if isinstance(figs, dict):
            out += [_metric(f"{prefix}targets.{tname}.{k}", v) for k, v in _leaves(figs).items()]
    return out


def _leaves(figures: dict, prefix: str = "") -> dict:
    """The numeric values of nested mappings ({"sram": {"peak": 1}} → {"sram.peak": 1}); lists (per-tensor
    tables) are the report's to show, not metrics."""
    out = {}
    for k, v in figures.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            out.update(_leaves(v, key))
        elif _number(v):
            out[key] = v
    return out


def report_metrics(report: dict) -> list:
    """Every figure of report.json as MLflow metrics (see the module docstring for the names)."""
    out = _figures("", report.get("result") or {})
    for section in ("baseline", "ptq_baseline"):
        if isinstance(report.get(section), dict):
            out += _figures(f"{section}.", report[section])
    for st in report.get("stages") or []:
        d = f"{int(st.get('index', 0)):02d}_{st.get('type')}"
        out += [_metric(f"{d}/{k}", v) for k, v in st.items() if k != "index" and _number(v)]
        for name, values in (st.get("history") or {}).items():
            out += [_metric(f"{d}/epoch_{name}", v, step) for step, v in enumerate(values or []) if _number(v)]
    if "passed" in report:
        out.append(_metric("passed", 1.0 if report["passed"] else 0.0))
    if _number(report.get("seconds_total")):
        out.append(_metric("seconds_total", report["seconds_total"]))
    return out


def run_tags(report: dict) -> dict:
    """The path, the tool's and the libraries' versions, the recipe."""
    from .. import __version__
    from ..tree import path_label

    tags = {"optimize_cli.version": (report.get("tool") or {}).get("version") or __version__}
    try:
        from importlib.metadata import version

        tags["versions.mlflow"] = version("mlflow-skinny")
    except Exception:  # noqa: BLE001 - the full mlflow package alone
        pass
    for k, v in (report.get("versions") or {}).items():
        tags[f"versions.{k}"] = v
    result = report.get("result") or {}
    if report:
        tags["optimize_cli.path"] = path_label(report.get("stages") or [], result.get("quantization"))
    recipe = report.get("recipe") or {}
    tags.update({"optimize_cli.recipe": recipe.get("name"), "optimize_cli.recipe_sha256": recipe.get("sha256"),
                 "optimize_cli.passed": report.get("passed"), "mlflow.source.name": "optimize-cli"})
    return tags


def _clean_tags(tags: dict) -> dict:
    return {_key(k): _param_value(v) for k, v in tags.items() if v is not None}


def _key(key: str) -> str:
    """A key MLflow accepts (letters, digits, _ - . space /), at most 250 characters."""
    return _BAD_KEY.sub("_", str(key))[:250]


def _param_value(v) -> str:
    text = v if isinstance(v, str) else json.dumps(v)
    return text[:6000]


def _read_json(p: Path) -> Optional[dict]:
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _read_yaml(p: Path) -> Optional[dict]:
    import yaml

    try:
        doc = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return doc if isinstance(doc, dict) else None


def _one_line(e: BaseException) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return text if len(text) <= 300 else text[:297] + "..."
