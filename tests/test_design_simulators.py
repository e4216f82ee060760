"""Batched spinodoid generation on a torch device, and the surrogate simulator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from microinv.design.simulators import SurrogateSimulator, make_generator
from microinv.microstructure.spinodoid import _level_cut, spectral_filter
from microinv.microstructure.spinodoid_torch import TorchGenerator, resolve_device

N = 32


def mean_chord(solid: np.ndarray, axis: int, phase: int = 0) -> float:
    """Mean chord length of ``phase`` along ``axis`` in a periodic cell: voxels / runs."""
    inside = solid == phase
    starts = inside & ~np.roll(inside, 1, axis=axis)
    return inside.sum() / starts.sum()


def test_auto_device_is_the_cpu_without_a_gpu():
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")


def test_spectral_filter_is_the_square_root_of_the_spinodoid_density():
    a = torch.tensor([[0.1, 0.2, 0.3]], dtype=torch.float64)
    filt = spectral_filter(a, 8, dtype=torch.float64)[0]
    assert filt.shape == (8, 8, 5)

    def sqrt_gamma(qx, qy, qz):
        s = (0.1 * qx) ** 2 + (0.2 * qy) ** 2 + (0.3 * qz) ** 2
        return (1 + s**4) ** -1.0  # gamma = (1 + s^4)^-2

    # array index -> wavenumber: 0..3 then -4..-1 (x, y); 0..4 on the half axis z
    for (i, j, k), (qx, qy, qz) in {(1, 2, 3): (1, 2, 3), (7, 4, 4): (-1, -4, 4), (0, 5, 0): (0, -3, 0)}.items():
        assert float(filt[i, j, k]) == pytest.approx(sqrt_gamma(qx, qy, qz), rel=1e-12)


@pytest.mark.parametrize("eps", [0.3, 0.5127, 0.85])
def test_porosity_is_exact(eps):
    gen = TorchGenerator(N, device="cpu")
    solid = gen(np.array([[0.08, 0.1, 0.12, eps]] * 2), [5, 6]).numpy()
    assert solid.dtype == np.uint8 and solid.shape == (2, N, N, N)
    assert set(np.unique(solid)) == {0, 1}
    assert np.all((solid == 0).sum(axis=(1, 2, 3)) == round(eps * N**3))


def test_ties_at_the_threshold_still_give_exact_porosity():
    psi = torch.zeros(4, 5, 6)  # every value tied
    solid = _level_cut(psi, 0.5)
    assert int((solid == 0).sum()) == 60


def test_longest_chords_along_the_largest_length_parameter():
    gen = TorchGenerator(48, device="cpu")
    # a permuted across the axes: chords follow the largest a wherever it is
    for theta in ([0.05, 0.1, 0.2, 0.5], [0.2, 0.05, 0.1, 0.5], [0.1, 0.2, 0.05, 0.6]):
        chords = np.zeros((2, 3))
        for solid in gen(np.array([theta] * 3), [1, 2, 3]).numpy():
            chords += [[mean_chord(solid, axis, phase) for axis in range(3)] for phase in (0, 1)]
        order = np.argsort(theta[:3])
        for phase_chords in chords:
            assert np.all(np.diff(phase_chords[order]) > 0), (theta, chords)


def test_a_structure_depends_on_its_seed_only_not_on_its_batch():
    gen = TorchGenerator(N, device="cpu")
    theta = np.array([[0.1, 0.1, 0.1, 0.5], [0.05, 0.1, 0.2, 0.4], [0.1, 0.1, 0.1, 0.5]])
    seeds = np.array([2**64 - 1, 12345, 99], dtype=np.uint64)
    batch = gen(theta, seeds)
    assert torch.equal(batch[1], gen(theta[1:2], seeds[1:2])[0])
    assert torch.equal(batch, gen(theta, seeds))
    assert not torch.equal(batch[0], batch[2])  # same theta, other seed


def test_statistics_match_the_numpy_generator():
    microstructure = pytest.importorskip("microinv.microstructure")
    if not hasattr(microstructure, "spinodoid"):
        pytest.skip("microinv.microstructure.spinodoid is not there yet")
    theta = np.array([[0.06, 0.09, 0.15, 0.55]] * 6)
    seeds = np.arange(6, dtype=np.uint64)
    torch_solid = TorchGenerator(N, device="cpu")(theta, seeds).numpy()
    numpy_solid = make_generator("numpy", N)(theta, seeds)
    assert np.all((numpy_solid == 0).sum(axis=(1, 2, 3)) == (torch_solid == 0).sum(axis=(1, 2, 3)))
    for axis in range(3):
        a = np.mean([mean_chord(s, axis) for s in torch_solid])
        b = np.mean([mean_chord(s, axis) for s in numpy_solid])
        assert a == pytest.approx(b, rel=0.15)


class PorositySurrogate:
    """Stand-in for a trained surrogate: eta = porosity times (1, 1.1, 1.2)."""

    def __init__(self):
        self.batches = []

    def predict(self, structures, batch_size=16):
        self.batches.append(len(structures))
        porosity = 1.0 - structures.reshape(len(structures), -1).mean(axis=1)
        return porosity[:, None] * np.array([1.0, 1.1, 1.2])


def test_surrogate_simulator_generates_in_chunks_and_predicts():
    surrogate = PorositySurrogate()
    simulate = SurrogateSimulator(surrogate, make_generator("torch", 16, device="cpu"), chunk=3)
    theta = np.column_stack([np.full((7, 3), 0.1), np.linspace(0.3, 0.8, 7)])
    eta = simulate(theta, np.arange(7, dtype=np.uint64))
    assert surrogate.batches == [3, 3, 1] and simulate.count == 7
    assert np.allclose(eta[:, 0], np.round(theta[:, 3] * 16**3) / 16**3)
    assert np.allclose(eta[:, 2], 1.2 * eta[:, 0])


def test_unknown_generator_is_refused():
    with pytest.raises(ValueError, match="generator must be one of"):
        make_generator("jax", 16)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_the_gpu_structures_are_reproducible_and_exact():
    gen = TorchGenerator(64, device="cuda")
    theta = np.array([[0.05, 0.1, 0.2, 0.45]] * 3)
    seeds = np.array([1, 2, 2**64 - 1], dtype=np.uint64)
    a, b = gen(theta, seeds), gen(theta[::-1].copy(), seeds[::-1].copy())
    assert a.device.type == "cuda" and torch.equal(a, b.flip(0))
    assert torch.all((a == 0).sum(dim=(1, 2, 3)) == round(0.45 * 64**3))


def test_refused_structures_are_failed_simulations_without_prediction():
    surrogate = PorositySurrogate()
    simulate = SurrogateSimulator(surrogate, make_generator("torch", 16, device="cpu"), chunk=4,
                                  accept=lambda s: (s == 0).mean() < 0.5)
    theta = np.column_stack([np.full((6, 3), 0.1), [0.3, 0.6, 0.4, 0.7, 0.8, 0.35]])
    eta = simulate(theta, np.arange(6, dtype=np.uint64))
    assert np.array_equal(np.isnan(eta[:, 0]), theta[:, 3] >= 0.5)
    assert surrogate.batches == [2, 1] and simulate.refused == 3


def test_percolation_test_of_the_prior():
    from microinv.microstructure import admissible

    slab = np.zeros((8, 8, 8), dtype=np.uint8)
    slab[:, :, :4] = 1  # pore and solid layers: both span x and y, neither spans z
    assert not admissible(slab)
    channels = np.ones((8, 8, 8), dtype=np.uint8)
    channels[2, 2, :] = channels[:, 5, 5] = channels[4, :, 1] = 0
    assert admissible(channels)
