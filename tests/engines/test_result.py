"""Invariants on every result, and the engine registry's promises."""

from __future__ import annotations

import inspect

import pytest

from energysim import catalog
from energysim.engines import ENGINES
from energysim.engines.result import Compulsory, LayerResult, StorageFit, check_invariants
from energysim.errors import InvariantError
from energysim.hardware.hierarchy import load_hardware


def _result(**changes) -> LayerResult:
    base = dict(layer="l", engine="dense", hardware="hw", clock_ghz=1.0,
                counts={("DRAM", "weights", "read"): 16}, cycles={"compute": 4, "fill_drain": 2, "stall": 1, "total": 7},
                macs=64, macs_peak_per_cycle=16, compulsory=[Compulsory("DRAM", "weights", ("read",), 16)])
    base.update(changes)
    return LayerResult(**base)


def test_valid_result_passes():
    """A result with non-negative counts, consistent cycles and met bounds passes."""
    check_invariants(_result())


@pytest.mark.parametrize("changes,message", [
    ({"counts": {("DRAM", "weights", "read"): -1}}, "count DRAM.weights.read must be >= 0 (got -1)"),
    ({"counts": {("DRAM", "weights", "read"): 2.5}}, "must be an int"),
    ({"cycles": {"compute": 4, "fill_drain": 2, "stall": 1, "total": 8}}, "= 7 must equal total 8"),
    ({"cycles": {"compute": 4, "fill_drain": 2, "total": 6}}, "cycles.stall is missing"),
    ({"counts": {("DRAM", "weights", "read"): 15}}, "is below the compulsory traffic 16"),
    ({"macs": -3}, "macs must be >= 0"),
    ({"storage_fit": [StorageFit("SRAM", "weights", 9, 8, True)]}, "weights>SRAM says fits=True for 9 bits"),
    ({"storage_fit": [StorageFit("SRAM", "weights", -1, 8, True)]}, "must have bits >= 0"),
])
def test_broken_invariants_raise(changes, message):
    """Each broken invariant raises InvariantError naming the layer and the quantity."""
    with pytest.raises(InvariantError, match="layer 'l' on dense/hw") as info:
        check_invariants(_result(**changes))
    assert message in str(info.value)


def test_storage_fit_check_and_the_summary_properties():
    """StorageFit.check compares bits (equal fits); weights_on_chip covers weights and metadata; spilled lists misfits."""
    assert StorageFit.check("SRAM", "weights", 8, 8).fits and not StorageFit.check("SRAM", "weights", 9, 8).fits
    assert _result().weights_on_chip is None and _result().spilled == ""
    fits = [StorageFit.check("Spmat", "weights", 8, 8), StorageFit.check("Ptr", "metadata", 9, 8),
            StorageFit.check("Buffer", "inputs", 10, 8)]
    result = _result(storage_fit=fits)
    check_invariants(result)
    assert result.weights_on_chip is False
    assert result.spilled == "metadata>Ptr,inputs>Buffer"
    assert _result(storage_fit=fits[:1] + fits[2:]).weights_on_chip is True


@pytest.mark.parametrize("kind", sorted(ENGINES))
def test_registered_engines_are_documented_and_bundled(kind):
    """Every engine has a docstring with References and at least one bundled hwconfig that builds it."""
    engine = ENGINES[kind]
    doc = inspect.getdoc(engine) or ""
    assert "References" in doc, kind
    kinds = {load_hardware(catalog.hwconfig_path(name)).engine_kind for name in catalog.hwconfig_names()}
    assert kind in kinds
