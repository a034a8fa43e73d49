"""A level's bandwidth in GB/s (bandwidth_gbps): fixed whatever the clock, read as words per cycle at the file's clock."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest

from energysim import api
from energysim.cli import main
from energysim.config.hardware import words_per_cycle_of_gbps
from energysim.hardware.hierarchy import load_hardware
from energysim.hardware_settings import hardware_variants, variant
from energysim.workloads.layers import LinearLayer
from energysim.workloads.workload import Workload

BUNDLED = Path(__file__).parents[2] / "hwconfigs"
DRAM_LINE = "bandwidth_gbps = 64 "
"""The DRAM bandwidth line of the bundled 16 x 16 arrays (64 GB/s), replaced to make the cases below."""
SWITCHED = ["horowitz-array", "horowitz-array-loopnest", "lecture-array", "lecture-array-loopnest"]
"""Bundled designs whose DRAM bandwidth is given in GB/s (their files state 64 GB/s)."""


def with_dram(tmp_path: Path, dram: str, source: str = "horowitz-array-loopnest") -> Path:
    """``source`` (a bundled file, 16-bit words at 1 GHz) with its DRAM bandwidth line replaced by ``dram``."""
    text = (BUNDLED / f"{source}.toml").read_text()
    lines = [line for line in text.splitlines() if line.startswith(DRAM_LINE)]
    assert len(lines) == 1
    path = tmp_path / "hw.toml"
    path.write_text(text.replace(lines[0], dram, 1))
    return path


def test_gbps_is_words_per_cycle_at_the_files_and_the_variants_clock(tmp_path):
    """16 GB/s in 2-byte words is 8 words per cycle at 1 GHz and 16 at --set clock_ghz=0.5; the GB/s are recorded."""
    path = with_dram(tmp_path, "bandwidth_gbps = 16")
    at_file = load_hardware(path)
    assert at_file.clock_ghz == 1.0 and at_file.level("DRAM").config.word_bits == 16
    assert at_file.level("DRAM").config.bandwidth_words_per_cycle == 8.0
    assert at_file.level("DRAM").config.bandwidth_gbps is None           # engines see one form: words per cycle
    assert at_file.bandwidth_gbps == {("DRAM", "bandwidth_gbps"): 16.0}
    half = variant(path, {"clock_ghz": 0.5})
    assert half.level("DRAM").config.bandwidth_words_per_cycle == 16.0
    assert half.level("GlobalBuffer").config.bandwidth_words_per_cycle == \
        at_file.level("GlobalBuffer").config.bandwidth_words_per_cycle == 32   # on-chip: words per cycle


def test_conversion_keeps_fractions_and_drops_rounding_noise():
    """4.264 GB/s at 0.8 GHz in 32-bit words is 1.3325 words per cycle; 499.9 GB/s at 0.1 GHz in bytes is 4999 exactly."""
    assert words_per_cycle_of_gbps(4.264, 0.8, 32) == 1.3325
    assert 499.9 * 8 / (0.1 * 8) < 4999                                 # the bare division falls just short
    assert words_per_cycle_of_gbps(499.9, 0.1, 8) == 4999.0


def _dram_bound(path: Path, clock_ghz: float) -> tuple[int, int, float]:
    """(DRAM reads, cycles, latency s) of one 1024 x 1024 linear layer, batch 1, default mapping, at ``clock_ghz``."""
    layer = LinearLayer(name="fc", in_features=1024, out_features=1024, batch=1)
    run = api.simulate(hardware_variants(str(path), {"clock_ghz": [clock_ghz]})[0], Workload("fc", (layer,)),
                       progress=False, mapping="default")
    result = run.results[0]
    reads = sum(count for (level, _, action), count in result.counts.items() if level == "DRAM" and action == "read")
    return reads, result.cycles["total"], float(run.summary["latency_s"].iloc[0])


def test_a_dram_bound_layer_keeps_its_latency_when_the_clock_halves(tmp_path):
    """At 16 GB/s the layer takes DRAM reads / 8 cycles at 1 GHz and / 16 at 0.5 GHz: half the cycles, the same seconds;
    at 8 words per cycle its cycles stay and its latency doubles."""
    gbps = with_dram(tmp_path, "bandwidth_gbps = 16")
    reads, cycles_1, latency_1 = _dram_bound(gbps, 1.0)
    reads_half, cycles_half, latency_half = _dram_bound(gbps, 0.5)
    assert reads == reads_half and cycles_1 == math.ceil(reads / 8) and cycles_half == math.ceil(reads / 16)
    assert latency_half == pytest.approx(latency_1, rel=1e-12)
    words = with_dram(tmp_path, "bandwidth_words_per_cycle = 8")
    assert _dram_bound(words, 1.0) == (reads, cycles_1, latency_1)
    assert _dram_bound(words, 0.5) == (reads, cycles_1, pytest.approx(2 * latency_1, rel=1e-12))


def test_write_and_shared_bandwidths_in_gbps_are_converted_too(tmp_path):
    """A loop-nest level's write_bandwidth_gbps and shared_bandwidth_gbps become words per cycle at the clock."""
    path = with_dram(tmp_path, "bandwidth_gbps = 16\nwrite_bandwidth_gbps = 8\nshared_bandwidth_gbps = 20")
    dram = variant(path, {"clock_ghz": 0.5}).level("DRAM").config
    assert (dram.bandwidth_words_per_cycle, dram.write_bandwidth_words_per_cycle,
            dram.shared_bandwidth_words_per_cycle) == (16.0, 8.0, 20.0)


@pytest.mark.parametrize("name", SWITCHED)
def test_bundled_dram_in_gbps_gives_the_words_per_cycle_it_had(name):
    """64 GB/s at the file's 1 GHz is the 64 x 8 / word_bits words per cycle the file gave before (16 or 32)."""
    hardware = api.hardware(name)
    dram = hardware.level("DRAM").config
    assert hardware.bandwidth_gbps == {("DRAM", "bandwidth_gbps"): 64.0} and hardware.clock_ghz == 1.0
    assert dram.bandwidth_words_per_cycle == 64 * 8 / dram.word_bits


@pytest.mark.parametrize(("dram", "message"), [
    ("bandwidth_gbps = 16\nbandwidth_words_per_cycle = 8",
     "memory[0]: give bandwidth_words_per_cycle (follows the clock) or bandwidth_gbps (GB/s, fixed), not both "
     "(got 8.0 words per cycle and 16.0 GB/s)"),
    ("bandwidth_gbps = 16\nwrite_bandwidth_gbps = 8\nwrite_bandwidth_words_per_cycle = 4",
     "memory[0]: give write_bandwidth_words_per_cycle (follows the clock) or write_bandwidth_gbps (GB/s, fixed), "
     "not both (got 4.0 words per cycle and 8.0 GB/s)"),
    ("bandwidth_gbps = 0", "memory[0].bandwidth_gbps: must be greater than 0 (got 0)"),
    ("bandwidth_gbps = -16.0", "memory[0].bandwidth_gbps: must be greater than 0 (got -16.0)"),
    ("bandwidth_gbps = 1e-9", "(top level): memory[0].bandwidth_gbps: 1e-09 GB/s at 1.0 GHz in 16-bit words is "
                              "5e-10 words per cycle, which must be finite and at least 9.5e-07"),
    ("", "memory[0]: a bandwidth is required: give bandwidth_words_per_cycle (follows the clock) or bandwidth_gbps "
         "(GB/s, fixed) (got neither)"),
])
def test_a_bad_bandwidth_is_refused_in_one_sentence_with_exit_code_2(tmp_path, dram, message):
    """Both forms, a non-positive or vanishing GB/s, or no bandwidth: `validate` exits 2 naming file, field, rule, value."""
    path = with_dram(tmp_path, dram)
    out, err = io.StringIO(), io.StringIO()
    assert main(["validate", str(path)], out=out, err=err) == 2
    assert err.getvalue() == f"energysim: {path}: {message}\n"


def test_setting_the_other_form_on_a_gbps_level_is_refused_naming_the_setting():
    """--set memory[0].bandwidth_words_per_cycle on a GB/s DRAM gives both forms: one line naming the setting."""
    out, err = io.StringIO(), io.StringIO()
    code = main(["run", "lecture-array", "lenet-300-100", "--set", "memory[0].bandwidth_words_per_cycle=8", "--quiet"],
                out=out, err=err)
    assert code == 2 and "Traceback" not in err.getvalue()
    assert ("--set memory[0].bandwidth_words_per_cycle=8: " in err.getvalue()
            and "memory[0]: give bandwidth_words_per_cycle (follows the clock) or bandwidth_gbps (GB/s, fixed), not both "
                "(got 8.0 words per cycle and 64.0 GB/s)" in err.getvalue())
