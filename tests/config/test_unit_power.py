"""A [[units]] entry priced by power_w: a static power charged per cycle at the file's clock."""

from __future__ import annotations

import pytest

from energysim.errors import ConfigError
from energysim.hardware.hierarchy import load_hardware

HARDWARE = """schema_version = 1
name = "tiny"
clock_ghz = {clock}

[[memory]]
name = "DRAM"
kind = "dram"
word_bits = 32
bandwidth_words_per_cycle = 1
read_pj = 10.0
write_pj = 10.0
cost_source = "test"

[[units]]
name = "Chip"
action = "static_cycle"
{pricing}

[engine]
kind = "dense"
"""


def write(tmp_path, clock: float, pricing: str):
    path = tmp_path / f"tiny-{clock}.toml"
    path.write_text(HARDWARE.format(clock=clock, pricing=pricing))
    return path


@pytest.mark.parametrize("clock, pj", [(1.0, 2000.0), (0.5, 4000.0), (2.0, 1000.0)])
def test_power_is_priced_per_cycle_at_the_files_clock(tmp_path, clock, pj):
    """2 W costs 2000 pJ per cycle at 1 GHz, twice that at half the clock; the source names power, rule and clock."""
    entry = load_hardware(write(tmp_path, clock, 'power_w = 2.0\nsource = "measured"')).unit_costs[("Chip", "static_cycle")]
    assert entry.energy_pj == pytest.approx(pj, rel=1e-12)
    assert entry.source == f"measured; per cycle = static power x cycle time = 2.0 W x 1000 / {clock} GHz = {pj:.6g} pJ"


@pytest.mark.parametrize("pricing, message", [
    ('power_w = 2.0', "units[0]: source is required with power_w"),
    ('power_w = 2.0\nenergy_pj = 1.0\nsource = "x"',
     "units[0]: give exactly one of table_component (with bits) or energy_pj (with source) or power_w (with source)"),
    ('power_w = -1.0\nsource = "x"', "units[0].power_w: must be greater than or equal to 0 (got -1.0)"),
])
def test_power_without_source_or_with_another_price_is_refused(tmp_path, pricing, message):
    """power_w needs a source and excludes energy_pj / table_component; a negative power is refused, naming the field."""
    with pytest.raises(ConfigError) as info:
        load_hardware(write(tmp_path, 1.0, pricing))
    assert message in str(info.value)


def test_power_in_a_mac_normalised_file_is_refused(tmp_path):
    """A unit's power in W has no price in MAC-equivalents: energy_unit = "MAC" refuses power_w, naming the value."""
    path = write(tmp_path, 1.0, 'power_w = 2.0\nsource = "measured"')
    path.write_text(path.read_text().replace("clock_ghz = 1.0", 'clock_ghz = 1.0\nenergy_unit = "MAC"', 1))
    with pytest.raises(ConfigError) as info:
        load_hardware(path)
    assert str(info.value) == (f'{path}: (top level): units[0].power_w: a power in W has no price in a file whose '
                               'energy_unit is "MAC" (got 2.0 W); give energy_pj in MAC-equivalents')
