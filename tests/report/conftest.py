"""Fixtures for the report tests: a results folder with all four result files."""

from __future__ import annotations

import pytest
from report_fixtures import write_results


@pytest.fixture
def results_dir(tmp_path):
    """A results folder with summary.csv, energy.csv, compare.csv and sensitivity.csv."""
    return write_results(tmp_path / "results")
