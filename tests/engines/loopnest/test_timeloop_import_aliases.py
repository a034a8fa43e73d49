"""YAML aliases are measured on the composed node graph, before anything expands them (billion laughs, recursion)."""

from __future__ import annotations

from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

from energysim.engines.loopnest import timeloop_import  # noqa: E402
from energysim.engines.loopnest.timeloop_import import MAX_EXPANDED_CHARS, MAX_YAML_DEPTH, import_timeloop  # noqa: E402
from energysim.errors import ConfigError  # noqa: E402

from test_timeloop_import import ARCH_V04, _write  # noqa: E402
from test_timeloop_import_keys import DENSE, _refusal  # noqa: E402


def _laughs(levels: int, use: str = "zz") -> str:
    """Anchors a0..a{levels} under ``laughs_ignore``, each a list of ten aliases of the one before, used by key ``use``."""
    lines = ["laughs_ignore:", "  a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    lines += [f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, levels + 1)]
    return "\n".join(lines) + f"\n{use}: *a{levels}\n"


def test_billion_laughs_is_refused_before_expansion(tmp_path: Path) -> None:
    """A 1 kB file whose aliases expand to 10**15 leaves is refused naming the file, key, bound and expanded size."""
    # written out, this file would be petabytes: any walk, copy or repr of the constructed values never returns
    message = _refusal(tmp_path, arch=_laughs(15) + ARCH_V04)
    assert message.startswith(f"{tmp_path / 'arch.yaml'}: laughs_ignore: with its YAML aliases written out the file "
                              f"would hold ")
    assert f"aliases may expand a file to at most {MAX_EXPANDED_CHARS:,} characters" in message
    expanded = int(message.split("would hold ")[1].split(" characters")[0].replace(",", ""))
    assert expanded > 4 * 10**15


def test_laughs_in_a_known_key_are_refused(tmp_path: Path) -> None:
    """Aliases expanded under a key the importer reads (mapping) are refused the same way, naming that key and its line."""
    text = _laughs(4, "a_ignore") + "mapping: [" + ", ".join(["*a4"] * 10) + "]\n"
    message = _refusal(tmp_path, map=text)
    # a0 = [] 2 + 10 x 'lol' 4 = 42, a(k) = 2 + 10 a(k-1): a4 = 422,222; the file: {} 2, 'laughs_ignore' 14 + its
    # mapping 2 + five 'aK' keys 15 + a0..a4 469,130, 'a_ignore' 9 + a4, 'mapping' 8 + [] 2 + 10 a4 = 5,113,624
    assert message.endswith("map.yaml: mapping: with its YAML aliases written out the file would hold 5,113,624 "
                            "characters (the largest part from line 8); aliases may expand a file to at most 4,000,000 "
                            "characters (aliases to aliases grow exponentially)")


def test_expansion_counts_characters_to_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each scalar counts its length plus one, each collection two; a document exactly at the bound is read."""
    node = yaml.compose("a: [x, yy]\n", Loader=yaml.SafeLoader)    # {} 2 + 'a' 2 + [] 2 + 'x' 2 + 'yy' 3
    monkeypatch.setattr(timeloop_import, "MAX_EXPANDED_CHARS", 11)
    timeloop_import._check_expansion(yaml, node, Path("f.yaml"))
    monkeypatch.setattr(timeloop_import, "MAX_EXPANDED_CHARS", 10)
    with pytest.raises(ConfigError, match=r"^f\.yaml: a: with its YAML aliases written out the file would hold 11 "
                                          r"characters \(the largest part from line 1\); aliases may expand a file to at "
                                          r"most 10 characters"):
        timeloop_import._check_expansion(yaml, node, Path("f.yaml"))


def test_alias_chain_deeper_than_the_limit_is_refused(tmp_path: Path) -> None:
    """Aliases that each wrap the one before nest past MAX_YAML_DEPTH once expanded: refused, not a RecursionError."""
    lines = ["chain_ignore:", "  a0: &a0 x"] + [f"  a{i}: &a{i} [*a{i - 1}]" for i in range(1, 2 * MAX_YAML_DEPTH)]
    message = _refusal(tmp_path, arch="\n".join(lines) + "\n" + ARCH_V04)
    assert message.endswith(f"arch.yaml: chain_ignore: with its YAML aliases written out, lists and mappings nest "
                            f"{2 * MAX_YAML_DEPTH + 1} levels deep (the deepest from line 2); they may nest at most "
                            f"{MAX_YAML_DEPTH} levels")


@pytest.mark.parametrize(("text", "line", "anchor"), [
    ("x_ignore: &a [*a]\n", 1, 1),
    ("globals:\n  a: &a\n    b: [1, 2]\n    c: [*a]\n", 4, 2),
])
def test_recursive_alias_is_refused(tmp_path: Path, text: str, line: int, anchor: int) -> None:
    """An alias inside its own anchor is refused naming the line of its collection and of the anchor."""
    message = _refusal(tmp_path, arch=text + ARCH_V04)
    assert message.endswith(f"arch.yaml: line {line}: a YAML alias here names the collection at line {anchor}, which "
                            f"holds it; an alias must not recur inside its own anchor (it never ends when expanded)")


def test_alias_fan_out_within_the_bound_meets_the_mapping_budget(tmp_path: Path) -> None:
    """An architecture of 2**17 aliased nodes (under the character bound) is still stopped by the key check's budget."""
    node = "{name: n}"
    for i in range(16):                  # each anchor defined where first used: the file holds no other copy
        node = f"{{name: n, subtree: [&a{i} {node}, *a{i}]}}"
    message = _refusal(tmp_path, arch=f"architecture: {{subtree: [{node}]}}\n")
    assert "the files must hold at most 100000 YAML mappings (YAML aliases can multiply them)" in message


def test_anchors_and_merges_still_import(tmp_path: Path) -> None:
    """Attributes given by an anchor and a `<<` merge import exactly as the same attributes written out."""
    attributes = "{depth: 32, width: 16, meshX: 2, read_bandwidth: 2}"
    merged = ARCH_V04.replace(attributes, "{<<: *buffer}", 1) \
        .replace("architecture:", f"buffer_ignore: &buffer {attributes}\narchitecture:", 1)
    assert "<<: *buffer" in merged
    (tmp_path / "merged").mkdir()
    (tmp_path / "plain").mkdir()
    written = import_timeloop(_write(tmp_path / "merged", **{**DENSE, "arch": merged}), tmp_path / "merged" / "out")
    plain = import_timeloop(_write(tmp_path / "plain", **DENSE), tmp_path / "plain" / "out")
    def text(folder: str, files: dict[str, Path]) -> str:
        return files["hardware"].read_text(encoding="utf-8").replace(str(tmp_path / folder), "FOLDER")

    assert text("merged", written) == text("plain", plain)


def test_an_included_value_counts_at_its_loaded_size(tmp_path: Path) -> None:
    """Aliases of a Jinja include() count the value it loaded, not its short '!include_loaded' name (a bypass)."""
    text = "bomb_ignore:\n  l0: &l0 !include_loaded include_loaded_0\n"
    text += "".join(f"  l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]\n" for i in range(1, 5))
    text += "use: *l4\n"
    loaded = {"include_loaded_0": list(range(2000))}  # 8,892 characters (numbers, each + 1, and 2 for the list)
    # written out: l0..l4 hold 8,892 + 88,922 + 889,222 + 8,892,222 + 88,922,222 and `use` another 88,922,222
    with pytest.raises(ConfigError, match=r"bomb_ignore: with its YAML aliases written out the file would hold "
                                          r"187,723,737 characters"):
        timeloop_import._parse_yaml(yaml, tmp_path / "spec.yaml", text, loaded, rendered=True)
    small = {"include_loaded_0": [1, 2, 3]}
    assert timeloop_import._parse_yaml(yaml, tmp_path / "spec.yaml", text, small, rendered=True)["use"][0][0][0][0] == [1, 2, 3]
