"""Loop-nest hardware keys: accepted for loopnest only, instances derived from meshes, leakage and network priced."""

from __future__ import annotations

import pytest

from conftest import make_spec, mapping_of
from energysim.config.hardware import HardwareFile
from energysim.engines.loopnest.analysis import evaluate
from energysim.errors import ConfigError
from energysim.workloads.loop_nest import LoopNest


def _file(engine: dict, memory: list[dict], units: list[dict] | None = None) -> dict:
    return {"schema_version": 1, "name": "t", "clock_ghz": 1.0, "engine": engine, "memory": memory,
            "units": units or [{"name": "MAC", "action": "mac", "energy_pj": 1.0, "source": "test"}]}


DRAM = {"name": "DRAM", "kind": "dram", "word_bits": 16, "bandwidth_words_per_cycle": 4, "read_pj": 1.0,
        "write_pj": 1.0, "cost_source": "test"}


def test_loopnest_keys_refused_for_other_engines() -> None:
    """A dense hardware giving mesh_x is refused naming the field and the engine kind."""
    data = _file({"kind": "dense", "rows": 2, "cols": 2}, [{**DRAM, "mesh_x": 2}])
    with pytest.raises(ValueError, match=r"memory\[0\]\.mesh_x: only a loopnest engine reads it \(engine.kind is 'dense'\)"):
        HardwareFile.model_validate(data)


def test_instances_follow_meshes() -> None:
    """instances is the product of the meshes down to a level; a contradicting value is refused."""
    rf = {**DRAM, "name": "RF", "kind": "regfile", "capacity_bytes": 8, "mesh_x": 3, "mesh_y": 2}
    spec = HardwareFile.model_validate(_file({"kind": "loopnest"}, [DRAM, {**rf, "name": "GB", "mesh_x": 2, "mesh_y": 1}, rf]))
    assert [m.instances for m in spec.memory] == [1, 2, 12]
    with pytest.raises(ValueError, match=r"memory\[1\]\.instances: must equal the product .* 6 \(got 5\)"):
        HardwareFile.model_validate(_file({"kind": "loopnest"}, [DRAM, {**rf, "instances": 5}]))


def test_per_tensor_capacity_checks_each_partition() -> None:
    """A level with only tensor_capacity_bytes refuses a tile over its tensor's partition (inputs 2 words here)."""
    spec = make_spec([{"name": "DRAM"}, {"name": "PE", "kind": "regfile",
                                         "tensor_capacity_bytes": {"weights": 64, "inputs": 8, "outputs": 8}}])
    nest = LoopNest.of("conv1d", P=4, R=3)
    assert evaluate(spec, nest, mapping_of(("DRAM", {"P": 4, "R": 3}), ("PE", {})))
    with pytest.raises(ConfigError, match=r"tile of inputs must fit the 2-word inputs capacity of 'PE' \(got 3 words\)"):
        evaluate(spec, nest, mapping_of(("DRAM", {"P": 4}), ("PE", {"R": 3})))


def test_leakage_and_network_are_counted() -> None:
    """Leakage = cycles x all instances; network transfers = words delivered to each instance below."""
    spec = make_spec(
        [{"name": "DRAM"},
         {"name": "PE", "capacity_bytes": 64, "mesh_x": 2, "leak_pj_per_cycle": 0.5, "leak_source": "test leak"}],
        units=[{"name": "MAC", "action": "mac", "energy_pj": 1.0, "source": "test"},
               {"name": "NoC", "action": "transfer", "energy_pj": 2.0, "source": "test hop"}],
    )
    spec_noc = make_spec(
        [{"name": "DRAM", "network_unit": "NoC"}, {"name": "PE", "capacity_bytes": 64, "mesh_x": 2}],
        units=[{"name": "MAC", "action": "mac", "energy_pj": 1.0, "source": "test"},
               {"name": "NoC", "action": "transfer", "energy_pj": 2.0, "source": "test hop"}],
    )
    nest = LoopNest.of("gemm", K=2, C=2, P=4)
    mapping = mapping_of(("DRAM", {"P": 4}, {"K": 2}), ("PE", {"C": 2}))
    leaky = evaluate(spec, nest, mapping)
    assert leaky.counts[("PE", "-", "leak")] == leaky.cycles_total * 2 == 16
    noc = evaluate(spec_noc, nest, mapping).counts
    # each PE receives 8 inputs and 2 weights and sends 4 partial sums up: (8 + 2 + 4) x 2 PEs
    assert {t: v for (c, t, a), v in noc.items() if c == "NoC"} == {"inputs": 16, "weights": 4, "outputs": 8}


def test_bandwidth_slows_the_run() -> None:
    """A DRAM of 1 word/cycle feeding 40 input and 12 weight words over 96 compute cycles is not the bottleneck; at 0.25 it is."""
    nest = LoopNest.of("conv1d_k", K=4, P=8, R=3)
    mapping = mapping_of(("DRAM", {"K": 4, "P": 8}), ("Buffer", {"R": 3}))
    fast = evaluate(make_spec([{"name": "DRAM", "bandwidth_words_per_cycle": 1.0}, {"name": "Buffer", "capacity_bytes": 128}]), nest, mapping)
    assert fast.cycles_total == fast.cycles_compute == 96 and fast.bottleneck == "compute"
    slow = evaluate(make_spec([{"name": "DRAM", "bandwidth_words_per_cycle": 0.25}, {"name": "Buffer", "capacity_bytes": 128}]), nest, mapping)
    # DRAM reads 12 weights + 40 inputs = 52 words at 0.25 words/cycle: 208 cycles
    assert slow.cycles_total == 208 and slow.bottleneck == "DRAM"
    assert slow.utilisation == pytest.approx(96 / 208)


@pytest.mark.parametrize("old, new, message", [
    ("mesh_x = 14", "mesh_x = 14.0", "memory[2].mesh_x: must be a valid integer (got 14.0)"),
    ("weights = 448", "weights = 448.0", "memory[2].tensor_capacity_bytes.weights: must be a valid integer (got 448.0)"),
    ("mesh_y = 12", "mesh_y = 12\ninstances = 100",
     "memory[2].instances: must equal the product of mesh_x * mesh_y of this and every outer level, 168 (got 100)"),
    ('mac_unit = "MAC"', 'mac_unit = "MAC"\nmac_mesh_x = 2.0', "engine.mac_mesh_x: must be a valid integer (got 2.0)"),
    ('mac_unit = "MAC"', 'mac_unit = "Adder"', "engine.mac_unit: no [[units]] entry named 'Adder' prices the MAC"),
])
def test_bad_loopnest_hardware_is_one_line(tmp_path, old: str, new: str, message: str) -> None:
    """Non-integer meshes and capacities, contradicting instances, bad MAC keys: one ConfigError line each."""
    from pathlib import Path

    from energysim.engines import build_engine
    from energysim.hardware.hierarchy import load_hardware

    source = (Path(__file__).parents[3] / "hwconfigs" / "eyeriss-like.toml").read_text()
    assert old in source
    path = tmp_path / "hw.toml"
    path.write_text(source.replace(old, new, 1))
    with pytest.raises(ConfigError) as info:
        build_engine(load_hardware(path))
    assert "\n" not in str(info.value) and message in str(info.value)
