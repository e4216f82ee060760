"""Anisotropic spinodoid structures: level cuts of a periodic Gaussian random field.

A structure is fully defined by ``(theta, n, seed)`` and the dimension; the same
arguments give the same bytes in any process (with the same numpy and scipy versions,
whose random streams and FFTs fix the floating-point values).

The spectral filter and the level cut are written once, for numpy arrays and torch
tensors alike: :mod:`.spinodoid_torch` runs the same model on a torch device.
:class:`NumpyGenerator` batches :func:`spinodoid` behind the interface of its
``TorchGenerator``.
"""

from __future__ import annotations

import numbers
import sys

import numpy as np
from scipy import fft

__all__ = ["NumpyGenerator", "fourier_upsample", "spectral_filter", "spinodoid", "spinodoid_field"]


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


def _namespace(array):
    """The array library of ``array``: torch for a torch tensor, else numpy.

    torch is looked up among the loaded modules, never imported here: numpy structures need
    no torch, and a tensor exists only once torch is loaded.
    """
    torch = sys.modules.get("torch")
    return torch if torch is not None and isinstance(array, torch.Tensor) else np


def _wavenumbers(n: int, axis: int, dim: int) -> np.ndarray:
    """Integer wavenumbers q_axis of the :func:`scipy.fft.rfftn` grid, float64, shaped to
    broadcast along ``axis`` (the half spectrum ``0 .. n/2`` on the last axis)."""
    q = fft.rfftfreq(n, d=1.0 / n) if axis == dim - 1 else fft.fftfreq(n, d=1.0 / n)
    view = [1] * dim
    view[axis] = q.size
    return q.reshape(view)


def spectral_filter(lengths, n: int, *, dtype=None):
    """Square root of the spectral density on the half spectrum of a real FFT.

    Parameters
    ----------
    lengths : (..., dim) array_like of float, or torch tensor
        The anisotropy lengths ``(a_x, a_y[, a_z])``, in units of 1/wavenumber; leading
        axes are a batch. A torch tensor gives a tensor on its device.
    n : int
        Voxels per side of the periodic cell.
    dtype : numpy or torch dtype, keyword-only
        Precision of the filter (default float32 of the array library of ``lengths``).

    Returns
    -------
    filter : (..., n, n[, n], n // 2 + 1) ndarray or tensor
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

    Each term :math:`(a_i q_i)^2` is computed in float64 and rounded to ``dtype``; the sum,
    its fourth power and the reciprocal are in ``dtype``, the same operations for numpy
    arrays and torch tensors.
    """
    xp = _namespace(lengths)
    lengths = xp.asarray(lengths, dtype=xp.float64)
    dtype = xp.float32 if dtype is None else dtype
    batch, dim = tuple(lengths.shape[:-1]), lengths.shape[-1]
    s = None
    for axis in range(dim):
        a = lengths[..., axis].reshape(batch + (1,) * dim)
        q = xp.asarray(_wavenumbers(n, axis, dim), device=lengths.device)
        term = xp.asarray((a * q) ** 2, dtype=dtype)
        s = term if s is None else s + term
    with np.errstate(over="ignore"):  # s**4 -> inf gives a filter of exactly 0
        s *= s
        s *= s
    s += 1
    return xp.reciprocal(s, out=s)


def _level_cut(psi, eps: float):
    """Solid (1) where ``psi`` is at or above its ``eps``-quantile, pore (0) below.

    ``psi`` is a numpy array or a torch tensor; the structure is uint8 of the same library
    (and device). Exactly ``k = round(eps * psi.size)`` voxels are pore: the threshold
    :math:`T` is the (k+1)-th smallest value (``np.partition``, ``torch.kthvalue``), the
    voxels below it are pore, and voxels tied with it are made pore in C order until the
    count is reached.
    """
    xp = _namespace(psi)
    flat = psi.reshape(-1)
    size = flat.shape[0]
    pore_count = int(np.rint(eps * size))
    if pore_count in (0, size):
        return xp.full(psi.shape, int(pore_count == 0), dtype=xp.uint8, device=psi.device)
    if xp is np:
        threshold = np.partition(flat, pore_count)[pore_count]
    else:
        threshold = flat.kthvalue(pore_count + 1).values
    solid = psi >= threshold
    missing = pore_count - (size - int(xp.count_nonzero(solid)))
    if missing:
        solid.reshape(-1)[xp.argwhere(flat == threshold)[:missing, 0]] = False
    return solid.view(xp.uint8)


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
    psi, eps = _gaussian_field(theta, n, seed, dim, workers)
    return _level_cut(psi, eps)


def spinodoid_field(theta, n: int, seed: int, dim: int = 3, *, workers: int = 1,
                    upsample: int = 1) -> np.ndarray:
    """The continuous level-set field f = Psi - T of :func:`spinodoid`, float32.

    Same arguments as :func:`spinodoid`; ``spinodoid(...) == (spinodoid_field(...) >= 0)``
    bit for bit.

    ``upsample=k > 1`` gives the same smooth field on a grid k times finer,
    ``(k n)**dim`` values: Psi resampled by Fourier interpolation (the spectrum zero-padded,
    a Nyquist component of even n split equally between +n/2 and -n/2, so the values at
    the coarse points are Psi's up to float32 rounding) minus the same threshold T. Its
    level set f = 0 is the same interface, so solves on the fine grids converge to that
    geometry; keeping a n fixed the other way (a / k at k n) would draw another structure. The interface of the smooth structure is f = 0, the pore phase f < 0;
    :math:`T` is the threshold of the level cut (the smallest :math:`\\Psi` of a solid voxel).
    The few voxels tied with :math:`T` that the cut makes pore get the largest negative
    float32 (-1.4e-45) instead of 0, so that the sign still tells the phase. All pore
    (eps = 1): T is the largest :math:`\\Psi`.

    Examples
    --------
    >>> f = spinodoid_field((0.2, 0.3, 0.6, 0.5), 32, seed=7)
    >>> bool(((f >= 0) == spinodoid((0.2, 0.3, 0.6, 0.5), 32, seed=7)).all()), f.dtype
    (True, dtype('float32'))
    """
    if not isinstance(upsample, numbers.Integral) or isinstance(upsample, bool) or upsample < 1:
        raise ValueError(f"upsample must be a positive integer, got {upsample!r}")
    psi, eps = _gaussian_field(theta, n, seed, dim, workers)
    solid = _level_cut(psi, eps).view(bool)
    threshold = psi[solid].min() if solid.any() else psi.max()
    if upsample > 1:
        psi = fourier_upsample(psi, int(upsample), workers=workers)
        psi -= threshold
        return psi
    psi -= threshold
    psi[~solid & (psi >= 0)] = -np.finfo(np.float32).smallest_subnormal
    return psi


def fourier_upsample(values: np.ndarray, factor: int, *, workers: int = 1) -> np.ndarray:
    """Periodic band-limited (Fourier) interpolation of a real n^dim array onto a grid
    ``factor`` times finer along every axis, in the precision of ``values``.

    The real spectrum (:func:`scipy.fft.rfftn`) is zero-padded to ``(factor n)^dim``; for
    even n the Nyquist components are split equally between the wavenumbers +n/2 and
    -n/2 (on the half-spectrum axis: halved, the conjugate partner being implied), which
    keeps the interpolant real and equal to ``values`` at the coarse points (entry
    ``factor * i`` of the result is entry i of ``values``).
    """
    dim = values.ndim
    n = values.shape[0]
    spectrum = fft.rfftn(values, workers=workers)
    m = factor * n
    shape = (m,) * (dim - 1) + (m // 2 + 1,)
    padded = np.zeros(shape, dtype=spectrum.dtype)
    half = n // 2
    low = list(range(0, (n + 1) // 2))  # wavenumbers 0 .. ceil(n/2) - 1
    high = list(range(n - (n - 1) // 2, n))  # negative wavenumbers -(ceil(n/2) - 1) .. -1
    for axis in range(dim - 1):
        index = np.array(low + high)
        target = np.array(low + [m - n + j for j in high])
        spectrum_axis = np.take(spectrum, index, axis=axis)
        if n % 2 == 0:
            nyquist = np.take(spectrum, [half], axis=axis) / 2
            spectrum_axis = np.concatenate([spectrum_axis, nyquist, nyquist], axis=axis)
            target = np.concatenate([target, [half, m - half]])
        key = [slice(None)] * dim
        key[axis] = target
        grown = list(spectrum_axis.shape)
        grown[axis] = m
        expanded = np.zeros(grown, dtype=spectrum.dtype)
        expanded[tuple(key)] = spectrum_axis
        spectrum = expanded
    if n % 2 == 0:
        spectrum[..., half] /= 2
    padded[..., : spectrum.shape[-1]] = spectrum
    result = fft.irfftn(padded, s=(m,) * dim, workers=workers)
    result *= factor**dim
    return result.astype(values.dtype, copy=False)


def _gaussian_field(theta, n, seed, dim, workers) -> tuple[np.ndarray, float]:
    """The checked arguments' Gaussian random field Psi (float32) and pore fraction eps."""
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
    return psi, eps


class NumpyGenerator:
    """Batches of :func:`spinodoid` structures of one size, the ones ``microinv generate``
    writes.

    Parameters
    ----------
    n : int
        Grid side N.
    """

    def __init__(self, n: int):
        self.n = _check_size(n)

    def __call__(self, theta, seeds) -> np.ndarray:
        """Structures of (theta (B, 4), seeds (B,)): uint8 (B, N, N, N)."""
        return np.stack([spinodoid(t, self.n, int(s), dim=3) for t, s in zip(theta, seeds)])
