"""``microinv audit`` on a real tiny campaign and on tampered copies of it.

Each tampering test changes one thing the way a user or a bad disk could, and checks that
the audit fails and names the file (and the sample, where it is a sample's) at fault.
"""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from conftest import run_cli
from microinv.audit import Campaign, agreement_tolerance, audit_campaign
from microinv.audit.reproduce import check_resolve
from test_report import copy_campaign, tiny_campaign


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tiny_campaign(tmp_path_factory)


@pytest.fixture
def copy(workdir, tmp_path):
    return copy_campaign(workdir, tmp_path)


def audit(campaign, *args):
    """Run the command; (exit status, JSON report, printed summary)."""
    proc = run_cli("audit", campaign, "--json", campaign.parent / "audit.json", *args)
    assert proc.returncode in (0, 1), proc.stderr
    return proc.returncode, json.loads((campaign.parent / "audit.json").read_text()), proc.stdout


def failures(report, check):
    return next(c for c in report["checks"] if c["name"] == check)["failures"]


def test_untouched_campaign_passes_with_regeneration_and_mpi_resolve(copy):
    status, report, summary = audit(copy, "--sample-fraction", "0.5", "--seed", "3")
    assert status == 0 and report["ok"], summary
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["regenerate"]["checked"] == 3
    assert checks["resolve"]["checked"] == 9  # 3 samples x 3 axes, under mpiexec -n 2
    assert checks["manifest"]["checked"] == 6 and checks["inputs"]["checked"] == 6
    # chunk -> chunk links (config.json is compared key by key, 10 records)
    assert checks["config"]["checked"] == 10
    assert checks["status"]["details"]["status_counts"]["diffusivity"]["converged"] == 18
    assert "audit passed" in summary


def test_flipped_byte_in_a_structures_chunk(copy):
    chunk = copy / "structures/chunk-0000.h5"
    with h5py.File(chunk, "r") as fh:  # a byte inside the stored data of row 1 (sample 1)
        info = fh["structures"].id.get_chunk_info_by_coord((1, 0, 0, 0))
    data = bytearray(chunk.read_bytes())
    data[info.byte_offset + info.size // 2] ^= 0xFF
    chunk.write_bytes(bytes(data))
    status, report, summary = audit(copy, "--skip-solve")
    assert status == 1 and report["culprits"] == ["structures/chunk-0000.h5"], summary
    assert failures(report, "manifest") and failures(report, "inputs")
    assert [f["sample"] for f in failures(report, "contents")] == [1]


def test_edited_property_value(copy):
    with h5py.File(copy / "properties/diffusivity/chunk-0001.h5", "r+") as fh:
        fh["value"][1, 2] *= 1 + 1e-6  # sample 3, axis z: one part in a million
    status, report, summary = audit(copy, "--skip-solve")
    assert status == 1 and report["culprits"] == ["properties/diffusivity/chunk-0001.h5"], summary
    assert [(f["sample"], f["axis"]) for f in failures(report, "contents")] == [(3, 2)]
    # the re-solve of that sample catches it too, within the recorded tolerance
    resolve = check_resolve(Campaign(copy), np.array([3]))
    assert [(f.file, f.sample, f.axis) for f in resolve.failures] == \
        [("properties/diffusivity/chunk-0001.h5", 3, 2)]


def test_dropped_chunk(copy):
    (copy / "structures/chunk-0002.h5").unlink()
    status, report, summary = audit(copy, "--skip-solve")
    assert status == 1 and report["culprits"] == ["structures/chunk-0002.h5"], summary
    assert "missing" in failures(report, "layout")[0]["message"]
    assert "properties/diffusivity/chunk-0002.h5" in failures(report, "inputs")[0]["message"]


def test_config_changed_after_the_run(copy):
    config = json.loads((copy / "config.json").read_text())
    config["solve"]["rtol"] = 1e-4
    (copy / "config.json").write_text(json.dumps(config, indent=1))
    status, report, summary = audit(copy, "--skip-solve")
    assert status == 1 and report["culprits"] == ["config.json"], summary
    (mismatch,) = failures(report, "config")
    assert mismatch["message"].startswith("solve.rtol: 0.0001 on disk, 1e-06 in the records of")


def test_config_change_for_later_stages_leaves_the_data_valid(copy):
    """Keys the data stages do not depend on may change after they ran: the workflow re-runs
    only the stages that use them (here training and design, absent from this campaign)."""
    config = json.loads((copy / "config.json").read_text())
    config["surrogate"]["max_epochs"] += 5
    config["design"]["population"] += 8
    (copy / "config.json").write_text(json.dumps(config, indent=1))
    status, report, summary = audit(copy, "--skip-solve")
    assert status == 0 and report["ok"], summary


def test_split_that_drops_a_usable_sample(copy):
    with h5py.File(copy / "dataset.h5", "r+") as fh:
        test = fh["splits/test"][()]
        del fh["splits/test"]
        fh["splits/test"] = test[1:]
    status, report, summary = audit(copy, "--skip-solve")
    assert status == 1 and report["culprits"] == ["dataset.h5"], summary
    (missing,) = failures(report, "splits")
    assert missing["sample"] == int(test[0]) and "in no split" in missing["message"]


def test_resolve_tolerance_bounds_the_solver_error(workdir):
    """The tolerance the audit allows at rtol holds the solver's actual error (against a
    solve at rtol 1e-10), and at the campaign's rtol 1e-6 it catches one part in 10^7."""
    import petsc4py

    petsc4py.init([])
    from microinv.physics import effective_diffusivity

    with h5py.File(workdir / "results/tiny/dataset.h5", "r") as fh:
        solid, porosity = fh["structures"][0], fh["descriptors/porosity"][0]
    for axis in range(3):
        exact = effective_diffusivity(solid, axis, bc="fixed", rtol=1e-10)
        for rtol in (1e-2, 1e-3, 1e-6):
            res = effective_diffusivity(solid, axis, bc="fixed", rtol=rtol)
            tol = agreement_tolerance("diffusivity", {**res.settings, "rtol": rtol}, res.value, porosity)
            assert abs(res.value - exact.value) / exact.value <= tol / 2, (axis, rtol)
        assert tol < 1e-7


def test_api_reports_the_same_as_the_command(copy):
    report = audit_campaign(copy, solve=False)
    assert report.ok and [c.name for c in report.checks] == [
        "layout", "manifest", "inputs", "config", "contents", "status", "splits", "designs",
        "regenerate"]
    assert run_cli("audit", copy / "missing").returncode == 2  # not a campaign folder
