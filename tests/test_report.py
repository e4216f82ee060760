"""Report figures, the Snakemake HTML report and the XDMF views, on a real tiny campaign.

The campaign (six 32^3 structures, data stages plus the report rules) runs once per test
session; test_audit.py and test_crate.py use the same run through :func:`tiny_campaign`.
"""

from __future__ import annotations

import shutil
import subprocess

import h5py
import numpy as np
import pytest
import yaml

from conftest import BIN, ROOT, TINY_CONFIG, run_cli
from microinv.figures.dataset import solve_seconds
from microinv.mpi_env import launcher_environment

CONFIG = TINY_CONFIG
CAMPAIGN = "results/tiny"
# the data stages and the report rules; surrogate and design stages are not run here
TARGETS = [f"{CAMPAIGN}/dataset.h5", f"{CAMPAIGN}/report/structures.png",
           f"{CAMPAIGN}/report/descriptors.png", f"{CAMPAIGN}/dataset.xdmf",
           *(f"{CAMPAIGN}/structures/chunk-{c:04d}.xdmf" for c in range(3))]
FIGURES = ["diffusivity-histograms.png", "diffusivity-joint.png", "diffusivity-porosity.png", "diffusivity-convergence.png",
           "descriptors.png"]


def snakemake(workdir, *args):
    cmd = [str(BIN / "snakemake"), "-s", str(ROOT / "Snakefile"), "--configfile", "tiny.yaml",
           "--profile", str(ROOT / "profiles" / "local"), "--cores", "2", *args]
    return subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=900,
                          env=launcher_environment())


def tiny_campaign(tmp_path_factory):
    """The folder holding results/tiny, run once per session (later calls reuse it)."""
    workdir = tmp_path_factory.getbasetemp() / "report-campaign"
    done = workdir / "complete"
    if not done.exists():
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir()
        (workdir / "tiny.yaml").write_text(yaml.safe_dump(CONFIG))
        proc = snakemake(workdir, *TARGETS)
        assert proc.returncode == 0, proc.stderr[-4000:]
        done.touch()
    return workdir


def copy_campaign(workdir, dest):
    """A copy of the campaign (results/ and the config) to tamper with; its results/tiny."""
    shutil.copytree(workdir / "results", dest / "results")
    shutil.copy(workdir / "tiny.yaml", dest / "tiny.yaml")
    return dest / CAMPAIGN


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tiny_campaign(tmp_path_factory)


def test_html_report_holds_every_figure_with_its_caption(workdir):
    proc = snakemake(workdir, "--report", "report.html", *TARGETS)
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = (workdir / "report.html").read_text()
    for name in FIGURES + ["structures.png"]:
        assert name in html, name
    # captions, rendered (the convergence caption quotes the config's tolerance)
    for text in ("Joint distribution of the effective property", "relative tolerance\n1e-06",
                 "two-point correlation S2", "Orthogonal mid-slices"):
        assert text in html.replace("\\n", "\n"), text
    # stages that did not run leave no figure behind
    assert "parity.png" not in html and "posterior-marginals.png" not in html
    assert 'src="http' not in html  # self-contained


def test_figures_command_writes_the_dataset_figures(workdir, tmp_path):
    proc = run_cli("figures", workdir / CAMPAIGN / "dataset.h5", "-o", tmp_path)
    assert proc.returncode == 0, proc.stderr
    for name in FIGURES:
        png = (tmp_path / name).read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000, name


def test_solve_times_come_from_the_chunks_in_row_order(workdir, tmp_path):
    campaign = copy_campaign(workdir, tmp_path)
    with h5py.File(campaign / "dataset.h5", "r") as fh:
        seconds = solve_seconds(campaign / "dataset.h5", fh, "diffusivity")
    for chunk in range(3):
        with h5py.File(campaign / f"properties/diffusivity/chunk-{chunk:04d}.h5", "r") as pc:
            np.testing.assert_array_equal(seconds[pc["sample_index"][()]], pc["seconds"][()])
    (campaign / "properties/diffusivity/chunk-0001.h5").unlink()
    with h5py.File(campaign / "dataset.h5", "r") as fh:
        assert solve_seconds(campaign / "dataset.h5", fh, "diffusivity") is None


def _toy_posterior(path, settings):
    """A two-generation ABC posterior of four parameters, ``settings`` as its run's."""
    from microinv.design.history import Generation, PosteriorHistory

    rng = np.random.default_rng(0)
    history = PosteriorHistory(path)
    history.start(settings)
    for t, tol in enumerate((100.0, 50.0)):
        history.append(Generation(index=t, particles=rng.random((16, 4)), weights=np.full(16, 1 / 16),
                                  distances=rng.random(16) * tol, seeds=np.arange(16, dtype=np.uint64),
                                  eta=rng.random((16, 3)), tolerance=tol, trials=20 * (t + 1),
                                  evaluations=20 * (t + 1), acceptance_rate=16 / (20 * (t + 1)), seconds=1.0))
    return path


def test_posterior_figures(tmp_path):
    posterior = _toy_posterior(tmp_path / "posterior.h5", {"param_names": ["a_x", "a_y", "a_z", "eps"]})
    proc = run_cli("figures", posterior, "-o", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["acceptance.png", "posterior-marginals.png"]

    with h5py.File(tmp_path / "empty.h5", "w") as fh:
        fh.attrs["format"], fh.attrs["settings"] = "microinv.posterior/1", "{}"
    proc = run_cli("figures", tmp_path / "empty.h5", "-o", tmp_path / "none")
    assert proc.returncode == 2 and "no finished generation" in proc.stderr


def test_parameter_axes_are_named_never_numbered(tmp_path):
    # a posterior that does not name its parameters gets no theta_0..theta_3 axes: it is refused
    unnamed = _toy_posterior(tmp_path / "unnamed.h5", {})
    proc = run_cli("figures", unnamed, "-o", tmp_path / "out")
    assert proc.returncode == 2, proc.stderr
    assert "unnamed.h5: settings: no param_names" in proc.stderr
    assert not (tmp_path / "out").exists()


def test_figure_modules_leave_the_matplotlib_backend_alone(tmp_path):
    # importing and drawing with every figure module neither sets a backend nor loads pyplot
    code = f"""
import sys
import matplotlib
import numpy as np
matplotlib.use("svg")
from microinv.figures import answer, dataset, design, structures, surrogate
structures.slices(np.zeros((4, 5, 6), dtype=np.uint8), {str(tmp_path / "slices.png")!r})
surrogate.learning_curves({str(tmp_path / "curves.png")!r}, {{}})
print(matplotlib.get_backend(), "matplotlib.pyplot" in sys.modules)
"""
    proc = subprocess.run([str(BIN / "python"), "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.split() == ["svg", "False"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["curves.png", "slices.png"]


def _read_xdmf(path):
    """{time: (dimensions, cell data 'solid')} of every grid, read by VTK's XDMF reader."""
    vtk = pytest.importorskip("vtk")
    from vtk.util.numpy_support import vtk_to_numpy

    reader = vtk.vtkXdmfReader()
    reader.SetFileName(str(path))
    reader.UpdateInformation()
    times = reader.GetOutputInformation(0).Get(vtk.vtkStreamingDemandDrivenPipeline.TIME_STEPS())
    out = {}
    for t in times:
        reader.UpdateTimeStep(t)
        grid = reader.GetOutputDataObject(0)
        out[int(t)] = (grid.GetDimensions(), vtk_to_numpy(grid.GetCellData().GetArray("solid")).copy())
    return out


def test_xdmf_opens_every_structure_in_place(workdir):
    campaign = workdir / CAMPAIGN
    with h5py.File(campaign / "dataset.h5", "r") as fh:
        structures, index = fh["structures"][()], fh["sample_index"][()]
    grids = _read_xdmf(campaign / "dataset.xdmf")
    assert sorted(grids) == index.tolist()  # one grid per structure, time = sample index
    for row, sample in enumerate(index):
        dims, solid = grids[int(sample)]
        assert dims == (33, 33, 33)
        np.testing.assert_array_equal(solid, structures[row].ravel())
    chunk = _read_xdmf(campaign / "structures/chunk-0001.xdmf")  # rows 0, 1 = samples 2, 3
    assert sorted(chunk) == [2, 3]
    np.testing.assert_array_equal(chunk[3][1], structures[3].ravel())


def test_xdmf_axis_order_on_a_non_cubic_grid(tmp_path):
    rng = np.random.default_rng(1)
    solids = (rng.random((2, 5, 6, 7)) < 0.5).astype(np.uint8)
    with h5py.File(tmp_path / "s.h5", "w") as fh:
        fh.create_dataset("structures", data=solids, chunks=(1, 5, 6, 7), compression="gzip")
        fh["sample_index"] = np.array([10, 11])
    proc = run_cli("xdmf", tmp_path / "s.h5")
    assert proc.returncode == 0, proc.stderr
    grids = _read_xdmf(tmp_path / "s.xdmf")
    # VTK's i (ParaView's X) runs along the last, fastest array axis
    assert grids[11][0] == (8, 7, 6)
    np.testing.assert_array_equal(grids[11][1], solids[1].ravel())
