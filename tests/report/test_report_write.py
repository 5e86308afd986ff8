"""report.write: the three files, refused reports, consistency warnings."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from report_helpers import densities, imgs

from optimize_cli import report as rp


def test_write_reports_writes_three_files(example, tmp_path):
    paths = rp.write_reports(example, tmp_path / "out", densities=densities())
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"report.json", "report.md", "report.html"}
    assert json.loads(paths["json"].read_text(encoding="utf-8")) == example
    assert paths["json"].read_text(encoding="utf-8").startswith('{\n  "schema_version": 1,')
    assert paths["md"].read_text(encoding="utf-8") == rp.render_markdown(example)
    assert len(imgs(paths["html"].read_text(encoding="utf-8"))) == 2


def test_write_reports_refuses_invalid_report_and_writes_nothing(example, tmp_path):
    del example["result"]["speedup"]
    with pytest.raises(rp.ReportError, match=r"at result: 'speedup' is a required property"):
        rp.write_reports(example, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_write_reports_passes_consistency_warnings_on(example, tmp_path):
    example["result"]["speedup"] = 9.0
    seen = []
    rp.write_reports(example, tmp_path, warn=seen.append)
    assert len(seen) == 1 and "speedup" in seen[0]




def test_write_reports_returns_consistency_warnings_and_prints_nothing(example, tmp_path, capsys):
    example["result"]["speedup"] = 9.0
    paths = rp.write_reports(example, tmp_path)
    assert len(paths.warnings) == 1 and paths.warnings[0].startswith("report: result.speedup is 9.000")
    assert capsys.readouterr() == ("", "")


def test_write_reports_every_written_report_validates_with_jsonschema(example, tmp_path):
    """report.json as written — the example, without PTQ, stages or accuracy, with an error metric —
    validates against optimize_cli/report.schema.json with the jsonschema library itself."""
    import jsonschema

    schema = json.loads((Path(rp.__file__).parent.parent / "report.schema.json").read_text(encoding="utf-8"))
    variants = [copy.deepcopy(example) for _ in range(3)]
    variants[1].update(ptq_baseline=None, stages=[], gates=[])
    for key in ("baseline", "result"):
        variants[1][key]["accuracy"] = None
    variants[1]["result"]["accuracy_drop"] = None
    variants[1]["metric"]["eval_samples"] = None
    variants[2]["metric"] = {"name": "mae", "higher_is_better": False, "eval_samples": 100}
    variants[2]["result"]["accuracy_drop"] = variants[2]["result"]["accuracy"] - variants[2]["baseline"]["accuracy"]
    for i, rep in enumerate(variants):
        paths = rp.write_reports(rep, tmp_path / str(i))
        jsonschema.Draft202012Validator(schema).validate(json.loads(paths["json"].read_text(encoding="utf-8")))
