"""The HTML report: self-contained, escaped, one section per result file, rendered in headless Chromium."""

from __future__ import annotations

import argparse
import base64
import io
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from report_fixtures import write_results

from energysim.errors import InputError
from energysim.report.html import build_report, render_report
from energysim.report.report_commands import register

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class _Collector(HTMLParser):
    """Tags and attributes of a page, for static checks."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def of(self, name: str) -> list[dict]:
        return [attrs for tag, attrs in self.tags if tag == name]


def _parse(text: str) -> _Collector:
    collector = _Collector()
    collector.feed(text)
    return collector


def _chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def _run_chromium(binary: str, tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "chromium-profile"
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
               "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
               f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND", *arguments]
    environment = {**os.environ, "HOME": str(tmp_path)}  # keep Chromium's caches and crash dumps in the test's folder
    return subprocess.run(command, capture_output=True, text=True, timeout=90, check=False, env=environment)


@pytest.fixture(scope="module")
def full_report(tmp_path_factory) -> str:
    """The report of the four-file fixture folder, built once per module (rendering plots takes ~1 s)."""
    folder = write_results(tmp_path_factory.mktemp("full") / "results")
    return build_report(folder, folder.parent / "report.html").read_text(encoding="utf-8")


def test_report_is_self_contained(full_report):
    """Every <img> is a PNG data URI; there are no scripts, stylesheets links, iframes or http(s) references."""
    text = full_report
    page = _parse(text)
    images = page.of("img")
    assert len(images) == 6
    for attrs in images:
        assert attrs["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(attrs["src"].split(",", 1)[1]).startswith(b"\x89PNG")
        assert attrs.get("alt")
    assert not page.of("script") and not page.of("link") and not page.of("iframe")
    assert all(attrs["href"].startswith("#") for attrs in page.of("a"))
    assert not re.search(r"https?://|@import|url\(", text)


def test_sections_follow_the_files_present(tmp_path):
    """A folder with only compare.csv gives only the comparison section."""
    only = write_results(tmp_path / "only", files=("compare.csv",))
    page = _parse(render_report(only))
    assert [attrs["id"] for attrs in page.of("section")] == ["compare"]


def test_all_four_sections_in_file_order(full_report):
    """With all four files the sections come in file order: summary, energy, compare, sensitivity."""
    page = _parse(full_report)
    assert [attrs["id"] for attrs in page.of("section")] == ["summary", "energy", "compare", "sensitivity"]


def test_estimate_totals_come_first(tmp_path):
    """estimate.csv (energysim estimate --out) renders as its own first section with the TOTAL rows as a separate table."""
    folder = write_results(tmp_path / "results", files=("summary.csv",))
    (folder / "estimate.csv").write_text(
        "hardware,layer,energy_uj_dense,energy_uj_pruned,energy_saving\n"
        "eie,fc1,2.0,1.0,2.0\neie,TOTAL,2.0,1.0,2.0\n"
    )
    text = render_report(folder)
    assert [attrs["id"] for attrs in _parse(text).of("section")] == ["estimate", "summary"]
    totals = text.split("<h3>Totals per hardware run</h3>", 1)[1].split("</table>", 1)[0]
    assert ">TOTAL<" in totals and ">fc1<" not in totals


def test_best_ratio_table_shows_the_lesson(full_report):
    """Best energy as a fraction of dense, pattern x run: unstructured is 1 on the dense array, 0.1 on EIE; the 2:4 run (nothing ran) is empty."""
    table = full_report.split("<h3>Best energy as a fraction of dense (pattern x hardware)</h3>", 1)[1].split("</table>", 1)[0]
    header = re.findall(r"<th>([^<]*)</th>", table)
    assert header == ["pattern", "lecture-array", "eie-lecture", "a100:sparse_2_4"]
    rows = {cells[0]: cells[1:] for cells in (re.findall(r"<td[^>]*>([^<]*)</td>", row) for row in table.split("<tr>")[2:])}
    assert rows == {"unstructured": ["1", "0.1", ""], "channel": ["0.1", "0.1", ""]}


def test_table_text_is_escaped(full_report):
    """A status holding '<script>' appears as escaped text, not as markup."""
    text = full_report
    assert "<script>" not in text
    assert "mask is not 2:4 (&lt;script&gt;alert(1)&lt;/script&gt;)" in text


def test_fraction_of_dense_in_totals(full_report):
    """The totals table gives the pruned variant energy and latency 0.4 of the dense variant's (the ratio direction is pruned / dense)."""
    text = full_report
    totals = text.split("<h3>Totals per run</h3>", 1)[1].split("</table>", 1)[0]
    header = re.findall(r"<th>([^<]*)</th>", totals)
    pruned_row = [row for row in totals.split("<tr>") if ">pruned<" in row][0]
    cells = dict(zip(header, re.findall(r"<td[^>]*>([^<]*)</td>", pruned_row)))
    assert (cells["energy_vs_dense"], cells["latency_vs_dense"]) == ("0.4", "0.4")


def test_real_run_output_renders(tmp_path):
    """The summary.csv and energy.csv that `energysim run --out` writes render without a variant column."""
    from energysim.cli import main

    folder = tmp_path / "run"
    assert main(["run", "lecture-array", "lenet-300-100", "--out", str(folder)], out=io.StringIO(), err=io.StringIO()) == 0
    page = _parse(render_report(folder))
    assert [attrs["id"] for attrs in page.of("section")] == ["summary", "energy"]
    assert len(page.of("img")) == 2


@pytest.mark.parametrize(
    ("setup", "pattern"),
    [
        (lambda d: None, r"holds none of estimate\.csv, summary\.csv, energy\.csv, compare\.csv, comparison\.csv, sensitivity\.csv"),
        (lambda d: (d / "compare.csv").write_text("pattern,hardware\nx,y\n"), r"compare\.csv: column 'accuracy' is required"),
        (lambda d: (d / "summary.csv").write_text(""), r"summary\.csv: is empty"),
    ],
)
def test_bad_results_folder_is_refused(tmp_path, setup, pattern):
    """An empty folder, a missing column and an empty file each raise InputError naming the file; no report is written."""
    folder = tmp_path / "results"
    folder.mkdir()
    setup(folder)
    with pytest.raises(InputError, match=pattern):
        build_report(folder, tmp_path / "report.html")
    assert not (tmp_path / "report.html").exists()


def test_report_command_defaults_to_results_folder(tmp_path):
    """`energysim report RESULTS` writes RESULTS/report.html and one summary line, returning 0."""
    results_dir = write_results(tmp_path / "results", files=("sensitivity.csv",))
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["report", str(results_dir)])
    out = io.StringIO()
    assert args.handler(args, out) == 0
    assert (results_dir / "report.html").is_file()
    assert out.getvalue().startswith(f"wrote {results_dir / 'report.html'} (") and "self-contained" in out.getvalue()


_HARNESS = """<!DOCTYPE html><html><body><pre id="result">pending</pre>
<iframe id="report" src="report.html" width="1280" height="900"></iframe>
<script>
document.getElementById("report").addEventListener("load", function () {
  var doc = this.contentDocument, lines = [];
  for (var i = 0; i < doc.images.length; i++) {
    var img = doc.images[i];
    lines.push("img " + img.complete + " " + img.naturalWidth + "x" + img.naturalHeight);
  }
  var resources = this.contentWindow.performance.getEntriesByType("resource");
  for (var j = 0; j < resources.length; j++) { lines.push("resource " + resources[j].name); }
  lines.push("tables " + doc.querySelectorAll("table").length);
  lines.push("title " + doc.title);
  document.getElementById("result").textContent = lines.join("\\n");
});
</script></body></html>
"""


def test_report_renders_in_headless_chromium(results_dir, tmp_path):
    """Headless Chromium, offline: 12 tables in the DOM, every <img> a decoded data: URI, no other resource, a non-blank screenshot."""
    binary = _chromium()
    if binary is None:
        pytest.skip(f"no Chromium binary found on PATH (looked for {', '.join(CHROMIUM_NAMES)}); install the 'chromium' package")
    site = tmp_path / "site"
    report = build_report(results_dir, site / "report.html")
    # 1. The report's own DOM as Chromium parsed it.
    dumped = _run_chromium(binary, tmp_path, "--dump-dom", report.resolve().as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    dom = _parse(dumped.stdout)
    assert len(dom.of("table")) == 12 == report.read_text(encoding="utf-8").count("<table>")
    assert len(dom.of("img")) == 6 and all(a["src"].startswith("data:image/png;base64,") for a in dom.of("img"))
    assert [a["id"] for a in dom.of("section")] == ["summary", "energy", "compare", "sensitivity"]
    assert "Pareto front per hardware" in dumped.stdout and "Points that could not run" in dumped.stdout
    # 2. Images decoded and resources fetched, read by a same-folder harness page (the report itself has no script).
    (site / "harness.html").write_text(_HARNESS, encoding="utf-8")
    probed = _run_chromium(binary, tmp_path, "--allow-file-access-from-files", "--virtual-time-budget=15000", "--dump-dom",
                           (site / "harness.html").resolve().as_uri())
    assert probed.returncode == 0, probed.stderr[-2000:]
    result = re.search(r'<pre id="result">(.*?)</pre>', probed.stdout, re.S).group(1).splitlines()
    images = [line for line in result if line.startswith("img ")]
    assert len(images) == 6
    for line in images:
        complete, size = line.split()[1:]
        width, height = (int(v) for v in size.split("x"))
        assert complete == "true" and width > 300 and height > 200, line
    assert [line for line in result if line.startswith("resource ")] == []
    assert "tables 12" in result and "title energysim report: mlp on lecture-array, eie-lecture, a100:sparse_2_4" in result
    # 3. A screenshot of the page shows the plots (many colours), not a blank page.
    shot = tmp_path / "shot.png"
    shotted = _run_chromium(binary, tmp_path, "--hide-scrollbars", "--window-size=1280,2400", f"--screenshot={shot}",
                            report.resolve().as_uri())
    assert shotted.returncode == 0 and shot.is_file(), shotted.stderr[-2000:]
    from PIL import Image

    with Image.open(shot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20)
    assert colours is not None and len(colours) > 100


def test_two_modes_of_one_hardware_render_as_two_runs_in_chromium(tmp_path):
    """Headless Chromium: a100:dense and a100:sparse_2_4 show as separate runs of 8 layers each, with 4 breakdown panels' image."""
    from report_fixtures import write_two_modes

    binary = _chromium()
    if binary is None:
        pytest.skip(f"no Chromium binary found on PATH (looked for {', '.join(CHROMIUM_NAMES)}); install the 'chromium' package")
    folder = write_two_modes(tmp_path / "est")
    report = build_report(folder, tmp_path / "site" / "report.html")
    dumped = _run_chromium(binary, tmp_path, "--dump-dom", report.resolve().as_uri())
    assert dumped.returncode == 0, dumped.stderr[-2000:]
    body = dumped.stdout.split("<h3>Totals per run</h3>", 1)[1].split("</table>", 1)[0]
    header = re.findall(r"<th>([^<]*)</th>", body)
    rows = [dict(zip(header, re.findall(r"<td[^>]*>([^<]*)</td>", row))) for row in body.split("<tr>")[2:]]
    assert [(r["run"], r["variant"], r["layers"]) for r in rows] == [
        ("a100:dense", "dense", "8"), ("a100:dense", "pruned", "8"),
        ("a100:sparse_2_4", "dense", "8"), ("a100:sparse_2_4", "pruned", "8")]
    assert "<title>energysim report: alexnet on a100:dense, a100:sparse_2_4</title>" in dumped.stdout
    assert len(_parse(dumped.stdout).of("img")) == 2
