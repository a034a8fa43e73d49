"""Provenance written by the export: N:M pattern, vector block, shrinking, calibration size."""

from __future__ import annotations

import io

from energysim.cli import main
from energysim.workloads.workload import load_workload


def test_nm_export_records_pattern_and_calibration(tmp_path):
    """A 2:4 export records nm_pattern '2:4' and the number of calibration images; vector_block stays unset."""
    out = tmp_path / "w"
    code = main(["prune", "--model", "mlp", "--granularity", "nm", "--nm", "2:4", "--finetune-epochs", "0",
                 "--calibration-samples", "32", "--out", str(out), "--quiet"], out=io.StringIO())
    assert code == 0
    provenance = load_workload(out / "workload.toml").provenance
    assert provenance.nm_pattern == "2:4"
    assert provenance.calibration_samples == 32
    assert provenance.vector_block is None and provenance.shrunk is None


def test_shrunk_channel_export_says_so(tmp_path):
    """A channel-pruned export with --shrink records shrunk = true and vector exports record their block."""
    out = tmp_path / "c"
    assert main(["prune", "--model", "mlp", "--granularity", "channel", "--criterion", "l1", "--sparsity", "0.5",
                 "--finetune-epochs", "0", "--shrink", "--out", str(out), "--quiet"], out=io.StringIO()) == 0
    assert load_workload(out / "workload.toml").provenance.shrunk is True
    out = tmp_path / "v"
    assert main(["prune", "--model", "mlp", "--granularity", "vector", "--criterion", "l1", "--block", "8",
                 "--sparsity", "0.5", "--finetune-epochs", "0", "--out", str(out), "--quiet"], out=io.StringIO()) == 0
    assert load_workload(out / "workload.toml").provenance.vector_block == 8
