"""A tiny process campaign under Snakemake: end to end, resumed after a kill, audited.

Each Snakemake run of this campaign takes about a minute on two loaded cores (Snakemake's
start, 12 jobs, 2 x 4 structures of 36^2, a tiny 2D surrogate trained for two epochs that
predicts the design's m, a 2 x 2 reference grid): the file is slow because it runs the real
workflow.
"""

from __future__ import annotations

import json
import shutil

import h5py
import numpy as np
import pytest

from conftest import run_cli
from microinv.design.goal import wilson_interval
from test_workflow import kill_after_a_solve, snakemake

TINY_PROCESS = {
    "campaign": "psptiny",
    "seed": 5,
    "structure": {"n": 36, "dim": 2},
    "samples": {"count": 8, "per_chunk": 4},
    "splits": {"train": 0.5, "val": 0.25, "test": 0.25},
    "solve": {"properties": ["permeability"], "tasks": 1, "rtol": 1e-6},
    "surrogate": {"conv_widths": [4], "fc_widths": [8], "max_epochs": 2, "batch_size": 8, "ensemble": 1},
    "design": {"targets": {}},
    "process": {"structures_per_phi": 2},
    "process_design": {"boxes": {"low-x-high-y": [[-0.4, 0.6], [0.6, 1.6]]}, "structures": 4, "trials": 3,
                       "reselect": 2, "reselect_structures": 4, "validation_count": 8, "reference_grid": 2, "reference_structures": 2,
                       "reference_points_per_job": 3},
}
VALIDATION = "results/psptiny/design/low-x-high-y/process/validation.json"


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("process")
    proc = snakemake(workdir, config=TINY_PROCESS)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return workdir / "results" / "psptiny"


def test_process_campaign_outputs(campaign):
    with h5py.File(campaign / "dataset.h5", "r") as fh:
        assert fh["structures"].shape == (8, 36, 36)
        theta = fh["theta"][()]
        assert theta.shape == (8, 2) and (theta[0::2] == theta[1::2]).all()  # two structures per phi
        assert fh["properties/permeability/value"].shape == (8, 2)
    with h5py.File(campaign / "design" / "reference-grid.h5", "r") as fh:
        assert fh["phi"][()].tolist() == [[1.0, 0.2], [1.0, 2.0], [9.0, 0.2], [9.0, 2.0]]
        assert fh["m"].shape == (4, 2, 2) and fh["cells"][()].tolist() == [0, 1, 2, 3]
        m = fh["m"][()]
    parts = sorted((campaign / "design" / "reference-grid").glob("chunk-*.h5"))  # 3 + 1 points, two jobs
    assert [p.name for p in parts] == ["chunk-0000.h5", "chunk-0001.h5"]
    with h5py.File(parts[1], "r") as fh:
        assert fh["cells"][()].tolist() == [3] and np.array_equal(fh["m"][()], m[3:])
    record = json.loads((campaign.parent.parent / VALIDATION).read_text())
    assert {"phi", "p_in_target", "p_in_target_ci", "phi_ref", "p_ref"} <= set(record)
    assert record["count"] == 8 and record["p_in_target"] == record["in_target"] / 8
    assert record["p_in_target_ci"] == list(wilson_interval(record["in_target"], 8))
    design = json.loads((campaign / "design/low-x-high-y/process/design.json").read_text())
    assert design["trials"] == 3 and record["phi"] == design["phi"]
    chosen = design["reselection"]["candidates"][design["reselection"]["chosen"]]
    assert len(design["reselection"]["candidates"]) == 2 and chosen["phi"] == design["phi"]
    assert design["predictor"].startswith("surrogate results/psptiny/surrogate/model.ckpt (test MAE ")
    metrics = json.loads((campaign / "surrogate" / "metrics.json").read_text())
    assert metrics["target"] == "permeability" and metrics["dim"] == 2 and "mae" in metrics["test"]
    for name in ("p-map", "cloud", "structures-low-x-high-y"):
        assert (campaign / "report" / "process" / f"{name}.png").stat().st_size > 1000


def test_process_campaign_passes_the_audit(campaign):
    proc = run_cli("audit", campaign, "--json", campaign.parent / "audit.json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((campaign.parent / "audit.json").read_text())
    assert report["ok"] is True and report["failures"] == 0


def test_audit_names_a_process_design_that_is_not_its_study(campaign, tmp_path):
    copy = tmp_path / "results" / "psptiny"  # the same place relative to the working folder
    shutil.copytree(campaign, copy)
    path = copy / "design/low-x-high-y/process/design.json"
    design = json.loads(path.read_text())
    design["phi"] = [5.0, 1.0]
    path.write_text(json.dumps(design))
    proc = run_cli("audit", copy, "--skip-solve")
    assert proc.returncode != 0
    assert "design/low-x-high-y/process/design.json: reselection: phi* [5.0, 1.0]" in proc.stdout


def test_new_design_settings_keep_the_reference_grid(campaign):
    """More trials re-run the designs; the reference grid (its own keys only) stays."""
    workdir = campaign.parent.parent
    more = {**TINY_PROCESS, "process_design": {**TINY_PROCESS["process_design"], "trials": 4}}
    proc = snakemake(workdir, "-n", config=more)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "rule process_design:" in proc.stdout and "rule process_grid:" not in proc.stdout
    grid = {**TINY_PROCESS, "process_design": {**TINY_PROCESS["process_design"], "reference_structures": 3}}
    assert "rule process_grid:" in snakemake(workdir, "-n", config=grid).stdout
    snakemake(workdir, "-n", config=TINY_PROCESS)  # tiny.yaml as the campaign's again


def test_killed_process_campaign_resumes(campaign, tmp_path):
    """SIGKILL once the first solve chunk is done; the rerun redoes nothing finished and ends
    at the uninterrupted campaign's design and validation."""
    mtimes = kill_after_a_solve(tmp_path, config=TINY_PROCESS)
    assert mtimes and not (tmp_path / VALIDATION).exists()
    assert snakemake(tmp_path, "--unlock", config=TINY_PROCESS).returncode == 0
    rerun = snakemake(tmp_path, config=TINY_PROCESS)
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    for out, mtime in mtimes.items():
        assert (tmp_path / out).stat().st_mtime_ns == mtime, f"{out} was recomputed"
    resumed = json.loads((tmp_path / VALIDATION).read_text())
    reference = json.loads((campaign.parent.parent / VALIDATION).read_text())
    for key in ("phi", "p_in_target", "in_target", "phi_ref", "p_ref", "p_ref_validated"):
        assert resumed[key] == reference[key], key
    with h5py.File(tmp_path / "results/psptiny/dataset.h5") as a, h5py.File(campaign / "dataset.h5") as b:
        np.testing.assert_array_equal(a["structures"][()], b["structures"][()])
