"""Which timing an A100 result ran, and the note a 2:4 run timed at the bound gets when library kernels are slower."""

from __future__ import annotations

import pytest

from energysim.catalog import hwconfig_path
from energysim.config.hardware import HardwareFile
from energysim.config.loading import load_toml
from energysim.engines import build_engine
from energysim.engines.sparse_tc.engine import TIMING_LABELS
from energysim.engines.sparse_tc.notes import TIMING_PHRASES, padded_measurement, ratio_phrase, timing_note
from energysim.hardware.hierarchy import build_hardware, load_hardware
from energysim.workloads.layers import Conv2dLayer, GemmLayer, LinearLayer

A100 = hwconfig_path("a100")
TIMINGS = tuple(TIMING_LABELS)


@pytest.fixture(scope="module")
def engine():
    """The bundled A100 engine (timing hardware_bound, with its [engine.kernel_model] table)."""
    return build_engine(load_hardware(A100))


def run(engine, shapes, mode: str, timing: str | None = None):
    """Results of GEMM layers (m, n, k) in one mode and timing (None: the configured one)."""
    options = {"mode": mode} | ({"timing": timing} if timing else {})
    return [engine.simulate(GemmLayer(name=f"g{i}", m=m, n=n, k=k), **options) for i, (m, n, k) in enumerate(shapes)]


def model_ratio(engine, shapes) -> float:
    """The kernel model's 2:4 time over its dense time, summed over the layers, from two kernel-model runs."""
    sparse = sum(r.cycles_total for r in run(engine, shapes, "sparse_2_4", "kernel_model"))
    dense = sum(r.cycles_total for r in run(engine, shapes, "dense", "kernel_model"))
    return sparse / dense


PADDED = [(64, 1, 784), (10, 1, 64)]          # batch-1 MLP layers: N = 1, padded to 32 rows
LARGE = [(3072, 3072, 10240)]                 # the tutorial GEMM: not padded, 2:4 faster in the kernel model
SLOW_UNPADDED = [(64, 32, 64)]                # N = 32, not padded, yet the kernel model's 2:4 is slower


@pytest.mark.parametrize("mode", ["dense", "sparse_2_4"])
@pytest.mark.parametrize("timing", TIMINGS)
def test_every_result_names_its_timing(engine, mode, timing):
    """stats carry the timing that ran and its report label, in both modes and all three timings."""
    result = engine.simulate(GemmLayer(name="g", m=128, n=8, k=256), mode=mode, timing=timing)
    assert result.stats["timing"] == timing
    assert result.stats["timing_label"] == TIMING_LABELS[timing]


def test_default_timing_is_labelled_hardware_bound(engine):
    """The bundled a100.toml's default run is labelled 'hardware bound' (the default is unchanged)."""
    assert engine.simulate(GemmLayer(name="g", m=64, n=1, k=64)).stats["timing_label"] == "hardware bound"


def test_sparse_layer_carries_the_dense_kernel_model_time(engine):
    """A 2:4 layer's dense kernel-model cycles equal a dense run's kernel-model figure; vs_dense is their ratio."""
    for m, n, k in PADDED + LARGE:
        sparse = engine.simulate(GemmLayer(name="g", m=m, n=n, k=k), mode="sparse_2_4")
        dense = engine.simulate(GemmLayer(name="g", m=m, n=n, k=k), mode="dense")
        model = sparse.stats["kernel_model"]
        assert model["dense_cycles_total"] == dense.stats["figures"]["kernel_model"]["cycles_total"]
        assert model["vs_dense"] == sparse.stats["figures"]["kernel_model"]["cycles_total"] / model["dense_cycles_total"]
        assert model["input_padded"] == (n % model["pad_input_multiple"] != 0)
    assert "dense_cycles_total" not in dense.stats["kernel_model"]


def test_padded_run_at_the_bound_gets_the_kernel_model_figure(engine):
    """A padded 2:4 run at the hardware bound names the bound, the kernel model's ratio, the measurement and the extrapolation."""
    note = timing_note("a100:sparse_2_4", run(engine, PADDED, "sparse_2_4"))
    measured = padded_measurement()
    assert note.startswith(f"note: a100:sparse_2_4 is timed {TIMING_PHRASES['hardware_bound']}.")
    assert f"the kernel model gives {ratio_phrase(model_ratio(engine, PADDED))} for its 2 2:4 layers" in note
    assert "2 of 2 have input rows (N) not a multiple of 32" in note
    assert f"{measured.sparse_us:g} us 2:4 vs {measured.dense_us:g} us dense" in note
    assert measured.sparse_us > measured.dense_us
    padded_us = engine.config.kernel_model.padded_call_cycles / (engine.hardware.clock_ghz * 1e3)
    assert f"padded-call cost ({padded_us:.0f} us per call) is fitted on that one measured row" in note
    assert "(largest padded 64x784) it is an extrapolation" in note
    assert note.count("note:") == 1 and note.endswith(".\n")


def test_padded_convolutions_are_named_as_outside_the_measured_path(engine):
    """Padded conv layers get the sentence that PyTorch's 2:4 path runs linears only; linears and gemms do not."""
    conv = Conv2dLayer(name="c", in_channels=16, out_channels=32, in_height=7, in_width=7, kernel_height=3,
                       kernel_width=3, padding=1)
    linear = LinearLayer(name="l", in_features=64, out_features=10)
    note = timing_note("x", [engine.simulate(layer, mode="sparse_2_4") for layer in (conv, linear)])
    assert "2 of 2 have input rows (N) not a multiple of 32" in note
    assert "runs linear layers only, so for the 1 padded convolution this is what that path would cost" in note
    assert "convolution" not in timing_note("x", run(engine, PADDED, "sparse_2_4"))


def test_library_calibrated_run_gets_the_figure_too(engine):
    """The library-calibrated timing models no padding either, so a padded 2:4 run there gets the figure too."""
    note = timing_note("a100:sparse_2_4", run(engine, PADDED, "sparse_2_4", "library_calibrated"))
    assert TIMING_PHRASES["library_calibrated"] in note
    assert f"the kernel model gives {ratio_phrase(model_ratio(engine, PADDED))} for" in note


def test_unpadded_run_the_kernel_model_calls_slower_gets_the_figure(engine):
    """An unpadded 2:4 run the kernel model times slower than dense gets the figure, without the padding sentences."""
    ratio = model_ratio(engine, SLOW_UNPADDED)
    assert ratio > 1
    note = timing_note("a100:sparse_2_4", run(engine, SLOW_UNPADDED, "sparse_2_4"))
    assert f"the kernel model gives {ratio:.3g}x the dense time (2:4 slower) for its 1 2:4 layer " in note
    assert "pads" not in note and "extrapolation" not in note


def test_run_where_library_kernels_gain_only_names_the_timing(engine):
    """An unpadded 2:4 run the kernel model also times faster than dense gets only the timing sentence."""
    assert model_ratio(engine, LARGE) < 1
    note = timing_note("a100:sparse_2_4", run(engine, LARGE, "sparse_2_4"))
    assert note == f"note: a100:sparse_2_4 is timed {TIMING_PHRASES['hardware_bound']}.\n"


def test_kernel_model_run_keeps_only_the_extrapolation(engine):
    """A padded 2:4 run timed by the kernel model is not told the kernel model's figure, only that it extrapolates."""
    note = timing_note("a100:sparse_2_4", run(engine, PADDED, "sparse_2_4", "kernel_model"))
    assert note.startswith(f"note: a100:sparse_2_4 is timed {TIMING_PHRASES['kernel_model']}. The kernel model's padded")
    assert "the kernel model gives" not in note
    assert f"fitted on one measured row ({padded_measurement().setup}" in note


def test_dense_run_only_names_the_timing(engine):
    """A dense run's note names its timing and nothing else."""
    assert timing_note("a100", run(engine, PADDED, "dense")) == f"note: a100 is timed {TIMING_PHRASES['hardware_bound']}.\n"


def test_no_kernel_model_table_no_figure():
    """Without an [engine.kernel_model] table a 2:4 run gets the timing sentence only (nothing to compare with)."""
    data = load_toml(A100)
    del data["engine"]["kernel_model"]
    engine = build_engine(build_hardware(HardwareFile.model_validate(data), A100, A100.parent))
    results = run(engine, PADDED, "sparse_2_4")
    assert "kernel_model" not in results[0].stats
    assert timing_note("x", results) == f"note: x is timed {TIMING_PHRASES['hardware_bound']}.\n"


def test_other_engines_get_no_note():
    """Results of another engine give no note."""
    other = build_engine(load_hardware(hwconfig_path("lecture-array")))
    assert timing_note("lecture-array", [other.simulate(GemmLayer(name="g", m=8, n=1, k=8))]) == ""


def test_dense_comparison_is_searched_once_per_shape(engine):
    """A repeated 2:4 layer shape reuses its dense comparison schedule (no second search), with the same figures."""
    from energysim.engines.sparse_tc.engine import _dense_bound_plan

    layer = GemmLayer(name="g", m=96, n=3, k=160)
    first = engine.simulate(layer, mode="sparse_2_4")
    hits = _dense_bound_plan.cache_info().hits
    again = engine.simulate(layer, mode="sparse_2_4")
    assert _dense_bound_plan.cache_info().hits == hits + 1
    assert again.stats["kernel_model"] == first.stats["kernel_model"]


def test_ratio_phrase_reads_a_slowdown_as_a_multiple():
    """Above 1 the ratio reads '102x the dense time (2:4 slower)'; at or below 1 it stays '0.43 of dense time'."""
    assert ratio_phrase(102.0) == "102x the dense time (2:4 slower)"
    assert ratio_phrase(0.43) == "0.43 of dense time"
    assert ratio_phrase(1.0) == "1 of dense time"
