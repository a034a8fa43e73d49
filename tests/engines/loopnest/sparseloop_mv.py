"""The small Sparseloop-style design the compat-'timeloop' sparse tests share, as Timeloop/Sparseloop YAML.

DRAM -> Buffer -> one MAC, a K=4 x C=8 matrix-vector product (Weights[K][C], Inputs[C], Outputs[K];
32 MACs), everything mapped to the Buffer (`Buffer[K4 C8]`, C inner), 16-bit words, the Buffer 2 words
per cycle for reads and for writes. Densities: Weights 0.5 (fixed-structured), Inputs 0.25. Each test
file varies the sparse optimisations (and, by text replacement, the architecture, problem or ERT).
"""

from __future__ import annotations

from pathlib import Path

from energysim.engines.loopnest.timeloop_import import import_timeloop

DESIGN = Path(__file__).resolve().parents[2] / "data" / "timeloop" / "sparseloop_mv"
"""The design's YAML files (the hostile corpus edits the same files)."""

ARCH, PROB, MAP, ERT = ((DESIGN / f"{name}.yaml").read_text(encoding="utf-8") for name in ("arch", "prob", "map", "ERT"))


def import_design(folder: Path, sparse: str, *, arch: str = ARCH, prob: str = PROB, ert: str = ERT) -> dict[str, Path]:
    """Write the design's five YAML files (``sparse``: its sparse_optimizations) to ``folder`` and import them.

    Returns
    -------
    dict[str, Path]
        What :func:`import_timeloop` wrote into ``folder / "out"``: ``hardware``, ``workload``, ``mapping``.
    """
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for name, text in (("arch", arch), ("prob", prob), ("map", MAP), ("ert", ert), ("sparse", sparse)):
        path = folder / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        files.append(path)
    return import_timeloop(files, folder / "out")
