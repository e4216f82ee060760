"""The Cahn-Hilliard process model: conservation, energy decay, anisotropy, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

from microinv.errors import InputError
from microinv.microstructure.descriptors import two_point_correlation
from microinv.microstructure.process import (PORE_FRACTION, CahnHilliard, ProcessModel, free_energy,
                                             initial_field, process_structure, spectral_density)


def correlation_length(solid, axis: int) -> float:
    """Integral of the normalised two-point correlation of the solid up to its first zero (voxels)."""
    s2 = two_point_correlation(solid, axis)
    fraction = s2[0]
    rho = (s2 - fraction**2) / (fraction - fraction**2)
    first_zero = int(np.argmax(rho <= 0)) if (rho <= 0).any() else rho.size
    return float(rho[:first_zero].sum())


@pytest.fixture(scope="module")
def initial():
    return initial_field(np.array([[5.0, 1.0], [1.5, 0.3], [8.0, 2.0]]), 36, [1, 2, 3])


def test_initial_field_is_cut_to_the_pore_fraction(initial):
    assert set(np.unique(initial)) == {-1.0, 1.0}
    pore = (initial == -1).sum(axis=(1, 2))
    assert pore.tolist() == [round(PORE_FRACTION * 36**2)] * 3  # 864 of 1296 voxels


def test_spectral_density_of_the_two_lobe_family():
    density = spectral_density(np.array([[3.0, 0.5]]), "2d", 8)[0]
    # k_x = 1 (row 1), k_y = 2 (column 2 of the half spectrum)
    assert density[1, 2] == pytest.approx(3 * np.exp(-0.5) + 7 * np.exp(-0.5 * 4), rel=1e-15)
    assert density[0, 0] == pytest.approx(10.0)
    assert density[-4, 0] == pytest.approx(3 * np.exp(-0.5 * 16) + 7)  # k_x = -4 (Nyquist)


@pytest.mark.parametrize("dt", [0.01, 0.5])
def test_mean_is_conserved_to_round_off_and_energy_never_increases(initial, dt):
    energies, means = [], []

    def record(step, c):
        energies.append(free_energy(c, 2.0))
        means.append(c.mean(axis=(1, 2)))

    CahnHilliard(dt=dt).evolve(initial, callback=record)
    energies, means = np.array(energies), np.array(means)
    assert len(energies) == round(5.0 / dt) + 1
    assert np.abs(means - means[0]).max() < 1e-14
    assert means[0] == pytest.approx(1 / 3 - 2 / 3, abs=1e-3)  # c = -1 on 2/3 of the voxels
    assert (np.diff(energies, axis=0) <= 0).all()
    assert (energies[-1] < 0.1 * energies[0]).all()  # the sharp initial interfaces relax


def test_free_energy_of_a_sine_wave():
    n, gamma = 32, 2.0
    x = np.arange(n)
    c = np.broadcast_to(0.5 * np.sin(2 * np.pi * 3 * x / n)[:, None], (n, n))[None]
    bulk = ((c**2 - 1) ** 2 / 4).sum()
    gradient = gamma / 2 * (0.5 * 2 * np.pi * 3 / n) ** 2 / 2 * n * n  # <cos^2> = 1/2
    assert free_energy(c, gamma)[0] == pytest.approx(bulk + gradient, rel=1e-12)


def test_time_steps_end_at_the_final_time():
    steps = CahnHilliard(time=1.0, dt=0.3).steps()
    assert len(steps) == 4 and sum(steps) == pytest.approx(1.0, abs=1e-15)
    assert CahnHilliard(time=0.0).steps() == []


def test_default_step_is_converged_at_the_interface():
    phi, seeds = np.tile([5.0, 1.0], (4, 1)), np.arange(4)
    fine = ProcessModel(36, dynamics=CahnHilliard(dt=0.005))(phi, seeds)
    default = ProcessModel(36)(phi, seeds)
    coarse = ProcessModel(36, dynamics=CahnHilliard(dt=0.05))(phi, seeds)
    changed, changed_coarse = (default != fine).mean(), (coarse != fine).mean()
    assert changed < 0.005          # measured 0.13 % of the voxels
    assert changed_coarse > 2 * changed


def test_phi1_sets_the_direction_of_anisotropy():
    seeds = np.arange(8)
    ratios = {}
    for phi1 in (1.5, 8.5):
        structures = ProcessModel(36)(np.tile([phi1, 1.0], (8, 1)), seeds)
        lx = np.mean([correlation_length(s, 0) for s in structures])
        ly = np.mean([correlation_length(s, 1) for s in structures])
        ratios[phi1] = lx / ly
    assert ratios[1.5] < 0.85 < 1.15 < ratios[8.5]  # measured 0.68 and 1.33


def test_structures_are_bit_reproducible_and_batches_match_single_structures():
    phi = np.array([[2.0, 0.5], [7.0, 1.5]])
    batch = process_structure(phi, 36, seed=[11, 12])
    assert batch.dtype == np.uint8 and batch.shape == (2, 36, 36)
    again, field = process_structure(phi[1], 36, seed=12, return_field=True)
    assert again.tobytes() == batch[1].tobytes()
    assert ((field >= 0) == (again == 1)).all()
    assert process_structure(phi[1], 36, seed=13).tobytes() != again.tobytes()


def test_third_lobe_sets_features_along_z():
    """3D at 32^3 (two structures per phi, about 6 s): phi3 = 9 against phi3 = 1."""
    elongation = {}
    for phi3 in (1.0, 9.0):
        structures = process_structure(np.tile([5.0, 1.0, phi3], (2, 1)), 32, seed=[0, 1], dim=3)
        lengths = np.array([[correlation_length(s, a) for a in range(3)] for s in structures]).mean(axis=0)
        elongation[phi3] = lengths[2] / lengths[:2].mean()
    assert elongation[9.0] > 1.2 * elongation[1.0]  # measured 1.11 and 0.82


def test_five_lobe_family():
    five = process_structure([1, 2, 3, 4, 5, 0.1, 0.2, 0.5, 1.0, 2.0], 36, seed=0)
    assert five.shape == (36, 36) and 0.55 < 1 - five.mean() < 0.85


@pytest.mark.parametrize("phi, dim, message", [
    ([0.5, 1.0], 2, "phi: phi1 must be in [1.0, 9.0]"),
    ([5.0, np.nan], 2, "phi: phi2 must be in [0.2, 2.0]"),
    ([5.0, 1.0, 1.0], 2, "phi: 3 values in 2D match no process family"),
    ([5.0, 1.0, 20.0], 3, "phi: phi3 must be in [1.0, 9.0]"),
])
def test_bad_phi_is_named(phi, dim, message):
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        process_structure(phi, 16, seed=0, dim=dim)


def test_bad_settings_are_named():
    with pytest.raises(InputError, match="dt: must be a number > 0"):
        CahnHilliard(dt=0.0)
    with pytest.raises(InputError, match="seed: must be one seed per phi"):
        initial_field(np.ones((2, 2)) * 2, 16, [1, 2, 3])


def test_torch_evolution_matches_numpy():
    torch = pytest.importorskip("torch")
    c0 = initial_field(np.array([[5.0, 1.0], [2.0, 0.4]]), 36, [4, 5])
    dynamics = CahnHilliard(time=1.0)
    reference = dynamics.evolve(c0)
    on_torch = dynamics.evolve(torch.from_numpy(c0))
    assert on_torch.dtype == torch.float64
    assert np.abs(on_torch.numpy() - reference).max() < 1e-10
    model = ProcessModel(36)
    phi = np.tile([6.0, 1.0], (3, 1))
    assert (model(phi, [1, 2, 3], device="cpu") != model(phi, [1, 2, 3])).mean() < 1e-3
