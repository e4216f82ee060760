"""Deep-ensemble uncertainty of the surrogate: spread, calibration, training and checkpoints (CPU).

The 1D toy: structures of independent voxels, solid with probability x, labelled
eta = (1 - x)^1.5 in every direction; the ensemble trains on x in [0.4, 0.6] with the
module and data code of ``microinv train``.
"""

from __future__ import annotations

import json

import h5py
import lightning as L
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from conftest import run_cli
from microinv.errors import InputError
from microinv.surrogate import Surrogate, load
from microinv.surrogate.data import DirectionalStructures, EnsembleSampler, EpochSampler, MemberSamples
from microinv.surrogate.module import SurrogateModule
from microinv.surrogate.network import SurrogateNet
from microinv.uncertainty import calibration, coverage, moments
from test_reliability_train import OPTIONS, delete_outputs, state, trained_epochs
from test_surrogate import N, write_dataset

TINY = {"conv_widths": (4, 4, 4), "fc_widths": (16,)}


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def toy(x, rng):
    """Structures (len(x), N, N, N) with solid fraction x and their eta (len(x), 3)."""
    solid = (rng.random((len(x), N, N, N)) < np.asarray(x)[:, None, None, None]).astype(np.uint8)
    return solid, np.repeat(((1 - solid.mean(axis=(1, 2, 3))) ** 1.5)[:, None], 3, axis=1)


def test_spread_grows_away_from_the_training_data(tmp_path):
    rng = np.random.default_rng(0)
    solid, eta = toy(rng.uniform(0.4, 0.6, 16), rng)
    with h5py.File(tmp_path / "toy.h5", "w") as fh:
        fh["structures"] = solid
    data = DirectionalStructures(tmp_path / "toy.h5", np.arange(len(solid)), eta)
    members = 3
    L.seed_everything(0, verbose=False)
    module = SurrogateModule(N, lr=5e-3, lr_patience=1000, ensemble=members, **TINY)
    trainer = L.Trainer(max_epochs=20, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    train = DataLoader(MemberSamples(data), batch_size=16, sampler=EnsembleSampler(len(data), 0, members))
    trainer.fit(module, train, DataLoader(data, batch_size=48))
    surrogate = Surrogate(module, device="cpu")
    assert surrogate.members == members
    x = np.array([0.05, 0.15, 0.45, 0.5, 0.55, 0.85, 0.95])
    grid, truth = toy(x, np.random.default_rng(1))
    mean, std = surrogate.predict(grid, return_std=True)
    spread = std.mean(axis=1)
    inside = spread[2:5].max()
    assert np.abs(mean[2:5] - truth[2:5]).max() < 0.05  # learnt where the data are
    assert spread[0] > spread[1] > 3 * inside and spread[6] > spread[5] > 3 * inside  # and grows away from them


def test_calibration_of_gaussian_errors_with_known_sigma():
    rng = np.random.default_rng(0)
    sigma = rng.uniform(0.005, 0.05, 30_000)  # heteroscedastic
    mean = rng.uniform(0.2, 0.8, len(sigma))
    eta = mean + sigma * rng.standard_normal(len(sigma))
    direction = np.arange(len(sigma)) % 3
    c = calibration(eta, mean, sigma, direction, members=5)
    assert c["members"] == 5 and c["nominal"] == {"within_1std": 0.6827, "within_2std": 0.9545}
    for group in ("all", "x", "y", "z"):
        assert c[group]["within_1std"] == pytest.approx(0.6827, abs=0.015)
        assert c[group]["within_2std"] == pytest.approx(0.9545, abs=0.01)
    assert c["x"]["samples"] == 10_000 and c["all"]["mean_std"] == pytest.approx(sigma.mean())
    assert c["all"]["mean_abs_error"] == pytest.approx(np.sqrt(2 / np.pi) * sigma.mean(), rel=0.02)
    doubled = calibration(eta, mean, 2 * sigma, direction, members=5)  # overdispersed: 2 sigma within "1 std"
    assert doubled["all"]["within_1std"] == pytest.approx(0.9545, abs=0.01)
    assert coverage([0.1, 0.5], [0.1, 0.4], [0.0, 0.1], np.array([0.5, 1.0])).tolist() == [0.5, 1.0]


def test_moments_are_the_members_mean_and_sample_std_in_linear_eta():
    members = np.array([[0.2, 0.5], [0.4, 0.5], [0.6, 0.5]])
    mean, std = moments(members)
    assert mean.tolist() == pytest.approx([0.4, 0.5]) and std.tolist() == pytest.approx([0.2, 0.0])
    assert moments(members[:1])[1].tolist() == [0.0, 0.0]
    mean_t, std_t = moments(torch.from_numpy(members))
    assert torch.allclose(mean_t, torch.tensor([0.4, 0.5], dtype=torch.float64))


def test_members_draw_their_own_order_and_member_zero_the_single_network_stream():
    sampler = EnsembleSampler(30, seed=5, members=3)
    sampler.set_epoch(2)
    keys = list(sampler)
    single = EpochSampler(30, seed=5)
    single.set_epoch(2)
    assert [k[0] for k in keys] == list(single)
    orders = [[k[m][0] for k in keys] for m in range(3)]
    assert all(sorted(o) == list(range(30)) for o in orders) and len({tuple(o) for o in orders}) == 3


def test_single_network_has_no_std_and_old_checkpoints_load_as_member_zero(tmp_path):
    torch.manual_seed(0)
    net = SurrogateNet(N, **TINY)
    module = SurrogateModule(N, **TINY)  # ensemble 1
    torch.save({"state_dict": {f"net.{k}": v for k, v in net.state_dict().items()},  # a pre-ensemble checkpoint
                "hyper_parameters": {k: v for k, v in module.hparams.items() if k != "ensemble"},
                "pytorch-lightning_version": L.__version__}, tmp_path / "model.ckpt")
    surrogate = load(tmp_path, device="cpu")
    solid, _ = toy([0.5, 0.3], np.random.default_rng(2))
    with torch.no_grad():
        expected = torch.sigmoid(net(torch.from_numpy(solid))).numpy()
    assert surrogate.members == 1
    assert np.allclose(surrogate.predict(solid)[:, 0], expected, atol=1e-6)
    with pytest.raises(InputError, match=r"model\.ckpt: surrogate\.ensemble"):
        surrogate.predict(solid, return_std=True)


def test_train_command_with_an_ensemble_writes_calibration_and_resumes(tmp_path):
    solid, _ = write_dataset(tmp_path / "d.h5", count=12)  # 6 train structures: 18 samples, 3 batches of 8
    out = tmp_path / "surrogate"
    proc = run_cli("train", tmp_path / "d.h5", "-o", out, "--max-epochs", "2", "--ensemble", "2", *OPTIONS)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    cal = metrics["calibration"]
    assert cal["members"] == 2 and metrics["hyperparameters"]["ensemble"] == 2
    assert set(cal) >= {"all", "x", "y", "z", "nominal"} and cal["all"]["samples"] == 9
    assert cal["all"]["mean_std"] > 0 and 0 <= cal["all"]["within_1std"] <= cal["all"]["within_2std"] <= 1
    assert (out / "calibration.png").stat().st_size > 0
    surrogate = load(out, device="cpu")
    mean, std = surrogate.predict(solid[:3], return_std=True)
    assert surrogate.members == 2 and mean.shape == std.shape == (3, 3) and np.all(std > 0)
    # the rerun the workflow makes, with more epochs: the same training continues
    delete_outputs(out)
    proc = run_cli("train", tmp_path / "d.h5", "-o", out, "--max-epochs", "3", "--ensemble", "2", *OPTIONS)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert trained_epochs(out, 1) == [2] and state(out / "last.ckpt")["global_step"] == 3 * 3
    # another ensemble size is another training: afresh
    delete_outputs(out)
    proc = run_cli("train", tmp_path / "d.h5", "-o", out, "--max-epochs", "1", "--ensemble", "1", *OPTIONS)
    assert proc.returncode == 0 and "ensemble: 2 -> 1" in proc.stderr
    assert json.loads((out / "metrics.json").read_text())["calibration"] is None
