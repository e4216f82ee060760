"""Spinodoid generation: exact pore count, reproducibility, spectral convention, errors."""

import hashlib
import subprocess
import sys

import numpy as np
import pytest

from microinv.microstructure.spinodoid import _level_cut, spectral_filter, spinodoid


@pytest.mark.parametrize("dim, n", [(3, 16), (3, 15), (2, 64), (2, 33)])
@pytest.mark.parametrize("eps", [0.3, 0.5, 0.666, 0.85])
def test_pore_count_is_exact(dim, n, eps):
    theta = (0.2, 0.3, 0.45, eps)[-(dim + 1):]
    solid = spinodoid(theta, n, seed=11, dim=dim)
    assert solid.shape == (n,) * dim and solid.dtype == np.uint8
    assert set(np.unique(solid)) == {0, 1}
    assert np.count_nonzero(solid == 0) == round(eps * n**dim)


def test_pore_count_rounds_half_to_even_and_handles_pure_phases():
    assert np.count_nonzero(spinodoid((0.3, 0.3, 0.5), 5, 0, dim=2) == 0) == 12  # 12.5
    assert np.count_nonzero(spinodoid((0.3, 0.3, 0.7), 5, 0, dim=2) == 0) == 18  # 17.5
    assert spinodoid((0.3, 0.3, 0.0), 6, 0, dim=2).all()
    assert not spinodoid((0.3, 0.3, 1.0), 6, 0, dim=2).any()


def test_ties_at_the_threshold_become_pore_in_c_order():
    psi = np.array([[0.0, 1.0, 1.0], [1.0, 1.0, 2.0]], dtype=np.float32)
    solid = _level_cut(psi, eps=0.5)           # 3 pores: the 0.0 and the first two 1.0
    np.testing.assert_array_equal(solid, [[0, 0, 0], [1, 1, 1]])


def test_pore_is_below_solid_in_the_field():
    """The eps-fraction of smallest field values is pore (0), the rest solid (1)."""
    psi = np.arange(20, dtype=np.float32).reshape(4, 5)[::-1]
    solid = _level_cut(psi, eps=0.25)
    assert np.count_nonzero(solid == 0) == 5
    assert (solid[-1] == 0).all()               # the five smallest values


def test_same_arguments_same_bytes_and_seeds_differ():
    a = spinodoid((0.1, 0.2, 0.3, 0.5), 24, seed=2**63 + 5)
    b = spinodoid(np.array([0.1, 0.2, 0.3, 0.5]), 24, seed=np.uint64(2**63 + 5))
    c = spinodoid((0.1, 0.2, 0.3, 0.5), 24, seed=6)
    assert a.tobytes() == b.tobytes()
    assert np.count_nonzero(a != c) > 0.2 * a.size


def test_same_bytes_in_another_process_and_with_threads():
    code = ("import hashlib; from microinv.microstructure import spinodoid; "
            "print(hashlib.sha256(spinodoid((0.12, 0.2, 0.3, 0.55), 20, 4321)"
            ".tobytes()).hexdigest())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    here = spinodoid((0.12, 0.2, 0.3, 0.55), 20, 4321)
    assert out == hashlib.sha256(here.tobytes()).hexdigest()
    threaded = spinodoid((0.12, 0.2, 0.3, 0.55), 20, 4321, workers=2)
    assert threaded.tobytes() == here.tobytes()


@pytest.mark.parametrize("n", [7, 8])
def test_spectral_filter_matches_the_full_grid_formula(n):
    a = np.array([0.3, 0.5, 0.7])
    q = np.fft.fftfreq(n) * n                  # integer wavenumbers, -n/2 .. n/2-1
    qx, qy, qz = np.meshgrid(q, q, q, indexing="ij")
    gamma = (1 + ((a[0] * qx) ** 2 + (a[1] * qy) ** 2 + (a[2] * qz) ** 2) ** 4) ** -2
    half = spectral_filter(a, n)
    assert half.shape == (n, n, n // 2 + 1)
    np.testing.assert_allclose(half, np.sqrt(gamma)[:, :, : n // 2 + 1], rtol=1e-6)
    assert half[0, 0, 0] == 1.0


def test_a_large_length_gives_long_features_along_that_axis():
    """a_i q_i damps wavenumbers along i: with a_z >> a_x, z-lines change phase rarely."""
    solid = spinodoid((0.05, 0.05, 0.6, 0.5), 32, seed=3)
    changes = [np.count_nonzero(solid != np.roll(solid, 1, axis=a)) for a in range(3)]
    assert changes[2] < 0.5 * min(changes[0], changes[1])


def test_two_dimensional_structures():
    solid = spinodoid((0.3, 0.1, 0.4), 40, seed=9, dim=2)
    assert solid.shape == (40, 40)
    assert np.count_nonzero(solid == 0) == 640


@pytest.mark.parametrize("kwargs, message", [
    (dict(theta=(0.1, 0.2, 0.5)), r"theta must be \(a_x, a_y, a_z, eps\)"),
    (dict(theta=(0.1, -0.2, 0.3, 0.5)), r"a_y must be finite and >= 0, got -0.2"),
    (dict(theta=(0.1, 0.2, float("nan"), 0.5)), r"a_z must be finite"),
    (dict(theta=(0.1, 0.2, 0.3, 1.5)), r"eps \(pore fraction\) must be in \[0, 1\], got 1.5"),
    (dict(n=0), r"n must be a positive integer .*got 0"),
    (dict(n=8.0), r"got 8.0"),
    (dict(seed=-1), r"seed must be a non-negative integer, got -1"),
    (dict(seed=None), r"got None"),
    (dict(dim=4), r"dim must be 2 or 3, got 4"),
])
def test_bad_arguments_name_the_value(kwargs, message):
    args = dict(theta=(0.1, 0.2, 0.3, 0.5), n=8, seed=1, dim=3) | kwargs
    with pytest.raises(ValueError, match=message):
        spinodoid(**args)
