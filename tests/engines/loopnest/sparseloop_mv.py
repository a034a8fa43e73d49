"""The small Sparseloop-style design the compat-'timeloop' sparse tests share, as Timeloop/Sparseloop YAML.

DRAM -> Buffer -> one MAC, a K=4 x C=8 matrix-vector product (Weights[K][C], Inputs[C], Outputs[K];
32 MACs), everything mapped to the Buffer (`Buffer[K4 C8]`, C inner), 16-bit words, the Buffer 2 words
per cycle for reads and for writes. Densities: Weights 0.5 (fixed-structured), Inputs 0.25. Each test
file varies the sparse optimisations (and, by text replacement, the architecture, problem or ERT).
"""

from __future__ import annotations

from pathlib import Path

from energysim.engines.loopnest.timeloop_import import import_timeloop

ARCH = """
architecture:
  version: 0.4
  subtree:
  - name: System
    attributes: {datawidth: 16}
    local:
    - {name: DRAM, class: DRAM, attributes: {width: 16}}
    - {name: Buffer, class: regfile, attributes: {depth: 256, width: 16, read_bandwidth: 2, write_bandwidth: 2}}
    - {name: MAC, class: intmac}
"""

PROB = """
problem:
  shape:
    name: mv
    dimensions: [ K, C ]
    data-spaces:
    - {name: Weights, projection: [ [[K]], [[C]] ]}
    - {name: Inputs, projection: [ [[C]] ]}
    - {name: Outputs, projection: [ [[K]] ], read-write: True}
  instance:
    K: 4
    C: 8
    densities:
      Weights: {distribution: fixed-structured, density: 0.5}
      Inputs: 0.25
"""

MAP = """
mapping:
- {target: DRAM, type: temporal, factors: K=1 C=1, permutation: CK}
- {target: Buffer, type: temporal, factors: K=4 C=8, permutation: CK}
"""

ERT = """
ERT:
  version: 0.4
  tables:
  - name: System.DRAM
    actions:
    - {name: read, energy: 64.0}
    - {name: write, energy: 64.0}
  - name: System.Buffer
    actions:
    - {name: read, energy: 2.0}
    - {name: write, energy: 3.0}
    - {name: gated_read, energy: 0.2}
    - {name: metadata_read, energy: 1.0}
    - {name: metadata_write, energy: 1.5}
  - name: System.MAC
    actions:
    - {name: compute, energy: 1.0}
    - {name: gated_compute, energy: 0.1}
"""


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
