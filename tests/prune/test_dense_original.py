"""prune --out writes the dense model beside the pruned one, so estimate and compare share one baseline."""

from __future__ import annotations

import io

import pandas as pd
import pytest

from energysim.cli import main


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_estimate_and_compare_give_one_dense_baseline_for_one_model(tmp_path):
    """estimate of a `prune --out` folder and compare of the same pruning agree on EIE (dense 265 vs 259 nJ before)."""
    code, out, err = run("prune", "--model", "mlp", "--granularity", "fine", "--sparsity", "0.8", "--finetune-epochs", "0",
                         "--out", str(tmp_path / "pruned"), "--quiet")
    assert code == 0, err
    assert (tmp_path / "pruned" / "dense-original.toml").is_file() and (tmp_path / "pruned" / "dense-original.npz").is_file()
    code, out, err = run("estimate", str(tmp_path / "pruned"), "--hw", "eie-64pe-lecture", "--out", str(tmp_path / "e"),
                         "--quiet")
    assert code == 0, err
    assert "note: the dense original is" not in out
    code, _, err = run("compare", "--model", "mlp", "--patterns", "fine", "--sparsities", "0.8", "--criteria", "magnitude",
                       "--finetune-epochs", "0", "--hw", "eie-64pe-lecture", "--out", str(tmp_path / "c"), "--jobs", "1",
                       "--quiet")
    assert code == 0, err
    compare = pd.read_csv(tmp_path / "c" / "compare.csv").set_index("pattern")
    total = pd.read_csv(tmp_path / "e" / "estimate.csv").set_index("layer").loc["TOTAL"]
    assert total["energy_uj_dense"] * 1e6 == pytest.approx(compare.loc["dense", "energy_pj"], rel=1e-12)
    assert total["energy_uj_pruned"] * 1e6 == pytest.approx(compare.loc["fine", "energy_pj"], rel=1e-12)
    assert total["energy_vs_dense"] == pytest.approx(compare.loc["fine", "energy_vs_dense"], rel=1e-12)


def test_estimate_says_when_it_builds_the_dense_original():
    """Without --dense or a dense-original.toml beside it, estimate says its baseline is built, not a dense model's run."""
    code, out, err = run("estimate", "pruned/mlp-digits-fine-80", "--hw", "eie-64pe-lecture", "--quiet")
    assert code == 0, err
    assert "note: the dense original is mlp-digits-fine-80's layers with every weight present" in out
    code, out, err = run("estimate", "lenet-300-100-han2015", "--hw", "lecture-array", "--dense", "lenet-300-100",
                         "--quiet")
    assert code == 0, err
    assert "note: the dense original is" not in out
