"""import_timeloop reads Timeloop v4 specifications (timeloopfe: tagged `architecture.nodes`, variables, constraints on
nodes, v4 mapping entries) as the v0.4 files Timeloop's front end writes: the published eyeriss_like v4 design imports
to the same hardware, workload, mapping and run results as its v0.4 form; what is not modelled is refused or noted."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

pytest.importorskip("yaml")

from energysim.engines import build_engine  # noqa: E402
from energysim.engines.loopnest.mapping import load_mapping  # noqa: E402
from energysim.engines.loopnest.timeloop_compat import evaluate  # noqa: E402
from energysim.engines.loopnest.timeloop_import import import_timeloop  # noqa: E402
from energysim.errors import ConfigError, UnsupportedError  # noqa: E402
from energysim.hardware.hierarchy import load_hardware  # noqa: E402
from energysim.workloads.workload import load_workload  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "data" / "timeloop"
V3 = [DATA / "eyeriss" / f"{name}.yaml" for name in ("arch", "prob", "map", "ERT")]
V4 = [DATA / "v4_eyeriss" / f"{name}.yaml" for name in ("arch", "prob", "map")] + [DATA / "eyeriss" / "ERT.yaml"]

SMALL = """
variables: {version: 0.4, DEPTH: 32}
architecture:
  version: 0.4
  nodes:
  - !Container {name: System, attributes: {datawidth: 16}}
  - !Component {name: DRAM, class: DRAM, attributes: {width: 64}}
  - !Container
    name: PE
    spatial: {meshX: 2}
  - !Component
    name: Buf
    class: smartbuffer_SRAM
    attributes: {depth: DEPTH, width: 16, read_bandwidth: 2}
    constraints:
      dataspace: {keep: [Weights]}
  - !Component {name: mac, class: intmac}
problem:
  version: 0.4
  shape:
    name: gemm
    dimensions: [M, N, C]
    data_spaces:
    - {name: Weights, projection: [[[M]], [[C]]]}
    - {name: Inputs, projection: [[[N]], [[C]]]}
    - {name: Outputs, projection: [[[M]], [[N]]], read_write: true}
  instance: {M: 4, N: 2, C: 8}
"""
"""A small v4 design: DRAM -> two PEs (a container's fan-out) of a 32-word buffer and a MAC, a 4 x 8 x 2 GEMM."""
ERT = """
ERT:
  version: 0.4
  tables:
  - name: System_top_level.DRAM[1..1]
    actions: [{name: read, energy: 100.0}, {name: write, energy: 120.0}, {name: update, energy: 120.0}]
  - name: System_top_level.Buf[1..2]
    actions: [{name: read, energy: 2.0}, {name: write, energy: 3.0}, {name: update, energy: 3.0}]
  - name: System_top_level.mac[1..2]
    actions: [{name: compute, energy: 1.5}]
"""


def _files(folder: Path, spec: str = SMALL, **extra: str) -> list[Path]:
    paths = []
    for name, text in {"spec": spec, "ert": ERT, **extra}.items():
        paths.append(folder / f"{name}.yaml")
        paths[-1].write_text(text, encoding="utf-8")
    return paths


def _refusal(tmp_path: Path, spec: str, error: type = ConfigError, **extra: str) -> str:
    with pytest.raises(error) as info:
        import_timeloop(_files(tmp_path, spec, **extra), tmp_path / "out")
    message = str(info.value)
    assert "\n" not in message and not (tmp_path / "out").exists()
    return message


def _run(written: dict[str, Path]):
    engine = build_engine(load_hardware(written["hardware"]))
    layer = load_workload(written["workload"]).layers[0]
    return evaluate(engine.spec, layer.loop_nest(), load_mapping(written["mapping"]).for_layer(layer.name)[1])


def _run_cli(written: dict[str, Path]) -> list[str]:
    """`energysim run ... --compat timeloop --out R` on imported files, as the import's `next:` line says: R's CSVs."""
    out = written["hardware"].parent / "results"
    done = subprocess.run([sys.executable, "-m", "energysim", "run", str(written["hardware"]), str(written["workload"]),
                           "--mapping", str(written["mapping"]), "--compat", "timeloop", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return [(out / name).read_text(encoding="utf-8") for name in ("energy.csv", "summary.csv")]


def test_eyeriss_v4_imports_as_its_v04_form(tmp_path: Path) -> None:
    """The published eyeriss_like v4 spec imports exactly as its v0.4 form: same hardware.toml, layer, mapping, counts, energy, cycles."""
    # The spec has containers with fan-outs, a !Parallel of scratchpads, node constraints, variables in the problem and a
    # v4 mapping naming the containers; hardware.toml matches byte for byte, spatial tables are compared as tables.
    v3 = import_timeloop(V3, tmp_path / "v3" / "design")
    notes: list[str] = []
    v4 = import_timeloop(V4, tmp_path / "v4" / "design", notes)
    assert v4["hardware"].read_text(encoding="utf-8") == v3["hardware"].read_text(encoding="utf-8")
    layers = [tomllib.loads(w["workload"].read_text(encoding="utf-8")) for w in (v3, v4)]
    assert [{k: v for k, v in layer.items() if k != "source"} for layer in layers][0] == \
        {k: v for k, v in layers[1].items() if k != "source"}
    assert tomllib.loads(v4["mapping"].read_text(encoding="utf-8")) == tomllib.loads(v3["mapping"].read_text(encoding="utf-8"))
    a, b = _run(v3), _run(v4)
    assert a.counts == b.counts and a.energy_pj == b.energy_pj and a.cycles_total == b.cycles_total == 150528
    assert any("!Parallel read as Timeloop's front end gives it" in note and "(ifmap_spad, weights_spad, psum_spad)" in note
               for note in notes)
    assert notes[-1] == "clock: 1 GHz from global_cycle_seconds"        # the variable reaches the MAC as an attribute


def test_sparse_optimizations_on_components_as_the_sparseloop_targets(tmp_path: Path) -> None:
    """Sparseloop's spMspM v4 design imports as its v0.4 form with the sparse targets; a node's optimisation error names its path."""
    # Sparse optimisations sit on the v4 components; the targets go in a sparse file (the v0.4 architecture given as
    # version 0.4, the Timeloop a v4 spec runs on). Same hardware.toml but for the file its [engine.sparse] source names,
    # same mapping, counts, energy and cycles.
    spmspm = DATA / "spmspm"
    arch = tmp_path / "arch.yaml"
    arch.write_text((spmspm / "arch.yaml").read_text(encoding="utf-8").replace("version: 0.3", "version: 0.4"),
                    encoding="utf-8")
    shared = [spmspm / f"{name}.yaml" for name in ("prob", "map", "ERT")]
    v3 = import_timeloop([arch, *shared, spmspm / "sparse.yaml"], tmp_path / "v3" / "design")
    v4_arch = DATA / "v4_spmspm" / "arch.yaml"
    v4 = import_timeloop([v4_arch, *shared], tmp_path / "v4" / "design")
    assert v4["hardware"].read_text(encoding="utf-8") == \
        v3["hardware"].read_text(encoding="utf-8").replace(str(spmspm / "sparse.yaml"), str(v4_arch))
    assert v4["mapping"].read_text(encoding="utf-8") == v3["mapping"].read_text(encoding="utf-8")
    assert _run_cli(v3) == _run_cli(v4)             # energy.csv and summary.csv of `run --compat timeloop`
    bad = tmp_path / "bad.yaml"
    bad.write_text(v4_arch.read_text(encoding="utf-8").replace("{type: skipping, options: [{target: Z",
                                                               "{type: skipping, options: [{target: Y"), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        import_timeloop([bad, *shared], tmp_path / "bad")
    assert str(info.value).startswith(f"{bad}: architecture.nodes[3].sparse_optimizations.action-optimization[2]"), \
        str(info.value)


def test_tutorial2024_v4_spec_with_its_printed_map_matches_timeloop(tmp_path: Path) -> None:
    """The 2024 tutorial's v4 spec with its printed map.txt matches its input.yaml import and Timeloop's 66981.10 uJ, 1073741824 cycles."""
    # Variables in attributes: width 16 * DATAWIDTH, the PE container's fan-out and spatial constraint. Same hardware.toml
    # (mapper constraints included) and mapping.toml as its processed input.yaml; the map.txt is read as printed, not
    # combined with the node constraints.
    tutorial = DATA / "tutorial2024"
    v3 = import_timeloop([tutorial / name for name in ("input.yaml", "ERT.yaml", "map.txt")], tmp_path / "v3" / "design")
    v4 = import_timeloop([DATA / "v4_tutorial2024" / "spec.yaml", tutorial / "ERT.yaml", tutorial / "map.txt"],
                         tmp_path / "v4" / "design")
    for kind in ("hardware", "mapping"):
        assert v4[kind].read_text(encoding="utf-8") == v3[kind].read_text(encoding="utf-8"), kind
    reference = tomllib.loads((tutorial / "reference.toml").read_text(encoding="utf-8"))
    stats = _run(v4)
    assert stats.cycles_total == reference["cycles"] == 1073741824
    assert abs(stats.energy_pj / 1e6 - reference["total_energy_uj"]) <= 0.005


def test_without_a_mapping_the_node_constraints_become_mapper_constraints(tmp_path: Path) -> None:
    """With no mapping, node constraints become [engine.mapper] levels, containers' spatial ones on their fan-out levels."""
    # The fan-out levels keep nothing and have no temporal loops.
    notes: list[str] = []
    written = import_timeloop([V4[0], V4[1], V4[3]], tmp_path / "design", notes)
    assert "mapping" not in written and notes[0].startswith("mapping: none given")
    levels = {entry["level"]: entry for entry in
              tomllib.loads(written["hardware"].read_text(encoding="utf-8"))["engine"]["mapper"]["levels"]}
    assert levels["inter_PE_column_spatial"]["keep"] == [] and levels["inter_PE_column_spatial"]["temporal"] == \
        dict.fromkeys(["C", "K", "R", "S", "N", "P", "Q"], 1)
    assert levels["inter_PE_spatial"]["spatial_x"] == {"N": 1, "P": 1, "Q": 1, "R": 1}
    assert levels["shared_glb"]["keep"] == ["inputs", "outputs"] and levels["ifmap_spad"]["keep"] == ["inputs"]


def test_small_design_fan_out_variables_and_cli(tmp_path: Path) -> None:
    """A container's meshX 2 gives a fan-out level and 2 buffers, depth: DEPTH resolves, and the CLI's printed run line runs."""
    # meshX 2 gives a dummy fan-out level and two buffer instances; the CLI prints the written files and the run line.
    files = [str(p) for p in _files(tmp_path)]
    done = subprocess.run([sys.executable, "-m", "energysim", "import-timeloop", *files, "-o", str(tmp_path / "d")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    hardware = tomllib.loads((tmp_path / "d" / "hardware.toml").read_text(encoding="utf-8"))
    assert [level["name"] for level in hardware["memory"]] == ["DRAM", "inter_PE_spatial", "Buf"]
    assert hardware["memory"][2]["mesh_x"] == 2 and hardware["memory"][2]["capacity_bytes"] == 64   # 32 words x 16 bits
    command = next(line for line in done.stdout.splitlines() if line.startswith("next: ")).split()[1:]
    assert command[:2] == ["energysim", "run"]
    ran = subprocess.run([sys.executable, "-m", *command], capture_output=True, text=True, timeout=300)
    assert ran.returncode == 0, ran.stderr


@pytest.mark.parametrize(("old", "new", "error", "fragment"), [
    ("- !Component {name: mac", "- !Compnent {name: mac", ConfigError,
     "spec.yaml: line 17: YAML tag '!Compnent' is not one Timeloop v4 reads (known: !Component, "),
    ("attributes: {depth: DEPTH,", "attributes: {dept: DEPTH,", ConfigError,
     "spec.yaml: architecture.nodes[3].attributes.dept: 'dept' is not a key Timeloop reads in component attributes"),
    ("    spatial: {meshX: 2}", "    spatial: {meshx: 2}", ConfigError,
     "spec.yaml: architecture.nodes[2].spatial.meshx: 'meshx' is not a key Timeloop reads in a node's spatial fan-out"),
    ("      dataspace: {keep:", "      dataspac: {keep:", ConfigError,
     "architecture.nodes[3].constraints.dataspac: 'dataspac' is not a key Timeloop reads in a node's constraints"),
    ("{depth: DEPTH,", "{depth: DEPTHS,", ConfigError,
     "spec.yaml: architecture.nodes[3].attributes.depth: 'DEPTHS' names 'DEPTHS', which no variable or attribute above "
     "defines (got 'DEPTHS'); did you mean 'DEPTH'?"),
    ("{depth: DEPTH,", "{depth: 'DEPTH * 2 + 1',", None, None),
    ("{depth: DEPTH,", "{depth: 'max(DEPTH, 8)',", UnsupportedError,
     "spec.yaml: architecture.nodes[3].attributes.depth: 'max(DEPTH, 8)' uses a function call, which energysim does not "
     "evaluate"),
    ("{depth: DEPTH,", "{depth: '__import__(\"os\")',", UnsupportedError, "uses a function call"),
    ("  - !Component {name: mac, class: intmac}", "  - {name: mac, class: intmac}", ConfigError,
     "spec.yaml: architecture.nodes[4]: each node must be a mapping tagged !Component, !Container, !Hierarchical, "
     "!Parallel, !Pipelined, !Nothing (got an untagged mapping with keys name, class)"),
    ("  - !Component {name: mac, class: intmac}", "  - !Component {name: noc, class: XY_NoC}\n  - !Component {name: mac, "
     "class: intmac}", UnsupportedError, "spec.yaml: architecture.nodes[4].class: 'XY_NoC' is a network, which energysim "
     "does not model"),
    ("variables: {version: 0.4, DEPTH: 32}", "variables: {version: 0.4, DEPTH: '{{ depth }}'}", ConfigError,
     "spec.yaml: line 2: template variable undefined ('depth' is undefined); give it with --jinja-var NAME=VALUE"),
])
def test_v4_refusals_name_file_path_rule_and_value(tmp_path: Path, old: str, new: str, error, fragment) -> None:
    """Each v4 spec error is refused in one line naming the file and path (or line); arithmetic over variables is evaluated."""
    # Errors: a misspelt tag, attribute, spatial key or constraint kind, an undefined variable, a function call where
    # energysim reads the value, an untagged node, a network component and an undefined Jinja name. Arithmetic: depth
    # DEPTH * 2 + 1 = 65 words.
    assert old in SMALL
    spec = SMALL.replace(old, new)
    if error is None:
        written = import_timeloop(_files(tmp_path, spec), tmp_path / "out")
        memory = tomllib.loads(written["hardware"].read_text(encoding="utf-8"))["memory"]
        assert memory[2]["capacity_bytes"] == 65 * 2
        return
    message = _refusal(tmp_path, spec, error)
    assert fragment in message, message


def test_mapping_entries_combine_with_node_constraints(tmp_path: Path) -> None:
    """Mapping entries combine with node constraints; conflicts, unknown targets and converted-file refusals name v4 places."""
    # An entry naming a container lands on its fan-out level; a factor the node's constraint gives differently is refused
    # naming both places; an unknown target names the nearest node; a refusal from the converted files names the v4 node
    # path, not the converted subtree/local one.
    mapping = ("mapping:\n- {target: DRAM, type: temporal, factors: [M=4, C=2]}\n- !Spatial {target: PE, factors: [N=2]}\n"
               "- !Temporal {target: Buf, factors: [C=4]}\n")
    written = import_timeloop(_files(tmp_path, map=mapping), tmp_path / "ok")
    levels = tomllib.loads(written["mapping"].read_text(encoding="utf-8"))["mappings"][0]["levels"]
    assert levels[1] == {"name": "inter_PE_spatial", "factors": {}, "order": [], "spatial_x": {"N": 2},
                         "bypass": ["inputs", "outputs", "weights"]}
    assert levels[2]["bypass"] == ["inputs", "outputs"] and levels[2]["factors"] == {"C": 4}
    spec = SMALL.replace("      dataspace: {keep: [Weights]}", "      dataspace: {keep: [Weights]}\n      temporal: {factors: [C=2]}")
    message = _refusal(tmp_path, spec, map=mapping)
    assert message.startswith(f"{tmp_path / 'map.yaml'}: mapping[2].factors: C=4 conflicts with C=2 for Buf "
                              f"({tmp_path / 'spec.yaml'}: architecture.nodes[3].constraints.temporal)")
    message = _refusal(tmp_path, SMALL, map=mapping.replace("target: Buf", "target: Bufer"))
    assert message.endswith("mapping[2].target: must name a node of the architecture (System, DRAM, PE, inter_PE_spatial, "
                            "Buf, mac) (got 'Bufer'); did you mean 'Buf'?")
    message = _refusal(tmp_path, SMALL.replace("{depth: DEPTH,", "{depth: 1,"), map=mapping)
    assert "the mapping.toml these files convert to" in message
    message = _refusal(tmp_path, SMALL.replace("{depth: DEPTH,", "{depth: 0.5,"), map=mapping)
    assert f"{tmp_path / 'spec.yaml'}: architecture.nodes[3].attributes.depth: must be a positive integer" in message


def test_a_component_fan_out_and_a_refusal_after_conversion(tmp_path: Path) -> None:
    """A component's own fan-out adds a spatial level above it; a converted-file refusal names the node's v4 constraint path."""
    # mac spatial meshY 2 puts inter_mac_spatial above it and doubles its instances; the refused node constraint is factor
    # Z=2.
    spec = SMALL.replace("- !Component {name: mac, class: intmac}", "- !Component {name: mac, class: intmac, spatial: {meshY: 2}}")
    written = import_timeloop(_files(tmp_path, spec), tmp_path / "fan")
    hardware = tomllib.loads(written["hardware"].read_text(encoding="utf-8"))
    assert [level["name"] for level in hardware["memory"]] == ["DRAM", "inter_PE_spatial", "Buf", "inter_mac_spatial"]
    assert (hardware["engine"]["mac_mesh_x"], hardware["engine"]["mac_mesh_y"]) == (1, 2)
    spec = SMALL.replace("dataspace: {keep: [Weights]}", "dataspace: {keep: [Weights]}\n      temporal: {factors: [Z=2]}")
    message = _refusal(tmp_path, spec)
    assert message.startswith(f"{tmp_path / 'spec.yaml'}: architecture.nodes[3].constraints.temporal.factors: each factor "
                              f"must be DIM=N with DIM one of M, N, C"), message


@pytest.mark.parametrize(("keep", "kept"), [("!nomerge [Weights]", ["weights"]),
                                             ("[Weights]", ["inputs", "outputs", "weights"])])
def test_hierarchical_merge_key_and_nomerge(tmp_path: Path, keep: str, kept: list[str]) -> None:
    """timeloopfe's `<<<: *anchor` merges nested mappings key by key and appends lists, unless the own list is !nomerge."""
    # Buf takes DRAM's width 64: 4-word blocks; keep [Weights] + the anchor's three.
    spec = SMALL.replace("{name: DRAM, class: DRAM, attributes: {width: 64}}",
                         "{name: DRAM, class: DRAM, attributes: &dram {width: 64}, constraints: {dataspace: &ds {keep: "
                         "[Inputs, Outputs, Weights]}}}").replace(
        "attributes: {depth: DEPTH, width: 16, read_bandwidth: 2}", "attributes: {<<<: *dram, depth: DEPTH, read_bandwidth: 2}").replace(
        "dataspace: {keep: [Weights]}", f"dataspace: {{<<<: *ds, keep: {keep}}}")
    written = import_timeloop(_files(tmp_path, spec), tmp_path / "out")
    hardware = tomllib.loads(written["hardware"].read_text(encoding="utf-8"))
    assert hardware["memory"][2]["block_words"] == 4 and hardware["memory"][2]["capacity_bytes"] == 32 * 4 * 2
    buf = next(entry for entry in hardware["engine"]["mapper"]["levels"] if entry["level"] == "Buf")
    assert sorted(buf["keep"]) == kept


def test_merges_that_double_a_list_are_bounded(tmp_path: Path) -> None:
    """List-doubling `<<<: [*a, *a]` merges are refused at the line that passes the bound, before the list is built."""
    # Seventeen times over would build a list of 2**17 entries; each anchor is defined where first used, so that the
    # file written out (2.1M characters) is within the bound on aliases and the merge's own bound is the one met.
    merge = "{x: [1]}"
    for i in range(17):
        merge = f"{{<<<: [&l{i} {merge}, *l{i}]}}"
    message = _refusal(tmp_path, f"variables:\n  l: {merge}\n" + SMALL.replace("variables: {version: 0.4, DEPTH: 32}\n", ""))
    assert message.startswith(f"{tmp_path / 'spec.yaml'}: line 2: <<< would build a list of 131072 entries; merged lists "
                              f"may hold at most 100000"), message


def test_factor_bounds_are_noted_as_constraints_and_refused_in_a_mapping(tmp_path: Path) -> None:
    """An upper temporal factor bound becomes the mapper's temporal_max, a lower one is noted and dropped; either is refused in a mapping."""
    # Factor bounds are mapper search ranges: C<=4 (the published sparse_tensor_core_like spec writes M<=8) becomes
    # temporal_max, as Timeloop's mapper takes it; M>=2 is not read by Timeloop; a mapping is what timeloop-model runs.
    spec = SMALL.replace("      dataspace: {keep: [Weights]}", "      dataspace: {keep: [Weights]}\n      temporal: {factors: N=1 C<=4 M>=2}")
    notes: list[str] = []
    written = import_timeloop(_files(tmp_path, spec), tmp_path / "ok", notes)
    buf = next(entry for entry in tomllib.loads(written["hardware"].read_text(encoding="utf-8"))["engine"]["mapper"]["levels"]
               if entry["level"] == "Buf")
    assert (buf["temporal"], buf["temporal_max"]) == ({"N": 1}, {"C": 4})
    assert f"left out (factor bounds energysim's mapper does not take: a lower bound, or one on a spatial loop): " \
           f"{tmp_path / 'spec.yaml'}: architecture.nodes[3].constraints.temporal.factors M>=2" in notes
    message = _refusal(tmp_path, spec, UnsupportedError, map="mapping:\n- {target: DRAM, type: temporal, factors: [M=4, C=2]}\n")
    assert message == (f"{tmp_path / 'spec.yaml'}: architecture.nodes[3].constraints.temporal.factors: C<=4: a factor bound "
                       f"(<=, >=) is a mapper search range, not a mapping; give DIM=N")


@pytest.mark.parametrize(("text", "result"), [
    ("2 ** 10 // 3 - -1", 342), ("(A + 1) * 2.5", 7.5), ("1e-9", 1e-9), ("LPDDR4", "LPDDR4"), ("45nm", "45nm"),
    ("A", 2), ("2 ** 65", ConfigError), ("A / 0", ConfigError), ("10 ** 31", ConfigError), ("A < 3", "A < 3"),
    ("(lambda: 1)()", "(lambda: 1)()"), ("B * 2", ConfigError), ("1e400", ConfigError), ("1" + "+1" * 5000, ConfigError),
    ("1" + "+1" * 300, ConfigError),
])
def test_expressions_are_arithmetic_only(text: str, result) -> None:
    """Expressions are evaluated only as bounded arithmetic over numbers and names; anything else is text or refused, never run."""
    # Plain words stay text; a huge exponent or result, a division by zero and an undefined name are refused; anything
    # else (a comparison, a lambda) is returned as text when not strict and refused when strict.
    from energysim.engines.loopnest.timeloop_v4_expressions import evaluate

    if isinstance(result, type):
        with pytest.raises(result):
            evaluate(text, {"A": 2}, "f.yaml: x")
        return
    assert evaluate(text, {"A": 2}, "f.yaml: x") == result
    if result == text and not text.replace("nm", "").isalnum():
        with pytest.raises(UnsupportedError, match=r"^f\.yaml: x: .* which energysim does not evaluate"):
            evaluate(text, {"A": 2}, "f.yaml: x", strict=True)


@pytest.mark.parametrize(("text", "message"), [
    ("1" + "+1" * 5000, "variables.DEPTH: an expression must be at most 1000 characters (got 10001 characters beginning"),
    ("1" + "+1" * 300, "variables.DEPTH: an expression must nest at most 100 operators deep (got 301 levels, beginning"),
])
def test_long_or_deep_expressions_are_refused_in_one_sentence(tmp_path: Path, text: str, message: str) -> None:
    """An expression of thousands of terms, or nested past 100 levels, is refused naming file and key (no RecursionError)."""
    assert _refusal(tmp_path, SMALL.replace("DEPTH: 32}", f"DEPTH: '{text}'}}")).startswith(f"{tmp_path / 'spec.yaml'}: {message}")


@pytest.mark.parametrize(("value", "rule"), [
    ("1e400", "must be a finite number (got inf)"), (".nan", "must be a finite number (got nan)"),
    (".inf", "must be a finite number (got inf)"), ("'2 * 1e400'", "'2 * 1e400' must be a finite real number of at most 1e+30 (got inf)"),
])
def test_infinite_or_nan_fan_out_is_refused_as_v04_refuses_it(tmp_path: Path, value: str, rule: str) -> None:
    """meshX of 1e400, .nan, .inf or arithmetic on 1e400 is refused as not finite, naming file and key (no OverflowError)."""
    assert _refusal(tmp_path, SMALL.replace("meshX: 2", f"meshX: {value}")) == \
        f"{tmp_path / 'spec.yaml'}: architecture.nodes[2].spatial.meshX: {rule}"


@pytest.mark.parametrize(("old", "bad", "index"), [
    ("[P=8,", "P=abc", 0), ("[P=8,", "Z=8", 0), ("[P=8,", "P=-1", 0), ("[P=8,", "P=1e400", 0), ("P=14,", "P=abc", 1),
])
def test_a_bad_mapping_factor_names_the_mapping_file_and_entry(tmp_path: Path, old: str, bad: str, index: int) -> None:
    """A bad factor in a v4 mapping file is refused naming that file and mapping[i].factors, not the architecture."""
    text = V4[2].read_text(encoding="utf-8")
    assert old in text
    (tmp_path / "map.yaml").write_text(text.replace(old, old.replace(old.strip("[,"), bad), 1), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        import_timeloop([V4[0], V4[1], tmp_path / "map.yaml", V4[3]], tmp_path / "out")
    assert str(info.value) == (f"{tmp_path / 'map.yaml'}: mapping[{index}].factors: each factor must be DIM=N with DIM one "
                               f"of C, M, R, S, N, P, Q and N a whole number (got {bad!r})")


def test_parallel_and_disabled_nodes(tmp_path: Path) -> None:
    """A container inside a !Parallel is refused; an enabled: false node is left out and noted; unread non-arithmetic attributes pass, noted."""
    # timeloopfe refuses a container inside a !Parallel too.
    spec = SMALL.replace("  - !Component {name: mac, class: intmac}",
                         "  - !Parallel\n    nodes:\n    - !Container {name: Inner}\n  - !Component {name: mac, class: intmac}")
    message = _refusal(tmp_path, spec, UnsupportedError)
    assert message.startswith(f"{tmp_path / 'spec.yaml'}: architecture.nodes[4].nodes[0]: a !Container inside a "
                              f"!Parallel is not read")
    spec = SMALL.replace("  - !Component {name: mac, class: intmac}",
                         "  - !Component {name: Reg, class: regfile, enabled: false, attributes: {depth: 1, width: 16}}\n"
                         "  - !Component {name: mac, class: intmac, attributes: {n_bits: 'ceil(log2(DEPTH))'}}")
    notes: list[str] = []
    written = import_timeloop(_files(tmp_path, spec), tmp_path / "out", notes)
    assert [level["name"] for level in tomllib.loads(written["hardware"].read_text(encoding="utf-8"))["memory"]] == \
        ["DRAM", "inter_PE_spatial", "Buf"]
    assert f"{tmp_path / 'spec.yaml'}: architecture.nodes[4] (Reg): enabled: false, left out (as Timeloop's front end " \
           f"does)" in notes
    assert any(note.startswith("not evaluated, passed on as text") and "nodes[5].attributes.n_bits = 'ceil(log2(DEPTH))'"
               in note for note in notes)


STC = [DATA / "v4_sparse_tensor_core" / f"{name}.yaml" for name in ("arch", "prob", "ERT")]


def test_sparse_tensor_core_v4_default_problem_matches_timeloop(tmp_path: Path) -> None:
    """The published sparse_tensor_core_like v4 spec on its default problem matches Timeloop: 3 cycles, 64 MACs, per-component energy."""
    # Default problem M=64, N=K=1 with its ERT: its K=32 spatial factor is set to the problem's K=1 with a note
    # (Timeloop's mapper does so too), the ERT's 2e-06 reads as a number, and each component's energy is as its stats.txt.
    notes: list[str] = []
    written = import_timeloop(STC, tmp_path / "stc", notes)
    assert f"{STC[0]}: architecture.nodes[5].constraints.spatial.factors: K=32 exceeds the problem's K = 1, set to 1 " \
           f"(as Timeloop's mapper sets it, with a warning)" in notes
    out = tmp_path / "results"
    done = subprocess.run([sys.executable, "-m", "energysim", "run", str(written["hardware"]), str(written["workload"]),
                           "--compat", "timeloop", "--out", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    summary = (out / "summary.csv").read_text(encoding="utf-8").splitlines()
    row = dict(zip(summary[0].split(","), summary[1].split(",")))
    assert (row["macs"], row["cycles_total"]) == ("64", "3")
    energy: dict[tuple[str, str], float] = {}
    lines = (out / "energy.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    for line in lines[1:]:
        entry = dict(zip(header, line.split(",")))
        if entry["energy_kind"] == "dynamic":
            key = (entry["component"], entry["tensor"].split(":")[0])
            energy[key] = energy.get(key, 0.0) + float(entry["energy_pj"])
    # timeloop-mapper.stats.txt of the published run, Energy (total) per component and data space, pJ
    published = {("mac", "-"): 20.16, ("LRF", "weights"): 2.66, ("RF", "outputs"): 968.52, ("SMEM", "weights"): 485.50,
                 ("SMEM", "inputs"): 242.75, ("DRAM", "weights"): 4096.0, ("DRAM", "inputs"): 512.0,
                 ("DRAM", "outputs"): 4096.0}
    assert energy == pytest.approx(published, abs=0.005)


def test_sparse_tensor_core_v4_on_a_large_gemm_names_the_impossible_constraint(tmp_path: Path) -> None:
    """On a 128^3 GEMM sparse_tensor_core_like's K=32 constraint fits no mapping: `run` exits 2 naming it, instances needed and available."""
    # The GEMM is 128 x 128 x 128; the published spec's own constraint K=32 across the PE row (16 wide) can be met by no
    # mapping; Timeloop's mapper rejects it too: "mapped fanoutX 32 exceeds hardware fanoutX 16". The one-line error names
    # the constraint, the instances it needs and those the fan-out has.
    problem = tmp_path / "prob.yaml"
    problem.write_text(STC[1].read_text(encoding="utf-8").replace("M: 64", "M: 128").replace("N: 1", "N: 128")
                       .replace("K: 1", "K: 128"), encoding="utf-8")
    written = import_timeloop([STC[0], problem, STC[2]], tmp_path / "stc")
    done = subprocess.run([sys.executable, "-m", "energysim", "run", str(written["hardware"]), str(written["workload"]),
                           "--compat", "timeloop"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.strip() == (f"energysim: {written['hardware']}: engine.mapper.levels[4] (inter_PE_spatial).spatial_x: "
                                   f"fixed spatial bounds C=32 need 32 instances along X, but the fan-out to LRF has 16 "
                                   f"along X, so no mapping can meet them")


JINJA = DATA / "v4_jinja"


@pytest.mark.parametrize(("extra", "depth_words", "pes", "channels"), [
    ([], 32, 2, 4), (["--jinja-var", "BUF_DEPTH=64", "--jinja-var", "PES=4", "--jinja-var", "M=8"], 64, 4, 8)])
def test_jinja_templates_render_as_timeloopfe_renders_them(tmp_path: Path, extra: list[str], depth_words: int, pes: int,
                                                          channels: int) -> None:
    """Jinja templates render as timeloopfe renders them: include_text, set/for/filters/names, --jinja-var, problem_base_ignore skipped."""
    # A problem pulls its shape in with include_text('../problem_base.yaml') and merges the anchor it defines; {% set %}
    # defaults, {% for %}, filters and {{ NAME }} render; --jinja-var gives the names (timeloopfe's jinja_parse_data).
    files = [str(JINJA / "arch.yaml"), str(JINJA / "prob" / "gemm.yaml"), str(JINJA / "ERT.yaml")]
    done = subprocess.run([sys.executable, "-m", "energysim", "import-timeloop", *files, "-o", str(tmp_path / "d"), *extra],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "note: ignored (Timeloop/Accelergy keys energysim does not model): problem_base_ignore" in done.stdout
    hardware = tomllib.loads((tmp_path / "d" / "hardware.toml").read_text(encoding="utf-8"))
    buf = hardware["memory"][2]
    assert (buf["name"], buf["capacity_bytes"], buf["mesh_x"]) == ("Buf", depth_words * 2, pes)
    layer = tomllib.loads((tmp_path / "d" / "workload.toml").read_text(encoding="utf-8"))["layers"][0]
    assert (layer["out_channels"], layer["in_channels"], layer["batch"]) == (channels, 8, 2)


def _jinja_import(tmp_path: Path, problem: str, **files: str) -> None:
    """Import SMALL's architecture with ``problem`` as a file of its own (and ``files`` beside it)."""
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    import_timeloop(_files(tmp_path, SMALL[:SMALL.index("problem:")], prob=problem), tmp_path / "out")


@pytest.mark.parametrize(("problem", "files", "error", "expected"), [
    ("x: 1\n{{ include_text('missing.yaml') }}\n", {}, ConfigError,
     "prob.yaml: line 2: include_text('missing.yaml'): no such file {d}/missing.yaml"),
    ("{{ include_text('a.yaml') }}\n", {"a.yaml": "{{ include_text('b.yaml') }}", "b.yaml": "\n{{ include_text('a.yaml') }}"},
     ConfigError, "b.yaml: line 2: include_text('a.yaml'): the file includes itself ({d}/a.yaml -> {d}/b.yaml -> "
                  "{d}/a.yaml)"),
    ("problem:\n  {% if M %}\n  x: 1\n", {}, ConfigError,
     "prob.yaml: line 2: not a valid Jinja template (Unexpected end of template. Jinja was looking for the following "
     "tags: 'elif' or 'else' or 'endif'."),
    ("problem:\n\n  instance: {M: {{ M }}}\n", {}, ConfigError,
     "prob.yaml: line 3: template variable undefined ('M' is undefined); give it with --jinja-var NAME=VALUE"),
    ("{{ include_text('/etc/passwd') }}\n", {}, ConfigError,
     "prob.yaml: line 1: include_text('/etc/passwd'): only files named *.yaml, *.yml, *.jinja, *.jinja2 are included "
     "(got /etc/passwd)"),
    ("x: {{ ''.__class__.__mro__ }}\n", {}, ConfigError,
     "prob.yaml: line 1: refused by the template sandbox (access to attribute '__class__' of 'str' object is unsafe.)"),
    ("x: {{ setenv('A', 'B') }}\n", {}, UnsupportedError,
     "prob.yaml: line 1: setenv(...) is timeloopfe's, which energysim does not provide (it changes the process's "
     "environment)"),
    ("problem: {{ include('a.yaml', 'problem.shape') }}\n", {"a.yaml": "problem: {instance: {M: 1}}\n"}, ConfigError,
     "prob.yaml: line 1: include('a.yaml', 'problem.shape'): {d}/a.yaml has no 'problem.shape' (no 'shape' there)"),
    ("x: {{ include_all('*.yml', 'x') }}\n", {"a.yml": "x: 1\n"}, ConfigError,
     "prob.yaml: line 1: include_all('*.yml', 'x'): each file must give a list at 'x' to be joined"),
    ("x: 1\n{% for a in range(5000) %}{% for b in range(5000) %}{% endfor %}{% endfor %}\n", {}, ConfigError,
     "prob.yaml: line 2: the templates ran more than 1000000 lines (a loop too long to be a Timeloop specification)"),
    ("x: '{{ 'ab' * 10 ** 8 }}'\n", {}, ConfigError, "prob.yaml: line 1: str * 100000000 would hold more than 1000000 items"),
    ("problem: {{ '[' }}\n", {}, ConfigError, "prob.yaml: not valid YAML at line 1 of the text its Jinja template renders to"),
    ("x: 1\nproblem: !include_loaded {a: 1}\n", {}, ConfigError, "prob.yaml: line 2: !include_loaded must tag a name (got a mapping)"),
])
def test_jinja_refusals_name_file_line_and_rule(tmp_path: Path, problem: str, files: dict[str, str], error, expected: str) -> None:
    """Each Jinja template failure is refused in one line naming the file and its line."""
    # Cases: a missing include, an include loop (naming the chain), a template syntax error, an undefined name, a file
    # that is not YAML (/etc/passwd), an attribute the sandbox refuses, timeloopfe's setenv(), include() of a key the file
    # lacks, include_all() of values that are not lists, a loop inside a loop, a string multiplied past the bound and YAML
    # broken by the rendering.
    with pytest.raises(error) as info:
        _jinja_import(tmp_path, problem, **files)
    message = str(info.value)
    assert expected.format(d=tmp_path) in message and "\n" not in message, message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("problem", "expected"), [
    ("{% set ns = namespace(s='a' * 999999) %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}\n",
     "prob.yaml: line 1: ~ would build a text of more than 1000000 characters"),
    ("{% set ns = namespace(s=[0] * 999999) %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}\n",
     "prob.yaml: line 1: list + list would hold more than 1000000 items"),
    ("x: '{{ lipsum(n=20000) }}'\n", "prob.yaml: line 1: template variable undefined ('lipsum' is undefined)"),
    ("x: '{{ 'a'|center(400000000) }}'\n", "prob.yaml: line 1: |center: a width or count must be at most 1000000 (got 400000000)"),
    ("x: '{{ 'a'.rjust(400000000) }}'\n", "prob.yaml: line 1: rjust(): a width or count must be at most 1000000 (got 400000000)"),
    ("x: '{{ 'a\\nb'|indent(400000000) }}'\n", "|indent: a width or count must be at most 1000000 (got 400000000)"),
    ("x: '{{ '%0400000000d' % 1 }}'\n",
     "prob.yaml: line 1: format string '%0400000000d': widths must be written as numbers of at most 1000000"),
    ("x: '{{ '%*d' % (400000000, 1) }}'\n", "prob.yaml: line 1: format string '%*d': widths must be written as numbers"),
    ("x: '{{ '{:>400000000}'.format(1) }}'\n", "prob.yaml: line 1: format string '{:>400000000}': widths must be written"),
    ("x: '{{ '%0400000000d'|format(1) }}'\n", "prob.yaml: line 1: format string '%0400000000d': widths must be written"),
    ("x: '{{ ('a' * 999999)|replace('a', 'bb') }}'\n",
     "prob.yaml: line 1: replace('a', 'bb') would build a text of more than 1000000 characters"),
    ("{% set x = 'a' * 999999 %}x: '{{ [x, x]|join }}'\n", "prob.yaml: line 1: join would build a text of more than 1000000"),
    ("{% set x = 'a' * 999999 %}x: '{{ ([[x]] * 999999)|string }}'\n", "prob.yaml: line 1: list * 999999 would hold more than"),
])
def test_jinja_work_and_memory_are_bounded(tmp_path: Path, problem: str, expected: str) -> None:
    """Each way found to build a huge text or list in a template is refused in one sentence before it is built."""
    with pytest.raises(ConfigError) as info:
        _jinja_import(tmp_path, problem)
    assert expected in str(info.value) and "\n" not in str(info.value), str(info.value)


def test_jinja_ordinary_formats_and_text_still_render(tmp_path: Path) -> None:
    """The width bounds leave ordinary formats (literal digits, {{ }} escapes, %08d), joins and ~ alone."""
    from energysim.engines.loopnest.timeloop_v4_jinja import render

    text = "{{ 'depth 16777216 %s %08d' % ('x', 7) }} {{ '{{}} {:>8}'.format(16777216) }} {{ ['a', 'b']|join('-') ~ 'c' }}"
    assert render(tmp_path / "t.yaml", text) == "depth 16777216 x 00000007 {} 16777216 a-bc"


def test_jinja_includes_count_bytes_across_the_render_and_hard_links_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hard links to one file are included once; distinct includes whose sizes together pass the limit are refused."""
    monkeypatch.setenv("ENERGYSIM_TEXT_FILE_BYTES", "4000")
    problem = SMALL[SMALL.index("problem:"):]
    (tmp_path / "big1.yaml").write_text("#" * 2100 + "\n", encoding="utf-8")
    os.link(tmp_path / "big1.yaml", tmp_path / "big2.yaml")
    _jinja_import(tmp_path, "{{ include_text('big*.yaml') }}\n" + problem)
    (tmp_path / "big3.yaml").write_text("#" * 2100 + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"prob\.yaml: line 1: include_text\('big\*\.yaml'\): the included files hold more "
                                          r"than 4,000 bytes in all"):
        _jinja_import(tmp_path, "{{ include_text('big*.yaml') }}\n" + problem)


def test_jinja_include_patterns_list_a_bounded_number_of_folder_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Patterns match as glob does (no hidden files, in order); one listing more entries than the bound is refused."""
    from energysim.engines.loopnest import timeloop_v4_jinja

    for name, value in (("b.yml", 2), ("a.yml", 1), (".h.yml", 3), ("c.txt", 4)):
        (tmp_path / name).write_text(f"x: [{value}]\n", encoding="utf-8")
    loaded: dict = {}
    timeloop_v4_jinja.render(tmp_path / "t.yaml", "{{ include_all('*.yml', 'x') }}", parse=lambda where, body: yaml.safe_load(body),
                             loaded=loaded)
    assert loaded == {"include_loaded_0": [1, 2]}
    problem = SMALL[SMALL.index("problem:"):]
    monkeypatch.setattr(timeloop_v4_jinja, "MAX_GLOB_ENTRIES", 3)
    with pytest.raises(ConfigError) as info:
        _jinja_import(tmp_path, "variables: {L: {{ include_all('*.yml', 'x') }}}\n" + problem)
    assert str(info.value) == (f"{tmp_path / 'prob.yaml'}: line 1: include_all('*.yml'): the patterns list more than 3 "
                               f"folder entries in all (give a pattern for the folder the files are in)")


def test_jinja_running_out_of_memory_is_a_one_sentence_refusal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A MemoryError (or RecursionError) while rendering becomes one ConfigError naming the file, not a traceback."""
    from energysim.engines.loopnest import timeloop_v4_jinja

    for error, what in ((MemoryError, "memory (at most 512 MiB)"), (RecursionError, "recursion depth")):
        def exhausted(parts: tuple, error=error) -> str:
            raise error()
        monkeypatch.setattr(timeloop_v4_jinja, "_bounded_concat", exhausted)
        with pytest.raises(ConfigError) as info:
            _jinja_import(tmp_path, "{% set a = 'a' %}x: '{{ a ~ 'b' }}'\n")
        assert str(info.value) == f"{tmp_path / 'prob.yaml'}: the templates ran out of {what} while rendering (a template " \
                                  f"building more than a Timeloop specification holds)"


@pytest.mark.skipif(not Path("/proc/self/statm").is_file(), reason="the render's address-space budget is set on Linux")
@pytest.mark.parametrize("use", ["x: '{{ h|string|length }}'", "x: '{{ h|tojson|length }}'", "x: '{{ h|pprint|length }}'",
                                 "x: '{{ h }}'", "{% set l = [1] %}{% for i in range(40) %}{{ l.extend(l) }}{% endfor %}",
                                 "{% set a = 'x\\n' * 499999 %}x: {{ (a|indent(999999))|length }}"])
def test_jinja_values_no_rule_weighs_stop_at_the_address_space_budget(tmp_path: Path, use: str) -> None:
    """A list holding a list many times printed or dumped (4**8 texts of 1M), or any other build no rule weighs, stops at the budget."""
    import resource

    nested = "{% set a = 'x' * 999999 %}" + "".join(f"{{% set {b} = [{a}, {a}, {a}, {a}] %}}" for a, b in zip("abcdefg", "bcdefgh"))
    before = resource.getrlimit(resource.RLIMIT_AS)
    with pytest.raises(ConfigError) as info:
        _jinja_import(tmp_path, nested + use + "\n")
    assert str(info.value) == f"{tmp_path / 'prob.yaml'}: the templates ran out of memory (at most 512 MiB) while " \
                              f"rendering (a template building more than a Timeloop specification holds)"
    assert resource.getrlimit(resource.RLIMIT_AS) == before


def test_jinja_cpu_time_is_bounded_between_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A loop whose every line does work in proportion to a big list stops at the CPU-time budget, within the line bound."""
    # 900,000 steps (range items) but each `big + [1]` weighs and copies 400,000 items: hours without the time check
    from energysim.engines.loopnest import timeloop_v4_jinja

    monkeypatch.setattr(timeloop_v4_jinja, "MAX_RENDER_CPU_SECONDS", 0.5)
    with pytest.raises(ConfigError) as info:
        _jinja_import(tmp_path, "{% set big = range(400000)|list %}{% for i in range(500000) %}{% set x = big + [1] %}"
                                "{% endfor %}\n")
    assert str(info.value) == f"{tmp_path / 'prob.yaml'}: line 1: the templates ran for more than 0.5 CPU seconds (work " \
                              f"too long for a Timeloop specification)"


@pytest.mark.skipif(not Path("/proc/self/statm").is_file(), reason="the render's address-space budget is set on Linux")
def test_render_lowers_the_address_space_limit_and_restores_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A render runs with RLIMIT_AS at most 512 MiB above the process's size and puts the limit back after."""
    import resource

    from energysim.engines.loopnest.timeloop_v4_jinja import render

    calls = []
    real = resource.setrlimit
    monkeypatch.setattr(resource, "setrlimit", lambda kind, limits: (calls.append(limits), real(kind, limits)))
    before = resource.getrlimit(resource.RLIMIT_AS)
    assert render(tmp_path / "t.yaml", "x: {{ 1 + 1 }}") == "x: 2"
    with open("/proc/self/statm", encoding="ascii") as statm:
        size = int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    assert len(calls) == 2 and calls[1] == before and calls[0][1] == before[1]
    assert calls[0][0] <= size + 512 * 2**20
    assert resource.getrlimit(resource.RLIMIT_AS) == before


def test_without_jinja2_a_template_is_refused_naming_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without jinja2 a Jinja file is refused at its line naming the extra that installs it; a plain file still imports."""
    monkeypatch.setitem(sys.modules, "jinja2.sandbox", None)
    message = _refusal(tmp_path, SMALL.replace("DEPTH: 32}", "DEPTH: {{ depth }}}"), UnsupportedError)
    assert message == (f"{tmp_path / 'spec.yaml'}: line 2: Jinja template syntax '{{{{ depth }}}}' needs jinja2 to be "
                       f"rendered as timeloopfe renders it: pip install 'energysim[timeloop]' (or render the file first "
                       f"and import the YAML it gives)")
    assert import_timeloop(_files(tmp_path), tmp_path / "plain")["hardware"].is_file()


def test_spatial_permutation_front_filled_as_timeloopfe_moves_the_split(tmp_path: Path) -> None:
    """A spatial permutation is front-filled with its omitted size-1 dimensions as timeloopfe does, moving the split; `run` then refuses."""
    # timeloopfe's PermutationOptimizer inserts omitted dims whose factor (or problem size) is 1 first: [C, N] with split
    # 1 and M=1 becomes [M, C, N], so X holds M alone and C=2 x N=2 land on Y, 4 instances a 2 x 2 array lacks along Y;
    # `run` refuses as Timeloop's mapper finds no mapping.
    spec = SMALL.replace("    spatial: {meshX: 2}", "    spatial: {meshX: 2, meshY: 2}\n    constraints:\n      spatial: "
                         "{permutation: [C, N], factors: C=2 N=2 M=1, split: 1}")
    written = import_timeloop(_files(tmp_path, spec), tmp_path / "out")
    levels = {entry["level"]: entry for entry in
              tomllib.loads(written["hardware"].read_text(encoding="utf-8"))["engine"]["mapper"]["levels"]}
    spatial = {axis: {d: f for d, f in levels["inter_PE_spatial"][axis].items() if f > 1} for axis in ("spatial_x", "spatial_y")}
    assert spatial == {"spatial_x": {}, "spatial_y": {"N": 2, "C": 2}}
    done = subprocess.run([sys.executable, "-m", "energysim", "run", str(written["hardware"]), str(written["workload"]),
                           "--compat", "timeloop"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "(inter_PE_spatial).spatial_y: fixed spatial bounds N=2 x C=2 need 4 instances along " \
                                    "Y, but the fan-out to Buf has 2 along Y" in done.stderr, done.stderr


def test_a_temporal_factor_bound_limits_the_mappers_space(tmp_path: Path) -> None:
    """A node's temporal bound C<=2 becomes temporal_max = {C = 2} and keeps every exhaustive-space candidate's Buf C loop <= 2."""
    # C<=2 is Timeloop's max factor, as sparse_tensor_core_like's M<=8; without the bound some candidates take 4 or 8.
    from dataclasses import replace

    from energysim.engines.loopnest.mapper import problem_of
    from energysim.engines.loopnest.mapper_constraints import resolve
    from energysim.engines.loopnest.mapper_search import enumerate_all

    spec = SMALL.replace("      dataspace: {keep: [Weights]}", "      dataspace: {keep: [Weights]}\n      temporal: {factors: C<=2}")
    written = import_timeloop(_files(tmp_path, spec), tmp_path / "out")
    hardware = tomllib.loads(written["hardware"].read_text(encoding="utf-8"))
    assert next(e for e in hardware["engine"]["mapper"]["levels"] if e["level"] == "Buf")["temporal_max"] == {"C": 2}
    engine = build_engine(load_hardware(written["hardware"]))
    problem = problem_of(engine.spec, load_workload(written["workload"]).layers[0].loop_nest())
    bounded = resolve(engine.config.mapper, problem)
    slot, c = problem.temporal_slot([level.name for level in problem.levels].index("Buf")), problem.dims.index("C")
    largest = {}
    for name, resolved in (("bounded", bounded), ("free", replace(bounded, maxima=None))):
        space = enumerate_all(problem, resolved, 10**6)
        assert space is not None and len(space) > 0
        largest[name] = int(space.factors[:, slot, c].max())
    assert largest == {"bounded": 2, "free": 8}


def test_the_exercises_top_template_with_include_include_all_and_add_to_path(tmp_path: Path) -> None:
    """The exercises' top template (include, include_all, add_to_path) with --jinja-var architecture=small imports as untemplated SMALL."""
    # v4_jinja/top.yaml.jinja2 follows their example_designs/top.yaml.jinja2: add_to_path(cwd()), include(problem,
    # 'problem') of a file that itself uses include_text, include(cwd() ~ '/' ~ architecture ~ '/arch.yaml',
    # 'architecture') keeping the !Container and !Component tags, include_all('_components/*.yaml',
    # 'compound_components.classes').
    written = import_timeloop([JINJA / "top.yaml.jinja2", JINJA / "ERT.yaml"], tmp_path / "top" / "d",
                              jinja_vars={"architecture": "small"})
    plain = import_timeloop(_files(tmp_path), tmp_path / "plain" / "d")
    for kind in ("hardware", "workload"):
        ours = written[kind].read_text(encoding="utf-8").replace(str(JINJA / "ERT.yaml"), "ERT")
        theirs = plain[kind].read_text(encoding="utf-8").replace(str(tmp_path / "ert.yaml"), "ERT")
        assert tomllib.loads(ours.replace(str(JINJA / "top.yaml.jinja2"), "P")) == \
            tomllib.loads(theirs.replace(str(tmp_path / "spec.yaml"), "P")), kind
