"""Priors of structure and process parameters, and seeded prior samples.

The spinodoid prior is the distribution of ``theta = (a_x, a_y[, a_z], eps)`` used to
generate datasets and as the ABC prior. :func:`sample_prior` draws from it with one explicit
seed per sample and keeps only structures whose pore and solid phases both percolate.

The process prior (:class:`ProcessPrior`) is uniform over the box of a process family's
parameters phi (:data:`microinv.microstructure.process.FAMILIES`); :func:`sample_process`
draws groups of samples that share one phi (the structure is random given phi), keeping
every structure: a structure that does not flow is a point of the property cloud.
"""

from __future__ import annotations

import dataclasses
import logging
import numbers

import numpy as np

from microinv.seeds import PROCESS, sample_stream, stream

from .percolation import percolation_flags
from .process import FAMILIES
from .spinodoid import _check_dim, _check_size, spinodoid

__all__ = ["PriorSample", "ProcessPrior", "SpinodoidPrior", "admissible", "sample_prior", "sample_process"]

logger = logging.getLogger(__name__)

#: Grid size at which the ranges of the mean length are given.
REFERENCE_SIZE = 192


@dataclasses.dataclass(frozen=True)
class SpinodoidPrior:
    """Prior of anisotropic spinodoid parameters ``theta = (a_x, a_y[, a_z], eps)``.

    Parameters
    ----------
    n : int, optional
        Voxels per side of the structures (default 192). The mean length range is given
        at ``n = 192`` and scaled by ``192 / n``, so the feature size in voxels is the
        same at every ``n``.
    dim : {3, 2}, optional
        Dimension of the structures.
    mean_range : (float, float), optional
        Range of the mean length ``m`` at ``n = 192`` (default (0.05, 0.2)).
    max_ratio : float, optional
        Largest ratio of the longest to the shortest length (default 3).
    eps_range : (float, float), optional
        Range of the pore fraction (default (0.30, 0.85)).

    Notes
    -----
    **Generative model (3D).** Draw

    .. math::

        \\beta \\sim U[1, r], \\quad \\alpha \\mid \\beta \\sim U[1, \\beta], \\quad
        m \\sim U[m_0, m_1], \\quad \\pi \\sim U(S_3), \\quad
        \\varepsilon \\sim U[\\varepsilon_0, \\varepsilon_1],

    with :math:`r` = ``max_ratio`` and :math:`[m_0, m_1]` = ``mean_range * 192 / n``.
    The lengths :math:`v = c\\,(1, \\alpha, \\beta)`, :math:`c = 3m / (1 + \\alpha +
    \\beta)`, have mean :math:`m`; the permutation :math:`\\pi` assigns them to the axes,
    :math:`a_{\\pi(k)} = v_k`.

    **Density in theta-space.** For almost every :math:`a` the sorted lengths
    :math:`v_1 \\le v_2 \\le v_3` and the permutation are unique, and
    :math:`(m, \\alpha, \\beta) = ((v_1 + v_2 + v_3) / 3, v_2 / v_1, v_3 / v_1)`. The
    Jacobian of this map is

    .. math::

        \\left|\\det \\frac{\\partial(m, \\alpha, \\beta)}{\\partial(v_1, v_2, v_3)}\\right|
        = \\frac{1}{3}\\det\\begin{pmatrix} 1 & 1 & 1 \\\\ -v_2/v_1^2 & 1/v_1 & 0 \\\\
        -v_3/v_1^2 & 0 & 1/v_1 \\end{pmatrix}
        = \\frac{v_1 + v_2 + v_3}{3 v_1^3} = \\frac{m}{v_1^3},

    so

    .. math::

        p(\\theta) = \\frac{1}{3!}\\,\\frac{1}{m_1 - m_0}\\,\\frac{1}{r - 1}\\,
        \\frac{1}{\\beta - 1}\\,\\frac{m}{v_1^3}\\,
        \\frac{1}{\\varepsilon_1 - \\varepsilon_0}

    on the support :math:`m_0 \\le m \\le m_1`, :math:`v_3 \\le r v_1`,
    :math:`\\varepsilon_0 \\le \\varepsilon \\le \\varepsilon_1`, and 0 elsewhere. The
    factor :math:`1/(\\beta - 1)` is integrable: the density is unbounded near
    :math:`v_3 = v_1` (near-isotropic lengths) but integrates to 1.

    **2D analogue.** Two lengths :math:`c\\,(1, \\beta)`, :math:`\\beta \\sim U[1, r]`,
    :math:`c = 2m / (1 + \\beta)`, a random permutation of the two axes, and
    :math:`\\varepsilon` as in 3D. With :math:`(m, \\beta) = ((v_1 + v_2)/2, v_2/v_1)`,
    :math:`|\\det \\partial(m, \\beta)/\\partial(v_1, v_2)| = m / v_1^2`, and

    .. math::

        p(\\theta) = \\frac{1}{2!}\\,\\frac{1}{m_1 - m_0}\\,\\frac{1}{r - 1}\\,
        \\frac{m}{v_1^2}\\,\\frac{1}{\\varepsilon_1 - \\varepsilon_0}.

    Examples
    --------
    >>> prior = SpinodoidPrior(n=96)
    >>> theta = prior.sample(np.random.default_rng(0), 4)
    >>> theta.shape, bool(np.isfinite(prior.logpdf(theta)).all())
    ((4, 4), True)
    """

    n: int = REFERENCE_SIZE
    dim: int = 3
    mean_range: tuple[float, float] = (0.05, 0.2)
    max_ratio: float = 3.0
    eps_range: tuple[float, float] = (0.30, 0.85)

    def __post_init__(self):
        _check_size(self.n)
        _check_dim(self.dim)
        lo, hi = self.mean_range
        if not 0 < lo < hi:
            raise ValueError(f"mean_range must satisfy 0 < low < high, got {self.mean_range!r}")
        if not self.max_ratio > 1:
            raise ValueError(f"max_ratio must be > 1, got {self.max_ratio!r}")
        lo, hi = self.eps_range
        if not 0 <= lo < hi <= 1:
            raise ValueError(
                f"eps_range must satisfy 0 <= low < high <= 1, got {self.eps_range!r}")

    @property
    def mean_bounds(self) -> tuple[float, float]:
        """Range of the mean length at this grid size, ``mean_range * 192 / n``."""
        scale = REFERENCE_SIZE / self.n
        return self.mean_range[0] * scale, self.mean_range[1] * scale

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw parameters from the prior.

        Parameters
        ----------
        rng : numpy.random.Generator
            Source of randomness.
        size : int
            Number of draws.

        Returns
        -------
        theta : (size, dim + 1) ndarray of float64
            Rows ``(a_x, a_y[, a_z], eps)``.

        Notes
        -----
        The draws are made in this order, each as one vectorised call: ``beta``,
        ``alpha`` (3D only), ``m``, the permutations (``rng.permuted``), ``eps``.
        """
        if not isinstance(size, numbers.Integral) or size < 0:
            raise ValueError(f"size must be a non-negative integer, got {size!r}")
        dim = self.dim
        beta = rng.uniform(1.0, self.max_ratio, size)
        ratios = [np.ones(size), beta]
        if dim == 3:
            ratios.insert(1, rng.uniform(1.0, beta))
        ratios = np.stack(ratios, axis=1)
        mean = rng.uniform(*self.mean_bounds, size)
        lengths = ratios * (dim * mean / ratios.sum(axis=1))[:, None]
        order = rng.permuted(np.tile(np.arange(dim), (size, 1)), axis=1)
        theta = np.empty((size, dim + 1))
        np.put_along_axis(theta, order, lengths, axis=1)
        theta[:, dim] = rng.uniform(*self.eps_range, size)
        return theta

    def logpdf(self, theta) -> np.ndarray:
        """Log density of the prior (see the class notes for the derivation).

        Parameters
        ----------
        theta : (..., dim + 1) array_like of float
            Parameters ``(a_x, a_y[, a_z], eps)``.

        Returns
        -------
        logp : (...) ndarray of float64
            ``log p(theta)``; ``-inf`` outside the support.
        """
        theta = np.asarray(theta, dtype=float)
        dim = self.dim
        if theta.shape[-1:] != (dim + 1,):
            raise ValueError(
                f"theta must have {dim + 1} values in its last axis, got shape {theta.shape}")
        v = np.sort(theta[..., :dim], axis=-1)
        eps = theta[..., dim]
        shortest, longest = v[..., 0], v[..., -1]
        mean = v.mean(axis=-1)
        m0, m1 = self.mean_bounds
        e0, e1 = self.eps_range
        inside = ((shortest > 0) & (longest <= self.max_ratio * shortest)
                  & (mean >= m0) & (mean <= m1) & (eps >= e0) & (eps <= e1))
        with np.errstate(divide="ignore", invalid="ignore"):
            logp = (-np.log(float(np.prod(np.arange(1, dim + 1))))  # 1 / dim!
                    - np.log(m1 - m0) - np.log(self.max_ratio - 1.0) - np.log(e1 - e0)
                    + np.log(mean) - dim * np.log(shortest))
            if dim == 3:
                logp = logp - np.log(longest / shortest - 1.0)
        return np.where(inside, logp, -np.inf)


@dataclasses.dataclass(frozen=True)
class PriorSample:
    """Accepted prior draws, one row per sample.

    Attributes
    ----------
    theta : (count, dim + 1) ndarray of float64
        Parameters ``(a_x, a_y[, a_z], eps)``.
    seed : (count,) ndarray of uint64
        Structure seeds: the structure is ``spinodoid(theta[k], n, seed[k], dim)``.
    index : (count,) ndarray of int64
        Global sample indices.
    attempts : (count,) ndarray of int64
        Prior draws needed for each sample (1 = the first draw was accepted).
    acceptance_rate : float
        ``count / attempts.sum()``: accepted over all draws (NaN when count is 0).
    """

    theta: np.ndarray
    seed: np.ndarray
    index: np.ndarray
    attempts: np.ndarray
    acceptance_rate: float


def _attempt(seed_sequence: np.random.SeedSequence, index: int, attempt: int,
             prior: SpinodoidPrior) -> tuple[np.ndarray, np.uint64]:
    """Parameters and structure seed of one prior draw, from its own seed sequence."""
    sequence = sample_stream(seed_sequence, index, attempt)
    theta = prior.sample(np.random.Generator(np.random.PCG64(sequence)), 1)[0]
    return theta, sequence.generate_state(1, np.uint64)[0]


def admissible(solid: np.ndarray) -> bool:
    """The prior's acceptance rule: does a structure percolate as the prior requires?

    Parameters
    ----------
    solid : (N, N[, N]) ndarray of uint8
        1 = solid, 0 = pore.

    Returns
    -------
    bool
        In 3D, True when the pore phase and the solid phase each connect opposite faces
        along every axis (:func:`~microinv.microstructure.percolation_flags`); in 2D, when
        the pore phase does.

    Notes
    -----
    In 2D a phase spanning along x separates the other phase's top from its bottom, so
    the two phases cannot both span along both axes; the pore phase, which carries the
    transport, is required to. :func:`sample_prior` keeps a draw when its structure is
    admissible, and the inversion's simulator refuses a proposal that is not, so both
    sample the same prior.
    """
    flags = percolation_flags(solid)
    return bool(flags.all() if solid.ndim == 3 else flags[0].all())


def sample_prior(count: int, *, n: int, seed_sequence, dim: int = 3, start_index: int = 0,
                 max_attempts: int = 1000, prior: SpinodoidPrior | None = None) -> PriorSample:
    """Draw prior samples whose structures percolate, each with its own 64-bit seed.

    Parameters
    ----------
    count : int
        Number of samples.
    n : int
        Voxels per side of the structures.
    seed_sequence : numpy.random.SeedSequence or int
        The campaign's seed sequence (an int is wrapped in ``SeedSequence``).
    dim : {3, 2}, optional
        Dimension of the structures.
    start_index : int, optional
        Global index of the first sample; samples ``start_index .. start_index + count -
        1`` are drawn.
    max_attempts : int, optional
        Prior draws allowed per sample before giving up (default 1000).
    prior : SpinodoidPrior, optional
        The prior; default ``SpinodoidPrior(n, dim)``. Its ``n`` and ``dim`` must match.

    Returns
    -------
    PriorSample

    Raises
    ------
    RuntimeError
        If a sample finds no percolating structure in ``max_attempts`` draws.

    Notes
    -----
    Attempt ``j`` of sample ``i`` uses its own ``SeedSequence(entropy=seed_sequence.entropy,
    spawn_key=(*seed_sequence.spawn_key, i, j))`` (:func:`microinv.seeds.sample_stream`, the
    sample purpose of the seed scheme): a PCG64 generator on it draws theta
    (:meth:`SpinodoidPrior.sample`), and ``generate_state(1, uint64)`` gives the structure
    seed. A draw is accepted when its structure is :func:`admissible`: the pore phase and
    the solid phase each connect the opposite faces along every axis, sides being walls
    (:func:`percolation_flags`); in 2D, where both phases cannot span along both axes (a
    spanning path of one phase cuts the other), the pore phase. A sample therefore depends
    only on the campaign entropy and its index: sample ``i`` is regenerated alone, bit for bit, with ``sample_prior(1, ..., start_index=i)``.

    Examples
    --------
    >>> s = sample_prior(2, n=32, seed_sequence=np.random.SeedSequence(1), start_index=5)
    >>> s.theta.shape, s.seed.dtype, s.index.tolist()
    ((2, 4), dtype('uint64'), [5, 6])
    """
    for name, value, low in (("count", count, 0), ("start_index", start_index, 0),
                             ("max_attempts", max_attempts, 1)):
        if not isinstance(value, numbers.Integral) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    prior = SpinodoidPrior(n=n, dim=dim) if prior is None else prior
    if (prior.n, prior.dim) != (n, dim):
        raise ValueError(f"prior is for n={prior.n}, dim={prior.dim}, not n={n}, dim={dim}")
    if not isinstance(seed_sequence, np.random.SeedSequence):
        seed_sequence = np.random.SeedSequence(seed_sequence)

    theta = np.empty((count, dim + 1))
    seeds = np.empty(count, dtype=np.uint64)
    attempts = np.zeros(count, dtype=np.int64)
    index = np.arange(start_index, start_index + count, dtype=np.int64)
    for k, i in enumerate(index.tolist()):
        for j in range(max_attempts):
            theta[k], seeds[k] = _attempt(seed_sequence, i, j, prior)
            attempts[k] = j + 1
            if admissible(spinodoid(theta[k], n, seeds[k], dim)):
                break
            logger.debug("sample %d attempt %d rejected: a phase does not percolate", i, j)
        else:
            raise RuntimeError(
                f"sample {i}: no structure with both phases percolating in {max_attempts} "
                f"prior draws (n={n}, dim={dim}); raise max_attempts or check the prior")
    rate = count / attempts.sum() if count else float("nan")
    return PriorSample(theta=theta, seed=seeds, index=index, attempts=attempts,
                       acceptance_rate=float(rate))


@dataclasses.dataclass(frozen=True)
class ProcessPrior:
    """Uniform prior over the box of a process family's parameters phi.

    Parameters
    ----------
    family : str
        A family of :data:`microinv.microstructure.process.FAMILIES` (``"2d"``, ``"3d"``,
        ``"five-lobe"``).

    Notes
    -----
    ``p(phi) = prod_i 1 / (u_i - l_i)`` on the box ``[l, u]`` of the family, 0 outside
    (``1 / (8 * 1.8)`` for the ``"2d"`` box [1, 9] x [0.2, 2]).

    Examples
    --------
    >>> prior = ProcessPrior("2d")
    >>> prior.sample(np.random.default_rng(0), 3).shape, round(float(prior.logpdf([5.0, 1.0])), 4)
    ((3, 2), -2.6672)
    """

    family: str = "2d"

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"family must be one of {sorted(FAMILIES)}, got {self.family!r}")

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds of phi, float64 (P,) each."""
        _, _, low, high = FAMILIES[self.family]
        return np.array(low), np.array(high)

    @property
    def dim(self) -> int:
        """Dimension of the structures of the family."""
        return FAMILIES[self.family][0]

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """``size`` draws, (size, P) float64: one ``rng.uniform(low, high, (size, P))`` call."""
        low, high = self.bounds
        return rng.uniform(low, high, (size, low.size))

    def logpdf(self, phi) -> np.ndarray:
        """``log p(phi)`` of (..., P) parameters; ``-inf`` outside the box."""
        phi = np.asarray(phi, dtype=float)
        low, high = self.bounds
        inside = ((phi >= low) & (phi <= high)).all(axis=-1)
        return np.where(inside, -np.log(high - low).sum(), -np.inf)


def sample_process(count: int, *, seed_sequence, prior: ProcessPrior, structures_per_phi: int = 1,
                   start_index: int = 0) -> PriorSample:
    """Samples of a process campaign: groups of ``structures_per_phi`` structures per phi.

    Parameters
    ----------
    count : int
        Number of samples.
    seed_sequence : numpy.random.SeedSequence or int
        The campaign's seed sequence.
    prior : ProcessPrior
        The prior of phi.
    structures_per_phi : int, optional
        Samples ``g * s .. g * s + s - 1`` (``s = structures_per_phi``) share the phi of
        group ``g``.
    start_index : int, optional
        Global index of the first sample.

    Returns
    -------
    PriorSample
        ``theta`` holds phi (count, P); every sample is accepted at its first attempt.

    Notes
    -----
    The phi of group ``g`` is drawn from ``stream(entropy, PROCESS, g)`` (the process purpose
    of :mod:`microinv.seeds`); the structure seed of sample ``i`` is
    ``sample_stream(campaign, i, 0).generate_state(1, uint64)``. A sample depends only on
    the campaign entropy and its index: any sample regenerates alone.

    Examples
    --------
    >>> s = sample_process(4, seed_sequence=1, prior=ProcessPrior(), structures_per_phi=2)
    >>> bool((s.theta[0] == s.theta[1]).all()), bool((s.theta[1] != s.theta[2]).all())
    (True, True)
    """
    for name, value, low in (("count", count, 0), ("start_index", start_index, 0),
                             ("structures_per_phi", structures_per_phi, 1)):
        if not isinstance(value, numbers.Integral) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    if not isinstance(seed_sequence, np.random.SeedSequence):
        seed_sequence = np.random.SeedSequence(seed_sequence)
    index = np.arange(start_index, start_index + count, dtype=np.int64)
    groups = {}
    for group in np.unique(index // structures_per_phi).tolist():
        rng = np.random.Generator(np.random.PCG64(stream(seed_sequence.entropy, PROCESS, group)))
        groups[group] = prior.sample(rng, 1)[0]
    theta = np.array([groups[i // structures_per_phi] for i in index.tolist()]).reshape(count, -1)
    seeds = np.array([sample_stream(seed_sequence, i, 0).generate_state(1, np.uint64)[0]
                      for i in index.tolist()], dtype=np.uint64)
    return PriorSample(theta=theta, seed=seeds, index=index, attempts=np.ones(count, dtype=np.int64),
                       acceptance_rate=1.0 if count else float("nan"))
