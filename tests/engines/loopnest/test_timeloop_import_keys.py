"""import_timeloop checks every key against the keys Timeloop reads at its place: unknown ones refused with the nearest
known key, known ones energysim does not model noted as ignored; every published fixture still imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("yaml")

from energysim.engines.loopnest.timeloop_import import import_timeloop  # noqa: E402
from energysim.errors import ConfigError  # noqa: E402

from test_timeloop_import import ARCH_V04, DATA, ERT_V04, MAP_GEMM, PROB_GEMM, _write  # noqa: E402
from test_timeloop_import_checks import SPARSE  # noqa: E402

DENSE = {"arch": ARCH_V04, "prob": PROB_GEMM, "map": MAP_GEMM, "ert": ERT_V04}
CONSTRAINTS = "mapspace_constraints:\n- {target: Buf, type: temporal, factors: N=1, permutation: CNM}\n"


def _refusal(tmp_path: Path, **edits: str) -> str:
    with pytest.raises(ConfigError) as info:
        import_timeloop(_write(tmp_path, **{**DENSE, **edits}), tmp_path / "out")
    message = str(info.value)
    assert "\n" not in message
    assert not (tmp_path / "out").exists(), "a refused import wrote its folder"
    return message


def _edit(part: str, old: str, new: str) -> dict[str, str]:
    text = {**DENSE, "sparse": SPARSE, "cons": CONSTRAINTS}[part]
    assert old in text, old
    return {part: text.replace(old, new, 1)}


def test_misspelled_permutation_is_refused_on_ex04(tmp_path: Path) -> None:
    """`permutaton:` in ex04's mapping (the loop order changes its energy) is refused naming file, path, value and
    the key meant, not dropped for the default order."""
    mapping = (DATA / "ex04" / "map-cp.yaml").read_text(encoding="utf-8").replace("permutation: RKCP", "permutaton: RKCP")
    (tmp_path / "map.yaml").write_text(mapping, encoding="utf-8")
    files = [DATA / "ex04" / name for name in ("arch.yaml", "prob.yaml", "ERT.yaml")] + [tmp_path / "map.yaml"]
    with pytest.raises(ConfigError) as info:
        import_timeloop(files, tmp_path / "out")
    assert str(info.value).startswith(f"{tmp_path / 'map.yaml'}: mapping[1].permutaton: 'permutaton' is not a key "
                                      f"Timeloop reads in a mapping directive (known: bypass, factors, keep, permutation, "
                                      f"split, target, type) (got permutaton: 'RKCP'); did you mean 'permutation'?")


def test_misspelled_top_level_key_is_refused(tmp_path: Path) -> None:
    """`mappin:` is refused with 'mapping' suggested, not read as no mapping at all."""
    message = _refusal(tmp_path, map=MAP_GEMM.replace("mapping:", "mappin:"))
    assert "map.yaml: mappin: 'mappin' is not a key Timeloop reads in the top level" in message
    assert message.endswith("did you mean 'mapping'?")


@pytest.mark.parametrize(("part", "old", "new", "fragment"), [
    ("arch", "  - name: System\n", "  - name: System\n    subtre: []\n",
     "arch.yaml: architecture.subtree[0].subtre: 'subtre' is not a key Timeloop reads in an architecture node"),
    ("arch", "{name: DRAM, class: DRAM,", "{name: DRAM, clas: DRAM,",
     "architecture.subtree[0].local[0].clas: 'clas' is not a key Timeloop reads in an architecture component"),
    ("arch", "depth: 32,", "dept: 32,",
     "architecture.subtree[0].subtree[0].local[0].attributes.dept: 'dept' is not a key Timeloop reads in component "
     "attributes"),
    ("arch", "version: 0.4\n", "version: 0.4\n  subtrees: []\n", "arch.yaml: architecture.subtrees: "),
    ("arch", "meshX: 2, read", "meshx: 2, read", "attributes.meshx: 'meshx' is not a key Timeloop reads in component "
     "attributes (known: "),
    ("prob", "  shape:", "  shap:", "prob.yaml: problem.shap: 'shap' is not a key Timeloop reads in problem"),
    ("prob", "dimensions:", "dimension:", "problem.shape.dimension: 'dimension' is not a key Timeloop reads in problem.shape"),
    ("prob", "{name: Weights, projection:", "{name: Weights, projections:",
     "problem.shape.data-spaces[0].projections: 'projections' is not a key Timeloop reads in a problem data space"),
    ("prob", "{M: 4,", "{MM: 4, M: 4,", "prob.yaml: problem.instance.MM: 'MM' is not a key Timeloop reads in problem.instance"),
    ("prob", "C: 8}", "C: 8, densities: {Weights: {densty: 0.5}}}",
     "problem.instance.densities.Weights.densty: 'densty' is not a key Timeloop reads in a data space's density"),
    ("map", "{target: Buf, type: temporal,", "{target: Buf, typ: temporal,",
     "map.yaml: mapping[2].typ: 'typ' is not a key Timeloop reads in a mapping directive"),
    ("cons", "factors: N=1", "factor: N=1",
     "cons.yaml: mapspace_constraints[0].factor: 'factor' is not a key Timeloop reads in a mapspace constraint"),
    ("sparse", "    representation-format:", "    representation-formats:",
     "sparse.yaml: sparse_optimizations.targets[0].representation-formats: 'representation-formats' is not a key "
     "Timeloop reads in a sparse_optimizations target"),
    ("sparse", "metadata-word-bits: 4", "metadata-word-bit: 4",
     "ranks[1].metadata-word-bit: 'metadata-word-bit' is not a key Timeloop reads in a Sparseloop rank"),
    ("ert", "  tables:", "  table:", "ert.yaml: ERT.table: 'table' is not a key Timeloop reads in ERT"),
    ("ert", "{name: compute, energy: 1.5}", "{name: compute, energie: 1.5}",
     "ERT.tables[2].actions[0].energie: 'energie' is not a key Timeloop reads in an ERT action"),
])
def test_unknown_key_is_refused_at_each_place(tmp_path: Path, part: str, old: str, new: str, fragment: str) -> None:
    """At every place checked (architecture node, component, attributes, problem, shape, data space, instance,
    density, mapping directive, constraint, sparse target, rank, ERT, ERT action) an unknown key is one line."""
    extra = {"sparse": SPARSE} if part == "sparse" else {"cons": CONSTRAINTS} if part == "cons" else {}
    message = _refusal(tmp_path, **{**extra, **_edit(part, old, new)})
    assert fragment in message, message
    assert "(got " in message and "(known: " in message
    if "meshx" in new:
        assert message.endswith("did you mean 'meshX'?")           # the same key in another case comes first


def test_action_optimization_and_mapspace_keys_are_checked(tmp_path: Path) -> None:
    """A misspelt action-optimization key and a misspelt mapspace key are refused with the key meant."""
    sparse = SPARSE + "    action-optimization:\n    - {type: skipping, options: [{target: Inputs, condition_of: [Weights]}]}\n"
    message = _refusal(tmp_path, sparse=sparse)
    assert "action-optimization[0].options[0].condition_of: " in message and "did you mean 'condition_on'?" in message
    message = _refusal(tmp_path, cons="mapspace:\n  constraint: []\n")
    assert "cons.yaml: mapspace.constraint: " in message and "did you mean 'constraints'?" in message


@pytest.mark.parametrize(("extra", "fragment"), [
    ("compound_components:\n  classes:\n  - {name: intmac, atributes: {width: 16}}\n",
     "cons.yaml: compound_components.classes[0].atributes: 'atributes' is not a key Timeloop reads in a component class"),
    ("mapspace_constraints:\n  target:\n  - {target: Buf, type: temporal, factors: N=1}\n",
     "cons.yaml: mapspace_constraints.target: 'target' is not a key Timeloop reads in a constraints table (known: "
     "targets, version) (got target: [{'target': 'Buf'"),
    ("architecture_constraints:\n  targets:\n  - {target: Buf, type: temporal, factors: N=1}\n  targts: []\n",
     "cons.yaml: architecture_constraints.targts: 'targts' is not a key Timeloop reads in a constraints table"),
    ("sparse_optimizations:\n  targets:\n  - {name: Buf, representation-format: {data-space: []}}\n",
     "representation-format.data-space: 'data-space' is not a key Timeloop reads in representation-format"),
    ("sparse_optimizations:\n  targets:\n  - name: Buf\n    representation-format:\n      data-spaces:\n"
     "      - {name: Inputs, rank: []}\n",
     "data-spaces[0].rank: 'rank' is not a key Timeloop reads in a Sparseloop data space"),
    ("sparse_optimizations:\n  targets:\n  - {name: mac, compute-optimization: [{typ: gating}]}\n",
     "compute-optimization[0].typ: 'typ' is not a key Timeloop reads in a compute-optimization"),
])
def test_unknown_key_is_refused_in_classes_tables_and_sparse_parts(tmp_path: Path, extra: str, fragment: str) -> None:
    """Component classes, constraint lists given as tables, representation formats, Sparseloop data spaces and
    compute-optimizations are checked too."""
    message = _refusal(tmp_path, cons=extra)
    assert fragment in message, message


def test_unknown_key_in_an_ert_table_and_a_coefficient_is_refused(tmp_path: Path) -> None:
    """An ERT table entry and a problem coefficient are checked against their keys."""
    message = _refusal(tmp_path, ert=ERT_V04.replace("  - name: System.DRAM\n", "  - name: System.DRAM\n    actons: []\n"))
    assert "ert.yaml: ERT.tables[0].actons: 'actons' is not a key Timeloop reads in an ERT table" in message
    prob = PROB_GEMM.replace("    name: gemm\n", "    name: gemm\n    coefficients:\n    - {name: Hstride, defualt: 1}\n")
    message = _refusal(tmp_path, prob=prob)
    assert "problem.shape.coefficients[0].defualt: 'defualt' is not a key Timeloop reads in a problem coefficient" in message


def test_known_keys_energysim_does_not_model_are_noted(tmp_path: Path) -> None:
    """Timeloop keys energysim does not model (mapper, a constraint's no_link_transfer, a component's subclass, an
    Accelergy attribute) import, and the notes list each one as ignored."""
    arch = ARCH_V04.replace("{name: DRAM, class: DRAM,", "{name: DRAM, class: DRAM, subclass: lpddr4,").replace(
        "{datawidth: 16}", "{datawidth: 16, technology: 45nm, my_plugin_knob: 3}")
    cons = CONSTRAINTS.replace("permutation: CNM}", "permutation: CNM, no_link_transfer: [Inputs]}")
    mapper = "mapper: {algorithm: random_pruned, search_size: 100}\n"
    notes: list[str] = []
    import_timeloop(_write(tmp_path, **{**DENSE, "arch": arch, "cons": cons + mapper}), tmp_path / "out", notes)
    ignored = [note for note in notes if note.startswith("ignored")]
    assert ignored == ["ignored (Timeloop/Accelergy keys energysim does not model): architecture.subtree[].attributes."
                       "my_plugin_knob (an Accelergy attribute), architecture.subtree[].attributes.technology, "
                       "architecture.subtree[].local[].subclass, mapper, mapspace_constraints[].no_link_transfer"]


def test_attributes_a_compound_class_declares_are_known(tmp_path: Path) -> None:
    """A near-built-in attribute name (`depths`) is refused as a misspelling unless a compound class in the files declares it."""
    # Declared by a class of the files' own compound_components, it imports and the note says where it is declared.
    arch = ARCH_V04.replace("{depth: 32,", "{depths: 4, depth: 32,")
    assert "did you mean 'depth'?" in _refusal(tmp_path, arch=arch)
    classes = "compound_components:\n  version: 0.4\n  classes:\n  - {name: my_sram, attributes: {depths: 1}}\n"
    notes: list[str] = []
    import_timeloop(_write(tmp_path, **{**DENSE, "arch": arch, "cons": classes}), tmp_path / "out", notes)
    assert ("architecture.subtree[].subtree[].local[].attributes.depths (declared by a compound component class)"
            in next(note for note in notes if note.startswith("ignored")))


def test_cli_prints_the_ignored_note_and_refuses_with_exit_2(tmp_path: Path) -> None:
    """The CLI prints the ignored keys as a note line, and a misspelt key is exit 2 with one line on stderr."""
    files = [str(p) for p in _write(tmp_path, **{**DENSE, "cons": "mapper: {search_size: 10}\n"})]
    ok = subprocess.run([sys.executable, "-m", "energysim", "import-timeloop", *files, "-o", str(tmp_path / "out")],
                        capture_output=True, text=True, timeout=300)
    assert ok.returncode == 0, ok.stderr
    assert "ignored (Timeloop/Accelergy keys energysim does not model): mapper" in ok.stdout + ok.stderr
    (tmp_path / "map.yaml").write_text(MAP_GEMM.replace("permutation: CNM}", "permutaton: CNM}"), encoding="utf-8")
    bad = subprocess.run([sys.executable, "-m", "energysim", "import-timeloop", *files, "-o", str(tmp_path / "out2")],
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "did you mean 'permutation'?" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr


def test_empty_yaml_file_says_so(tmp_path: Path) -> None:
    """An empty YAML file is refused as empty, not as 'got NoneType'."""
    message = _refusal(tmp_path, prob="# nothing here\n")
    assert message.endswith("prob.yaml: the file is empty (a Timeloop YAML file holds top-level keys such as "
                            "architecture, problem, mapping)")


def test_map_txt_level_typo_names_the_line(tmp_path: Path) -> None:
    """A map.txt level header naming no storage level is reported at its map.txt line, not as mapping[i].target."""
    text = "DRAM [ Weights:32 ]\n------\n| for M in [0:2)\n| for C in [0:2)\n\nBuff [ Weights:4 ]\n------\n" \
           "| for C in [0:4)\n| for M in [0:2) (Spatial-X)\n| for N in [0:2) (Spatial-Y)\n\n<< Compute >>\n"
    (tmp_path / "map.txt").write_text(text, encoding="utf-8")
    files = _write(tmp_path, arch=ARCH_V04, prob=PROB_GEMM, ert=ERT_V04) + [tmp_path / "map.txt"]
    with pytest.raises(ConfigError) as info:
        import_timeloop(files, tmp_path / "out")
    assert str(info.value) == (f"{tmp_path / 'map.txt'}: line 6: level name 'Buff' is not a storage level of the "
                               f"architecture (DRAM, Buf)")


FIXTURES = {
    "conv1d_sparse": ["arch", "prob", "map", "ERT", "sparse"], "dot_cp_skip": ["arch", "prob", "ERT", "sparse", "map.txt"],
    "dot_gating": ["arch", "prob", "map", "ERT", "sparse"], "ex00": ["arch", "prob", "map", "ERT"],
    "ex02": ["arch", "prob", "map-tiled", "ERT"], "ex03": ["arch", "prob", "map-bypass", "ERT"],
    "ex04": ["arch", "prob", "map-cp", "ERT"], "eyeriss": ["arch", "prob", "map", "ERT"],
    "simple_os": ["arch", "prob", "map", "ERT"], "sparse_eyeriss": ["arch", "prob", "map", "ERT", "sparse"],
    "spmspm": ["arch", "prob", "map", "ERT", "sparse"], "spmspm_tiled": ["arch", "../spmspm/prob", "map", "ERT", "sparse"],
    "tutorial2024": ["input", "ERT", "map.txt"],
    "ex05": ["../ex03/arch", "../ex03/prob", "../ex03/ERT", "constraints-freebypass", "map-freebypass-best"],
}


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_every_published_fixture_imports_under_the_key_check(tmp_path: Path, name: str) -> None:
    """Each fixture under tests/data/timeloop imports with every key known (its files are Timeloop's own formats)."""
    files = [DATA / name / (part if part.endswith(".txt") else f"{part}.yaml") for part in FIXTURES[name]]
    written = import_timeloop(files, tmp_path / "out", [])
    assert written["hardware"].is_file() and written["workload"].is_file()


def test_a_key_given_twice_is_refused(tmp_path: Path) -> None:
    """A key given twice in one YAML mapping (YAML keeps the last silently) is refused naming both lines."""
    message = _refusal(tmp_path, arch=ARCH_V04.replace("{depth: 32,", "{depth: 32, depth: 4,"))
    assert message.endswith("arch.yaml: line 12: key 'depth' appears twice in one mapping (also at line 12); YAML would "
                            "keep the last silently, give it once")


def test_a_yaml_merge_key_may_override(tmp_path: Path) -> None:
    """`<<: *anchor` followed by a key the anchor also gives is YAML's override, not a key given twice."""
    arch = ARCH_V04.replace("{name: DRAM, class: DRAM, attributes: {width: 64}}",
                            "{name: DRAM, class: DRAM, attributes: {<<: &dram {width: 32}, width: 64}}")
    written = import_timeloop(_write(tmp_path, **{**DENSE, "arch": arch}), tmp_path / "out")
    assert "read_pj = 25.0" in written["hardware"].read_text()      # 100 pJ / (64 / 16 words): the override read


def test_a_file_given_twice_or_not_yaml_mappings_is_named_so(tmp_path: Path) -> None:
    """The same file given twice is refused as such (not as a top-level key from two files), and a file whose top
    level is text (a TOML file among the inputs) as not a Timeloop YAML file."""
    files = _write(tmp_path, **DENSE)
    with pytest.raises(ConfigError, match=r"arch\.yaml: the file is given twice \(give each Timeloop file once\)$"):
        import_timeloop([*files, files[0]], tmp_path / "out")
    message = _refusal(tmp_path, ert='schema_version = 1\nname = "x"\n')
    assert message.endswith("ert.yaml: not a Timeloop YAML file: the top level must be a mapping of keys such as "
                            "architecture, problem, mapping (got text)")
