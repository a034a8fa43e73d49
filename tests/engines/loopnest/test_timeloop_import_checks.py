"""import_timeloop refuses at import what run would refuse, each class by one shared check, and reads Timeloop's `DIM=0`."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("yaml")

from energysim.engines.loopnest.mapping import load_mapping  # noqa: E402
from energysim.engines.loopnest.timeloop_import import MAX_YAML_DEPTH, import_timeloop  # noqa: E402
from energysim.errors import ConfigError, UnsupportedError  # noqa: E402

from test_timeloop_import import ARCH_V04, ERT_V04, MAP_GEMM, PROB_GEMM, _write  # noqa: E402

SPARSE = """
sparse_optimizations:
  targets:
  - name: Buf
    representation-format:
      data-spaces:
      - name: Inputs
        ranks:
        - {format: UOP, flattened-rankIDs: [ [N, C] ]}
        - {format: RLE, metadata-word-bits: 4, flattened-rankIDs: [ [N, C] ]}
"""

DENSE = {"arch": ARCH_V04, "prob": PROB_GEMM, "map": MAP_GEMM, "ert": ERT_V04}


def _refusal(tmp_path: Path, **edits: str) -> str:
    texts = {**DENSE, **edits}
    with pytest.raises((ConfigError, UnsupportedError)) as info:
        import_timeloop(_write(tmp_path, **texts), tmp_path / "out")
    message = str(info.value)
    assert "\n" not in message
    assert not (tmp_path / "out").exists(), "a refused import wrote its folder"
    return message


def test_deep_yaml_is_refused_from_the_event_stream(tmp_path: Path) -> None:
    """Lists nested deeper than MAX_YAML_DEPTH are one line naming the file and the line, not a RecursionError."""
    deep = "x: " + "[" * (MAX_YAML_DEPTH + 1) + "]" * (MAX_YAML_DEPTH + 1) + "\n" + ARCH_V04
    message = _refusal(tmp_path, arch=deep)
    assert "arch.yaml: line 1: nested too deeply" in message and f"at most {MAX_YAML_DEPTH} levels" in message


def test_depth_at_the_limit_is_read(tmp_path: Path) -> None:
    """A collection exactly MAX_YAML_DEPTH deep (the top mapping counted) is not refused by the depth check."""
    nested = "globals: " + "[" * (MAX_YAML_DEPTH - 1) + "]" * (MAX_YAML_DEPTH - 1) + "\n" + ARCH_V04
    written = import_timeloop(_write(tmp_path, **{**DENSE, "arch": nested}), tmp_path / "out")
    assert written["hardware"].is_file()


@pytest.mark.parametrize(("part", "old", "new", "message"), [
    ("ert", "{name: read, energy: 2.0}", "{name: read, energy: .nan}",
     "ert.yaml: ERT.tables[1].actions.read.energy: must be a finite number (got nan)"),
    ("ert", "{name: leak, energy: 0.5}", "{name: leak, energy: -.inf}",
     "ert.yaml: ERT.tables[1].actions.leak.energy: must be a finite number (got -inf)"),
    ("ert", "{name: compute, energy: 1.5}", "{name: compute, energy: -1.5}",
     "ert.yaml: ERT.tables[2].actions.compute.energy: must be at least 0 (got -1.5)"),
    ("arch", "read_bandwidth: 2", "read_bandwidth: .inf",
     "arch.yaml: architecture.subtree[0].subtree[0].local[0].attributes.read_bandwidth: must be a finite number (got inf)"),
    ("arch", "read_bandwidth: 2", "read_bandwidth: 0",
     "attributes.read_bandwidth: must be greater than 0 (got 0)"),
    ("prob", "M: 4, N: 2", "M: 4, N: 99999999999999",
     "prob.yaml: problem.instance.N is 99,999,999,999,999 elements, over the largest layer dimension limit"),
])
def test_numbers_are_finite_and_in_range_naming_file_and_key(tmp_path: Path, part: str, old: str, new: str,
                                                              message: str) -> None:
    """nan, inf, negative energies, zero bandwidths and sizes over the dimension limit: one line with file and key."""
    assert old in DENSE[part]
    assert message in _refusal(tmp_path, **{part: DENSE[part].replace(old, new, 1)})


@pytest.mark.parametrize(("old", "new", "message"), [
    ("metadata-word-bits: 4", "metadata-word-bits: 99999999999",
     "ranks[1].metadata-word-bits is 99,999,999,999 bits, over the widest operand limit"),
    ("flattened-rankIDs: [ [N, C] ]}\n        - {format: RLE", "flattened-rankIDs: [ [N, N] ]}\n        - {format: RLE",
     "ranks[0].flattened-rankIDs: must name each dimension once (got N more than once"),
    ("flattened-rankIDs: [ [N, C] ]}\n        - {format: RLE", "flattened-rankIDs: [ [M] ]}\n        - {format: RLE",
     "ranks[0].flattened-rankIDs: must name a dimension of Inputs (got [['M']])"),
])
def test_rank_bits_and_flattened_dimensions_are_checked(tmp_path: Path, old: str, new: str, message: str) -> None:
    """Rank widths are held to the operand limit; a flattened dimension named twice, or none of the space's, is refused."""
    assert old in SPARSE
    assert message in _refusal(tmp_path, sparse=SPARSE.replace(old, new, 1))


def test_flattened_dimension_of_another_space_is_dropped(tmp_path: Path) -> None:
    """Sparseloop ignores a flattened dimension that does not index the data space (its Eyeriss-v1 file flattens Inputs
    over M too): the import drops it from `dims` instead of writing a rank run would read differently."""
    sparse = SPARSE.replace("[ [N, C] ]}\n        - {format: RLE", "[ [M, N, C] ]}\n        - {format: RLE")
    written = import_timeloop(_write(tmp_path, **DENSE, sparse=sparse), tmp_path / "out")
    text = written["hardware"].read_text()
    assert 'ranks = [{ format = "UOP", dims = ["N", "C"] }' in text


def test_unknown_density_distribution_is_refused(tmp_path: Path) -> None:
    """Only fixed-structured densities are counted; another distribution is refused, not counted as fixed-structured."""
    prob = PROB_GEMM.replace("instance: {M: 4, N: 2, C: 8}",
                             "instance: {M: 4, N: 2, C: 8, densities: {Inputs: {distribution: hypergeometric, density: 0.5}}}")
    message = _refusal(tmp_path, prob=prob)
    assert "prob.yaml: problem.instance.densities.Inputs.distribution: energysim counts Sparseloop's fixed-structured" in message
    assert "(got 'hypergeometric')" in message


def test_factors_must_multiply_to_the_problem_size(tmp_path: Path) -> None:
    """A mapping whose factors of a dimension do not multiply to its size is refused at import, naming the mapping file."""
    message = _refusal(tmp_path, map=MAP_GEMM.replace("factors: M=1 N=1 C=4", "factors: M=1 N=1 C=2"))
    assert "map.yaml: mapping: the factors of C over all levels must multiply to the problem's C = 8 (got 4)" in message


def test_zero_factor_is_the_rest_of_the_dimension(tmp_path: Path) -> None:
    """Timeloop's `C=0` stands for what the other levels leave of C (8 / 2 = 4 here), in temporal and spatial factors."""
    mapping = MAP_GEMM.replace("factors: M=1 N=1 C=4", "factors: M=1 N=1 C=0").replace("factors: M=2 N=2 C=1", "factors: M=0 N=2 C=1")
    written = import_timeloop(_write(tmp_path, **{**DENSE, "map": mapping}), tmp_path / "out")
    assert load_mapping(written["mapping"]).for_layer("gemm")[1].describe() == "DRAM[K2 C2 | x:K2 y:N2] Buf[C4 bypass:inputs,outputs]"


@pytest.mark.parametrize(("dram", "message"), [
    ("factors: M=2 N=1 C=0", "mapping[2].factors: C=0 (the rest of C) may appear once per mapping (also in"),
    ("factors: M=2 N=1 C=3", "mapping[2].factors: C=0 must be the rest of the problem's C = 8, which the other factors (3) do not divide"),
])
def test_zero_factor_rules(tmp_path: Path, dram: str, message: str) -> None:
    """Two `C=0` for one dimension, or other factors that do not divide the size, are refused naming the file and entry."""
    mapping = MAP_GEMM.replace("factors: M=1 N=1 C=4", "factors: M=1 N=1 C=0").replace("factors: M=2 N=1 C=2", dram)
    assert "map.yaml: " + message in _refusal(tmp_path, map=mapping)


def test_what_run_would_refuse_is_refused_at_import(tmp_path: Path) -> None:
    """A mapping whose tile overflows a buffer passes every YAML check but run's capacity rule: the import refuses it,
    naming the YAML files and the mapping.toml they convert to (not an imported file: nothing is written)."""
    arch = ARCH_V04.replace("depth: 32,", "depth: 2,")
    message = _refusal(tmp_path, arch=arch)
    assert "arch.yaml" in message and "map.yaml" in message
    assert "import refused (nothing written), as run would refuse it: the mapping.toml these files convert to: " in message
    assert "energysim-import-" not in message


def test_ranks_without_word_bits_take_the_levels_metadata_datawidth(tmp_path: Path) -> None:
    """As Sparseloop, a rank without metadata-word-bits (CP, RLE, B) or payload-word-bits (UOP) takes its level's
    metadata_datawidth; a level with metadata_storage_depth x _width gets metadata_storage_bits."""
    arch = ARCH_V04.replace("meshX: 2, read_bandwidth: 2}",
                            "meshX: 2, read_bandwidth: 2, metadata_datawidth: 6, metadata_storage_depth: 8, "
                            "metadata_storage_width: 6}")
    sparse = SPARSE.replace("- {format: UOP, flattened-rankIDs: [ [N, C] ]}", "- {format: UOP}").replace(
        "- {format: RLE, metadata-word-bits: 4, flattened-rankIDs: [ [N, C] ]}", "- {format: B}")
    written = import_timeloop(_write(tmp_path, **{**DENSE, "arch": arch, "sparse": sparse}), tmp_path / "out")
    text = written["hardware"].read_text(encoding="utf-8")
    assert 'ranks = [{ format = "UOP", payload_bits = 6 }, { format = "B", metadata_bits = 6 }]' in text
    assert "metadata_storage_bits = { Buf = 48 }" in text
