"""The 2D surrogate of log10 k: a tiny permeability dataset made with the real process model
and Stokes solver, trained through ``microinv train``, and the design it drives."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch

from conftest import run_cli
from microinv.config import resolve
from microinv.surrogate.labels import read_layout
from microinv.microstructure.models import process_model
from microinv.physics.result import CONVERGED, NOT_PERCOLATING
from microinv.surrogate import Surrogate, load
from microinv.surrogate.data import Augmentation, direction_axes, invariant_shift_axes
from microinv.surrogate.module import SurrogateModule
from microinv.surrogate.network import SurrogateNet

FLOOR = -2.5  # not the schema's -3: the config's floor must reach the labels and the checkpoint
CONFIG = {
    "campaign": "psp2dtest", "seed": 3, "structure": {"n": 36, "dim": 2},
    "samples": {"count": 12, "per_chunk": 12}, "splits": {"train": 0.5, "val": 0.25, "test": 0.25},
    "solve": {"properties": ["permeability"], "tasks": 1, "rtol": 1e-6},
    "surrogate": {"conv_widths": [4], "fc_widths": [8], "max_epochs": 2, "batch_size": 8, "ensemble": 2},
    "design": {"targets": {}}, "process": {"structures_per_phi": 2},
    "process_design": {"boxes": {"b": [[-0.4, 0.6], [0.6, 1.6]]}, "log10_k_floor": FLOOR, "structures": 4,
                       "trials": 2, "validation_count": 2, "reference_grid": 2, "reference_structures": 1},
}


def blocked(n=36):
    """Pore everywhere but one solid column: flows along y (axis 1), not along x (axis 0)."""
    solid = np.zeros((n, n), dtype=np.uint8)
    solid[n // 2, :] = 1
    solid[:4, :4] = 1
    return solid


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    """config.json, dataset.h5 (11 Cahn-Hilliard structures and one that does not flow along x,
    in the train split) and the surrogate trained on it by the CLI."""
    import petsc4py

    petsc4py.init([])
    from petsc4py import PETSc

    from microinv.physics.log_permeability import log10_permeabilities

    folder = tmp_path_factory.mktemp("surr2d")
    cfg = resolve(CONFIG)
    (folder / "config.json").write_text(json.dumps(cfg))
    rng = np.random.default_rng(0)
    phi = np.repeat(np.column_stack([rng.uniform(1, 9, 6), rng.uniform(0.2, 2, 6)]), 2, axis=0)
    structures = process_model(36, 2, cfg["process"])(phi, np.arange(12, dtype=np.uint64))
    structures[0] = blocked()
    solved = log10_permeabilities(structures, floor=FLOOR, comm=PETSc.COMM_SELF)
    assert solved.status[0].tolist() == [NOT_PERCOLATING, CONVERGED]
    k = np.where(solved.status == CONVERGED, 10.0 ** solved.values, 0.0)
    with h5py.File(folder / "dataset.h5", "w") as fh:
        fh["structures"] = structures
        fh["properties/permeability/value"], fh["properties/permeability/status"] = k, solved.status
        fh["properties/permeability"].attrs["solver_settings"] = json.dumps({"rtol": 1e-6})
        for split, rows in {"train": range(0, 6), "val": range(6, 9), "test": range(9, 12)}.items():
            fh[f"splits/{split}"] = np.array(list(rows), dtype=np.int64)
    proc = run_cli("train", folder / "dataset.h5", "--config", folder / "config.json", "-o", folder / "surrogate",
                   "--accelerator", "cpu")
    assert proc.returncode == 0, proc.stderr[-3000:]
    return folder, structures, solved.values


def test_layout_labels_log10_k_with_the_floor(campaign):
    folder, _, m = campaign
    layout = read_layout(folder / "dataset.h5", log10_k_floor=FLOOR)
    assert layout.dim == 2 and layout.n == 36 and layout.target.name == "permeability"
    assert layout.eta["train"][0].tolist() == pytest.approx([FLOOR, m[0, 1]])
    np.testing.assert_allclose(layout.eta["test"], m[9:12], rtol=1e-6)


def test_training_reports_decades_of_k(campaign):
    folder = campaign[0]
    metrics = json.loads((folder / "surrogate" / "metrics.json").read_text())
    assert metrics["target"] == "permeability" and metrics["dim"] == 2
    assert {"mse", "mae", "rmse", "mae_x", "mae_y", "rmse_y"} <= set(metrics["test"])
    assert not any(key.endswith("_z") or key.startswith("mape") for key in metrics["test"])
    assert metrics["test"]["rmse"] == pytest.approx(metrics["test"]["mse"] ** 0.5, rel=1e-4)
    assert "decades" in metrics["units"]["mae"] and metrics["samples"] == {"train": 12, "val": 6, "test": 6}
    assert metrics["hyperparameters"]["log10_k_floor"] == FLOOR and metrics["calibration"]["space"].startswith("log10")
    for name in ("parity", "calibration", "learning_curves"):
        assert (folder / "surrogate" / f"{name}.png").stat().st_size > 1000


def test_reloaded_checkpoint_predicts_the_same_and_is_symmetric(campaign):
    folder, structures, _ = campaign
    surrogate = load(folder / "surrogate", device="cpu")
    assert surrogate.dim == 2 and surrogate.members == 2 and surrogate.target.floor == FLOOR
    m = surrogate.predict(structures[1:])
    assert m.shape == (11, 2) and np.isfinite(m).all()
    state = torch.load(folder / "surrogate" / "model.ckpt", map_location="cpu", weights_only=False)
    module = SurrogateModule(36, dim=2, target="permeability", log10_k_floor=FLOOR, conv_widths=[4], fc_widths=[8],
                             ensemble=2)
    module.load_state_dict(state["state_dict"])
    np.testing.assert_array_equal(Surrogate(module, device="cpu").predict(structures[1:]), m)
    transposed = surrogate.predict(np.ascontiguousarray(structures[1:].transpose(0, 2, 1)))
    np.testing.assert_allclose(transposed, m[:, ::-1], rtol=1e-6, atol=1e-7)


def test_a_structure_that_does_not_flow_gets_the_floor(campaign):
    surrogate = load(campaign[0] / "surrogate" / "model.ckpt", device="cpu")
    m = surrogate.predict(np.stack([blocked(), blocked().T]))
    assert m[0, 0] == FLOOR and m[1, 1] == FLOOR and m[0, 1] > FLOOR and m[1, 0] > FLOOR


def test_design_with_the_surrogate(campaign):
    folder = campaign[0]
    out = folder / "design" / "b" / "design.json"
    out.parent.mkdir(parents=True)
    proc = run_cli("process", "design", "--config", folder / "config.json", "--box", "b",
                   "--surrogate", folder / "surrogate" / "model.ckpt", "-o", out)
    assert proc.returncode == 0, proc.stderr[-3000:]
    design = json.loads(out.read_text())
    assert design["predictor"].startswith(f"surrogate {folder / 'surrogate' / 'model.ckpt'} (test MAE ")
    assert "decades" in design["predictor"] and design["trials"] == 2 and 0 <= design["p_estimate"] <= 1


def test_2d_network_directions_and_augmentation():
    assert direction_axes(2) == ((0, 1), (1, 0)) and direction_axes(3) == ((0, 1, 2), (1, 0, 2), (2, 0, 1))
    assert invariant_shift_axes({}, 2) == (0, 1) and invariant_shift_axes({"bc": "fixed"}, 2) == (1,)
    net = SurrogateNet(36, dim=2, conv_widths=[4], fc_widths=[8])
    assert net(torch.zeros(3, 36, 36)).shape == (3,)
    with pytest.raises(ValueError, match=r"n=36: .* multiple of 8 \(2x2 downsampling and 2 pooling blocks of "
                                         r"surrogate.conv_widths=\[4, 4\]\); .* n = 40"):
        SurrogateNet(36, dim=2, conv_widths=[4, 4])
    solid = np.random.default_rng(1).integers(0, 2, (12, 12), dtype=np.uint8)
    rolled = Augmentation((0, 1))(solid, np.random.default_rng(2))
    assert rolled.shape == (12, 12) and rolled.sum() == solid.sum()
