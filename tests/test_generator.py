"""One structure model, two array libraries: the numpy and torch spinodoids share the
spectral filter, the level cut and the prior's acceptance rule."""

from __future__ import annotations

import hashlib
import subprocess
import sys

import numpy as np
import pytest
import torch

from microinv.design.simulators import SurrogateSimulator
from microinv.microstructure import admissible, sample_prior, spinodoid
from microinv.microstructure.spinodoid import _level_cut, spectral_filter
from microinv.microstructure.spinodoid_torch import TorchGenerator


@pytest.mark.parametrize("theta, n, seed, dim, digest", [
    ((0.1, 0.2, 0.3, 0.55), 24, 2**63 + 5, 3,
     "dd4e3acaae03166c62ec864208aa9671c804bf5348cbcf08587ab211cc9f75b0"),
    ((0.31, 0.0, 0.12, 0.4), 17, 99, 3,
     "ff77296cf58f8bbb96cc3cfaf0cb5e47bdd6471b2ff3c2bb10b4fb624f152264"),
    ((0.2, 0.45, 0.6), 33, 7, 2,
     "cd911a9728f93cf6daf4b196c3de4eae26a1ef88c8c9063250d6e94633ccb0d3"),
])
def test_numpy_structures_are_those_of_earlier_versions(theta, n, seed, dim, digest):
    """SHA-256 written by the version before the shared filter: datasets regenerate."""
    assert hashlib.sha256(spinodoid(theta, n, seed, dim=dim).tobytes()).hexdigest() == digest


@pytest.mark.parametrize("n, dim", [(9, 3), (16, 3), (33, 2)])
def test_one_filter_for_numpy_and_torch(n, dim):
    lengths = np.array([[0.3, 0.05, 0.7], [0.0, 0.2, 0.11], [2.0, 3.0, 4.0]])[:, :dim]
    batch = spectral_filter(torch.as_tensor(lengths), n)
    assert batch.dtype == torch.float32 and batch.shape == (3,) + (n,) * (dim - 1) + (n // 2 + 1,)
    for row, filt in zip(lengths, batch):
        np.testing.assert_array_equal(filt.numpy(), spectral_filter(row, n))


@pytest.mark.parametrize("eps", [0.0, 0.3, 0.5, 0.77, 1.0])
def test_one_level_cut_for_numpy_and_torch(eps):
    psi = np.random.default_rng(3).integers(0, 5, size=(6, 7, 8)).astype(np.float32)  # many ties
    solid = _level_cut(psi, eps)
    assert np.count_nonzero(solid == 0) == round(eps * psi.size)
    np.testing.assert_array_equal(_level_cut(torch.from_numpy(psi), eps).numpy(), solid)


class NumpyNoiseGenerator(TorchGenerator):
    """The torch generator fed numpy's white noise of each seed."""

    def white_noise(self, seeds):
        shape = (self.n,) * 3
        return torch.from_numpy(np.stack([np.random.default_rng(int(s)).standard_normal(shape, dtype=np.float32)
                                          for s in seeds]))


def test_torch_makes_the_numpy_structure_from_the_same_noise():
    """Same filter, axes and cut: only FFT rounding differs, at a few voxels at most."""
    theta = np.array([[0.05, 0.1, 0.2, 0.45], [0.2, 0.08, 0.12, 0.6]])
    seeds = np.array([11, 2**64 - 3], dtype=np.uint64)
    structures = NumpyNoiseGenerator(24, device="cpu")(theta, seeds).numpy()
    for solid, t, s in zip(structures, theta, seeds):
        reference = spinodoid(t, 24, int(s))
        assert np.count_nonzero(solid != reference) <= 1e-3 * solid.size
        assert np.count_nonzero(solid == 0) == np.count_nonzero(reference == 0)


def test_the_prior_and_the_simulator_accept_the_same_structures():
    drawn = sample_prior(6, n=24, seed_sequence=5)
    structures = np.stack([spinodoid(t, 24, int(s)) for t, s in zip(drawn.theta, drawn.seed)])
    slab = np.zeros((24, 24, 24), dtype=np.uint8)
    slab[:, :, :12] = 1  # neither phase spans z: the prior rejects it
    assert all(admissible(s) for s in structures) and not admissible(slab)

    class Porosity:
        def predict(self, solids, batch_size):
            return np.repeat(1 - solids.reshape(len(solids), -1).mean(axis=1)[:, None], 3, axis=1)

    simulate = SurrogateSimulator(Porosity(), lambda theta, seeds: np.concatenate([structures, slab[None]]),
                                  chunk=16, accept=admissible)
    eta = simulate(np.zeros((7, 4)), np.zeros(7, dtype=np.uint64))
    assert np.isfinite(eta[:6]).all() and np.isnan(eta[6]).all() and simulate.refused == 1


def test_two_dimensional_rule_asks_the_pore_phase_only():
    solid = np.ones((8, 8), dtype=np.uint8)
    solid[3, :] = solid[:, 5] = 0  # a pore cross: spans both axes, cuts the solid
    assert admissible(solid)
    assert not admissible(1 - solid)


def test_the_numpy_structures_import_no_torch():
    code = ("import sys; from microinv.microstructure import spinodoid; "
            "spinodoid((0.1, 0.1, 0.1, 0.5), 8, 1); print('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_the_filter_and_cut_on_the_gpu_match_the_cpu():
    lengths = torch.tensor([[0.05, 0.1, 0.2], [0.3, 0.3, 0.01]], dtype=torch.float64)
    on_gpu = spectral_filter(lengths.cuda(), 32)
    assert on_gpu.device.type == "cuda"
    torch.testing.assert_close(on_gpu.cpu(), spectral_filter(lengths, 32), rtol=1e-6, atol=0)
    psi = torch.randint(0, 4, (16, 16, 16)).float()
    assert torch.equal(_level_cut(psi.cuda(), 0.4).cpu(), _level_cut(psi, 0.4))
