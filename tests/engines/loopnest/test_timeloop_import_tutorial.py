"""The 2024 tutorial's design-space-exploration example imported from its one processed input file (with `mapping: []`,
`global_cycle_seconds`, architecture_constraints) plus its mapper's map.txt, against the published statistics."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

pytest.importorskip("yaml")

from energysim.engines import build_engine  # noqa: E402
from energysim.engines.loopnest.mapping import load_mapping  # noqa: E402
from energysim.engines.loopnest.timeloop_compat import PADDING_SUFFIX, evaluate  # noqa: E402
from energysim.engines.loopnest.timeloop_import import import_timeloop  # noqa: E402
from energysim.errors import ConfigError  # noqa: E402
from energysim.hardware.hierarchy import load_hardware  # noqa: E402
from energysim.workloads.workload import load_workload  # noqa: E402

DESIGN = Path(__file__).resolve().parents[2] / "data" / "timeloop" / "tutorial2024"
REFERENCE = tomllib.loads((DESIGN / "reference.toml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def result(tmp_path_factory):
    """The design imported with its map.txt, evaluated with Timeloop's rules: (spec, stats)."""
    written = import_timeloop([DESIGN / "input.yaml", DESIGN / "ERT.yaml", DESIGN / "map.txt"],
                              tmp_path_factory.mktemp("tutorial") / "out")
    assert written["mapping"].is_file()
    engine = build_engine(load_hardware(written["hardware"]))
    layer = load_workload(written["workload"]).layers[0]
    mapping = load_mapping(written["mapping"]).for_layer(layer.name)[1]
    return engine.spec, evaluate(engine.spec, layer.loop_nest(), mapping)


def _energy(spec, stats, level: str, tensor: str) -> float:
    return sum(count * spec.prices[(component, action)] for (component, t, action), count in stats.counts.items()
               if component == level and t in (tensor, tensor + PADDING_SUFFIX))


def test_counts_energies_cycles_and_leakage_equal_timeloop(result) -> None:
    """Every per-level count Timeloop printed, its energy per level and data space (to the printed 0.01 pJ), the MAC
    energy, the buffer's leakage (0.000271 pJ x 1073741824 cycles), the total (66981.10 uJ) and the cycles; the buffer
    reads its inputs 134217728 times, once per 8 cycles: they stay at the 8 MACs across its innermost loop M8, which
    does not move them."""
    spec, stats = result
    for row in REFERENCE["levels"]:
        for action in ("read", "fill", "update"):
            assert stats.counts.get((row["level"], row["tensor"], action), 0) == row[action], (row, action)
        assert abs(_energy(spec, stats, row["level"], row["tensor"]) - row["energy_pj"]) <= 0.005 + 1e-6, row
    assert stats.counts[("mac", "-", "compute")] == REFERENCE["computes"]
    assert abs(stats.energy_by_component["mac"] - REFERENCE["mac_energy_pj"]) <= 0.005 + 1e-6
    leak = stats.counts[("buffer", "-", "leak")] * spec.prices[("buffer", "leak")]
    assert abs(leak - REFERENCE["leakage_pj"]["buffer"]) <= 0.005 + 1e-6
    assert stats.cycles_total == REFERENCE["cycles"]
    assert abs(stats.energy_pj / 1e6 - REFERENCE["total_energy_uj"]) <= 0.005


def test_one_file_with_an_empty_mapping_and_a_cycle_time(tmp_path: Path) -> None:
    """`mapping: []` counts as no mapping (a map.txt may give it), global_cycle_seconds 1e-9 sets a 1 GHz clock, and the
    architecture_constraints become mapper constraints."""
    notes: list[str] = []
    written = import_timeloop([DESIGN / "input.yaml", DESIGN / "ERT.yaml"], tmp_path / "out", notes)
    assert "mapping" not in written and notes[0].startswith("mapping: none given")
    assert notes[-1] == "clock: 1 GHz from global_cycle_seconds"
    hardware = tomllib.loads(written["hardware"].read_text(encoding="utf-8"))
    assert hardware["clock_ghz"] == 1.0
    assert {"level": "buffer", "order": ["R", "S", "G"], "keep": ["inputs", "outputs", "weights"]} in hardware["engine"]["mapper"]["levels"]


def test_cycle_time_sets_the_clock(tmp_path: Path) -> None:
    """A 2 ns global_cycle_seconds gives a 0.5 GHz clock; a cycle time that is not a number is one line naming the key."""
    text = (DESIGN / "input.yaml").read_text(encoding="utf-8")
    path = tmp_path / "input.yaml"
    path.write_text(text.replace("global_cycle_seconds: 1e-9", "global_cycle_seconds: 2.0e-9"), encoding="utf-8")
    written = import_timeloop([path, DESIGN / "ERT.yaml"], tmp_path / "a")
    assert tomllib.loads(written["hardware"].read_text(encoding="utf-8"))["clock_ghz"] == pytest.approx(0.5)
    path.write_text(text.replace("global_cycle_seconds: 1e-9", "global_cycle_seconds: soon"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"input\.yaml: architecture.*global_cycle_seconds: must be a cycle time in "
                                          r"seconds \(got 'soon'\)"):
        import_timeloop([path, DESIGN / "ERT.yaml"], tmp_path / "b")
