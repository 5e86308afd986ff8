"""The example report every report test starts from (tests/fixtures/report_example.json)."""
from __future__ import annotations

import json

import pytest
from report_helpers import FIXTURE


@pytest.fixture
def example() -> dict:
    return json.loads(FIXTURE.read_text(encoding="utf-8"))

