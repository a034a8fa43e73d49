"""The ``[engine.sparse]`` table of a loop-nest hardware: formats per level and tensor, gating and skipping.

A sparse design is a dense loop-nest design plus this table::

    [engine.sparse]
    action_units = { GlobalBuffer = "GLBSparse" }   # [[units]] pricing each level's metadata_* / gated_* actions
    # metadata_storage_bits = { GlobalBuffer = 131072 }   # optional: a level's separate metadata storage

    [[engine.sparse.formats]]                       # how a level stores a tensor (default: uncompressed)
    level = "GlobalBuffer"
    tensor = "inputs"
    format = "rle"                                  # uncompressed | bitmap | rle | coordinate | csr | nm
    metadata_bits = 4                               # run length / coordinate / N:M index bits (per non-zero)
    metadata_word_bits = 16                         # width of one metadata access (default: the level's word)

    [[engine.sparse.actions]]                       # an action optimisation
    kind = "gating"                                 # gating | skipping
    level = "PE"                                    # a level (its reads of target) ...
    target = "weights"
    leaders = ["inputs"]                            # ... not done where a leader operand is zero

    [[engine.sparse.actions]]
    kind = "skipping"
    unit = "MAC"                                    # ... or the compute unit (target = leaders' MACs)
    # codec_units = { Buffer = "Decoder" }          # optional: (de)compression between a compressed parent and Buffer
    leaders = ["weights", "inputs"]                 # intersection: only MACs with both operands non-zero run

Validation errors are one line each (pydantic, through the hardware loader).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, ValidationInfo, field_validator, model_validator

FormatKind = Literal["uncompressed", "bitmap", "rle", "coordinate", "csr", "nm"]
"""Representation formats a level may keep a tensor in."""

OptimisationKind = Literal["gating", "skipping"]
"""``gating``: the access or MAC is not done but its slot is (priced ``gated_*``, time kept);
``skipping``: neither its energy nor its time is spent."""

Operand = Literal["weights", "inputs"]
"""Tensors an optimisation may be conditioned on (the MAC's operands)."""

RankKind = Literal["UOP", "UB", "CP", "RLE", "B"]
"""Sparseloop's per-rank formats: uncompressed offset pairs, uncompressed bitmask, coordinate payload,
run-length encoding, bitmask. UOP and UB keep every point of the rank; CP, RLE and B compress it."""

COMPRESSED_RANKS = ("CP", "RLE", "B")
"""Rank formats that store only the non-zero coordinates (a tensor with one of them is compressed)."""


class RankSpec(BaseModel):
    """One rank of a Sparseloop representation format (``compat = "timeloop"`` counts metadata rank by rank).

    Ranks are listed outer to inner. Each covers the tile's extent of ``dims`` (default: the innermost
    rank the last tensor axis the tile spans, the next rank the axis before it, the outermost rank the
    remaining axes together). Per traversal of a tile (``F`` fibers reach the rank, ``e`` its extent, ``o`` the
    occupied coordinates of a fiber): UOP ``F x (e + 1)`` offsets (payload), CP and RLE ``F x o`` coordinates,
    B and UB ``F x e`` one-bit flags (metadata).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    tensor: Literal["weights", "inputs", "outputs"] | None = Field(
        default=None, description="The format entry's tensor (set from it: dims must index it).")
    format: RankKind
    metadata_bits: StrictInt | None = Field(default=None, ge=0, description="Bits per coordinate / run length / flag "
                                                                           "(default: CP, RLE ceil(log2 e); B, UB 1; UOP 0).")
    payload_bits: StrictInt | None = Field(default=None, ge=0, description="Bits per offset of a UOP rank "
                                                                          "(default ceil(log2(entries + 1)); other ranks 0).")
    dims: list[Literal["N", "G", "K", "C", "P", "Q", "R", "S"]] | None = Field(
        default=None, description="Loop dimensions the rank flattens (Sparseloop's flattened-rankIDs).")

    @field_validator("dims")
    @classmethod
    def _dims_index_the_tensor(cls, dims: list[str] | None, info: ValidationInfo) -> list[str] | None:
        if dims is None:
            return dims
        if len(set(dims)) != len(dims):
            raise ValueError(f"must not repeat a dimension (got {dims})")
        tensor = info.data.get("tensor")
        if tensor is not None:
            indexed = TENSOR_DIMS[tensor]
            stray = [dim for dim in dims if dim not in indexed]
            if stray:
                verb = "does" if len(stray) == 1 else "do"
                raise ValueError(f"{', '.join(repr(d) for d in stray)} {verb} not index {tensor} ({', '.join(indexed)}): "
                                 "a rank flattens loops over the tensor's own dimensions")
        return dims

TENSOR_DIMS = {"weights": ("G", "K", "C", "R", "S"), "inputs": ("N", "G", "C", "P", "Q", "R", "S"),
               "outputs": ("N", "G", "K", "P", "Q")}
"""The loop dimensions that index each tensor (a rank's dims must be among them)."""

SPARSE_ACTION_PREFIXES = ("gated_", "skipped_", "metadata_")
"""Actions of the sparse model; a MAC unit's action with one of these prefixes is not counted once per MAC."""


class FormatSpec(BaseModel):
    """How one level keeps one tensor.

    Metadata per tile (``n`` points, ``z`` non-zeros): bitmap ``n`` bits; rle and
    coordinate ``z x metadata_bits``; csr ``(fibers + 1) x pointer_bits + z x
    metadata_bits`` (fibers = tile points over every axis but ``coordinate_axis``); nm
    ``z x metadata_bits`` with ``z = n x n_keep / m`` (structured).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    level: str = Field(min_length=1)
    tensor: Literal["weights", "inputs", "outputs"]
    format: FormatKind
    metadata_bits: StrictInt | None = Field(default=None, gt=0, description="Bits per run length, coordinate or N:M index.")
    pointer_bits: StrictInt | None = Field(default=None, gt=0, description="Bits per csr offset (fiber pointer).")
    coordinate_axis: StrictInt | None = Field(
        default=None, ge=0, le=4,
        description="csr: the tensor axis whose coordinates are stored (weights G K C R S = 0..4); other axes index "
                    "the fibers. Default: the last axis the tile spans (CSR over a K x C matrix; 1 gives EIE's CSC).")
    metadata_word_bits: StrictInt | None = Field(default=None, gt=0, description="Bits per metadata access (default: the level's word_bits).")
    n: StrictInt | None = Field(default=None, gt=0, description="nm: non-zeros kept per group.")
    m: StrictInt | None = Field(default=None, gt=1, description="nm: group size.")
    ranks: list[RankSpec] | None = Field(
        default=None, min_length=1,
        description="Sparseloop's per-rank format, outer to inner (compat 'timeloop' counts data and metadata from "
                    "it; format must then be the nearest energysim format, as import-timeloop writes it).")

    @model_validator(mode="before")
    @classmethod
    def _ranks_know_their_tensor(cls, data):
        if isinstance(data, dict) and isinstance(data.get("ranks"), list) and data.get("tensor") in TENSOR_DIMS:
            data = {**data, "ranks": [{**rank, "tensor": data["tensor"]} if isinstance(rank, dict) else rank
                                      for rank in data["ranks"]]}
        return data

    @model_validator(mode="after")
    def _check(self) -> "FormatSpec":
        needs = {"rle": ("metadata_bits",), "coordinate": ("metadata_bits",), "csr": ("metadata_bits", "pointer_bits"),
                 "nm": ("n", "m")}.get(self.format, ())
        for key in needs:
            if getattr(self, key) is None:
                raise ValueError(f"format '{self.format}' at {self.level}/{self.tensor} needs {key}")
        if self.format == "nm" and self.n >= self.m:
            raise ValueError(f"format 'nm' at {self.level}/{self.tensor}: n must be less than m (got {self.n}:{self.m})")
        if self.ranks is not None and self.format == "nm":
            raise ValueError(f"format 'nm' at {self.level}/{self.tensor}: ranks describe Sparseloop formats, not N:M")
        if self.ranks is not None and self.ranks_compressed != self.compressed:
            want = "a compressed format" if self.ranks_compressed else "'uncompressed'"
            raise ValueError(f"format at {self.level}/{self.tensor}: ranks {[r.format for r in self.ranks]} need {want} "
                             f"(got '{self.format}')")
        return self

    @property
    def ranks_compressed(self) -> bool:
        """Whether the ranks compress the tensor (one of them is CP, RLE or B)."""
        return any(rank.format in COMPRESSED_RANKS for rank in self.ranks or ())

    @property
    def compressed(self) -> bool:
        """Whether the level keeps only the non-zeros."""
        return self.format != "uncompressed"


class ActionOptimisation(BaseModel):
    """Gating or skipping of a level's reads of ``target``, or of the compute unit's MACs, where a leader is zero."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: OptimisationKind
    level: str | None = Field(default=None, min_length=1, description="Level whose reads of target are optimised.")
    unit: str | None = Field(default=None, min_length=1, description="Compute unit whose MACs are optimised.")
    target: Literal["weights", "inputs", "outputs"] | None = Field(
        default=None, description="Tensor accessed (levels only; outputs: compat 'timeloop' only, its reads and updates).")
    leaders: list[Operand] = Field(min_length=1, description="The access/MAC is optimised away where any leader is zero.")

    @model_validator(mode="after")
    def _check(self) -> "ActionOptimisation":
        if (self.level is None) == (self.unit is None):
            raise ValueError(f"{self.kind}: give exactly one of level or unit (got level={self.level!r}, unit={self.unit!r})")
        if self.level is not None and self.target is None:
            raise ValueError(f"{self.kind} at level '{self.level}': target is required")
        if self.unit is not None and self.target is not None:
            raise ValueError(f"{self.kind} at unit '{self.unit}': a unit has no target (got {self.target!r})")
        if len(set(self.leaders)) != len(self.leaders):
            raise ValueError(f"{self.kind}: leaders must not repeat (got {self.leaders})")
        return self


class SparseConfig(BaseModel):
    """``[engine.sparse]``: formats, action optimisations and the units pricing their actions."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    formats: list[FormatSpec] = Field(default_factory=list)
    actions: list[ActionOptimisation] = Field(default_factory=list)
    action_units: dict[str, str] = Field(
        default_factory=dict,
        description="Level name -> [[units]] name pricing that level's metadata_* and gated_* actions.",
    )
    codec_units: dict[str, str] = Field(
        default_factory=dict,
        description="Level name -> [[units]] name of its (de)compression unit: 'decompress' per word a level keeping a "
                    "tensor uncompressed is filled with from a compressed parent, 'compress' per word it sends up into one.",
    )
    metadata_storage_bits: dict[str, StrictInt] = Field(
        default_factory=dict,
        description="Level name -> bits of its separate metadata storage (Sparseloop's metadata_storage_depth x "
                    "metadata_storage_width): its tiles' metadata must fit there, and its data capacity holds only "
                    "the non-zeros. Levels not listed keep metadata in their data words.")
    metadata_bandwidth: StrictBool = Field(
        default=True,
        description="compat 'timeloop': a level's metadata words take its read/write bandwidth, as current "
                    "Sparseloop's buffer model counts them; false: its cycles count the data accesses only, as the "
                    "older Sparseloop of the published eyeriss_like_onchip_compression outputs did.")
    source: str = Field(default="", description="Where the design's sparse features come from (paper, chip).")

    @model_validator(mode="after")
    def _unique(self) -> "SparseConfig":
        for level, bits in self.metadata_storage_bits.items():
            if bits < 0:
                raise ValueError(f"metadata_storage_bits.{level}: must be a number of bits >= 0 (got {bits})")
        seen = set()
        for spec in self.formats:
            key = (spec.level, spec.tensor)
            if key in seen:
                raise ValueError(f"formats: {spec.level}/{spec.tensor} appears twice")
            seen.add(key)
        targets = set()
        for action in self.actions:
            key = (action.level or action.unit, action.target)
            if key in targets:
                raise ValueError(f"actions: {key[0]}/{key[1] or 'compute'} is optimised twice")
            targets.add(key)
        return self

    def ranks_of(self, level: str, tensor: str) -> FormatSpec | None:
        """The format entry of a level and tensor, compressed or not (None = no entry)."""
        for spec in self.formats:
            if spec.level == level and spec.tensor == tensor:
                return spec
        return None

    def format_of(self, level: str, tensor: str) -> FormatSpec | None:
        """The format a level keeps a tensor in (None = uncompressed)."""
        for spec in self.formats:
            if spec.level == level and spec.tensor == tensor and spec.compressed:
                return spec
        return None

