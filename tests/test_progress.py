"""Terminal progress (issue 10 #11): at 80 columns the counts, elapsed time and ETA stay and the bar goes;
a finished task leaves one ✓ line (not a frozen spinner), a failed one ✗, Ctrl-C leaves nothing behind it;
CI logs get one line per epoch with an ETA. No timing assertions: only what is shown."""
from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TimeElapsedColumn, TimeRemainingColumn

from optimize_cli.progress import Reporter, fit_label, label_width, progress_columns


def _reporter(width: int) -> tuple[Reporter, io.StringIO]:
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=True, no_color=True, highlight=False)
    return Reporter(console=console, rich_progress=True), buf


def _plain(text: str) -> str:
    """What the terminal shows at the end: carriage return, cursor up and erase line applied."""
    rows, r = [""], 0
    for tok in re.findall(r"\x1b\[[0-9;?]*[A-Za-z]|\r|\n|[^\x1b\r\n]+", text):
        if tok == "\n":
            r += 1
            rows += [""] * (r + 1 - len(rows))
        elif tok == "\r" or tok == "\x1b[2K":
            rows[r] = ""
        elif re.fullmatch(r"\x1b\[\d*A", tok):
            r -= int(tok[2:-1] or 1)
        elif not tok.startswith("\x1b"):
            rows[r] += tok
    return "\n".join(rows)


def test_at_80_columns_the_bar_goes_first_and_counts_elapsed_eta_stay():
    narrow = [type(c) for c in progress_columns(80, 3)]
    assert BarColumn not in narrow
    assert {MofNCompleteColumn, TimeElapsedColumn, TimeRemainingColumn} <= set(narrow)
    assert BarColumn in [type(c) for c in progress_columns(120, 3)]


def test_a_finished_task_leaves_one_done_line_with_count_and_elapsed():
    rep, buf = _reporter(80)
    with rep.task("stage 1 prune: fine-tune 3 epochs", total=3) as advance:
        for _ in range(3):
            advance.batch(5, 10)  # within an epoch
            advance("loss 0.1234 accuracy 0.9800")
    with rep.task("export: int8 TFLite"):
        pass
    lines = [line.rstrip() for line in _plain(buf.getvalue()).splitlines() if line.strip()]
    done = [line for line in lines if line.startswith("✓")]
    assert re.fullmatch(r"✓ stage 1 prune: fine-tune 3 epochs  3/3  0:\d\d  loss 0\.1234 accuracy 0\.9800", done[0])
    assert re.fullmatch(r"✓ export: int8 TFLite  0:\d\d", done[1])
    assert len(done) == 2


def test_a_failed_task_is_marked_and_ctrl_c_leaves_no_duplicate_line():
    rep, buf = _reporter(80)
    with pytest.raises(ValueError), rep.task("stage 2 cluster", total=2) as advance:
        advance("loss 1")
        raise ValueError("boom")
    assert re.search(r"^✗ stage 2 cluster  1/2  0:\d\d$", _plain(buf.getvalue()), re.M)
    rep, buf = _reporter(80)
    with pytest.raises(KeyboardInterrupt), rep.task("stage 3 qat", total=2) as advance:
        raise KeyboardInterrupt
    shown = _plain(buf.getvalue())
    assert "✓" not in shown and "✗" not in shown and shown.count("stage 3 qat") <= 1


def test_plain_log_lines_per_epoch_carry_an_eta(capsys):
    rep = Reporter(console=Console(file=io.StringIO()), rich_progress=False)
    with rep.task("stage 1 prune", total=2) as advance:
        advance.batch(1, 2)  # nothing in a log
        advance("loss 0.5")
        advance("loss 0.4")
    err = capsys.readouterr().err.splitlines()
    assert re.search(r"stage 1 prune: epoch 1/2 loss 0\.5 \(eta \d+:\d\d\)$", err[1])
    assert err[2].endswith("stage 1 prune: epoch 2/2 loss 0.4") and "done in" in err[3]
    assert len(err) == 4


@pytest.mark.parametrize("width", [60, 80])
def test_a_live_line_at_narrow_widths_keeps_counts_batches_elapsed_and_eta(width):
    from rich.progress import Progress

    desc = "stage 1 (prune): fine-tune 3 epochs"
    buf = io.StringIO()
    console = Console(file=buf, width=width, force_terminal=True, no_color=True)
    prog = Progress(*progress_columns(width, 3, desc), console=console)
    tid = prog.add_task(desc, total=3, info="loss 0.0234 accuracy 0.9952 val_loss 0.1", batch="batch 12/20")
    prog.update(tid, advance=1)
    console.print(prog.make_tasks_table(prog.tasks))
    line = _plain(buf.getvalue()).splitlines()[0]
    assert len(line) <= width and "━" not in line
    assert re.search(r" 1/3 batch 12/20 0:00:\d\d eta ", line), line


def test_at_80_columns_the_label_is_shortened_first_and_count_and_loss_stay():
    from rich.progress import Progress

    desc = "stage 1 prune: fine-tune 20 epochs"
    buf = io.StringIO()
    console = Console(file=buf, width=80, force_terminal=True, no_color=True)
    prog = Progress(*progress_columns(80, 20, desc), console=console)
    label = fit_label(desc, label_width(80, 20, desc))  # as Reporter.task gives it
    tid = prog.add_task(label, total=20, info="loss 0.0234 accuracy 0.9952", batch="batch 12/20")
    prog.update(tid, advance=20)
    console.print(prog.make_tasks_table(prog.tasks))
    line = _plain(buf.getvalue()).splitlines()[0]
    assert len(line) <= 80 and " 20/20 " in line and "loss 0.0234" in line, line
    assert line.startswith("stage 1 prune… "), line  # shortened at a word, still naming the stage
    wide = [type(c) for c in progress_columns(140, 20, desc)]
    assert BarColumn in wide


def test_a_step_is_one_line_in_a_log_and_a_spinner_on_a_terminal(capsys):
    rep = Reporter(console=Console(file=io.StringIO()), rich_progress=False)
    with rep.step("loading TensorFlow"):
        pass
    with rep.step("loading the model"), rep.step("checking the Keras 3 translation"):
        pass
    err = capsys.readouterr().err.splitlines()
    assert [line.split("] ", 1)[1] for line in err] == ["loading TensorFlow…", "loading the model…",
                                                         "checking the Keras 3 translation…"]
    rep, buf = _reporter(80)
    with rep.step("loading TensorFlow"):
        assert rep.step_text == "loading TensorFlow…"
        with rep.step("checking the Keras 3 translation"):
            assert rep.step_text == "checking the Keras 3 translation…"  # the same spinner, its words
        assert rep.step_text == "loading TensorFlow…"
    assert rep.step_text == ""
    assert "loading TensorFlow…" in buf.getvalue()
    assert not _plain(buf.getvalue()).strip()  # the spinner is erased when the step ends
    quiet = Reporter(quiet=True, console=Console(file=io.StringIO()))
    with quiet.step("loading TensorFlow"):
        pass
    assert capsys.readouterr().err == ""
