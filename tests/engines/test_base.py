"""The engine contract (energysim.engines.base): every engine's models, its options and its hardware checks."""

from __future__ import annotations

import pytest

from energysim import catalog
from energysim.engines import ENGINES, Engine, build_engine
from energysim.engines.dense.engine import DenseEngine, DenseEngineConfig
from energysim.errors import ConfigError, InputError
from energysim.hardware.hierarchy import load_hardware

BUNDLED = {"dense": "lecture-array", "eie": "eie-64pe", "loopnest": "lecture-array-loopnest", "sparse_tc": "a100"}
"""A bundled hardware file of each engine kind."""


def engine_of(kind: str) -> Engine:
    return build_engine(load_hardware(catalog.hwconfig_path(BUNDLED[kind])))


def test_every_engine_kind_has_a_bundled_example():
    """The table above covers every registered engine (so the tests below cover them all)."""
    assert sorted(BUNDLED) == sorted(ENGINES)


@pytest.mark.parametrize("kind", sorted(ENGINES))
def test_every_engine_keeps_the_contract(kind):
    """Each engine is an Engine of its kind, with strict config and options models whose options are described."""
    engine = engine_of(kind)
    assert isinstance(engine, Engine) and engine.kind == kind and type(engine) is ENGINES[kind]
    for model in (engine.config_model, engine.options_model):
        assert model.model_config.get("extra") == "forbid", model
    assert all(field.description for field in engine.options_model.model_fields.values()), kind


@pytest.mark.parametrize("kind", sorted(ENGINES))
def test_unknown_option_is_one_line_naming_what_the_engine_takes(kind):
    """An unknown option: one line naming the engine, the hardware, the option and every option the engine takes."""
    engine = engine_of(kind)
    with pytest.raises(InputError) as info:
        engine.read_options({"bogus": 1})
    takes = ", ".join(sorted(engine.options_model.model_fields))
    assert str(info.value) == (f"engine '{kind}' of hardware '{BUNDLED[kind]}' has no option 'bogus' (it takes: {takes})")


@pytest.mark.parametrize(("kind", "options", "message"), [
    ("dense", {"path": 3}, "path must be one of fast, cycle (got 3)"),
    ("sparse_tc", {"timing": "fast"}, "timing must be one of hardware_bound, library_calibrated, kernel_model (got 'fast')"),
    ("eie", {"keep_output": "yes"}, "keep_output must be bool (got 'yes')"),
    ("eie", {"keep_output": 1}, "keep_output must be bool (got 1)"),
    ("loopnest", {"mapping": 42}, "mapping must be a mapping TOML file, a Mapping, 'default' or None (got int)"),
    ("loopnest", {"compat": "zigzag"}, "compat must be one of ideal, timeloop (got 'zigzag')"),
])
def test_bad_option_value_is_one_line_naming_rule_and_value(kind, options, message):
    """A refused value (no silent coercion: 1 is not True): one line naming the option, what it must be and the value."""
    with pytest.raises(InputError) as info:
        engine_of(kind).read_options(options)
    assert str(info.value) == f"engine '{kind}' of hardware '{BUNDLED[kind]}': {message}"


def test_mode_is_the_option_else_the_configured_one():
    """sparse_tc runs in its configured mode unless the run names one; an engine without modes has mode ''."""
    engine = engine_of("sparse_tc")
    assert engine.mode(engine.read_options({})) == engine.config.mode == "dense"
    assert engine.mode(engine.read_options({"mode": "sparse_2_4"})) == "sparse_2_4"
    dense = engine_of("dense")
    assert dense.mode(dense.read_options({"path": "cycle"})) == ""


def test_wrong_memory_levels_are_refused_in_one_line():
    """An engine on a hierarchy of other level kinds: one ConfigError line naming the kinds needed and given."""
    a100 = load_hardware(catalog.hwconfig_path("a100"))
    with pytest.raises(ConfigError) as info:
        DenseEngine(a100, DenseEngineConfig(kind="dense", rows=2, cols=2))
    assert str(info.value).endswith("memory: the dense engine needs levels dram, sram, regfile, outermost first "
                                    "(got dram, sram, sram, regfile)")


def test_unpriced_count_is_refused_in_one_line():
    """A count the engine makes that the hardware does not price: one ConfigError line naming component and action."""
    hardware = load_hardware(catalog.hwconfig_path("lecture-array"))
    with pytest.raises(ConfigError, match=r"the dense engine counts Adder\.mult, which the hardware file does not price"):
        DenseEngine(hardware, DenseEngineConfig(kind="dense", rows=2, cols=2, mac_unit="Adder"))


def test_result_carries_engine_hardware_and_clock():
    """Engine.result fills the fields every engine shares from the engine and its hardware."""
    from energysim.workloads.layers import GemmLayer

    engine = engine_of("dense")
    result = engine.simulate(GemmLayer(name="g", m=8, n=8, k=8))
    assert (result.layer, result.engine, result.hardware, result.clock_ghz) == (
        "g", "dense", "lecture-array", engine.hardware.clock_ghz)



def test_an_engine_subpackage_is_imported_only_when_its_kind_is_looked_up():
    """Importing energysim loads no engine subpackage; building an EIE engine loads EIE's alone (a run pays for its one engine)."""
    import subprocess
    import sys

    code = ("import sys, energysim; from energysim.api import hardware; from energysim.engines import build_engine; "
            "subs = ('dense', 'eie', 'loopnest', 'sparse_tc'); "
            "print(sorted(s for s in subs if 'energysim.engines.' + s in sys.modules)); "
            "build_engine(hardware('eie-64pe-lecture')); "
            "print(sorted(s for s in subs if 'energysim.engines.' + s in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["[]", "['eie']"]
