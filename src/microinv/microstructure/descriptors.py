"""Statistical descriptors of periodic two-phase voxel structures.

Every descriptor treats the structure as one cell of a periodic tiling (spinodoids are
periodic), works on ``uint8`` arrays with 1 = solid and 0 = pore, and measures lengths in
voxels. :func:`describe` gathers the descriptors stored in a structures chunk. Arguments are
checked by `microinv.checks` (a structure is uint8 with values 0 and 1 only); a bad one
raises `microinv.errors.InputError` naming it.
"""

from __future__ import annotations

import numpy as np
from scipy import fft

from microinv.checks import check_axis, check_integer, check_phase, check_structure

__all__ = [
    "porosity",
    "specific_surface_area",
    "two_point_correlation",
    "mean_chord_length",
    "lineal_path",
    "describe",
]


def porosity(solid) -> float:
    """Pore fraction of a structure.

    Parameters
    ----------
    solid : (M, N[, P]) array_like of uint8
        1 = solid, 0 = pore.

    Returns
    -------
    float
        :math:`\\varepsilon = N_\\text{pore} / N`, dimensionless.

    Examples
    --------
    >>> porosity(np.array([[0, 1], [0, 0]], dtype=np.uint8))
    0.75
    """
    solid = check_structure(solid)
    return float(np.count_nonzero(solid == 0) / solid.size)


def specific_surface_area(solid) -> float:
    """Pore/solid interface area per volume, counted on voxel faces.

    Parameters
    ----------
    solid : (M, N[, P]) array_like of uint8
        1 = solid, 0 = pore; periodic along every axis.

    Returns
    -------
    float
        :math:`S_v = F / N` in 1/voxel: ``F`` the number of faces between face-adjacent
        voxels of different phases (including the faces across the periodic
        boundaries), ``N`` the number of voxels. Multiply by 1/voxel size for physical
        units. In 2D the faces are edges (interface length per area).

    Notes
    -----
    The voxel-face count overestimates the area of a smooth interface (by 3/2 on
    average for isotropic surfaces in 3D); it is the exact area of the voxelised one.

    Examples
    --------
    >>> cube = np.zeros((4, 4, 4), dtype=np.uint8)
    >>> cube[1, 1, 1] = 1                      # one solid voxel: 6 faces in 64 voxels
    >>> specific_surface_area(cube)
    0.09375
    """
    solid = check_structure(solid)
    faces = sum(np.count_nonzero(solid != np.roll(solid, 1, axis=axis))
                for axis in range(solid.ndim))
    return float(faces / solid.size)


def two_point_correlation(solid, axis: int, *, max_lag: int | None = None) -> np.ndarray:
    """Two-point correlation function of the solid phase along one axis.

    Parameters
    ----------
    solid : (M, N[, P]) array_like of uint8
        1 = solid, 0 = pore; periodic along ``axis``.
    axis : int
        Direction of the lag vector.
    max_lag : int, optional
        Largest lag returned, in voxels; default ``solid.shape[axis] // 2`` (larger lags
        repeat smaller ones, :math:`S_2(r) = S_2(n - r)`).

    Returns
    -------
    s2 : (max_lag + 1,) ndarray of float64
        :math:`S_2(r)` for :math:`r = 0, 1, \\dots`, ``max_lag``.

    Notes
    -----
    With the indicator :math:`I(x)` of the solid phase and :math:`e` the unit vector of
    ``axis``,

    .. math:: S_2(r) = \\langle I(x)\\, I(x + r e) \\rangle_x ,

    the probability that two voxels ``r`` apart along ``axis`` are both solid. It is
    computed for all lags at once by the Wiener-Khinchin theorem on each periodic line,
    :math:`S_2 = \\mathcal{F}^{-1}\\langle|\\mathcal{F} I|^2\\rangle / n`.
    :math:`S_2(0) = \\phi`, the solid fraction, and for a structure without long-range
    order :math:`S_2(r) \\to \\phi^2` at long range.

    References
    ----------
    .. [1] S. Torquato, *Random Heterogeneous Materials*, Springer (2002), ch. 2.

    Examples
    --------
    >>> layers = np.array([[1, 1, 0, 0]] * 3, dtype=np.uint8)
    >>> two_point_correlation(layers, axis=1)
    array([0.5 , 0.25, 0.  ])
    """
    solid = check_structure(solid)
    axis = check_axis(axis, solid.ndim)
    n = solid.shape[axis]
    max_lag = n // 2 if max_lag is None else check_integer("max_lag", max_lag)
    lines = np.ascontiguousarray(np.moveaxis(solid == 1, axis, -1), dtype=np.float32)
    spectrum = fft.rfft(lines.reshape(-1, n), axis=-1)
    power = (spectrum.real**2 + spectrum.imag**2).mean(axis=0, dtype=np.float64)
    s2 = fft.irfft(power, n=n) / n
    return s2[np.arange(max_lag + 1) % n]


def _periodic_runs(mask: np.ndarray, axis: int) -> tuple[np.ndarray, int]:
    """Lengths of the runs of True on the periodic lines of ``mask`` along ``axis``.

    A run that crosses the periodic boundary is one run. Lines entirely True have no
    ends; they are not in ``lengths`` but counted in ``full_lines``.

    Returns
    -------
    lengths : (R,) ndarray of int64
    full_lines : int
    """
    n = mask.shape[axis]
    starts = mask & ~np.roll(mask, 1, axis=axis)       # previous voxel (periodic) not in
    ends = mask & ~np.roll(mask, -1, axis=axis)        # next voxel (periodic) not in
    # flat indices in line-major order: line = index // n, position = index % n
    starts = np.flatnonzero(np.moveaxis(starts, axis, -1))
    ends = np.flatnonzero(np.moveaxis(ends, axis, -1))
    # each start's run ends at the first end at or after it on its line; the run that
    # wraps around ends at the first end of its line
    match = np.searchsorted(ends, starts)
    line = starts // n
    wrapped = (match == len(ends)) | (ends[np.minimum(match, len(ends) - 1)] // n != line)
    match[wrapped] = np.searchsorted(ends, line[wrapped] * n)
    lengths = (ends[match] - starts) % n + 1
    full_lines = int(np.count_nonzero(mask.all(axis=axis)))
    return lengths, full_lines


def mean_chord_length(solid, axis: int, *, phase: int = 0) -> float:
    """Mean length of the chords of a phase along one axis.

    Parameters
    ----------
    solid : (M, N[, P]) array_like of uint8
        1 = solid, 0 = pore; periodic along ``axis``.
    axis : int
        Direction of the chords.
    phase : {0, 1}, optional
        0 (default) for pore chords, 1 for solid chords.

    Returns
    -------
    float
        Mean chord length in voxels; NaN if the phase is absent.

    Notes
    -----
    A chord is a maximal run of consecutive voxels of the phase on a line along ``axis``.
    Lines are periodic: a run that leaves the cell through the last slice and continues
    from the first is one chord. A line entirely in the phase has no end in the periodic
    tiling; it counts as one chord of length ``n`` (the cell length), so the result is
    a lower bound when such lines exist. The mean is

    .. math:: \\bar\\ell = \\frac{N_\\text{phase}}{N_\\text{chords}},

    the number of phase voxels per chord.

    Examples
    --------
    >>> line = np.array([[0, 0, 1, 0, 1, 1, 0, 0]], dtype=np.uint8)
    >>> mean_chord_length(line, axis=1)        # pore chords 4 (periodic) and 1
    2.5
    """
    solid = check_structure(solid)
    axis = check_axis(axis, solid.ndim)
    mask = solid == check_phase(phase)
    starts = np.count_nonzero(mask & ~np.roll(mask, 1, axis=axis))
    chords = starts + np.count_nonzero(mask.all(axis=axis))
    if chords == 0:
        return float("nan")
    return float(np.count_nonzero(mask) / chords)


def lineal_path(solid, axis: int, *, phase: int = 0, max_length: int | None = None) -> np.ndarray:
    """Lineal-path function of a phase along one axis.

    Parameters
    ----------
    solid : (M, N[, P]) array_like of uint8
        1 = solid, 0 = pore; periodic along ``axis``.
    axis : int
        Direction of the segments.
    phase : {0, 1}, optional
        0 (default) for the pore phase, 1 for the solid phase.
    max_length : int, optional
        Longest segment, in voxels; default ``solid.shape[axis] // 2``.

    Returns
    -------
    lp : (max_length + 1,) ndarray of float64
        :math:`L(r)` for :math:`r = 0, 1, \\dots`, ``max_length``.

    Notes
    -----
    :math:`L(r)` is the probability that the segment from a voxel :math:`x` to
    :math:`x + r e` (the :math:`r + 1` voxels it joins) lies entirely in the phase;
    :math:`L(0)` is the phase fraction and :math:`L` is non-increasing. On periodic lines
    a chord of length :math:`\\ell` contains :math:`\\max(\\ell - r, 0)` such segments,
    and a line entirely in the phase contains :math:`n` for every :math:`r`, so with the
    chord-length counts :math:`h_\\ell`,

    .. math:: L(r) = \\frac{1}{N}\\Big(\\sum_{\\ell > r} (\\ell - r)\\, h_\\ell
              + n\\, N_\\text{full lines}\\Big),

    evaluated for all :math:`r` by reverse cumulative sums.

    References
    ----------
    .. [1] B. Lu, S. Torquato, "Lineal-path function for random heterogeneous
       materials", Phys. Rev. A 45, 922 (1992).

    Examples
    --------
    >>> line = np.array([[0, 0, 1, 0, 1, 1, 0, 0]], dtype=np.uint8)
    >>> lineal_path(line, axis=1, max_length=4)
    array([0.625, 0.375, 0.25 , 0.125, 0.   ])
    """
    solid = check_structure(solid)
    axis = check_axis(axis, solid.ndim)
    n = solid.shape[axis]
    max_length = n // 2 if max_length is None else check_integer("max_length", max_length)
    lengths, full_lines = _periodic_runs(solid == check_phase(phase), axis)
    counts = np.bincount(lengths, minlength=max_length + 2).astype(float)
    ell = np.arange(counts.size)
    # tails[r] = sum over l > r of h_l (and of l h_l)
    tail_counts = np.cumsum(counts[::-1])[::-1][1:]
    tail_sums = np.cumsum((ell * counts)[::-1])[::-1][1:]
    r = np.arange(max_length + 1)
    segments = tail_sums[r] - r * tail_counts[r] + n * full_lines
    return segments / solid.size


def describe(solid, *, length: int | None = None) -> dict[str, float | np.ndarray]:
    """All descriptors of a structure, as stored in a structures chunk.

    Parameters
    ----------
    solid : (M, N[, P]) array_like of uint8
        1 = solid, 0 = pore; periodic.
    length : int, optional
        Number ``L`` of lags of the correlation functions (lags 0 .. L - 1); default
        ``min(solid.shape) // 2``.

    Returns
    -------
    dict
        ``porosity`` (float), ``specific_surface`` (float, 1/voxel), ``s2`` ((dim, L),
        :func:`two_point_correlation` of the solid per axis), ``chord_length`` ((2, dim),
        :func:`mean_chord_length` of [pore, solid] per axis, voxels), ``lineal_path``
        ((dim, L), :func:`lineal_path` of the pore phase per axis).

    Examples
    --------
    >>> d = describe(np.eye(6, dtype=np.uint8))
    >>> d["porosity"], d["s2"].shape, d["chord_length"].tolist()
    (0.8333333333333334, (2, 3), [[5.0, 5.0], [1.0, 1.0]])
    """
    solid = check_structure(solid)
    dim = solid.ndim
    length = check_integer("length", min(solid.shape) // 2 if length is None else length, minimum=1)
    axes = range(dim)
    return {
        "porosity": porosity(solid),
        "specific_surface": specific_surface_area(solid),
        "s2": np.stack([two_point_correlation(solid, a, max_lag=length - 1) for a in axes]),
        "chord_length": np.array([[mean_chord_length(solid, a, phase=p) for a in axes]
                                  for p in (0, 1)]),
        "lineal_path": np.stack([lineal_path(solid, a, max_length=length - 1) for a in axes]),
    }
