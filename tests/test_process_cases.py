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
    cfg["process_design"].update(REDUCED, reference_grid=2, reference_points_per_job=grid_points // 2 + 1)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(cfg))
    box = next(iter(cfg["process_design"]["boxes"]))
    parts = [tmp_path / f"part-{i}.h5" for i in range(2)]  # the grid in two jobs, merged
    for i, part in enumerate(parts):
        run_cli("process", "grid", "--config", path, "--part", i, "-o", part, check=True, timeout=900)
    beyond = run_cli("process", "grid", "--config", path, "--part", 2, "-o", tmp_path / "none.h5")
    assert beyond.returncode == 2 and "--part: 2 is not a part of the reference grid: it has 2" in beyond.stderr
    run_cli("process", "merge-grid", "--config", path, *parts, "-o", tmp_path / "grid.h5", check=True)
    alone = run_cli("process", "merge-grid", "--config", path, parts[1], "-o", tmp_path / "none.h5")
    assert alone.returncode == 2 and "are in no part" in alone.stderr
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
