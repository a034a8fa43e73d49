"""What a loop-nest result's storage fit (the summary's `weights_on_chip` and `spilled`) reports on imported Timeloop
designs: the mapping's tiles against the capacity each may use, at the levels that keep them."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("yaml")

from energysim.engines import build_engine  # noqa: E402
from energysim.engines.loopnest.mapping import load_mapping  # noqa: E402
from energysim.hardware.hierarchy import load_hardware  # noqa: E402
from energysim.workloads.workload import load_workload  # noqa: E402
from tests.engines.loopnest.sparseloop_mv import import_design  # noqa: E402
from tests.engines.loopnest.sparseloop_tutorial import DATA, run_design  # noqa: E402

CP_INPUTS = """
sparse_optimizations:
  targets:
  - name: Buffer
    representation-format:
      data-spaces:
      - name: Inputs
        ranks:
        - {format: CP, metadata-word-bits: 3}
"""


def test_imported_sparseloop_design_lists_only_kept_tiles(tmp_path: Path) -> None:
    """eyeriss_like_w_gating lists only the on-chip tiles each level keeps, against its capacity; all fit, none spilled."""
    # As published: no DRAM, no depth-0 DummyBuffer, no tensor a level bypasses (the global buffer keeps no
    # weights, each scratchpad one tensor); each tile's words x word bits x instances against its level's
    # capacity; every tile fits (it listed 15 whole-tensor 'misfits' before).
    design = DATA / "sparse_eyeriss"
    run = run_design([design / n for n in ("arch.yaml", "prob.yaml", "sparse.yaml", "ERT.yaml", "mapper.map.txt")],
                     tmp_path)
    fits = {(f.level, f.tensor): f for f in run.result.storage_fit}
    assert set(fits) == {("shared_glb", "inputs"), ("shared_glb", "outputs"), ("ifmap_spad", "inputs"),
                         ("weights_spad", "weights"), ("psum_spad", "outputs")}
    levels = {level["name"]: level for level in run.hardware["memory"]}
    for (level, tensor), fit in fits.items():
        instances = 1 if level == "shared_glb" else 14 * 12               # the scratchpads: one per PE
        assert fit.needed_bits == run.result.stats[f"tile_words_{level}_{tensor}"] * levels[level]["word_bits"] * instances
        assert fit.capacity_bits == levels[level]["capacity_bytes"] * 8 * instances and fit.fits
    assert run.result.spilled == "" and run.result.weights_on_chip is True


def test_compressed_tile_counts_its_nonzeros_and_metadata(tmp_path: Path) -> None:
    """A 25 % dense CP tile of 8 inputs at the Buffer occupies 48 bits (its non-zeros + one metadata word), not its dense 128."""
    # Inputs kept in CP at the Buffer, 25 % dense: the 8-point tile occupies ceil(8 x 0.25) = 2 values + one 16-bit
    # word of 2 x 3-bit coordinates = 48 bits, not its dense 128.
    written = import_design(tmp_path, CP_INPUTS)
    engine = build_engine(load_hardware(written["hardware"]))
    layer = load_workload(written["workload"]).layers[0]
    result = engine.simulate(layer, mapping=load_mapping(written["mapping"]).for_layer(layer.name)[1], compat="timeloop")
    fits = {(f.level, f.tensor): f for f in result.storage_fit}
    assert result.stats["tile_words_Buffer_inputs"] == 8
    assert fits[("Buffer", "inputs")].needed_bits == 48
    assert fits[("Buffer", "weights")].needed_bits == 32 * 16
