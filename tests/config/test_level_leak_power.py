"""A loop-nest level's leak_power_w: a static power priced per cycle at the file's clock, so leakage is power x time."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest

from energysim import api
from energysim.cli import main
from energysim.errors import ConfigError
from energysim.hardware.hierarchy import LEAK_ACTION, load_hardware
from energysim.hardware_settings import variant

BUNDLED = Path(__file__).parents[2] / "hwconfigs"
BUFFER_LINE = "bandwidth_words_per_cycle = 32   # both edges of the 16x16 array per cycle"


def leaky(tmp_path: Path, leak: str, source: str = "lecture-array-loopnest") -> Path:
    """``source`` (a bundled file) with ``leak`` (TOML lines) added to its GlobalBuffer level, written to tmp_path."""
    text = (BUNDLED / f"{source}.toml").read_text()
    assert BUFFER_LINE in text
    path = tmp_path / "leaky.toml"
    path.write_text(text.replace(BUFFER_LINE, f"{BUFFER_LINE}\n{leak}", 1))
    return path


def leak_energy_pj(path: Path, clock_ghz: float) -> tuple[int, float, float]:
    """(leak count, leak energy pJ, cycles) of lenet-300-100 on ``path`` at ``clock_ghz`` (the --set path)."""
    run = api.simulate(variant(path, {"clock_ghz": clock_ghz}), "lenet-300-100", progress=False, mapping="default")
    rows = run.energy[(run.energy["component"] == "GlobalBuffer") & (run.energy["action"] == LEAK_ACTION)]
    return int(rows["count"].sum()), float(rows["energy_pj"].sum()), int(run.totals()["cycles_total"])


@pytest.mark.parametrize("clock_ghz, pj", [(1.0, 5.0), (0.5, 10.0), (2.0, 2.5)])
def test_leak_power_is_priced_per_cycle_at_the_files_clock(tmp_path, clock_ghz, pj):
    """5 mW costs 0.005 x 1000 / clock_ghz pJ per cycle: 5 pJ at 1 GHz, 10 at 0.5; the source writes out the rule, static_power_w the W."""
    path = leaky(tmp_path, 'leak_power_w = 0.005\nleak_source = "assumed 5 mW"')
    hardware = variant(path, {"clock_ghz": clock_ghz})
    assert hardware.static_power_w == {("GlobalBuffer", LEAK_ACTION): 0.005}
    entry = hardware.level("GlobalBuffer").costs[LEAK_ACTION]
    assert entry.energy_pj == pytest.approx(pj, rel=1e-12)
    assert entry.source == (f"assumed 5 mW; per cycle = static power x cycle time = 0.005 W x 1000 / {clock_ghz} GHz "
                            f"= {pj:.6g} pJ")


def test_leakage_energy_doubles_at_half_the_clock(tmp_path):
    """Same cycles at 0.5 GHz last twice as long: leak_power_w's energy doubles exactly, leak_pj_per_cycle's does not move."""
    power = leaky(tmp_path, 'leak_power_w = 0.005\nleak_source = "assumed 5 mW"')
    count_1, energy_1, cycles_1 = leak_energy_pj(power, 1.0)
    count_half, energy_half, cycles_half = leak_energy_pj(power, 0.5)
    assert count_1 == count_half == cycles_1 == cycles_half > 0  # one GlobalBuffer instance, leaking every cycle
    assert energy_1 == count_1 * 5.0 and energy_half == count_1 * 10.0 == 2 * energy_1
    fixed = leaky(tmp_path, 'leak_pj_per_cycle = 5.0\nleak_source = "Timeloop-style 5 pJ per cycle"')
    assert leak_energy_pj(fixed, 1.0)[1] == leak_energy_pj(fixed, 0.5)[1] == energy_1


@pytest.mark.parametrize("leak, message", [
    ('leak_power_w = 0.005\nleak_pj_per_cycle = 5.0\nleak_source = "x"',
     "memory[1]: give leak_pj_per_cycle (pJ per cycle) or leak_power_w (W), not both (got 5.0 and 0.005)"),
    ("leak_power_w = 0.005", "memory[1]: leak_source is required when leak_power_w is given (got leak_power_w = 0.005)"),
    ("leak_pj_per_cycle = 5.0",
     "memory[1]: leak_source is required when leak_pj_per_cycle is given (got leak_pj_per_cycle = 5.0)"),
    ('leak_source = "x"', "memory[1]: leak_source needs leak_pj_per_cycle or leak_power_w to describe "
                          "(got leak_source = 'x' alone)"),
    ('leak_power_w = -1.0\nleak_source = "x"', "memory[1].leak_power_w: must be greater than or equal to 0 (got -1.0)"),
])
def test_bad_leakage_is_refused_in_one_sentence(tmp_path, leak, message):
    """Both leak fields, a leak without its source, a source alone or a negative power: file, field, rule and value."""
    path = leaky(tmp_path, leak)
    with pytest.raises(ConfigError, match=re.escape(f"{path}: {message}")):
        load_hardware(path)


def test_leak_power_in_a_mac_normalised_file_is_refused(tmp_path):
    """A power in W has no price in MAC-equivalents: energy_unit = "MAC" refuses leak_power_w, naming the value."""
    path = leaky(tmp_path, 'leak_power_w = 0.005\nleak_source = "x"')
    path.write_text(path.read_text().replace('clock_ghz = 1.0', 'clock_ghz = 1.0\nenergy_unit = "MAC"', 1))
    with pytest.raises(ConfigError, match=re.escape(f'{path}: (top level): memory[1].leak_power_w: a power in W has no price in a file '
                                                    'whose energy_unit is "MAC" (got 0.005 W); give leak_pj_per_cycle '
                                                    "in MAC-equivalents")):
        load_hardware(path)


def test_leak_power_on_another_engine_is_refused_with_exit_code_2(tmp_path):
    """leak_power_w is a loop-nest key: `validate` on a dense file giving it exits 2 with one sentence, no traceback."""
    text = (BUNDLED / "lecture-array.toml").read_text()
    assert "\n[[memory]]\nname = \"GlobalBuffer\"" in text
    path = tmp_path / "dense.toml"
    path.write_text(text.replace('name = "GlobalBuffer"', 'name = "GlobalBuffer"\nleak_power_w = 0.005\nleak_source = "x"', 1))
    err = io.StringIO()
    assert main(["validate", str(path)], out=io.StringIO(), err=err) == 2
    assert f"{path}: (top level): memory[1].leak_power_w: only a loopnest engine reads it (engine.kind is 'dense')" in err.getvalue()
    assert "Traceback" not in err.getvalue()
