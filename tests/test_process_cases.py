"""The small-data and the ten-parameter process cases, run at reduced size.

Each shipped config with its sizes cut down (16^2, a handful of structures, the solver as
the design's predictor): the reference grid, a design of one box (space-filling start,
TPE, re-selection) and its validation, through the ``microinv process`` commands.
"""

from __future__ import annotations

import json

import h5py
import pytest
import yaml

from conftest import ROOT, run_cli

REDUCED = {"reference_structures": 1, "predictor": "solver", "structures": 4, "trials": 3, "reselect": 2,
           "reselect_structures": 3, "validation_count": 4}


@pytest.mark.parametrize("name, parameters, grid_points", [
    ("psp2d-small-data.yaml", 2, 4),   # reference_grid cut to 2 points per parameter
    ("psp2d-five-lobe.yaml", 10, 1024),  # its own grid: the 2^10 corners
])
def test_process_case_at_reduced_size(tmp_path, name, parameters, grid_points):
    cfg = yaml.safe_load((ROOT / "config" / name).read_text())
    cfg["structure"]["n"] = 16
    cfg["process_design"].update(REDUCED, reference_grid=2)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg))
    box = next(iter(cfg["process_design"]["boxes"]))
    run_cli("process", "grid", "--config", path, "-o", tmp_path / "grid.h5", check=True, timeout=900)
    with h5py.File(tmp_path / "grid.h5") as fh:
        assert fh["phi"].shape == (grid_points, parameters) and fh["m"].shape == (grid_points, 1, 2)
    run_cli("process", "design", "--config", path, "--box", box, "-o", tmp_path / "design.json", check=True)
    design = json.loads((tmp_path / "design.json").read_text())
    assert len(design["phi"]) == parameters and design["trials"] == 3
    assert design["evaluations"] == 3 * 4 + 2 * 3 and design["predictor"].startswith("numerical solver")
    run_cli("process", "validate", "--config", path, "--box", box, "--design", tmp_path / "design.json",
            "--grid", tmp_path / "grid.h5", "-o", tmp_path / "validation.json", check=True)
    record = json.loads((tmp_path / "validation.json").read_text())
    assert record["phi"] == design["phi"] and record["count"] == 4 and len(record["phi_ref"]) == parameters
