"""Anisotropic spinodoid structures: level cuts of a periodic Gaussian random field.

A structure is fully defined by ``(theta, n, seed)`` and the dimension; the same
arguments give the same bytes in any process (with the same numpy and scipy versions,
whose random streams and FFTs fix the floating-point values).
"""

from __future__ import annotations

import numbers

import numpy as np
from scipy import fft

__all__ = ["spinodoid", "spectral_filter"]


def _check_dim(dim) -> int:
    if dim not in (2, 3) or isinstance(dim, bool):
        raise ValueError(f"dim must be 2 or 3, got {dim!r}")
    return int(dim)


def _check_size(n) -> int:
    if not isinstance(n, numbers.Integral) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive integer (voxels per side), got {n!r}")
    return int(n)


def _check_theta(theta, dim: int) -> tuple[np.ndarray, float]:
    values = np.asarray(theta, dtype=float)
    if values.shape != (dim + 1,):
        names = "(a_x, a_y, eps)" if dim == 2 else "(a_x, a_y, a_z, eps)"
        raise ValueError(f"theta must be {names} for dim={dim}, got {theta!r}")
    for i, name in enumerate("xyz"[:dim]):
        if not (np.isfinite(values[i]) and values[i] >= 0):
            raise ValueError(
                f"theta[{i}] = a_{name} must be finite and >= 0, got {float(values[i])!r}")
    eps = float(values[dim])
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"theta[{dim}] = eps (pore fraction) must be in [0, 1], got {eps!r}")
    return values[:dim], eps


def _check_seed(seed) -> int:
    if not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def spectral_filter(lengths, n: int) -> np.ndarray:
    """Square root of the spectral density on the half spectrum of a real FFT.

    Parameters
    ----------
    lengths : (dim,) array_like of float
        The anisotropy lengths ``(a_x, a_y[, a_z])``, in units of 1/wavenumber.
    n : int
        Voxels per side of the periodic cell.

    Returns
    -------
    filter : (n, n[, n], n // 2 + 1) ndarray of float32
        ``sqrt(gamma(q)) = 1 / (1 + s(q)**4)`` on the grid of :func:`scipy.fft.rfftn`.

    Notes
    -----
    The spectral density of the field is

    .. math:: \\gamma(q) = \\left[1 + \\left(\\sum_i (a_i q_i)^2\\right)^4\\right]^{-2},

    with :math:`q_i` the integer wavenumbers of the grid,
    :math:`q_i \\in \\{-n/2, \\dots, n/2 - 1\\}` (``fftfreq(n) * n``; on the last axis of
    the half spectrum :math:`q \\in \\{0, \\dots, n/2\\}`, the same values since
    :math:`\\gamma` is even in each :math:`q_i`). A larger :math:`a_i` damps the
    wavenumbers along axis :math:`i` sooner, so features are longer along that axis;
    keeping :math:`a n` fixed keeps the feature size in voxels.
    """
    lengths = np.asarray(lengths, dtype=float)
    dim = lengths.size
    q = fft.fftfreq(n, d=1.0 / n)
    q_half = fft.rfftfreq(n, d=1.0 / n)
    shape = [n] * (dim - 1) + [n // 2 + 1]
    s = np.zeros(shape, dtype=np.float32)
    for axis, a in enumerate(lengths):
        wavenumbers = q_half if axis == dim - 1 else q
        view = [1] * dim
        view[axis] = wavenumbers.size
        s += ((a * wavenumbers) ** 2).astype(np.float32).reshape(view)
    with np.errstate(over="ignore"):  # s**4 -> inf gives a filter of exactly 0
        s *= s
        s *= s
    s += 1
    return np.reciprocal(s, out=s)


def _level_cut(psi: np.ndarray, eps: float) -> np.ndarray:
    """Solid (1) where ``psi`` is at or above its ``eps``-quantile, pore (0) below.

    Exactly ``round(eps * psi.size)`` voxels are pore: voxels tied with the threshold are
    made pore in C order until the count is reached.
    """
    flat = psi.reshape(-1)
    pore_count = int(np.rint(eps * flat.size))
    if pore_count == 0:
        return np.ones(psi.shape, dtype=np.uint8)
    if pore_count == flat.size:
        return np.zeros(psi.shape, dtype=np.uint8)
    threshold = np.partition(flat, pore_count)[pore_count]
    solid = psi >= threshold
    missing = pore_count - (flat.size - np.count_nonzero(solid))
    if missing:
        solid.reshape(-1)[np.flatnonzero(flat == threshold)[:missing]] = False
    return solid.view(np.uint8)


def spinodoid(theta, n: int, seed: int, dim: int = 3, *, workers: int = 1) -> np.ndarray:
    """Anisotropic spinodoid: a level cut of a periodic Gaussian random field.

    Parameters
    ----------
    theta : (dim + 1,) array_like of float
        ``(a_x, a_y[, a_z], eps)``: anisotropy lengths ``a_i >= 0`` (1/wavenumber) and
        the pore fraction ``eps`` in [0, 1].
    n : int
        Voxels per side; the structure has ``n**dim`` voxels.
    seed : int
        Non-negative seed of the white noise (``numpy.random.default_rng(seed)``, PCG64).
    dim : {3, 2}, optional
        Dimension of the structure.
    workers : int, optional
        Threads of :mod:`scipy.fft` (default 1).

    Returns
    -------
    solid : (n, n[, n]) ndarray of uint8
        1 = solid, 0 = pore; axes (x, y[, z]). Exactly ``round(eps * n**dim)`` voxels are
        pore (round half to even).

    Notes
    -----
    White noise :math:`W \\sim N(0, 1)` per voxel is filtered in Fourier space,

    .. math:: \\Psi = \\mathrm{Re}\\,\\mathcal{F}^{-1}\\left[\\sqrt{\\gamma(q)}\\,
              \\mathcal{F}[W]\\right],

    with the spectral density :math:`\\gamma` of :func:`spectral_filter`. Since
    :math:`\\gamma` is even in :math:`q`, :math:`\\Psi` is real and computed with the real
    transforms ``rfftn``/``irfftn`` (half the work of complex ones). The field is
    periodic, so the structure is periodic along every axis. The structure is pore where
    :math:`\\Psi < T` and solid where :math:`\\Psi \\ge T`, :math:`T` the
    :math:`\\varepsilon`-quantile of :math:`\\Psi`, found by selection
    (``np.partition``); voxels tied with :math:`T` become pore in C order until the pore
    count is exact.

    The noise and both transforms are in single precision (float32): the structure only
    depends on the order of field values, and single precision halves the time and
    memory. The random stream is ``default_rng(seed).standard_normal(shape,
    dtype=float32)``, drawn in C order over the (x, y[, z]) axes.

    References
    ----------
    .. [1] S. Kumar, S. Tan, L. Zheng, D. M. Kochmann, "Inverse-designed spinodoid
       metamaterials", npj Computational Materials 6, 73 (2020).

    Examples
    --------
    >>> solid = spinodoid((0.2, 0.3, 0.6, 0.5), 32, seed=7)
    >>> solid.shape, solid.dtype, int((solid == 0).sum())
    ((32, 32, 32), dtype('uint8'), 16384)
    """
    dim = _check_dim(dim)
    n = _check_size(n)
    lengths, eps = _check_theta(theta, dim)
    seed = _check_seed(seed)
    shape = (n,) * dim
    noise = np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)
    spectrum = fft.rfftn(noise, workers=workers)
    del noise  # release each large array once used: lower peak memory at large n
    spectrum *= spectral_filter(lengths, n)
    psi = fft.irfftn(spectrum, s=shape, workers=workers)
    del spectrum
    return _level_cut(psi, eps)
