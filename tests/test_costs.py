"""Cost tables: the lecture's seven rows, Horowitz points, named scaling rules, user tables."""

from __future__ import annotations

import pytest

from energysim.costs import builtin_table
from energysim.costs.export import operation_table
from energysim.costs.scaling import scale_capacity
from energysim.costs.table import CostTable
from energysim.errors import ConfigError, InputError


def test_lecture_table_rows_and_relative_cost():
    """lecture-45nm holds the lecture's seven rows with relative cost against the 32-bit int add."""
    frame = operation_table(builtin_table("lecture-45nm"))
    assert list(frame["Operation"]) == [
        "32-bit int add", "32-bit float add", "32-bit register file access", "32-bit int multiply",
        "32-bit float multiply", "32-bit SRAM cache access", "32-bit DRAM access",
    ]
    assert list(frame["Energy [pJ]"]) == [0.1, 0.9, 1.0, 3.1, 3.7, 5.0, 640.0]
    assert list(frame["Relative Cost"].round(6)) == [1, 9, 10, 31, 37, 50, 6400]
    assert frame["Source"].str.len().min() > 10


def test_horowitz_published_points_are_returned_as_is():
    """Published Horowitz entries come back unscaled, with the table and paper named."""
    table = builtin_table("horowitz-45nm")
    entry = table.lookup("sram", "read", 64, 32768)
    assert entry.energy_pj == 20.0
    assert "horowitz-45nm" in entry.source and "Horowitz ISSCC'14" in entry.source
    assert table.lookup("float_mult", "op", 16).energy_pj == 1.1


def test_width_scaling_rules_are_named():
    """Unpublished widths are derived by the named rule: multipliers quadratic, adders and memories linear."""
    table = builtin_table("horowitz-45nm")
    mult = table.lookup("int_mult", "op", 16)
    assert mult.energy_pj == pytest.approx(3.1 / 4)
    assert "multiplier-quadratic-bits" in mult.source
    add = table.lookup("int_add", "op", 16)
    assert add.energy_pj == pytest.approx(0.1 / 2)
    assert "adder-linear-bits" in add.source
    dram = table.lookup("dram", "read", 32)
    assert dram.energy_pj == pytest.approx(650.0)
    assert "memory-linear-width" in dram.source


def test_sram_capacity_interpolation_is_loglog():
    """SRAM energy between 32 KB and 1 MB is log-log interpolated; 128 KB lies between 20 and 100 pJ."""
    table = builtin_table("horowitz-45nm")
    entry = table.lookup("sram", "read", 64, 131072)
    slope = __import__("math").log(100 / 20) / __import__("math").log(32)
    assert entry.energy_pj == pytest.approx(20 * 4**slope)
    assert "sram-capacity-loglog" in entry.source and "extrapolated" not in entry.source
    energy, extrapolated = scale_capacity([(8192, 10.0), (32768, 20.0)], 2048)
    assert extrapolated and energy == pytest.approx(5.0)


def test_single_size_table_says_capacity_not_scaled():
    """The lecture's one SRAM row is used at any capacity, and the source says so."""
    entry = builtin_table("lecture-45nm").lookup("sram", "read", 32, 1 << 20)
    assert entry.energy_pj == 5.0
    assert "capacity not scaled" in entry.source


def test_missing_component_is_refused():
    """Looking up a component the table lacks names the table and what it has."""
    with pytest.raises(InputError, match="cost table 'lecture-45nm' has no entry for tensor_core.op"):
        builtin_table("lecture-45nm").lookup("tensor_core", "op", 16)


def test_user_table_from_toml(tmp_path):
    """A user's TOML table loads and prices; a duplicate entry is refused with its key."""
    good = tmp_path / "mine.toml"
    good.write_text(
        'schema_version = 1\nname = "mine"\n[[entries]]\ncomponent = "int_add"\naction = "op"\nbits = 8\n'
        'energy_pj = 0.02\nsource = "my measurement"\n'
    )
    table = CostTable.from_file(good)
    assert table.lookup("int_add", "op", 8).energy_pj == 0.02
    bad = tmp_path / "dup.toml"
    bad.write_text(good.read_text() + '[[entries]]\ncomponent = "int_add"\naction = "op"\nbits = 8\nenergy_pj = 0.03\nsource = "x"\n')
    with pytest.raises(ConfigError, match="appears twice"):
        CostTable.from_file(bad)


def test_operation_table_at_other_width():
    """--bits prices every entry at that width, names the rule in its source and keeps the table's own wording."""
    frame = operation_table(builtin_table("lecture-45nm"), bits=16)
    assert list(frame["Operation"]) == [label.replace("32-bit", "16-bit")
                                        for label in operation_table(builtin_table("lecture-45nm"))["Operation"]]
    row = frame[frame["Operation"] == "16-bit int multiply"].iloc[0]
    assert row["Energy [pJ]"] == pytest.approx(3.1 / 4)
    assert "multiplier-quadratic-bits" in row["Source"]
