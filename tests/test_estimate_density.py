"""estimate --density: a geometry-only workload at statistical weight densities against one dense original."""

from __future__ import annotations

import io

import pytest

from energysim import catalog
from energysim.cli import main
from energysim.errors import InputError
from energysim.estimation import estimate_densities, load_hardware_list, parse_densities, with_density
from energysim.workloads.workload import load_workload


def _load(name: str):
    return load_workload(catalog.workload_path(name))


def test_each_density_is_a_workload_against_the_same_dense_original():
    """On EIE, lenet-300-100 at densities 0.5 and 0.1 costs less the sparser it is; both share one dense run."""
    result = estimate_densities(_load("lenet-300-100"), load_hardware_list(["eie-64pe-lecture"]), (0.5, 0.1),
                                progress=False)
    totals = result.layers[result.layers["layer"] == "TOTAL"].set_index("workload")
    assert list(totals.index) == ["lenet-300-100@0.5", "lenet-300-100@0.1"]
    assert list(totals["weight_density"]) == [0.5, 0.1]
    assert totals["energy_uj_dense"].nunique() == 1
    assert 0 < totals.loc["lenet-300-100@0.1", "energy_vs_dense"] < totals.loc["lenet-300-100@0.5", "energy_vs_dense"] < 1
    dense = [sim for (key, variant), sim in result.runs.items() if variant == "dense"]
    assert len(dense) == 2 and dense[0] is dense[1]
    assert set(result.summary["weight_density"]) == {0.5, 0.1}


def test_density_leaves_attention_matmuls_alone():
    """with_density sets every weight layer's density but not the batched (activation x activation) matmuls'."""
    variant = with_density(_load("bert-base-block"), 0.3)
    assert {l.kind: l.weight_density for l in variant.layers} == {"linear": 0.3, "batched_matmul": 1.0}
    assert variant.name == "bert-base-block@0.3"


def test_density_refuses_a_workload_with_real_weights():
    """--density on a workload carrying real weights is refused, naming a layer and compare --workload."""
    with pytest.raises(InputError, match="layer 'fc1' carries real weights.*compare --workload"):
        with_density(_load("pruned/mlp-digits-fine-80"), 0.5)


@pytest.mark.parametrize("text, message", [("0.5,0", r"\(0, 1\] \(got 0\)"), ("a", "must be a number"),
                                           ("1.5", r"got 1.5")])
def test_bad_densities_are_named(text, message):
    """A density outside (0, 1] or not a number is one InputError naming it."""
    with pytest.raises(InputError, match=message):
        parse_densities(text)


def test_cli_density_prints_one_block_per_density_and_exits_2_on_real_weights():
    """energysim estimate --density prints each density's totals; real weights exit 2 with one line."""
    out = io.StringIO()
    assert main(["estimate", "lenet-300-100", "--hw", "eie-64pe-lecture", "--density", "0.5,0.1", "--quiet"], out=out) == 0
    text = out.getvalue()
    assert "lenet-300-100@0.5 on eie-64pe-lecture: energy" in text and "lenet-300-100@0.1 on eie-64pe-lecture" in text
    err = io.StringIO()
    assert main(["estimate", "pruned/mlp-digits-fine-80", "--hw", "lecture-array", "--density", "0.5"], out=out, err=err) == 2
    assert "carries real weights" in err.getvalue() and "Traceback" not in err.getvalue()
