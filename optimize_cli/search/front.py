"""The study's outcome: each trial's record, the Pareto front, the recommended trial (best on the first
objective among those that pass every gate), and the files: search.json, search.md, best.yaml,
pareto/NN.yaml, and model.tflite + report.* of the recommended trial."""
from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Optional

from ..errors import EXIT_GATE, EXIT_INTERRUPTED, EXIT_OK, EXIT_STAGE, RecipeError
from ..owned_dirs import fresh_dir
from ..recipe.space import SearchSpace
from . import answers, committable, session
from .html import render_search_html
from .objective import TrialReport
from .tables import is_fraction, params_text, sensitivity_caption, sensitivity_table, show

SEARCH_SCHEMA_VERSION = 1
#: the study's user attr holding the trials the last session asked for (--trials, else search.trials)
REQUESTED = "optimize_cli.trials"


def record(t, objectives: list[str]) -> dict:
    """One trial as search.json lists it."""
    a = t.user_attrs
    state = "interrupted" if t.state.name == "FAIL" and "exit_code" not in a else (
        "complete" if t.state.name == "COMPLETE" else t.state.name.lower())
    return {
        "number": t.number, "state": state, "params": dict(t.params), "recipe": a.get("recipe"),
        "output": str(Path(a["recipe"]).with_suffix("")) if a.get("recipe") else None,
        "values": dict(zip(objectives, t.values, strict=True)) if t.values else None, "figures": a.get("figures") or {},
        "gates": a.get("gates") or [], "passed": bool(a.get("passed")) and state == "complete",
        "seconds": a.get("seconds"), "exit_code": a.get("exit_code"), "reason": a.get("reason"),
        "retry_of": session.retry_of(t), "builtin": a.get("builtin"), "duplicate_of": a.get("duplicate_of"),
    }


def show_value(v) -> str:
    """An objective or parameter value as the trial lines and search.md show it."""
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) >= 1 else f"{v:.4g}"
    return str(v)


def pareto(records: list[dict], objectives: list[str]) -> list[dict]:
    """The non-dominated complete trials (among those that pass every gate, when any does)."""
    done = [r for r in records if r["state"] == "complete"]
    pool = [r for r in done if r["passed"]] or done

    def vec(r):
        return [r["values"][k] for k in objectives]

    def dominates(a, b):
        return all(x <= y for x, y in zip(a, b, strict=True)) and any(x < y for x, y in zip(a, b, strict=True))

    front = [r for r in pool if not any(dominates(vec(o), vec(r)) for o in pool if o is not r)]
    return sorted(front, key=lambda r: (vec(r), r["number"]))


def recommended(records: list[dict], objectives: list[str]) -> Optional[dict]:
    ok = [r for r in records if r["passed"]]
    return min(ok, key=lambda r: ([r["values"][k] for k in objectives], r["number"])) if ok else None


def exit_code(records: list[dict], best: Optional[dict], interrupted: bool) -> int:
    if interrupted:
        return EXIT_INTERRUPTED
    if best is not None:
        return EXIT_OK
    if records and all(r["state"] not in ("complete", "pruned") for r in records):  # pruned: ran, missed
        return EXIT_STAGE
    return EXIT_GATE


def write_outputs(study, space: SearchSpace, out: Path, interrupted: bool = False, total: Optional[int] = None,
                  stopped: Optional[str] = None) -> dict:
    """search.json, search.md, best.yaml, pareto/NN.yaml and the recommended trial's files; returns the
    search.json document (with its exit_code). `total`: the trials requested (--trials, else as the study
    last recorded it, else search.trials); `stopped`: why the search ended short of them (--timeout)."""
    objectives = list(space.config.objectives)
    total = total or study.user_attrs.get(REQUESTED) or space.config.trials
    # a WAITING trial is queued, not run (a built-in or a retry the next session runs first)
    records = [record(t, objectives) for t in study.get_trials(deepcopy=False) if t.state.name != "WAITING"]
    front = pareto(records, objectives)
    best = recommended(records, objectives)
    doc = {
        "schema_version": SEARCH_SCHEMA_VERSION, "study": study.study_name, "recipe": str(space.source),
        "objectives": objectives, "sampler": space.config.sampler, "space": space.dump(),
        "trials": records, "pareto": [r["number"] for r in front],
        "recommended": best["number"] if best else None, "interrupted": interrupted,
        "metric": trial_metric(records), "requested_trials": total, "stopped": stopped,
    }
    doc["space"]["trials"] = total
    sensitivity = read_sensitivity(out)
    if sensitivity is not None:
        doc["sensitivity"] = sensitivity
    doc["exit_code"] = exit_code(records, best, interrupted)
    picks = answers.pick(records, objectives, answers.ptq_size(records, objectives))
    doc["answers"] = {k: (r["number"] if r else None) for k, r in picks.items()}
    _write_recipes(study, space, out, doc, front, {"best": best, **picks})
    if best is not None:
        run_dir = Path(best["output"])
        for name in ("model.tflite", "report.json", "report.md", "report.html"):
            if (run_dir / name).is_file():
                shutil.copyfile(run_dir / name, out / name)
    (out / "search.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    (out / "search.md").write_text(markdown(doc), encoding="utf-8")
    (out / "search.html").write_text(render_search_html(doc), encoding="utf-8")
    return doc


def _write_recipes(study, space: SearchSpace, out: Path, doc: dict, front: list[dict], picks: dict) -> None:
    """pareto/NN.yaml, best.yaml, compact.yaml, balanced.yaml and quality.yaml, each committable
    (committable.py) from the trial's resolved recipe here; the three answers also from the recipe a worker
    elsewhere kept in the study (best.yaml and pareto/ of such a trial: study.report_only writes them)."""
    kept = {t.number: t.user_attrs.get("recipe_yaml") for t in study.get_trials(deepcopy=False)}
    pareto_dir = fresh_dir(out / "pareto", r"\d+\.yaml")  # never a user's own pareto/ folder
    wanted = [(pareto_dir / f"{i:02d}.yaml", r, f"pareto-{i:02d}", False) for i, r in enumerate(front)]
    wanted += [(out / f"{k}.yaml", r, k, k != "best") for k, r in picks.items() if r is not None]
    for path, r, label, anywhere in wanted:
        resolved = committable.resolved_of(r, kept.get(r["number"]) if anywhere else None)
        if resolved is None:  # the trial ran on another machine (--report-only)
            continue
        try:
            text = committable.recipe_text(space, r, resolved, path.parent, f"{doc['study']}-{label}",
                                           committable.describe(doc["study"], r, label, doc["metric"]))
        except (RecipeError, KeyError, ValueError, TypeError):  # a space that no longer fits: as the trial ran
            text = resolved
        path.write_text(text, encoding="utf-8")


def trial_metric(records: list[dict]) -> Optional[dict]:
    """{name, higher_is_better} of the metric, from the first completed trial's report.json (None if none)."""
    for r in records:
        if r["state"] == "complete" and r["output"]:
            try:
                metric = TrialReport.read(Path(r["output"]) / "report.json").metric
            except (OSError, ValueError):
                continue
            if metric is not None:
                return {"name": metric.name, "higher_is_better": metric.higher_is_better}
    return None


def read_sensitivity(out: Path) -> Optional[dict]:
    """DIR/sensitivity.json of the pre-pass, when there is one (search.json carries it as "sensitivity")."""
    try:
        doc = json.loads((out / "sensitivity.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def note(r: dict) -> str:
    """" (retry of 0003)" for a trial that repeats an interrupted one's parameters on purpose, " (built-in
    prune-ptq)" for one seeded from a built-in recipe (seeding.py), else ""."""
    if r.get("retry_of") is not None:
        return f" (retry of {r['retry_of']:04d})"
    if r.get("duplicate_of") is not None:
        return f" (the recipe of {r['duplicate_of']:04d}: its outcome, not run again)"
    return f" (built-in {r['builtin']})" if r.get("builtin") else ""


def markdown(doc: dict) -> str:
    objectives, fraction = doc["objectives"], is_fraction(doc.get("metric"))
    lines = [f"# Search {doc['study']}", "", f"Recipe: `{doc['recipe']}` · sampler {doc['sampler']} · "
             f"objectives (minimized): {', '.join(objectives)}", ""]
    best = doc["recommended"]
    lines.append(f"Recommended trial: **{best:04d}** (`best.yaml`)" if best is not None
                 else "No trial passed every gate: nothing is recommended.")
    if doc.get("stopped"):
        lines += ["", f"The search was {doc['stopped']}."]
    picked = {k: n for k, n in (doc.get("answers") or {}).items() if n is not None}
    if picked:
        lines += ["", "Answers: " + " · ".join(f"{k} **{n:04d}** (`{k}.yaml`)" for k, n in picked.items())]
    lines += ["", "| trial | state | " + " | ".join(objectives) + " | gates | seconds | parameters |",
              "|---|---|" + "---|" * len(objectives) + "---|---|---|"]
    front = set(doc["pareto"])
    for r in doc["trials"]:
        vals = [show(k, r["values"][k], fraction) if r["values"] else "" for k in objectives]
        params = params_text(r)
        gates = ("passed" if r["passed"] else "missed") if r["state"] == "complete" else (r["reason"] or "")
        mark = (" ★" if r["number"] in front else "") + note(r)
        secs = f"{r['seconds']:.1f}" if r["seconds"] is not None else ""
        lines.append(f"| {r['number']:04d}{mark} | {r['state']} | " + " | ".join(vals) +
                     f" | {gates} | {secs} | {params} |")
    lines += ["", "★ on the Pareto front.", ""]
    sens = doc.get("sensitivity")
    if sens and sens.get("layers"):
        lines += ["## Per-layer sensitivity", "", sensitivity_caption(sens), "", sensitivity_table(sens).markdown(), ""]
    return "\n".join(lines)
