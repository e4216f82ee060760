"""Levelset geometry through the pipeline: a tiny campaign under Snakemake with
``structure.field`` and ``solve.geometry: levelset``, its audit, and the command line."""

from __future__ import annotations

import copy
import json

import h5py
import numpy as np
import pytest

from conftest import TINY_CONFIG, run_cli
from microinv.microstructure import spinodoid_field
from microinv.physics.diffusion import effective_diffusivity
from test_report import snakemake

# The module runs one real campaign under Snakemake (sample, generate, solve under
# mpiexec -n 2, aggregate: about 1.5 min on 2 cores) and three audits (mpiexec re-solves).
pytestmark = [pytest.mark.slow, pytest.mark.mpi]

CONFIG = copy.deepcopy(TINY_CONFIG)
CONFIG["structure"]["field"] = True
CONFIG["solve"]["geometry"] = "levelset"
CAMPAIGN = "results/tiny"


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    """The tiny levelset campaign run to its dataset (six 32^3 structures, 3 chunks)."""
    import yaml

    workdir = tmp_path_factory.mktemp("levelset-campaign")
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(CONFIG))
    proc = snakemake(workdir, f"{CAMPAIGN}/dataset.h5")
    assert proc.returncode == 0, proc.stderr[-4000:]
    return workdir / CAMPAIGN


def test_chunks_carry_the_field_and_properties_record_the_levelset_solve(campaign):
    with h5py.File(campaign / "structures" / "chunk-0000.h5", "r") as fh:
        field, solid = fh["field"][0], fh["structures"][0]
        theta, seed = fh["theta"][0], int(fh["seed"][0])
    assert field.dtype == np.float32
    np.testing.assert_array_equal(field, spinodoid_field(theta, 32, seed))  # bit for bit
    np.testing.assert_array_equal((field >= 0).view(np.uint8), solid)
    with h5py.File(campaign / "properties" / "diffusivity" / "chunk-0000.h5", "r") as fh:
        assert fh.attrs["geometry"] == "levelset"
        assert json.loads(fh.attrs["solver_settings"])["geometry"] == "levelset"
        value = fh["value"][0]
    expected = [effective_diffusivity(solid, a, bc="fixed", field=field, rtol=1e-6, comm=None).eta
                for a in range(3)]
    np.testing.assert_allclose(value, expected, rtol=1e-4)
    voxel = [effective_diffusivity(solid, a, bc="fixed", rtol=1e-6).eta for a in range(3)]
    assert np.all(np.asarray(value) > np.asarray(voxel))  # the staircase under-estimates


def test_audit_regenerates_fields_and_resolves_in_levelset_mode(campaign):
    report = campaign.parent / "audit.json"
    proc = run_cli("audit", campaign, "--json", report, "--sample-fraction", "0.5", "--seed", "3")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    checks = {c["name"]: c for c in json.loads(report.read_text())["checks"]}
    assert checks["regenerate"]["checked"] == 3 and not checks["regenerate"]["failures"]
    assert checks["resolve"]["checked"] == 9 and not checks["resolve"]["failures"]


def test_audit_catches_a_voxel_solve_recorded_as_levelset(campaign, tmp_path):
    # Re-solving in the recorded mode: a levelset file whose values are the voxel answers fails.
    import shutil

    copy_dir = tmp_path / "results"
    shutil.copytree(campaign.parent, copy_dir)
    copied = copy_dir / "tiny"
    chunk = copied / "structures" / "chunk-0000.h5"
    with h5py.File(chunk, "r") as fh:
        solid = fh["structures"][0]
    with h5py.File(copied / "properties" / "diffusivity" / "chunk-0000.h5", "r+") as fh:
        fh["value"][0] = [effective_diffusivity(solid, a, bc="fixed", rtol=1e-6).eta for a in range(3)]
    proc = run_cli("audit", copied, "--json", tmp_path / "audit.json", "--sample-fraction", "1")
    assert proc.returncode == 1
    failures = next(c for c in json.loads((tmp_path / "audit.json").read_text())["checks"]
                    if c["name"] == "resolve")["failures"]
    assert any("properties/diffusivity/chunk-0000.h5" in f["file"] for f in failures)


def test_solve_regenerates_a_missing_field_bit_for_bit(campaign, tmp_path):
    stored = campaign / "structures" / "chunk-0001.h5"
    bare = tmp_path / "bare.h5"
    with h5py.File(stored, "r") as src, h5py.File(bare, "w") as dst:
        for name in src:
            if name != "field":
                src.copy(name, dst)
    for path, out in ((stored, tmp_path / "stored.h5"), (bare, tmp_path / "regenerated.h5")):
        run_cli("solve", "diffusivity", path, "--geometry", "levelset", "--rtol", "1e-6", "-o", out, check=True)
    with h5py.File(tmp_path / "stored.h5", "r") as a, h5py.File(tmp_path / "regenerated.h5", "r") as b:
        np.testing.assert_array_equal(a["value"][()], b["value"][()])
        assert b.attrs["geometry"] == "levelset"
    run_cli("solve", "diffusivity", bare, "--rtol", "1e-6", "-o", tmp_path / "voxel.h5", check=True)
    with h5py.File(tmp_path / "voxel.h5", "r") as fh:
        assert fh.attrs["geometry"] == "voxel"  # the schema's default
        assert not np.array_equal(fh["value"][()], h5py.File(tmp_path / "stored.h5", "r")["value"][()])


def test_levelset_permeability_solves_the_stored_field(campaign, tmp_path):
    """``solve permeability --geometry levelset`` hands each structure's field to the
    interface-fitted Stokes solver: the chunk's values are the API's."""
    from microinv.physics.stokes import permeability

    chunk = campaign / "structures" / "chunk-0000.h5"
    run_cli("solve", "permeability", chunk, "--geometry", "levelset", "--rtol", "1e-6", "-o", tmp_path / "k.h5",
            check=True)
    with h5py.File(tmp_path / "k.h5", "r") as fh, h5py.File(chunk, "r") as src:
        assert fh.attrs["geometry"] == "levelset"
        solid, field = src["structures"][0], src["field"][0]
        k = fh["value"][0]
    assert k[0] == pytest.approx(permeability(solid, 0, rtol=1e-6, field=field).k, rel=1e-6)
    assert k[0] != pytest.approx(permeability(solid, 0, rtol=1e-6).k, rel=1e-3)
