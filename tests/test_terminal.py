"""Terminal tables: SI scaling with three significant figures, percentages, ratios, width fitting."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from energysim.report.terminal import Column, format_value, percent, ratio, render_table, si, significant


@pytest.mark.parametrize(("value", "unit", "text"), [
    (0.4315087242, "J", "432 mJ"), (5.093e-06, "s", "5.09 us"), (999.6, "J", "1.00 kJ"), (0.0, "J", "0 J"),
    (-0.002, "J", "-2.00 mJ"), (21.8e6, "B", "21.8 MB"), (1.0, "s", "1.00 s"),
])
def test_si_scales_to_three_significant_figures(value, unit, text):
    """SI prefixes with a mantissa in [1, 1000) and three significant figures (999.6 rounds into the next prefix)."""
    assert si(value, unit) == text


def test_units_of_result_columns():
    """pJ and uJ columns print in J, microseconds in s, bits in bytes; NaN is blank."""
    assert format_value(431508.7242, "energy_uj") == "432 mJ"
    assert format_value(156148580.0, "energy_pj") == "156 uJ"
    assert format_value(16.3, "time_us") == "16.3 us"
    assert format_value(8 * 1024, "bits") == "1.02 kB"
    assert format_value(math.nan, "energy_pj") == ""


def test_percent_and_ratio():
    """Utilisation is a percentage, ratios to dense a plain fraction, both with three significant figures."""
    assert percent(0.05637) == "5.64 %" and percent(1.0) == "100 %"
    assert ratio(0.59812) == "0.598" and ratio(1.0) == "1.00" and ratio(math.nan) == ""
    assert significant(9.996) == "10.0" and significant(4160.2) == "4160"


def test_table_is_aligned_and_fits_the_width():
    """Every line is at most the width; numbers are right-aligned; dropped columns are named with --wide."""
    frame = pd.DataFrame({"layer": ["fc1", "fc2"], "energy_pj": [156148580.0, 20087100.0],
                          "utilisation": [0.0564, 0.04], "notes": ["a" * 30, "b"]})
    columns = [Column("layer"), Column("energy_pj", "energy_pj", "energy"), Column("utilisation", "percent"),
               Column("notes")]
    text = render_table(frame, columns, width=40)
    lines = text.splitlines()
    assert all(len(line) <= 40 for line in lines[:-1]), text
    assert lines[0].split() == ["layer", "energy", "utilisation"]
    assert lines[2].index("156 uJ") + len("156 uJ") == lines[3].index("20.1 uJ") + len("20.1 uJ")
    assert lines[-1] == "(1 more column: notes; --wide shows all)"
    wide = render_table(frame, columns, width=40, wide=True)
    assert "notes" in wide.splitlines()[0] and "--wide" not in wide


def test_missing_column_is_an_error():
    """A column the table lacks is refused, not silently left out."""
    with pytest.raises(KeyError, match="no column"):
        render_table(pd.DataFrame({"a": [1]}), [Column("b")])


def test_plain_numbers_keep_integers_exact():
    """A unitless integer-valued number is shown exactly (4096 MACs stay 4096); others with four figures."""
    assert format_value(4096.0, "number") == "4096"
    assert format_value(276.43, "number") == "276.4"
    assert format_value(0.56251, "number") == "0.5625"


def test_a_bool_column_with_gaps_is_a_flag_column():
    """True/False with None (rows not judged) is shown as yes/no/blank like a bool column, not as text."""
    import pandas as pd

    from energysim.report.terminal import guess_kind

    assert guess_kind("ok", pd.Series([True, None, False], dtype=object)) == "flag"
    assert guess_kind("ok", pd.Series([None, None], dtype=object)) == "text"
    assert guess_kind("ok", pd.Series([True, "no"], dtype=object)) == "text"


def test_a_float_in_a_text_column_is_shown_to_four_figures():
    """A reproduction's text column mixing a layer name and floats prints 1.038, not 1.0375474687523578."""
    from energysim.report.terminal import format_value

    assert format_value(1.0375474687523578, "text") == "1.038"
    assert format_value("NT-We", "text") == "NT-We" and format_value(64.0, "text") == "64.0"
