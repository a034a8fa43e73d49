"""Sparseloop's ``sparse_optimizations`` and the problem's ``densities``, as energysim's ``[engine.sparse]`` and layer fields.

Read by :func:`energysim.engines.loopnest.timeloop_import.import_timeloop`. Keys may be
spelt with hyphens or underscores (``representation-format`` / ``representation_format``)::

    sparse_optimizations:
      targets:
      - name: Buffer                       # a storage level (or the compute unit)
        representation-format:             # (older files: compression)
          data-spaces:
          - name: Weights
            ranks:                         # outer to inner
            - {format: UOP, payload-word-bits: 4}
            - {format: CP, metadata-word-bits: 4, flattened-rankIDs: [[C, R, S]]}
        action-optimization:
        - type: skipping                   # gating | skipping
          options:
          - {target: Weights, condition-on: [Inputs]}
      - name: MAC
        compute-optimization:
        - type: gating                     # (older files: zero-gating: true)

    problem:
      instance:
        densities:
          Inputs: {distribution: fixed-structured, density: 0.5}
          Weights: 0.25

Every storage level gets a ``[[units]]`` name ``<level>Sparse`` pricing its
``metadata_read``/``metadata_fill``/``metadata_update`` (the ERT's ``metadata_read``,
``metadata_write``, ``metadata_update`` per metadata access; 0 when its
``metadata_storage_width`` is 0), the metadata of gated and skipped accesses
(``gated_metadata_read``, ``skipped_metadata_read``, ``gated_metadata_update``,
``skipped_metadata_update``, per metadata access) and ``gated_*``/``skipped_*`` reads and updates (per word: the
ERT's entry / block words). Which ERT entry prices a gated or skipped access is Sparseloop's rule (:func:`pricing_rule`):
current Sparseloop takes the action's own entry, else (skipped) the gated one, else 0 pJ; the 2021 Sparseloop of the
ISCA 2021 tutorial also priced skipped metadata as actual metadata and, in an ERT of argument variants, an access
without an entry at the cheapest variant. Each unit's source names the rule and the entry. A level with a separate metadata storage
(``metadata_storage_depth`` x ``metadata_storage_width`` > 0 bits) is listed in
``metadata_storage_bits``; ranks without word bits take the level's ``metadata_datawidth``. The compute unit gets
``gated_compute``/``skipped_compute``; a level with ``decompression_supported`` or
``compression_supported`` a ``<level>Codec`` unit (``decompression_count``/``compression_count``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from energysim.errors import ConfigError, UnsupportedError
from energysim.limits import OPERAND_BITS

RANK_FORMATS = ("UOP", "UB", "CP", "RLE", "B")
"""Sparseloop's rank formats energysim counts."""

TENSOR_FIELDS = {"weights": "weight_density", "inputs": "activation_density", "outputs": "output_density"}
"""Workload layer field holding each operand's density."""

TENSOR_DIMS = {"weights": ("G", "K", "C", "R", "S"), "inputs": ("N", "G", "C", "P", "Q", "R", "S"),
               "outputs": ("N", "G", "K", "P", "Q")}
"""energysim dimensions indexing each operand (of a convolution, and of a GEMM read as one)."""

DISTRIBUTIONS = ("fixed-structured", "fixed_structured")
"""Sparseloop density distributions energysim counts (Sparseloop's hypergeometric and banded models are not)."""

MAX_NODES = 100_000
"""Most YAML nodes walked in ``sparse_optimizations`` (a YAML alias can repeat a list exponentially often)."""


def _norm(node: Any, budget: list[int] | None = None, where: str = "sparse_optimizations") -> Any:
    """A YAML node with every mapping key's underscores turned into hyphens (at most :data:`MAX_NODES` nodes)."""
    budget = [MAX_NODES] if budget is None else budget
    budget[0] -= 1
    if budget[0] < 0:
        raise ConfigError(f"{where}: must hold at most {MAX_NODES} YAML nodes (YAML aliases can multiply them)")
    if isinstance(node, dict):
        return {str(k).replace("_", "-"): _norm(v, budget, where) for k, v in node.items()}
    if isinstance(node, list):
        return [_norm(v, budget, where) for v in node]
    return node


def _bits(value: Any, where: str) -> int:
    """A whole number of bits from 0 to the widest-operand limit; ``where`` names the file and key."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"{where}: must be a whole number of bits >= 0 (got {value!r})")
    OPERAND_BITS.check(where, value, ConfigError)
    return value


def densities(merged: dict, origin: dict[str, Path], tensor_of: dict[str, str]) -> dict[str, float]:
    """Layer density fields from ``problem.instance.densities`` (Timeloop data-space name -> density).

    Parameters
    ----------
    merged, origin
        The merged top-level keys of the Timeloop files and the file each key came from.
    tensor_of
        Timeloop data-space name -> energysim tensor (``weights``, ``inputs``, ``outputs``).

    Returns
    -------
    dict[str, float]
        ``weight_density``, ``activation_density`` and ``output_density`` (fractions in (0, 1]) for the data
        spaces given; empty without densities.

    Raises
    ------
    ConfigError
        A density that is not a number in (0, 1] or names an unknown data space.
    """
    instance = (merged.get("problem") or {}).get("instance") or {}
    given = instance.get("densities")
    if given is None:
        return {}
    where = f"{origin['problem']}: problem.instance.densities"
    if not isinstance(given, dict):
        raise ConfigError(f"{where}: must map data-space names to densities (got {type(given).__name__})")
    out: dict[str, float] = {}
    for name, entry in given.items():
        tensor = tensor_of.get(str(name))
        if tensor is None:
            raise ConfigError(f"{where}.{name}: not a data space of the problem ({', '.join(tensor_of)})")
        if isinstance(entry, dict):
            distribution = entry.get("distribution", "fixed-structured")
            if distribution not in DISTRIBUTIONS:
                raise UnsupportedError(f"{where}.{name}.distribution: energysim counts Sparseloop's fixed-structured "
                                       f"density only (write distribution: fixed-structured to use this density so) "
                                       f"(got {distribution!r})")
        value = entry.get("density") if isinstance(entry, dict) else entry
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
            raise ConfigError(f"{where}.{name}: density must be a number in (0, 1] (got {value!r})")
        out[TENSOR_FIELDS[tensor]] = float(value)
    return out


def _entries(node: Any, where: str) -> list[dict]:
    if node is None:
        return []
    if not isinstance(node, list) or not all(isinstance(item, dict) for item in node):
        raise ConfigError(f"{where}: must be a list of mappings (got {node!r})")
    return node


def _ranks(space: dict, where: str, dim_of: dict[str, str], meta_default: int | None, tensor: str) -> list[dict]:
    """The ranks of one data space; flattened dimensions that do not index it are dropped (Sparseloop ignores them:
    its Eyeriss-v1 file flattens Inputs over M too), a dimension named twice is refused."""
    ranks = []
    for index, rank in enumerate(_entries(space.get("ranks"), f"{where}.ranks")):
        at = f"{where}.ranks[{index}]"
        kind = str(rank.get("format", "")).upper()
        if kind not in RANK_FORMATS:
            raise UnsupportedError(f"{at}.format: rank format must be one of {', '.join(RANK_FORMATS)} (got {rank.get('format')!r})")
        entry: dict[str, Any] = {"format": kind}
        for key, field in (("metadata-word-bits", "metadata_bits"), ("payload-word-bits", "payload_bits")):
            value = rank.get(key)
            if value is not None:
                entry[field] = _bits(value, f"{at}.{key}")
        if "metadata_bits" not in entry and meta_default is not None and kind in ("CP", "RLE", "B"):
            entry["metadata_bits"] = meta_default          # Sparseloop: the level's metadata_datawidth
        if "payload_bits" not in entry and meta_default and kind == "UOP":     # offsets in the level's metadata words
            entry["payload_bits"] = meta_default
        flat = rank.get("flattened-rankids")
        if flat is None:
            flat = rank.get("flattened-rankIDs")
        if flat is not None:
            dims = [d for group in (flat if isinstance(flat, list) else [flat])
                    for d in (group if isinstance(group, list) else [group])]
            if any(d not in dim_of for d in dims):
                raise ConfigError(f"{at}.flattened-rankIDs: must list dimensions of {', '.join(dim_of)} (got {flat!r})")
            repeated = sorted({d for d in dims if dims.count(d) > 1})
            if repeated:
                raise ConfigError(f"{at}.flattened-rankIDs: must name each dimension once (got {', '.join(repeated)} "
                                  f"more than once in {flat!r})")
            entry["dims"] = [dim_of[d] for d in dims if dim_of[d] in TENSOR_DIMS[tensor]]
            if not entry["dims"]:
                raise ConfigError(f"{at}.flattened-rankIDs: must name a dimension of {space.get('name')} (got {flat!r})")
        ranks.append(entry)
    if not ranks:
        raise ConfigError(f"{where}.ranks: give at least one rank (format UOP, UB, CP, RLE or B)")
    if any("dims" in r for r in ranks) and not all("dims" in r for r in ranks):
        raise ConfigError(f"{where}.ranks: flattened-rankIDs must be given for every rank or for none")
    return ranks


def nearest_format(ranks: list[dict], default_bits: int) -> dict[str, Any]:
    """The energysim format closest to Sparseloop ranks (what compat 'ideal' counts with).

    No CP/RLE/B rank: ``uncompressed``. Innermost compressed rank CP: ``csr`` under a UOP
    rank, else ``coordinate``; RLE: ``rle``; B: ``bitmap``. Bits come from the ranks, else
    ``default_bits``.

    Parameters
    ----------
    ranks
        The imported ranks, outer to inner (``format``, optional ``metadata_bits`` / ``payload_bits``).
    default_bits
        Bits of a coordinate or pointer when the ranks give none.

    Returns
    -------
    dict
        ``format`` and, for the compressed ones, ``metadata_bits`` (and ``pointer_bits`` for ``csr``), in bits.
    """
    compressed = [r for r in ranks if r["format"] in ("CP", "RLE", "B")]
    if not compressed:
        return {"format": "uncompressed"}
    inner = compressed[-1]
    bits = inner.get("metadata_bits") or default_bits
    if inner["format"] == "B":
        return {"format": "bitmap"}
    if inner["format"] == "RLE":
        return {"format": "rle", "metadata_bits": bits}
    uop = [r for r in ranks[:ranks.index(inner)] if r["format"] == "UOP"]
    if uop:
        return {"format": "csr", "metadata_bits": bits, "pointer_bits": uop[-1].get("payload_bits") or default_bits}
    return {"format": "coordinate", "metadata_bits": bits}


PRICING_RULES = ("2021", "current")
"""Sparseloop's rules for pricing gated and skipped accesses (``--sparseloop-pricing``): see :func:`pricing_rule`."""

CURRENT_KEYS = {
    "gated_read": ("gated_read",),
    "gated_update": ("gated_update", "gated_write"),
    "skipped_read": ("skipped_read", "gated_read"),
    "skipped_update": ("skipped_update", "skipped_write", "gated_update", "gated_write"),
    "gated_metadata_read": ("gated_metadata_read",),
    "skipped_metadata_read": ("skipped_metadata_read", "gated_metadata_read"),
    "gated_metadata_update": ("gated_metadata_update", "gated_metadata_write"),
    "skipped_metadata_update": ("skipped_metadata_update", "skipped_metadata_write", "gated_metadata_update",
                                "gated_metadata_write"),
}
"""Current Sparseloop's ERT entries for each gated/skipped action, first found wins, none found: 0 pJ (the priority
lists of Timeloop's ``src/model/topology.hpp``, ``storageOperationMappings``: a skipped access without its own entry
costs the gated one)."""

ACTUAL_METADATA_KEYS = {"skipped_metadata_read": ("metadata_read",),
                        "skipped_metadata_update": ("metadata_update", "metadata_write")}
"""The 2021 rule's entries for skipped metadata: the actual access's (the ISCA 2021 tutorial's spMspM statistics price
its 100 skipped metadata reads of A at ``metadata_read``, 0.84842 pJ, not at ``gated_metadata_read``)."""

VARIANT_OF = {"gated_read": "read", "skipped_read": "read", "gated_update": "write", "skipped_update": "write"}
"""The 2021 rule's last resort for a gated/skipped data access: the cheapest argument variant of this action, when the
ERT lists it in variants (the 2021 dot-product gating statistics price gated reads at ``read`` with neither address
nor data changing, 0.00441 pJ of the 2020 ERT's 0.00441-0.42018 pJ)."""

RULE_SUMMARY = {
    "2021": "a skipped access at its skipped_* entry, else the gated_* one, skipped metadata as actual metadata "
            "(metadata_read / metadata_write), a gated or skipped access without an entry at the cheapest argument "
            "variant of read / write when the ERT lists variants, else 0 pJ",
    "current": "a skipped access at its skipped_* entry, else the gated_* one (metadata: gated_metadata_*), "
               "else 0 pJ",
}
"""One line per rule, printed in the import's notes."""


def pricing_rule(merged: dict, requested: str | None = None) -> tuple[str, str]:
    """Which Sparseloop prices the gated and skipped accesses, and why.

    Parameters
    ----------
    merged
        The merged top-level keys of the Timeloop files (``ERT`` read for its ``version``).
    requested
        ``"2021"``, ``"current"`` or None (decide from the ERT: version 0.2 or 0.3, the Accelergy of Sparseloop's
        2021 tutorial, gives ``"2021"``; any other, or no ERT, ``"current"``).

    Returns
    -------
    (rule, reason)
        The rule (one of :data:`PRICING_RULES`) and a clause saying why it applies.

    Raises
    ------
    ConfigError
        A requested rule that is not one of :data:`PRICING_RULES`.
    """
    if requested is not None:
        if requested not in PRICING_RULES:
            raise ConfigError(f"--sparseloop-pricing: must be one of {', '.join(PRICING_RULES)} (got {requested!r})")
        return requested, "as requested"
    ert = merged.get("ERT")
    version = str(ert.get("version", "")) if isinstance(ert, dict) else ""
    if version.startswith(("0.2", "0.3")):
        return "2021", f"the ERT is Accelergy v{version}, as Sparseloop's 2021 tutorial's"
    return "current", (f"the ERT is Accelergy v{version}" if version else "no ERT given")


def _price(ert: dict, component: str, keys: tuple[str, ...], block: int, ert_file: str,
           note: str = "") -> tuple[float, str]:
    """Energy per word (pJ) of the first of ``keys`` the component's ERT lists (its dearest variant) / ``block`` words,
    and the source naming the entry; 0 pJ with a source saying so when none is listed."""
    actions = ert.get(component, {})
    for key in keys:
        if key in actions:
            energy = max(actions[key])
            return energy / block, f"Accelergy ERT {ert_file}: {component} {key} {energy} pJ / {block} words{note}"
    return 0.0, f"{component}: the ERT has no {' / '.join(keys)}: 0 pJ (Sparseloop's default for an absent entry)"


def _sparse_price(ert: dict, component: str, action: str, rule: str, block: int, ert_file: str,
                  note: str = "") -> tuple[float, str]:
    """Energy per word (pJ) of a gated or skipped data or metadata ``action`` of ``component`` under Sparseloop's
    ``rule``, and its source: the rule, the ERT entry and its energy."""
    keys = ACTUAL_METADATA_KEYS[action] if rule == "2021" and action in ACTUAL_METADATA_KEYS else CURRENT_KEYS[action]
    energy, source = _price(ert, component, keys, block, ert_file, note)
    actions = ert.get(component, {})
    variants = actions.get(VARIANT_OF.get(action, ""), [])
    if rule == "2021" and not any(key in actions for key in keys) and len(variants) > 1:
        cheapest = min(variants)
        energy = cheapest / block
        source = (f"Accelergy ERT {ert_file}: {component} {VARIANT_OF[action]} cheapest of its {len(variants)} "
                  f"argument variants {cheapest} pJ / {block} words (no {' / '.join(keys)} entry)")
    return energy, f"Sparseloop {rule} pricing of {action}: {source}"


def sparse_table(merged: dict, origin: dict[str, Path], storage: list[dict], compute: dict, ert: dict,
                 ert_file: str, tensor_of: dict[str, str], dim_of: dict[str, str], default_bits: int,
                 pricing: str | None = None, notes: list[str] | None = None) -> tuple[dict | None, list[dict], list[dict]]:
    """``[engine.sparse]`` (formats, actions, action_units, codec_units) and the ``[[units]]`` pricing them.

    Parameters
    ----------
    merged, origin
        The merged top-level keys of the Timeloop files and the file each key came from.
    storage, compute
        The storage components (each with its ``block`` in words) and the compute component.
    ert, ert_file
        Per component, action -> energies in pJ (one per argument variant); the ERT's file name.
    tensor_of, dim_of
        Timeloop data-space name -> energysim tensor; Timeloop dimension -> energysim dimension.
    default_bits
        Bits of a coordinate when neither the rank nor the level gives them (compat 'ideal').
    pricing
        Sparseloop's rule for gated and skipped accesses, ``"2021"`` or ``"current"``; None decides from the ERT
        (:func:`pricing_rule`).
    notes
        When given, one sentence saying which rule priced them and why is appended.

    Returns
    -------
    (table, formats_and_actions, units)
        ``table`` the scalar part (None without ``sparse_optimizations``), the
        ``[[engine.sparse.formats]]`` and ``[[engine.sparse.actions]]`` entries as
        ``(header, entry)`` pairs, and the units.
    """
    if merged.get("sparse_optimizations") is None:
        return None, [], []
    rule, reason = pricing_rule(merged, pricing)
    where = f"{origin['sparse_optimizations']}: sparse_optimizations"
    root = _norm(merged["sparse_optimizations"], where=where)
    targets = root.get("targets") if isinstance(root, dict) else root
    levels = {c["name"]: c for c in storage}
    formats: list[tuple[str, dict]] = []
    actions: list[tuple[str, dict]] = []
    units: list[dict] = []
    action_units: dict[str, str] = {}
    mac = compute["name"]
    for index, target in enumerate(_entries(targets, f"{where}.targets")):
        at = f"{where}.targets[{index}]"
        name = target.get("name", target.get("target"))
        if name != mac and name not in levels:
            raise ConfigError(f"{at}.name: must name a storage level or the compute unit "
                              f"({', '.join([*levels, mac])}) (got {name!r})")
        if name == mac:
            for j, opt in enumerate(_entries(target.get("compute-optimization"), f"{at}.compute-optimization")):
                kind = opt.get("type") or ("gating" if opt.get("zero-gating") else None)
                if kind not in ("gating", "skipping"):
                    raise ConfigError(f"{at}.compute-optimization[{j}].type: must be gating or skipping (got {kind!r})")
                actions.append(("[[engine.sparse.actions]]", {"kind": kind, "unit": mac, "leaders": ["weights", "inputs"]}))
            continue
        attrs = levels[name]["attributes"]
        attr_at = f"{levels[name]['where']}.attributes"
        width = attrs.get("metadata_storage_width", attrs.get("metadata-storage-width"))
        width = _bits(width, f"{attr_at}.metadata_storage_width") if width is not None else None
        meta_default = attrs.get("metadata_datawidth", attrs.get("metadata-datawidth"))
        meta_default = _bits(meta_default, f"{attr_at}.metadata_datawidth") if meta_default is not None else None
        fmt_node = target.get("representation-format") or target.get("compression")
        spaces = fmt_node.get("data-spaces") if isinstance(fmt_node, dict) else fmt_node
        for j, space in enumerate(_entries(spaces, f"{at}.representation-format.data-spaces")):
            here = f"{at}.representation-format.data-spaces[{j}]"
            tensor = tensor_of.get(str(space.get("name")))
            if tensor is None:
                raise ConfigError(f"{here}.name: not a data space of the problem ({', '.join(tensor_of)}) "
                                  f"(got {space.get('name')!r})")
            ranks = _ranks(space, here, dim_of, meta_default, tensor)
            entry = {"level": name, "tensor": tensor, **nearest_format(ranks, default_bits), "ranks": ranks}
            if width:
                entry["metadata_word_bits"] = int(width)
            formats.append(("[[engine.sparse.formats]]", entry))
        for j, opt in enumerate(_entries(target.get("action-optimization"), f"{at}.action-optimization")):
            kind = opt.get("type")
            if kind not in ("gating", "skipping"):
                raise ConfigError(f"{at}.action-optimization[{j}].type: must be gating or skipping (got {kind!r})")
            for option in _entries(opt.get("options"), f"{at}.action-optimization[{j}].options") or [opt]:
                here = f"{at}.action-optimization[{j}]"
                tensor = tensor_of.get(str(option.get("target")))
                leaders = option.get("condition-on")
                if tensor is None:
                    raise ConfigError(f"{here}.target: must be a data space of the problem (got {option.get('target')!r})")
                if not isinstance(leaders, list) or not leaders or any(tensor_of.get(str(x)) not in ("weights", "inputs")
                                                                          for x in leaders):
                    raise UnsupportedError(f"{here}.condition-on: must list Weights and/or Inputs data spaces "
                                           f"(got {leaders!r})")
                actions.append(("[[engine.sparse.actions]]", {"kind": kind, "level": name, "target": tensor,
                                                              "leaders": [tensor_of[str(x)] for x in leaders]}))
    for component in storage:                 # every level: a rule at a bypassing level acts at the next outer keeper
        name, attrs = component["name"], component["attributes"]
        block = int(component.get("block", 1))
        unit = f"{name}Sparse"
        action_units[name] = unit
        free = attrs.get("metadata_storage_width", attrs.get("metadata-storage-width")) == 0
        for action, keys in (("metadata_read", ("metadata_read",)), ("metadata_fill", ("metadata_write",)),
                             ("metadata_write", ("metadata_write",)),      # compat 'ideal' writes first outputs
                             ("metadata_update", ("metadata_update", "metadata_write"))):
            energy, source = _price(ert, name, keys, 1, ert_file, " per metadata access")
            if free:
                energy, source = 0.0, f"{name}: metadata_storage_width 0: metadata is free (Sparseloop)"
            units.append({"name": unit, "action": action, "energy_pj": energy, "source": source})
        for action in ("gated_metadata_read", "skipped_metadata_read", "gated_metadata_update", "skipped_metadata_update"):
            energy, source = _sparse_price(ert, name, action, rule, 1, ert_file, " per metadata access")
            if free:
                energy, source = 0.0, f"{name}: metadata_storage_width 0: metadata is free (Sparseloop)"
            units.append({"name": unit, "action": action, "energy_pj": energy, "source": source})
        for action in ("gated_read", "gated_update", "skipped_read", "skipped_update"):
            energy, source = _sparse_price(ert, name, action, rule, block, ert_file)
            units.append({"name": unit, "action": action, "energy_pj": energy, "source": source})
    for component in storage:
        attrs = component["attributes"]
        if not (attrs.get("decompression_supported") or attrs.get("compression_supported")):
            continue
        unit = f"{component['name']}Codec"
        for action, key in (("decompress", "decompression_count"), ("compress", "compression_count")):
            energy, source = _price(ert, component["name"], (key,), 1, ert_file)
            units.append({"name": unit, "action": action, "energy_pj": energy, "source": source})
    codec_units = {c["name"]: f"{c['name']}Codec" for c in storage
                   if c["attributes"].get("decompression_supported") or c["attributes"].get("compression_supported")}
    for action, key in (("gated_compute", "gated_compute"), ("skipped_compute", "skipped_compute")):
        energy, source = _price(ert, mac, (key,), 1, ert_file)
        units.append({"name": mac, "action": action, "energy_pj": energy, "source": source})
    if notes is not None:
        other = "current" if rule == "2021" else "2021"
        notes.append(f"gated and skipped accesses priced by Sparseloop's {rule} rule ({reason}; "
                     f"--sparseloop-pricing {other} for the other): " + RULE_SUMMARY[rule])
    table = {"source": f"Sparseloop sparse_optimizations of {origin['sparse_optimizations']}; gated and skipped "
                       f"accesses priced by Sparseloop's {rule} rule ({reason})",
             "action_units": action_units}
    if codec_units:
        table["codec_units"] = codec_units
    storage_bits = _metadata_storage_bits(storage)
    if storage_bits:
        table["metadata_storage_bits"] = storage_bits
    return table, formats + actions, units


def _metadata_storage_bits(storage: list[dict]) -> dict[str, int]:
    """Level -> bits of its separate metadata storage (Sparseloop's ``metadata_storage_depth`` x
    ``metadata_storage_width``), for the levels that give both and a non-zero size.

    Raises
    ------
    ConfigError
        A depth or width that is not a whole number >= 0 (naming the file and key), or a size over the limit.
    """
    out = {}
    for component in storage:
        attrs, at = component["attributes"], f"{component['where']}.attributes"
        depth = attrs.get("metadata_storage_depth", attrs.get("metadata-storage-depth"))
        width = attrs.get("metadata_storage_width", attrs.get("metadata-storage-width"))
        if depth is None or width is None:
            continue
        if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
            raise ConfigError(f"{at}.metadata_storage_depth: must be a whole number of entries >= 0 (got {depth!r})")
        bits = depth * _bits(width, f"{at}.metadata_storage_width")
        if bits:
            out[component["name"]] = bits
    return out


def default_metadata_bits(bounds: dict[str, int]) -> int:
    """Bits of a coordinate that can address the largest dimension (the ideal model's bits when Sparseloop's are implied).

    Parameters
    ----------
    bounds
        Dimension -> size of the problem, counts.

    Returns
    -------
    int
        ``max(1, ceil(log2(largest size)))`` bits.
    """
    return max(1, math.ceil(math.log2(max(bounds.values()))))
