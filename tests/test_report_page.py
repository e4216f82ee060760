"""The report answers first: report.html, as headless Chromium renders it, opens on the
validated designs of a real tiny campaign (surrogate and design stages included)."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from conftest import run_cli
from test_workflow import snakemake

CAMPAIGN = "results/tiny"
METHODS = ("abc", "bo")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    """A finished tiny campaign and its report.html."""
    workdir = tmp_path_factory.mktemp("answer")
    proc = snakemake(workdir)
    assert proc.returncode == 0, proc.stderr[-4000:]
    proc = snakemake(workdir, "--report", "report.html")
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "WARNING/" not in proc.stderr and "ERROR/" not in proc.stderr, proc.stderr[-4000:]
    return workdir


class _VisibleText(HTMLParser):
    """The text of a rendered page, without the scripts and styles (the report's data)."""

    def __init__(self):
        super().__init__()
        self.hidden, self.parts = 0, []

    def handle_starttag(self, tag, attrs):
        self.hidden += tag in ("script", "style")

    def handle_endtag(self, tag):
        self.hidden -= tag in ("script", "style")

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


def landing_text(report, profile) -> str:
    """Visible text of ``report`` as Chromium first shows it (no click)."""
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("needs Debian's chromium (envs/setup.sh installs it)")
    proc = subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
         "--virtual-time-budget=10000", "--dump-dom", report.as_uri()],
        capture_output=True, text=True, timeout=180, check=True)
    parser = _VisibleText()
    parser.feed(proc.stdout)
    return " ".join(" ".join(parser.parts).split())


def expected_numbers(campaign, method) -> list[str]:
    """The design's theta, solver eta +- standard error and miss +- standard error, as the
    answer prints them."""
    folder = campaign / "design" / "ref" / method
    validation = json.loads((folder / "validation.json").read_text())
    names = json.loads((folder / "design.json").read_text())["design"]["param_names"]
    assert names == ["a_x", "a_y", "a_z", "eps"]
    k = validation["solved"]
    numbers = [f"{name} = {value:.4g}" for name, value in zip(names, validation["theta"])]
    numbers += [f"{axis}: {mean:.3f} ± {std / math.sqrt(k):.3f}"
                for axis, mean, std in zip("xyz", validation["mean"], validation["std"])]
    miss = f"{validation['discrepancy_of_mean']:.3g} ± {validation['discrepancy_of_mean_sem']:.2g} %"
    return numbers + [miss, f"ref, {method.upper()}", f"validated: {validation['validated']}"]


def test_the_report_opens_on_the_validated_designs(workdir, tmp_path):
    text = landing_text(workdir / "report.html", tmp_path / "chromium")
    campaign = workdir / CAMPAIGN
    for method in METHODS:
        for number in expected_numbers(campaign, method):
            assert number in text, (number, text[:3000])
    metrics = json.loads((campaign / "surrogate/metrics.json").read_text())
    assert f"test MAPE {100 * metrics['test']['mape']:.3g} %" in text
    assert "6 structures of 32x32x32 voxels, 6 usable (train 3, val 2, test 1)" in text
    assert "solves" in text and "on 2 MPI ranks" in text
    # the answer comes first, the figures are one click away, the rule graph stays beside it
    assert text.index("Validated designs") < text.index("The figures, in the menu")
    assert "1. Answer" in text and "Workflow" in text


def test_summary_prints_the_answer(workdir):
    proc = run_cli("summary", workdir / CAMPAIGN)
    assert proc.returncode == 0, proc.stderr
    for method in METHODS:
        for number in expected_numbers(workdir / CAMPAIGN, method):
            assert number in proc.stdout, (number, proc.stdout)
    missing = run_cli("summary", workdir / CAMPAIGN, "--design", "ref/nothing")
    assert missing.returncode == 2 and "ref/nothing/validation.json: cannot read" in missing.stderr


def test_preview_and_bo_figures_are_benchmarked(workdir):
    benchmarks = workdir / CAMPAIGN / "benchmarks"
    for name in ("preview.tsv", "figures/ref-bo.tsv", "summary.tsv"):
        assert (benchmarks / name).read_text().startswith("s\t"), name
