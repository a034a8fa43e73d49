"""The mapper's files: constraints in, best mappings and a summary table out.

- :func:`load_constraints` reads a constraints TOML file::

      schema_version = 1
      dataflow = "output_stationary"     # optional
      allow_bypass = true                # optional
      min_utilisation = 1.0              # optional

      [[levels]]
      level = "RegFile"
      temporal = { S = "all" }
      keep = ["outputs"]

- :func:`mappings_toml` writes the best mapping of every layer as a mapping file
  (the format :func:`~energysim.engines.loopnest.mapping.load_mapping` reads, so
  ``energysim run HW WORKLOAD --mapping FILE`` reproduces the mapper's figures).
- :func:`results_table` gives one row per layer: figures of the best mapping,
  search effort and the simpler strategies' energies.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from pydantic import ConfigDict

from energysim.config.loading import load_model_file
from energysim.config.toml_writer import toml_key, toml_string, toml_value
from energysim.engines.loopnest.mapper import MapResult
from energysim.engines.loopnest.mapper_constraints import MapperConstraints


class ConstraintsFile(MapperConstraints):
    """A constraints TOML file: ``schema_version`` and the :class:`MapperConstraints` fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    schema_version: int


def load_constraints(path: str | Path) -> MapperConstraints:
    """Read and validate a constraints file.

    Raises
    ------
    ConfigError
        One line per problem, naming the file, the field, the rule and the value.
    """
    path = Path(path)
    spec = load_model_file(path, ConstraintsFile)
    fields = {k: v for k, v in spec if k != "schema_version"}
    return MapperConstraints.model_validate(fields, context={"source": str(path)})  # keeps the file for later errors


def _inline(factors: tuple[tuple[str, int], ...]) -> str:
    return "{ " + ", ".join(f"{toml_key(d)} = {int(f)}" for d, f in factors) + " }"


def mappings_toml(results: list[MapResult]) -> str:
    """The best mapping of every layer as the text of a mapping file (one ``[[mappings]]`` per layer)."""
    lines = ["# Best mappings found by energysim's loop-nest mapper, one entry per layer.", "schema_version = 1"]
    for r in results:
        lines += ["", f"# {r.objective} search, seed {r.seed}: {r.energy_pj * 1e-9:.6g} mJ, {r.cycles} cycles",
                  "[[mappings]]", f"layer = {toml_string(r.layer)}"]
        for level in r.mapping.levels:
            lines += ["", "[[mappings.levels]]", f"name = {toml_string(level.name)}",
                      f"factors = {_inline(level.temporal)}",
                      f"order = {toml_value([d for d, _ in level.temporal])}"]
            if level.spatial_x:
                lines.append(f"spatial_x = {_inline(level.spatial_x)}")
            if level.spatial_y:
                lines.append(f"spatial_y = {_inline(level.spatial_y)}")
            if level.bypass:
                lines.append(f"bypass = {toml_value(sorted(level.bypass))}")
    return "\n".join(lines) + "\n"


def results_table(results: list[MapResult]) -> pd.DataFrame:
    """One row per layer: best energy and cycles, search effort, the simpler strategies' energies."""
    rows = []
    for r in results:
        row = {
            "layer": r.layer, "hardware": r.hardware, "objective": r.objective, "seed": r.seed,
            "energy_pj": r.energy_pj, "cycles": r.cycles, "utilisation": r.stats.utilisation,
            "strategy": r.strategy, "evaluated": r.evaluated, "estimated": r.estimated, "wall_s": r.wall_s,
            "cpu_s": r.cpu_s,
            "mapping": r.mapping.describe(),
        }
        for name in ("default", "random", "estimate"):
            base = r.baselines.get(name)
            row[f"{name}_energy_pj"] = base.energy_pj if base else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)

