"""import_timeloop: Timeloop/Accelergy YAML to loop-nest TOML, and its one-line errors."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

pytest.importorskip("yaml")

from energysim.engines.loopnest.mapping import load_mapping  # noqa: E402
from energysim.engines.loopnest.timeloop_import import import_timeloop  # noqa: E402
from energysim.engines import build_engine  # noqa: E402
from energysim.errors import ConfigError, UnsupportedError  # noqa: E402
from energysim.hardware.hierarchy import load_hardware  # noqa: E402
from energysim.engines.loopnest.timeloop_compat import evaluate  # noqa: E402
from energysim.workloads.workload import load_workload  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "data" / "timeloop"
EX04 = [DATA / "ex04" / name for name in ("arch.yaml", "prob.yaml", "map-cp.yaml", "ERT.yaml")]

ERT_V04 = """
ERT:
  version: 0.4
  tables:
  - name: System.DRAM
    actions:
    - {name: read, energy: 100.0}
    - {name: write, energy: 120.0}
    - {name: update, energy: 120.0}
    - {name: leak, energy: 0.0}
  - name: System.PE[0..3].Buf
    actions:
    - {name: read, energy: 2.0}
    - {name: write, energy: 3.0}
    - {name: leak, energy: 0.5}
  - name: System.PE[0..3].mac
    actions:
    - {name: compute, energy: 1.5}
    - {name: leak, energy: 0.1}
"""

ARCH_V04 = """
architecture:
  version: 0.4
  subtree:
  - name: System
    attributes: {datawidth: 16}
    local:
    - {name: DRAM, class: DRAM, attributes: {width: 64}}
    subtree:
    - name: PE[0..3]
      local:
      - {name: Buf, class: smartbuffer_SRAM, attributes: {depth: 32, width: 16, meshX: 2, read_bandwidth: 2}}
      - {name: mac, class: intmac, attributes: {meshX: 2}}
"""

PROB_GEMM = """
problem:
  shape:
    name: gemm
    dimensions: [ M, N, C ]
    data-spaces:
    - {name: Weights, projection: [ [[M]], [[C]] ]}
    - {name: Inputs, projection: [ [[N]], [[C]] ]}
    - {name: Outputs, projection: [ [[M]], [[N]] ], read-write: True}
  instance: {M: 4, N: 2, C: 8}
"""

MAP_GEMM = """
mapping:
- {target: DRAM, type: temporal, factors: M=2 N=1 C=2, permutation: CNM}
- {target: DRAM, type: spatial, factors: M=2 N=2 C=1, permutation: MNC, split: 1}
- {target: Buf, type: temporal, factors: M=1 N=1 C=4, permutation: CNM}
- {target: Buf, type: datatype, keep: [Weights], bypass: [Inputs, Outputs]}
"""

CONSTRAINTS = """
mapspace_constraints:
- {target: Buf, type: temporal, factors: N=1, permutation: CNM}
- {target: Buf, type: bypass, keep: [Weights], bypass: [Inputs, Outputs]}
"""


def _write(folder: Path, **texts: str) -> list[Path]:
    paths = []
    for name, text in texts.items():
        path = folder / f"{name}.yaml"
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


def test_ispass_04_files_become_loopnest_files(tmp_path: Path) -> None:
    """Exercise 04: 16 register files under the buffer (mesh_x 16), 32-word blocks, v0.3 ERT at each component's dearest entry."""
    written = import_timeloop(EX04, tmp_path / "ex04")
    hardware = tomllib.loads(written["hardware"].read_text())
    levels = {level["name"]: level for level in hardware["memory"]}
    assert [level["name"] for level in hardware["memory"]] == ["MainMemory", "GlobalBuffer", "RegisterFile"]
    assert levels["RegisterFile"]["mesh_x"] == 16 and levels["GlobalBuffer"]["block_words"] == 32
    assert levels["GlobalBuffer"]["capacity_bytes"] == 262144
    assert levels["GlobalBuffer"]["read_pj"] == levels["GlobalBuffer"]["write_pj"] == 102.865 / 32
    assert hardware["engine"]["compat"] == "timeloop" and hardware["units"][0]["energy_pj"] == 0.561
    assert hardware["engine"]["timeloop_version"] == "2020"  # a v0.3 ERT: the Timeloop of the 2020 tutorial
    layer = tomllib.loads(written["workload"].read_text())["layers"][0]
    assert (layer["in_channels"], layer["out_channels"], layer["in_height"], layer["kernel_height"]) == (32, 32, 18, 3)
    mapping = load_mapping(written["mapping"]).for_layer(layer["name"])[1]
    assert mapping.describe() == "MainMemory[] GlobalBuffer[C2 K32 R3 | x:C16] RegisterFile[P16]"


def test_v04_ert_gemm_spatial_split_bypass_and_constraints(tmp_path: Path) -> None:
    """v0.4: per-action costs with leak, M as K, split X/Y, datatype bypass, mapspace constraints as [engine.mapper]."""
    files = _write(tmp_path, arch=ARCH_V04, prob=PROB_GEMM, map=MAP_GEMM, ert=ERT_V04, cons=CONSTRAINTS)
    written = import_timeloop(files, tmp_path / "out")
    hardware = tomllib.loads(written["hardware"].read_text())
    buf = hardware["memory"][1]
    assert (buf["read_pj"], buf["write_pj"], buf["leak_pj_per_cycle"]) == (2.0, 3.0, 0.5)
    assert buf["bandwidth_words_per_cycle"] == 2.0 and buf["mesh_x"] == 2 and buf["mesh_y"] == 2
    assert hardware["memory"][0]["read_pj"] == 100.0 / 4  # 64-bit width / 16-bit words = 4-word blocks
    assert hardware["units"][0]["energy_pj"] == 1.5 and "leak_pj_per_cycle" not in hardware["memory"][0]
    assert hardware["engine"]["timeloop_version"] == "current"
    assert hardware["engine"]["mapper"]["levels"][0] == {"level": "Buf", "temporal": {"N": 1}, "order": ["K", "N", "C"],
                                                         "keep": ["weights"]}
    engine = build_engine(load_hardware(written["hardware"]))
    mapping = load_mapping(written["mapping"]).for_layer("gemm")[1]
    assert mapping.describe() == "DRAM[K2 C2 | x:K2 y:N2] Buf[C4 bypass:inputs,outputs]"
    layer = load_workload(written["workload"]).layers[0]
    stats = evaluate(engine.spec, layer.loop_nest(), mapping)  # checks the mapping against the imported hardware
    assert stats.counts[("Buf", "-", "leak")] == stats.cycles_total * 4
    assert stats.counts[("mac", "-", "compute")] == 64


@pytest.mark.parametrize(("edit", "message"), [
    (("map", "mapping:\n- {target: Nowhere, type: temporal, factors: M=4}\n"),
     "map.yaml: mapping[0].target: must name a storage level (DRAM, Buf) (got 'Nowhere')"),
    (("map", "mapping:\n- {target: Buf, type: temporal, factors: M4}\n"),
     "map.yaml: mapping[0].factors: each factor must be DIM=N"),
    (("ert", "ERT:\n  version: 0.4\n  tables:\n  - {name: System.DRAM, actions: [{name: read, energy: 1}, {name: write, energy: 1}]}\n"),
     "Buf: no Accelergy ERT entry prices this component"),
    (("prob", PROB_GEMM.replace("[ M, N, C ]", "[ M, N, C, X ]")),
     "prob.yaml: problem.shape.dimensions: 'X' is not a convolution dimension"),
    (("arch", ARCH_V04.replace("meshX: 2, read", "meshX: 3, read")),
     "meshX x meshY must equal the 4 instances (got 3 x 1)"),
])
def test_bad_input_is_one_line(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    """Each bad file gives one line naming the file, the key, the rule and the value."""
    texts = {"arch": ARCH_V04, "prob": PROB_GEMM, "map": MAP_GEMM, "ert": ERT_V04}
    texts[edit[0]] = edit[1]
    with pytest.raises((ConfigError, UnsupportedError)) as info:
        import_timeloop(_write(tmp_path, **texts), tmp_path / "out")
    assert message in str(info.value) and "\n" not in str(info.value)


def test_duplicate_top_level_key_names_both_files(tmp_path: Path) -> None:
    """Two files giving `mapping` is refused, naming both (Timeloop merges top-level keys, each from one file)."""
    files = _write(tmp_path, arch=ARCH_V04, prob=PROB_GEMM, map=MAP_GEMM, ert=ERT_V04, map2=MAP_GEMM)
    with pytest.raises(ConfigError, match=r"map2\.yaml: mapping: a top-level key may come from one file only \(also in .*map\.yaml\)"):
        import_timeloop(files, tmp_path / "out")


def test_not_yaml_is_one_line(tmp_path: Path) -> None:
    """A file that is not YAML names the file and the line."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("architecture: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"bad\.yaml: not valid YAML at line"):
        import_timeloop([bad], tmp_path / "out")


def test_alias_bomb_is_refused(tmp_path: Path) -> None:
    """An architecture whose subtrees alias each other (2**30 nodes once expanded) is refused in one line, quickly."""
    levels = ["a0: &a0 {name: n, local: [{name: B, class: SRAM, attributes: {depth: 1, word-bits: 8}}]}"]
    for i in range(1, 31):
        levels.append(f"a{i}: &a{i} {{name: n, subtree: [*a{i - 1}, *a{i - 1}]}}")
    text = "globals:\n" + "\n".join("  " + line for line in levels) + "\narchitecture: {subtree: [*a30]}\n"
    files = _write(tmp_path, arch=text, prob=PROB_GEMM, ert=ERT_V04)
    with pytest.raises(ConfigError, match=r"arch\.yaml: globals: with its YAML aliases written out the file would hold "
                                          r"[0-9,]+ characters .*; aliases may expand a file to at most 4,000,000"):
        import_timeloop(files, tmp_path / "out")


@pytest.mark.parametrize(("option", "price"), [([], 0.84842), (["--sparseloop-pricing", "current"], 0.00487)])
def test_sparseloop_pricing_option_chooses_the_rule(tmp_path: Path, option: list[str], price: float) -> None:
    """`--sparseloop-pricing current` prices spMspM's skipped metadata reads at gated_metadata_read; the v0.3 ERT default is 2021."""
    # current: the Buffer's skipped metadata reads at gated_metadata_read (0.00487 pJ); the default for its
    # Accelergy v0.3 ERT is the 2021 rule (metadata_read, 0.84842 pJ); the note names the rule and the option for the other.
    import subprocess
    import sys

    files = [str(DATA / "spmspm" / f"{name}.yaml") for name in ("arch", "prob", "map", "sparse", "ERT")]
    done = subprocess.run([sys.executable, "-m", "energysim", "import-timeloop", *files, "-o", str(tmp_path / "d"), *option],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    rule = "current" if option else "2021"
    assert f"note: gated and skipped accesses priced by Sparseloop's {rule} rule" in done.stdout
    hardware = tomllib.loads((tmp_path / "d" / "hardware.toml").read_text(encoding="utf-8"))
    units = [unit for unit in hardware["units"] if unit["name"] == "BufferSparse" and unit["action"] == "skipped_metadata_read"]
    assert [unit["energy_pj"] for unit in units] == [price]


def test_v04_constraint_factor_bound_is_the_mappers_temporal_max(tmp_path: Path) -> None:
    """A v0.4 mapspace-constraint factor bound is the level's temporal_max, as Timeloop's mapper reads it; a malformed one is refused."""
    # Exercise 05's constraints with GlobalBuffer's K=16 written K<=8; a malformed bound names the file and directive.
    constraints = (DATA / "ex05" / "constraints-freebypass.yaml").read_text(encoding="utf-8")
    assert "factors: R=1 P=16 K=16" in constraints
    (tmp_path / "c.yaml").write_text(constraints.replace("factors: R=1 P=16 K=16", "factors: R=1 P=16 K<=8"), encoding="utf-8")
    files = [DATA / "ex03" / f"{name}.yaml" for name in ("arch", "prob", "ERT")]
    written = import_timeloop(files + [tmp_path / "c.yaml"], tmp_path / "out")
    levels = tomllib.loads(written["hardware"].read_text(encoding="utf-8"))["engine"]["mapper"]["levels"]
    glb = next(entry for entry in levels if entry["level"] == "GlobalBuffer")
    assert (glb["temporal"], glb["temporal_max"]) == ({"R": 1, "P": 16}, {"K": 8})
    (tmp_path / "c.yaml").write_text(constraints.replace("factors: R=1 P=16 K=16", "factors: R=1 P=16 K<=0"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"c\.yaml: mapspace_constraints\[1\]\.factors: a factor bound must be DIM<=N with "
                                          r"DIM one of .* and N >= 1 \(got 'K<=0'\)$"):
        import_timeloop(files + [tmp_path / "c.yaml"], tmp_path / "bad")
