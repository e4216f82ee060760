"""The CNN surrogate on tiny synthetic datasets (CPU).

Labels come from a cheap function with the symmetries of the diffusivity:
eta_i = eps * exp(-2 s_i), with eps the porosity and s_i the fraction of cyclic neighbour
pairs along axis i that change phase. Like eta, it is unchanged by flips, circular shifts
and swaps of the transverse axes, and it follows the axes when they are permuted.
"""

from __future__ import annotations

import json

import h5py
import lightning as L
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from microinv import cli
from microinv.errors import InputError
from microinv.surrogate import load
from microinv.surrogate.data import Augmentation, DirectionalStructures, EpochSampler, invariant_shift_axes
from microinv.surrogate.labels import read_layout
from microinv.surrogate.module import SurrogateModule
from microinv.surrogate.network import SurrogateNet, downsample
from microinv.figures.surrogate import read_epoch_metrics
from microinv.surrogate.train import train
from microinv.surrogate.tuning import study, tune

N = 16
SMALL = {"conv_widths": (8, 12, 16), "fc_widths": (32, 16)}


def label(solid: np.ndarray) -> np.ndarray:
    """eta_i = eps exp(-2 s_i) along the axes of ``solid`` (N, N, N)."""
    eps = 1.0 - solid.mean()
    s = [np.mean(solid != np.roll(solid, 1, axis=a)) for a in range(3)]
    return eps * np.exp(-2.0 * np.array(s))


def structures(count: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """Periodic anisotropic two-phase structures: smoothed noise cut at a random quantile."""
    q = np.fft.fftfreq(n)
    out = np.empty((count, n, n, n), dtype=np.uint8)
    for i in range(count):
        ell = rng.uniform(0.3, 2.5, size=3)  # correlation lengths along x, y, z, voxels
        k2 = sum((ell[a] * q.reshape([-1 if b == a else 1 for b in range(3)])) ** 2 for a in range(3))
        field = np.fft.ifftn(np.fft.fftn(rng.standard_normal((n, n, n))) * np.exp(-2 * np.pi**2 * k2)).real
        out[i] = field >= np.quantile(field, rng.uniform(0.35, 0.75))
    return out


def write_dataset(path, count=12, *, n=N, seed=0, splits=(0.5, 0.25, 0.25), solver_settings=None):
    """A ``dataset.h5`` as docs/data-format.md describes it, with :func:`label` as eta."""
    solid = structures(count, n, np.random.default_rng(seed))
    eta = np.array([label(s) for s in solid])
    rows = np.random.default_rng(seed + 1).permutation(count)
    cuts = np.cumsum([round(f * count) for f in splits[:2]])
    with h5py.File(path, "w") as fh:
        fh.create_dataset("structures", data=solid, chunks=(1, n, n, n), compression="gzip")
        fh["sample_index"] = np.arange(count)
        fh["properties/diffusivity/value"] = eta
        fh["properties/diffusivity/status"] = np.zeros((count, 3), dtype=np.int8)
        if solver_settings is not None:
            fh["properties/diffusivity"].attrs["solver_settings"] = json.dumps(solver_settings)
        fh["usable"] = np.ones(count, dtype=bool)
        for name, part in zip(("train", "val", "test"), np.split(rows, cuts)):
            fh[f"splits/{name}"] = np.sort(part)
    return solid, eta


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Small convolutions on a loaded CPU run an order of magnitude faster on one thread."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def trained(one_thread, tmp_path_factory):
    """A surrogate trained end to end by ``microinv train`` on 48 structures."""
    folder = tmp_path_factory.mktemp("campaign")
    solid, eta = write_dataset(folder / "dataset.h5", count=48, splits=(0.75, 0.125, 0.125))
    status = cli.main(["-q", "train", str(folder / "dataset.h5"), "-o", str(folder / "surrogate"),
                       "--max-epochs", "20", "--batch-size", "16", "--accelerator", "cpu",
                       "--conv-widths", *map(str, SMALL["conv_widths"]), "--fc-widths", *map(str, SMALL["fc_widths"])])
    assert status == 0
    return folder, solid, eta


# --- data -----------------------------------------------------------------------------------


def test_items_put_each_direction_first_with_its_label(tmp_path):
    solid, eta = write_dataset(tmp_path / "d.h5", count=4)
    rows = np.array([3, 1])
    data = DirectionalStructures(tmp_path / "d.h5", rows, eta[rows])
    assert len(data) == 6
    for index in range(6):
        x, y, d = data[index]
        row = rows[index // 3]
        assert d == index % 3 and y.item() == pytest.approx(eta[row, d])
        assert np.array_equal(x.numpy(), np.moveaxis(solid[row], d, 0))  # transverse axes in increasing order
        assert label(x.numpy())[0] == pytest.approx(y.item())  # eta along the first axis


def test_augmentation_keeps_label_and_swaps_transverse_axes():
    solid = structures(1, N, np.random.default_rng(3))[0]
    eta = label(solid)
    assert len({round(v, 6) for v in eta}) == 3  # anisotropic: a wrong axis would show
    augment, transverse = Augmentation(), set()
    for seed in range(40):
        x = augment(solid, np.random.default_rng(seed))
        assert x.shape == solid.shape and x.mean() == solid.mean()
        eta_x = label(x)
        assert eta_x[0] == pytest.approx(eta[0], rel=1e-12)
        assert sorted(eta_x[1:]) == pytest.approx(sorted(eta[1:]), rel=1e-12)
        transverse.add(eta_x[1] == pytest.approx(eta[1]))
        assert not np.array_equal(x, solid)  # something moved (flip, swap or shift)
    assert transverse == {True, False}  # both orders of the transverse axes occur


def test_fixed_inlet_outlet_is_never_shifted_along_the_flow_axis():
    solid = structures(1, N, np.random.default_rng(4))[0]
    axes = invariant_shift_axes({"bc": "fixed", "sides": "periodic"})
    assert axes == (1, 2) and invariant_shift_axes({}) == (0, 1, 2)
    assert invariant_shift_axes({"bc": "fixed", "sides": "noflux"}) == ()
    profile = solid.mean(axis=(1, 2))  # porosity per slice along the flow axis
    for seed in range(10):
        x = Augmentation(axes)(solid, np.random.default_rng(seed))
        p = x.mean(axis=(1, 2))
        assert np.allclose(p, profile) or np.allclose(p, profile[::-1])


def test_epoch_sampler_is_seeded_per_epoch():
    sampler = EpochSampler(30, seed=5)
    first = list(sampler)
    assert sorted(i for i, _ in first) == list(range(30))
    assert list(EpochSampler(30, seed=5)) == first
    sampler.set_epoch(1)
    assert list(sampler) != first


def test_dataset_errors_name_file_and_field(tmp_path):
    with pytest.raises(InputError, match="missing.h5"):
        read_layout(tmp_path / "missing.h5")
    (tmp_path / "corrupt.h5").write_bytes(b"not hdf5" * 100)
    with pytest.raises(InputError, match="corrupt.h5.*corrupt"):
        read_layout(tmp_path / "corrupt.h5")
    write_dataset(tmp_path / "d.h5", count=8)
    with h5py.File(tmp_path / "d.h5", "a") as fh:
        del fh["splits/val"]
    with pytest.raises(InputError, match="splits/val"):
        read_layout(tmp_path / "d.h5")
    assert cli.main(["train", str(tmp_path / "d.h5"), "-o", str(tmp_path / "out")]) == 2


# --- network --------------------------------------------------------------------------------


def test_downsampling_sums_2x2x2_blocks_to_minus_half_plus_half():
    solid = torch.zeros(1, 4, 4, 4, dtype=torch.uint8)
    solid[0, :2, :2, :2] = 1
    solid[0, 2, 2, 2] = 1
    x = downsample(solid)
    assert x.shape == (1, 1, 2, 2, 2)
    assert x[0, 0, 0, 0, 0] == 0.5 and x[0, 0, 1, 1, 1] == pytest.approx(1 / 8 - 0.5)
    assert x[0, 0, 0, 1, 0] == -0.5
    with pytest.raises(ValueError, match="multiple of 16"):
        SurrogateNet(24)


def test_circular_padding_makes_n16_exactly_invariant_to_shifts_by_8():
    torch.manual_seed(0)
    net = SurrogateNet(N, **SMALL).eval()
    solid = torch.from_numpy(structures(2, N, np.random.default_rng(5)))
    with torch.no_grad():
        z = net(solid)
        for shift in ((8, 0, 0), (0, 8, 8), (8, 8, 0)):
            assert torch.allclose(net(torch.roll(solid, shift, dims=(1, 2, 3))), z, atol=1e-5)
        assert not torch.allclose(net(torch.flip(solid, dims=(2,))), z, atol=1e-5)  # a real test of the above


# --- training -------------------------------------------------------------------------------


def test_overfits_a_handful_of_samples(tmp_path):
    solid, eta = write_dataset(tmp_path / "d.h5", count=4)
    data = DirectionalStructures(tmp_path / "d.h5", np.arange(4), eta)
    L.seed_everything(0, verbose=False)
    model = SurrogateModule(N, lr=2e-3, lr_patience=1000, **SMALL)  # constant learning rate
    losses = []

    class Record(L.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            losses.append(outputs["loss"].item())

    trainer = L.Trainer(max_epochs=100, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, callbacks=[Record()])
    loader = DataLoader(data, batch_size=12)
    trainer.fit(model, loader, loader)
    assert losses[-1] < 1e-2 * losses[0]  # about 1e-3 here


def test_killed_training_resumes_from_its_last_checkpoint(tmp_path):
    write_dataset(tmp_path / "d.h5", count=8)  # 4 train structures: 12 samples, 2 batches per epoch
    out = tmp_path / "surrogate"
    options = dict(batch_size=8, accelerator="cpu", patience=50, **SMALL)
    first = train(tmp_path / "d.h5", out, max_epochs=2, **options)
    assert (first["epochs"], first["global_step"]) == (2, 4)
    second = train(tmp_path / "d.h5", out, max_epochs=5, **options)
    assert (second["epochs"], second["global_step"]) == (5, 10)
    ckpt = torch.load(out / "last.ckpt", map_location="cpu", weights_only=False)
    assert ckpt["global_step"] == 10  # the optimizer steps of 5 epochs
    logged = read_epoch_metrics([out / "logs" / "version_1" / "metrics.csv"])
    assert sorted(logged["train/mse"]) == [2, 3, 4]  # the second run trained epochs 2..4 only
    # other hyper-parameters (a changed config): a fresh start, the old checkpoint kept aside
    changed = train(tmp_path / "d.h5", out, max_epochs=1, **{**options, "conv_widths": (8, 8, 8)})
    assert (changed["epochs"], changed["global_step"]) == (1, 2)
    assert torch.load(out / "last.stale.ckpt", map_location="cpu", weights_only=False)["global_step"] == 10


def test_train_limit_trains_on_the_first_structures_of_the_train_split(tmp_path):
    write_dataset(tmp_path / "d.h5", count=8)
    status = cli.main(["-q", "train", str(tmp_path / "d.h5"), "-o", str(tmp_path / "s"), "--max-epochs", "1",
                       "--train-limit", "3", "--accelerator", "cpu", "--conv-widths", *map(str, SMALL["conv_widths"]),
                       "--fc-widths", *map(str, SMALL["fc_widths"])])
    assert status == 0
    metrics = json.loads((tmp_path / "s" / "metrics.json").read_text())
    assert metrics["structures"] == {"train": 3, "val": 2, "test": 2}
    assert metrics["global_step"] == 1  # 9 samples, one batch of 32


def test_train_command_writes_model_metrics_and_plots(trained):
    folder, _, _ = trained
    out = folder / "surrogate"
    for name in ("model.ckpt", "last.ckpt", "metrics.json", "parity.png", "learning_curves.png"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["structures"] == {"train": 36, "val": 6, "test": 6}
    assert metrics["samples"]["test"] == 18 and metrics["n"] == N
    assert set(metrics["test"]) == {f"{m}{s}" for m in ("mse", "mape") for s in ("", "_x", "_y", "_z")}
    assert metrics["provenance"]["inputs_sha256"]
    assert metrics["test"]["mape"] < 0.5


def test_predictions_in_unit_interval_follow_axis_permutations(trained):
    folder, solid, eta = trained
    surrogate = load(folder / "surrogate")
    pred = surrogate.predict(solid[:5], batch_size=2)
    assert pred.shape == (5, 3) and np.all((pred > 0) & (pred < 1))
    assert np.allclose(surrogate.predict(solid[0]), pred[:1], atol=1e-6)
    swapped = surrogate.predict(solid[:5].transpose(0, 2, 1, 3), batch_size=2)  # x <-> y
    assert np.allclose(swapped[:, :2], pred[:, 1::-1], atol=1e-6)
    with pytest.raises(InputError, match="shape"):
        surrogate.predict(solid[:, :8])
    (folder / "bad.ckpt").write_bytes(b"not a checkpoint")
    with pytest.raises(InputError, match="bad.ckpt"):
        load(folder / "bad.ckpt")


def test_predictions_learn_the_label_and_are_invariant_to_shifts(trained):
    folder, solid, eta = trained
    surrogate = load(folder / "surrogate")
    test_rows = read_layout(folder / "dataset.h5").rows["test"]
    pred = surrogate.predict(solid[test_rows])
    error = np.abs(pred - eta[test_rows]).mean()
    assert error < 0.5 * np.abs(eta[test_rows] - eta.mean(axis=0)).mean()  # better than the mean
    rng = np.random.default_rng(6)
    shifted = np.stack([np.roll(s, rng.integers(N, size=3), axis=(0, 1, 2)) for s in solid[test_rows]])
    assert np.abs(surrogate.predict(shifted) - pred).mean() < error


def test_tuning_shares_a_study_that_survives_restarts(tmp_path):
    write_dataset(tmp_path / "d.h5", count=8)
    options = dict(max_epochs=2, accelerator="cpu", **SMALL)
    best = tune(tmp_path / "d.h5", tmp_path / "tune", n_trials=2, sampler_seed=1, **options)
    assert set(best) == {"lr", "batch_size", "conv_widths", "fc_widths"}
    assert best["conv_widths"][0] in (4, 8, 12)  # a scale of the base width 8
    tune(tmp_path / "d.h5", tmp_path / "tune", n_trials=1, **options)  # a second worker, or a restart
    trials = study(tmp_path / "tune" / "optuna.journal").trials
    assert len(trials) == 3 and all(t.state.is_finished() for t in trials)
    assert all(len(t.intermediate_values) == 2 for t in trials)  # val/mse reported every epoch
