"""Hardware variants without writing files: ``--set engine.n_pe=8,16,32`` on run, estimate and compare.

A setting names any dotted key of a hardware file (``engine.n_pe``,
``engine.queue_depth``, ``memory[1].capacity_bytes``; ``name[i]`` indexes an array of
tables) and one or more values, each a TOML value (``8``, ``2.5``, ``true``,
``"x"``) or a bare word read as a string (``timeloop``). Several settings make
the cross product, except a value ``@KEY``, which follows another swept key
(``--set engine.n_pe=8,16 --set memory[1].instances=@engine.n_pe``). Each variant is the hardware file with the values put in,
validated exactly like a file (errors name the setting and the value), and named
after them: ``eie-64pe-lecture[engine.n_pe=8]``. That name is the variant's
``hardware`` (so its ``run``); result tables get one column per swept key.
"""

from __future__ import annotations

import copy
import itertools
import math
import re
import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd

from energysim.errors import EnergySimError, InputError
from energysim.limits import HARDWARE_VARIANTS

_SEGMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)((?:\[\d+\])*)$")


def parse_value(text: str) -> Any:
    """A TOML value (``8``, ``0.5``, ``true``, ``"a,b"``); anything else is the bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text.strip()


def parse_settings(items: Sequence[str], option: str = "--set") -> dict[str, list[Any]]:
    """``['engine.n_pe=8,16', 'engine.queue_depth=4']`` -> ``{'engine.n_pe': [8, 16], 'engine.queue_depth': [4]}``.

    Raises
    ------
    InputError
        For an item without ``=``, a malformed key, no value, an empty value between commas, or one key given twice.
    """
    settings: dict[str, list[Any]] = {}
    for item in items:
        key, equals, values = item.partition("=")
        key = key.strip()
        if not equals or not key:
            raise InputError(f"{option} must look like KEY=V1,V2,... e.g. engine.n_pe=8,16 (got {item!r})")
        _segments(key, option)
        if not values.strip():
            raise InputError(f"{option} {key}: needs at least one value (got {item!r})")
        pieces = values.split(",")
        empty = next((i for i, piece in enumerate(pieces, 1) if not piece.strip()), None)
        if empty is not None:
            raise InputError(f"{option} {key}: value {empty} of {values!r} is empty; separate values by single commas, "
                             f"e.g. {key}=8,16")
        parsed = [parse_value(v) for v in pieces]
        overflow = next((p.strip() for p, v in zip(pieces, parsed) if isinstance(v, float) and math.isinf(v)
                         and "inf" not in p.lower()), None)
        if overflow is not None:  # 1e400 reads as inf: name what was typed, not the inf it became
            raise InputError(f"{option} {key}: {overflow} is beyond the largest number (about 1.8e308) (got {item!r})")
        table = next((v for v in parsed if isinstance(v, (list, dict))), None)
        if table is not None:  # a TOML array or inline table: no setting takes one (and it is not hashable)
            raise InputError(f"{option} {key}: a value must be a number, a boolean or a string, not a TOML "
                             f"{'array' if isinstance(table, list) else 'table'} (got {item!r})")
        if key in settings:
            raise InputError(f"{option} {key}: given twice; list every value once, e.g. {key}=8,16")
        settings[key] = list(dict.fromkeys(parsed))
    return settings


def _segments(key: str, option: str = "--set") -> list[str | int]:
    """``memory[1].capacity_bytes`` -> ``['memory', 1, 'capacity_bytes']``."""
    parts: list[str | int] = []
    for segment in key.split("."):
        match = _SEGMENT.match(segment)
        if not match:
            raise InputError(f"{option} {key}: each dotted part must be a name, optionally with [index] (got {segment!r})")
        parts.append(match.group(1))
        parts.extend(int(i) for i in re.findall(r"\[(\d+)\]", match.group(2)))
    return parts


def label(values: Mapping[str, Any]) -> str:
    """``{'engine.n_pe': 8}`` -> ``'engine.n_pe=8'`` (the suffix of a variant's name, in brackets)."""
    return ",".join(f"{key}={_text(value)}" for key, value in values.items())


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def combinations(settings: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the settings' values (the first key varies slowest); ``[{}]`` for none.

    A value ``@KEY`` follows another swept key (``memory[1].instances=@engine.n_pe``):
    it takes that key's value in each combination instead of multiplying them.

    Raises
    ------
    InputError
        If a ``@KEY`` names no other swept key, a key mixes ``@KEY`` with values, or the
        sweep has more variants than :data:`energysim.limits.HARDWARE_VARIANTS`.
    """
    follows = {key: _reference(key, values) for key, values in settings.items()}
    for key, target in follows.items():
        if target is not None and (target not in settings or follows[target] is not None):
            raise InputError(f"--set {key}=@{target}: @KEY must name another --set key with values "
                             f"(got {', '.join(k for k in settings if k != key) or 'none'})")
    keys = [key for key in settings if follows[key] is None]
    HARDWARE_VARIANTS.check(f"--set {' x '.join(f'{k} ({len(settings[k])})' for k in keys)}",
                            math.prod(len(settings[k]) for k in keys))
    combos = [dict(zip(keys, values)) for values in itertools.product(*(settings[k] for k in keys))]
    return [{key: combo[follows[key]] if follows[key] else combo[key] for key in settings} for combo in combos]


def _reference(key: str, values: Sequence[Any]) -> str | None:
    """The key a ``@KEY`` value follows, or None for plain values."""
    marked = [v for v in values if isinstance(v, str) and v.startswith("@")]
    if not marked:
        return None
    if len(values) != 1:
        raise InputError(f"--set {key}: @KEY follows another key and stands alone (got {', '.join(map(str, values))})")
    return marked[0][1:]


def apply(data: dict[str, Any], values: Mapping[str, Any], source: str) -> dict[str, Any]:
    """A deep copy of a hardware file's parsed TOML with each dotted key set.

    Raises
    ------
    InputError
        If a table or array on a key's way does not exist in the file.
    """
    data = copy.deepcopy(data)
    for key, value in values.items():
        where: Any = data
        path = _segments(key)
        for depth, part in enumerate(path[:-1]):
            inside = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path[:depth + 1]).lstrip(".")
            try:
                where = where[part]
            except (KeyError, IndexError, TypeError):
                raise InputError(f"--set {key}={_text(value)}: {source} has no table '{inside}' to set it in") from None
            if not isinstance(where, (dict, list)):
                raise InputError(f"--set {key}={_text(value)}: '{inside}' in {source} is a value, not a table")
        last = path[-1]
        if isinstance(where, list) != isinstance(last, int):
            raise InputError(f"--set {key}={_text(value)}: {source} has no entry '{key}' to set")
        if isinstance(last, int) and last >= len(where):
            raise InputError(f"--set {key}={_text(value)}: {source} has only {len(where)} entries there")
        where[last] = value
    return data


def variant(path: str | Path, values: Mapping[str, Any]):
    """The hardware file at ``path`` with ``values`` set, validated like a file, named ``NAME[key=value,...]``.

    Raises
    ------
    InputError
        Naming the settings and the rule they break (a bad value, an unknown key, an engine's refusal).
    """
    from energysim.config.loading import check_schema_version, load_toml, validate_model
    from energysim.config.hardware import HardwareFile
    from energysim.engines import build_engine
    from energysim.hardware.hierarchy import build_hardware

    path = Path(path)
    data = load_toml(path)
    if not values:
        from energysim.hardware.hierarchy import load_hardware

        return load_hardware(path)
    text = label(values)
    changed = apply(data, values, str(path))
    try:
        check_schema_version(changed, path)
        spec = validate_model(HardwareFile, changed, path)
        hardware = build_hardware(spec, path, path.parent)
        hardware = replace(hardware, name=f"{hardware.name}[{text}]")
        build_engine(hardware)
    except EnergySimError as exc:
        raise InputError(f"--set {text}: {exc}") from None
    return hardware


def hardware_variants(spec: str, settings: Mapping[str, Sequence[Any]] | Sequence[str] | Sequence[Mapping[str, Any]] | None
                      = None) -> list:
    """One :class:`~energysim.estimation.HardwareChoice` per combination of ``settings`` for the spec ``NAME[:MODE]``.

    ``settings`` maps dotted keys to values (``{'engine.n_pe': [8, 16]}``, every
    combination), is a list of ``KEY=V1,V2`` strings as on the command line, or a
    list of explicit variants (``[{'engine.n_pe': 8, 'memory[1].instances': 8}, ...]``,
    for values that must change together). Each choice carries its values in
    ``settings``; its hardware is named ``NAME[key=value,...]``.
    """
    from energysim import catalog
    from energysim.estimation import HardwareChoice

    if settings is not None and not isinstance(settings, Mapping):
        settings = list(settings)
        explicit = [dict(values) for values in settings if isinstance(values, Mapping)]
        if explicit and len(explicit) != len(settings):
            raise InputError("settings must be all KEY=V1,V2 strings or all {key: value} variants, not a mix")
        settings = parse_settings(settings) if not explicit else None
    else:
        explicit = None
    path, options = catalog.hardware_spec(spec)
    choices = []
    for values in explicit or combinations(settings or {}):
        text = f"[{label(values)}]" if values else ""
        name, colon, mode = spec.partition(":")
        choices.append(HardwareChoice(f"{name}{text}{colon}{mode}", variant(path, values), options, values))
    return choices


def clock_note(choices: Iterable) -> str:
    """A note naming what stays at the file's clock in variants whose ``clock_ghz`` differs from it, or ''.

    ``--set clock_ghz`` changes the cycle time, so a static power (``leak_power_w``, a unit's
    ``power_w``) costs more per cycle at a slower clock: energy = power x time. Static energy
    given as a fixed energy per cycle stays the file's: a level's ``leak_pj_per_cycle``
    (Timeloop's meaning), a static unit's ``energy_pj`` or table price; and so do EIE's
    per-access energies, which the engine charges per access only (``eie-64pe``'s are EIE
    Table II powers divided by access rates at 0.8 GHz, leakage included). Likewise a DRAM
    level's bandwidth given in words per cycle stays so many words per cycle, so its GB/s
    follows the clock, where ``bandwidth_gbps`` keeps it fixed (on-chip levels are not named:
    their words per cycle follow the clock as their hardware does).

    Parameters
    ----------
    choices
        :class:`~energysim.estimation.HardwareChoice` objects; those with ``clock_ghz`` in
        their ``settings`` are checked against the clock of their file.

    Returns
    -------
    str
        One line starting ``note:``, unwrapped; '' when no variant changes such a design's clock.
    """
    from energysim.config.loading import load_toml

    clocks: dict[Path, dict[str, Any]] = {}
    for choice in choices:
        hardware = choice.hardware
        settings = getattr(choice, "settings", None) or {}
        if "clock_ghz" not in settings or hardware.path is None:
            continue
        data = load_toml(hardware.path)
        kept = " and ".join(part for part in (_fixed_at_file_clock(hardware), _dram_per_cycle(hardware)) if part)
        if hardware.clock_ghz == data["clock_ghz"] or not kept:
            continue
        entry = clocks.setdefault(hardware.path, {"name": data["name"], "file_ghz": data["clock_ghz"], "run_ghz": [],
                                                  "kept": kept})
        entry["run_ghz"].append(hardware.clock_ghz)
    if not clocks:
        return ""
    designs = [f"on {entry['name']} ({_text(entry['file_ghz'])} GHz in its file, run at "
               f"{', '.join(_text(ghz) for ghz in dict.fromkeys(entry['run_ghz']))} GHz) {entry['kept']}"
               for entry in clocks.values()]
    return f"note: --set clock_ghz changes the cycle time but not every energy or bandwidth: {'; '.join(designs)}"


def _fixed_at_file_clock(hardware) -> str:
    """What of ``hardware``'s energy stays priced at its file's clock when the clock changes, in words, or ''.

    Static costs (actions named ``static*`` or ``leak*``, :data:`energysim.report.tables.STATIC_ACTION_PREFIXES`)
    not priced from a power (``Hardware.static_power_w``) are fixed energies per cycle; EIE folds its
    leakage into explicit per-access energies (``read_pj``; a design priced from a cost table has none).
    """
    from energysim.report.tables import STATIC_ACTION_PREFIXES

    costs = [(row["component"], row["action"]) for row in hardware.cost_rows()]
    fixed = [(component, action) for component, action in costs
             if action.startswith(STATIC_ACTION_PREFIXES) and (component, action) not in hardware.static_power_w]
    parts = []
    if fixed:
        levels = {level.name for level in hardware.levels}
        ways = [way for way, given in (("leak_power_w instead of leak_pj_per_cycle", any(c in levels for c, _ in fixed)),
                                       ("a unit's power_w", any(c not in levels for c, _ in fixed))) if given]
        parts.append(f"the static energy of {', '.join(f'{c}.{a}' for c, a in fixed)} stays the file's fixed energy "
                     f"per cycle (a power in W, {' or '.join(ways)}, makes it power x time)")
    if hardware.engine_kind == "eie" and any(level.config.read_pj is not None for level in hardware.levels):
        # explicit per-access energies (eie-64pe's, from Table II powers); a cost table's prices have no clock
        parts.append("the per-access energies stay those of the file's clock, with any leakage folded into them "
                     "(EIE counts no static energy; eie-64pe's derive from Table II powers at 0.8 GHz)")
    return " and ".join(parts)


def _dram_per_cycle(hardware) -> str:
    """The DRAM level (the first, if any) whose bandwidth stays in words per cycle at another clock, in words, or ''.

    A bandwidth the file gives in GB/s (``Hardware.bandwidth_gbps``) stays fixed in GB/s instead.
    """
    from energysim.config.hardware import BANDWIDTH_FORMS

    dram = hardware.levels[0]
    if dram.config.kind != "dram" or not any(
            getattr(dram.config, words_key) is not None and (dram.name, gbps_key) not in hardware.bandwidth_gbps
            for words_key, gbps_key in BANDWIDTH_FORMS):
        return ""
    return f"{dram.name}'s bandwidth stays in words per cycle, so its GB/s follows the clock (bandwidth_gbps keeps it fixed)"


def with_setting_columns(frame: pd.DataFrame, choices: Iterable) -> pd.DataFrame:
    """``frame`` with one column per swept key (after ``run``), read from each row's ``hardware`` name.

    Rows of a hardware without that key get NaN; a frame without swept choices is returned as is.
    """
    by_name = {choice.hardware.name: dict(getattr(choice, "settings", {}) or {}) for choice in choices}
    keys = list(dict.fromkeys(key for values in by_name.values() for key in values))
    if not keys or "hardware" not in frame.columns:
        return frame
    frame = frame.copy()
    position = list(frame.columns).index("run") + 1 if "run" in frame.columns else len(frame.columns)
    for offset, key in enumerate(keys):
        column = frame["hardware"].map(lambda name, key=key: by_name.get(name, {}).get(key))
        if key in frame.columns:
            frame[key] = column
        else:
            frame.insert(position + offset, key, column)
    return frame
