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


@pytest.mark.parametrize("pattern, criterion, extra", [("fine", "magnitude", ()), ("channel", "l1", ("--shrink",))])
def test_estimate_and_compare_give_one_dense_baseline_for_one_model(tmp_path, pattern, criterion, extra):
    """estimate of a `prune --out` folder (also --shrink) and compare of the same pruning agree on EIE (F1: 0.624 vs 0.639)."""
    code, out, err = run("prune", "--model", "mlp", "--granularity", pattern, "--criterion", criterion, "--sparsity", "0.8",
                         "--finetune-epochs", "0", "--out", str(tmp_path / "pruned"), "--quiet", *extra)
    assert code == 0, err
    assert (tmp_path / "pruned" / "dense-original.toml").is_file() and (tmp_path / "pruned" / "dense-original.npz").is_file()
    code, out, err = run("estimate", str(tmp_path / "pruned"), "--hw", "eie-64pe-lecture", "--out", str(tmp_path / "e"),
                         "--quiet")
    assert code == 0, err
    assert "dense original: dense-original.toml beside it (the model before pruning" in out
    assert "note: the built dense original" not in out and "carries no pruning" not in out  # shrunk: dense weights
    code, _, err = run("compare", "--model", "mlp", "--patterns", pattern, "--sparsities", "0.8", "--criteria", criterion,
                       "--finetune-epochs", "0", "--hw", "eie-64pe-lecture", "--out", str(tmp_path / "c"), "--jobs", "1",
                       "--quiet")
    assert code == 0, err
    compare = pd.read_csv(tmp_path / "c" / "compare.csv").set_index("pattern")
    total = pd.read_csv(tmp_path / "e" / "estimate.csv").set_index("layer").loc["TOTAL"]
    assert total["energy_uj_dense"] * 1e6 == pytest.approx(compare.loc["dense", "energy_pj"], rel=1e-12)
    assert total["energy_uj_pruned"] * 1e6 == pytest.approx(compare.loc[pattern, "energy_pj"], rel=1e-12)
    assert total["energy_vs_dense"] == pytest.approx(compare.loc[pattern, "energy_vs_dense"], rel=1e-12)


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_estimate_names_its_dense_original():
    """estimate says which dense original it used: built (with a note on borrowed activations) or --dense."""
    code, out, err = run("estimate", "pruned/mlp-digits-fine-80", "--hw", "eie-64pe-lecture", "--quiet")
    assert code == 0, err
    assert ("dense original: built from mlp-digits-fine-80 (every weight present, its own activation densities)"
            in _flat(out))
    assert "note: the built dense original borrows mlp-digits-fine-80's activation densities" in _flat(out)
    code, out, err = run("estimate", "lenet-300-100-han2015", "--hw", "lecture-array", "--dense", "lenet-300-100",
                         "--quiet")
    assert code == 0, err
    assert "dense original: --dense lenet-300-100" in out and "note: the built dense original" not in out


def test_estimate_of_an_unpruned_workload_says_so():
    """Every weight_density 1 and a built dense original: a note that ratios are 1 by construction; not with --dense."""
    code, out, err = run("estimate", "lenet-300-100", "--hw", "lecture-array", "--quiet")
    assert code == 0, err
    assert "note: lenet-300-100 carries no pruning (every layer's weight_density is 1, no mask" in _flat(out)
    assert "note: the built dense original" not in out
    code, out, err = run("estimate", "lenet-300-100", "--hw", "lecture-array", "--density", "0.5", "--quiet")
    assert code == 0 and "carries no pruning" not in out
    code, out, err = run("estimate", "lenet-300-100", "--hw", "lecture-array", "--dense", "lenet-300-100-han2015",
                         "--quiet")
    assert code == 0 and "carries no pruning" not in out  # its dense original is another model


def test_a_masked_import_with_weight_density_1_is_not_called_unpruned():
    """A torch-pruned import (real masks, measured zeros, weight_density 1) gets no 'carries no pruning' note."""
    from energysim.api import workload
    from energysim.estimation import unpruned_note
    from energysim.workloads.workload import Workload

    def with_fc1(**update) -> Workload:
        layers = workload("lenet-300-100").layers
        return Workload(name="masked", layers=(layers[0].model_copy(update=update), *layers[1:]))

    assert "carries no pruning" in unpruned_note(with_fc1())
    assert unpruned_note(with_fc1(mask_key="fc1.mask", measured_sparsity=0.8)) == ""
    assert unpruned_note(with_fc1(mask_key="fc1.mask")) == ""  # a mask whose zeros were not measured
    assert "carries no pruning" in unpruned_note(with_fc1(mask_key="fc1.mask", measured_sparsity=0.0))


def test_built_dense_original_note_says_what_to_give_after_prune_workload():
    """The note no longer claims every `prune --out` writes a dense original: after `prune --workload W` it says --dense W."""
    from energysim.api import workload
    from energysim.estimation import densified_note

    note = densified_note(workload("lenet-300-100-han2015"))
    assert "prune --out of a trained model writes it" in note and "after prune --workload W, give --dense W" in note
