"""Energies and settings a hardware file or --set may give: huge prices and TOML tables are refused in one sentence."""

from __future__ import annotations

import io

import pytest

from energysim.cli import main
from energysim.config.hardware import MAX_PJ_PER_ACTION, words_per_cycle_of_gbps


def run(*argv: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(list(argv), out=out, err=err), err.getvalue()


@pytest.mark.parametrize("argv, fragment", [
    (("run", "lecture-array-loopnest", "lenet-300-100", "--mapping", "default", "--set", "memory[1].leak_power_w=1e308",
      "--set", "memory[1].leak_source=x"), "memory[1].leak_power_w: one action or cycle may cost at most 1e+12 pJ"),
    (("run", "lecture-array-loopnest", "lenet-300-100", "--mapping", "default", "--set", "memory[1].leak_power_w=1e200",
      "--set", "memory[1].leak_source=x"), "(got 1e+200 W at 1.0 GHz, 1e+203 pJ per cycle)"),
    (("run", "a100", "lenet-300-100", "--set", "units[4].power_w=1e308"), "units[4].power_w: one action or cycle"),
    (("run", "lecture-array-loopnest", "lenet-300-100", "--mapping", "default", "--set",
      "memory[1].leak_pj_per_cycle=1e305", "--set", "memory[1].leak_source=x"), "memory[1].leak_pj_per_cycle: one action"),
])
def test_a_price_over_one_joule_is_refused_before_totals_overflow(argv, fragment):
    """A 1e308 W leak gave an inf price and a traceback, 1e200 W a 180-digit total: now exit 2 naming key and bound."""
    code, err = run(*argv)
    assert code == 2 and fragment in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_the_bound_admits_every_bundled_price_and_keeps_totals_finite():
    """1 J per action times the largest count (2**53) is still a finite pJ total."""
    assert MAX_PJ_PER_ACTION * 2.0 ** 53 < float("inf")


@pytest.mark.parametrize("value, kind", [("[1]", "array"), ("{a=1}", "table")])
def test_set_refuses_a_toml_array_or_table(value, kind):
    """`--set engine.rows=[1]` was a TypeError traceback (unhashable list); now one sentence, exit 2."""
    code, err = run("run", "lecture-array", "lenet-300-100", "--set", f"engine.rows={value}")
    assert code == 2 and f"not a TOML {kind}" in err and "Traceback" not in err


def test_gbps_conversion_does_not_overflow_before_dividing():
    """1e308 GB/s at 1e300 GHz in 32-bit words is 2.5e7 words per cycle, not inf (gbps x 8 overflowed first)."""
    assert words_per_cycle_of_gbps(1e308, 1e300, 32) == pytest.approx(2.5e7)


def test_set_names_an_overflowing_number_as_typed():
    """`--set clock_ghz=1e400` names 1e400 (it echoed the 'inf' it parsed to); a literal inf is the file rule's."""
    code, err = run("run", "lecture-array", "lenet-300-100", "--set", "clock_ghz=1e400")
    assert code == 2 and "--set clock_ghz: 1e400 is beyond the largest number" in err
