"""The search's progress (cli/search_progress.py): a rich live table of the best trials on a terminal,
exactly one plain line per trial elsewhere (CI logs), nothing with --quiet but warnings; on real Optuna
trials and studies."""
from __future__ import annotations

import io
import json
from pathlib import Path

import optuna
from optuna.distributions import FloatDistribution
from optuna.trial import TrialState
from rich.console import Console

from optimize_cli.cli.search_progress import TrialProgress, best_first, log_line
from optimize_cli.progress import fmt_elapsed
from optimize_cli.search import front

OBJ = ["compressed_bytes", "accuracy_drop"]


def trials():
    dist = {"stages.0.target_sparsity": FloatDistribution(0.4, 0.8)}

    def done(n, size, drop, passed):
        return optuna.trial.create_trial(
            state=TrialState.COMPLETE, values=[size, drop], params={"stages.0.target_sparsity": 0.4 + n / 10},
            distributions=dist, user_attrs={"passed": passed, "seconds": 5.0 + n, "exit_code": 0 if passed else 5,
                                            "reason": None})
    failed = optuna.trial.create_trial(state=TrialState.FAIL, params={"stages.0.target_sparsity": 0.7},
                                       distributions=dist, user_attrs={"exit_code": 4, "seconds": 1.0,
                                                                       "reason": "converter [bold]error[/bold]"})
    out = [done(0, 20000, 0.004, True), done(1, 12000, 0.05, False), failed, done(3, 15000, 0.01, True)]
    for i, t in enumerate(out):
        t.number = i
    return out


def test_not_a_terminal_prints_exactly_one_plain_line_per_trial():
    buf = io.StringIO()
    ts = trials()
    with TrialProgress(OBJ, console=Console(file=buf, width=80)) as progress:
        assert not progress.live
        for t in ts:
            progress.trial(t)
    lines = buf.getvalue().splitlines()
    assert lines == [log_line(t, OBJ) for t in ts]
    assert lines[2] == "trial 0002 fail in 1.0 s: converter [bold]error[/bold]"
    assert lines[3] == "trial 0003 complete in 8.0 s: compressed_bytes=15,000 accuracy_drop=0.01; gates passed"


def test_terminal_shows_a_live_table_of_the_best_trials_from_the_study(tmp_path):
    buf = io.StringIO()
    study = optuna.create_study(directions=["minimize", "minimize"])
    ts = trials()
    ts[3].set_user_attr("recipe", str(tmp_path / "0003.yaml"))  # its run's report names the metric
    (tmp_path / "0003").mkdir()
    (tmp_path / "0003" / "report.json").write_text(json.dumps({"metric": {"name": "accuracy",
                                                                          "higher_is_better": True}}))
    for t in ts:
        study.add_trial(t)
    console = Console(file=buf, force_terminal=True, width=140, color_system=None, _environ={})
    with TrialProgress(OBJ, console=console, live=True) as progress:
        progress.trial(study.get_trials()[-1], study)  # the other trials came from other workers
    out = buf.getvalue()
    assert "best trials so far" in out and "4 trials: 3 complete, 1 fail" in out
    final = out.split("best trials so far")[-1]  # the last drawing of the table
    rows = [ln for ln in final.splitlines() if "target_sparsity" in ln]
    # passing trials first, by size; the trial that missed a gate last; the failed trial not ranked
    assert [r.split("│")[2].strip() for r in rows] == ["0003", "0000", "0001"]
    assert "15,000" in rows[0] and "1.00 pts" in rows[0] and "passed" in rows[0] and "missed" in rows[2]
    assert "trial 0003 complete" in out  # its line above the table
    assert [r["number"] for r in best_first([front.record(t, OBJ) for t in ts], OBJ)] == [3, 0, 1]


def test_quiet_prints_nothing_but_warnings():
    buf = io.StringIO()
    with TrialProgress(OBJ, console=Console(file=buf, force_terminal=True), quiet=True) as progress:
        for t in trials():
            progress.trial(t)
        progress.log("sensitivity: 4 layers measured")
    assert buf.getvalue() == ""
    with TrialProgress(OBJ, console=Console(file=buf, force_terminal=True), quiet=True) as progress:
        progress.warn("worker 2 ended with exit code 1")
    assert buf.getvalue() == "optimize-cli: warning: worker 2 ended with exit code 1\n"


def test_search_lines_go_above_the_live_table():
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=140, color_system=None, _environ={})
    with TrialProgress(OBJ, console=console, live=True) as progress:
        progress.log("sensitivity: 4 layers measured")
    out = buf.getvalue()
    assert "sensitivity: 4 layers measured" in out and "waiting for the first trial" in out


def _start(number, place, total, log=None, **kw):
    from optimize_cli.search import TrialStart

    labels = {"stages.0.target_sparsity": "prune.target_sparsity", "stages.1.enabled": "cluster"}
    return TrialStart(number, {"stages.1.enabled": True, "stages.0.target_sparsity": 0.52}, place, total, log,
                      labels=labels, **kw)


def test_not_a_terminal_says_when_a_trial_starts_and_ends_with_the_study_so_far():
    buf = io.StringIO()
    study = optuna.create_study(directions=["minimize", "minimize"])
    ts = trials()
    study.add_trial(ts[0])  # an earlier session's trial
    with TrialProgress(OBJ, console=Console(file=buf, width=80)) as progress:
        progress.search_started(study, 4, 1, {})
        progress.trial_started(_start(1, 2, 4, builtin="prune-ptq"))
        progress.trial(ts[1], None)
    start, end = buf.getvalue().splitlines()
    assert start == "started trial 0001 (built-in prune-ptq) (2/4): +cluster, prune.target_sparsity=0.52"
    # 2 of 4 counted; the best feasible so far is the earlier session's trial; ETA: median 5.5 s × 2 left
    assert end == ("trial 0001 complete in 6.0 s: compressed_bytes=12,000 accuracy_drop=0.05; gates missed; (2/4); "
                   f"best so far 0000: compressed_bytes=20,000 accuracy_drop=0.004; ETA {fmt_elapsed(11.0)}")


def test_terminal_shows_the_running_trial_its_stage_and_earlier_sessions(tmp_path):
    buf = io.StringIO()
    study = optuna.create_study(directions=["minimize", "minimize"])
    for t in trials()[:2]:
        study.add_trial(t)
    log = tmp_path / "0002.log"
    log.write_text("[   0.5s] loaded digits_cnn\n[   3.2s] stage 1/2 prune: fine-tuning\n", encoding="utf-8")
    console = Console(file=buf, force_terminal=True, width=160, color_system=None, _environ={})
    with TrialProgress(OBJ, console=console, live=True) as progress:
        progress.search_started(study, 4, 1, {})
        progress.trial_started(_start(2, 3, 4, log=log))
        progress._live.refresh()
        final = buf.getvalue().split("best trials so far")[-1]
    assert "2 trials (2 of 4 counted)" in final and "0000" in final and "0001" in final
    assert "running trial 0002 (3/4)" in final and "stage 1/2 prune: fine-tuning" in final
    assert "waiting for the first trial" not in final


def test_resume_command_is_pastable_with_absolute_paths(tmp_path, monkeypatch):
    import shlex

    from optimize_cli.cli.search import resume_command
    from optimize_cli.search import SearchOptions

    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text("", encoding="utf-8")
    opts = SearchOptions(output=Path("out"), trials=12, timeout=600.0, workers=2,
                         storage="postgresql://me:secret@db:5432/s", study="x", no_cache=True)
    words = shlex.split(resume_command("s.yaml", Path("s.yaml"), opts, as_json=False))
    i = words.index("search")
    assert words[i + 1] == str(tmp_path / "s.yaml") and words[-1] == "--resume"
    assert words[words.index("--output") + 1] == str(tmp_path / "out")
    assert words[words.index("--trials") + 1] == "12" and words[words.index("--timeout") + 1] == "600"
    assert words[words.index("--workers") + 1] == "2" and "--no-cache" in words
    assert "secret" not in " ".join(words)
    builtin = shlex.split(resume_command("search-quantization", Path("/x/recipes/search-quantization.yaml"),
                                         SearchOptions(output=Path("o")), as_json=True))
    assert builtin[builtin.index("search") + 1] == "search-quantization" and "--json" in builtin


def _with_metric(tmp_path, ts):
    """Trial 0003's run wrote a report naming an accuracy metric: drops are then shown in points."""
    ts[3].set_user_attr("recipe", str(tmp_path / "0003.yaml"))
    (tmp_path / "0003").mkdir()
    (tmp_path / "0003" / "report.json").write_text(json.dumps({"metric": {"name": "accuracy",
                                                                          "higher_is_better": True}}))
    return ts


def test_trial_lines_format_figures_like_the_reports_once_the_metric_is_known(tmp_path):
    buf = io.StringIO()
    ts = _with_metric(tmp_path, trials())
    with TrialProgress(OBJ, console=Console(file=buf, width=80)) as progress:
        progress.trial(ts[3])
    assert buf.getvalue() == "trial 0003 complete in 8.0 s: compressed_bytes=15,000 accuracy_drop=1.00 pts; gates passed\n"


def test_live_table_at_80_columns_never_cuts_a_parameter_or_a_header(tmp_path):
    from optimize_cli.cli.search_progress import live_table

    ts = _with_metric(tmp_path, trials())
    records = [front.record(t, OBJ) for t in ts]
    for r in records:
        r["params"] = {"stages.0.target_sparsity": 0.52, "stages.1.enabled": True, "stages.1.clusters": 8}
    labels = {"stages.0.target_sparsity": "prune.target_sparsity", "stages.1.enabled": "cluster",
              "stages.1.clusters": "cluster.clusters"}
    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, width=80, color_system=None, _environ={})
    console.print(live_table(records, OBJ, fraction=True, total=4, labels=labels))
    out = buf.getvalue()
    assert max(len(line) for line in out.splitlines()) <= 80
    words = out.replace("│", " ").replace(", ", " ").split()
    for word in ("prune.target_sparsity=0.52", "+cluster", "cluster.clusters=8", "compressed", "bytes",
                 "accuracy", "drop", "15,000", "passed", "missed"):
        assert word in words, (word, out)
    assert "1.00 pts" in out
