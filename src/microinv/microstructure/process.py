"""Process model: structures made by spinodal decomposition (Cahn-Hilliard) of a random field.

Process parameters ``phi`` set the spectral density of an initial periodic Gaussian random
field; the field is cut to a two-phase initial condition of pore fraction 2/3 and evolved
by the Cahn-Hilliard equation, whose final concentration is binarised to the structure.
The structure is random given ``phi``: ``(phi, n, seed)`` fixes it bit for bit (same numpy
and scipy versions).

Three families of ``phi`` (:data:`FAMILIES`), each a set of Gaussian lobes in k-space
(:func:`lobes`):

* ``"2d"``, ``phi = (phi1, phi2)`` in [1, 9] x [0.2, 2] (the reference study's model [1]_):
  ``S(k) = phi1 exp(-phi2 k_x^2) + (10 - phi1) exp(-phi2 k_y^2)``. The first lobe holds the
  wavenumbers with small ``k_x``: it makes features long along x, so ``phi1`` near 9 gives
  structures elongated along x, near 1 along y. (The reference text writes the second
  weight as ``1 - phi1``, negative on this range; weights summing to 10 keep its intent.)
* ``"3d"``, ``phi = (phi1, phi2, phi3)`` in [1, 9] x [0.2, 2] x [1, 9]: the two lobes of
  ``"2d"`` and a third one, ``+ phi3 exp(-phi2 k_z^2)``, that makes features long along z.
* ``"five-lobe"`` (2D), ``phi = (w_1, ..., w_5, l_1, ..., l_5)``, weights in [1, 9] and
  widths in [0.02, 2]: ``S(k) = sum_j w_j exp(-l_j (k . e_j)^2)`` with
  ``e_j = (cos(j pi / 5), sin(j pi / 5))``, j = 0..4 (the ten-parameter case).

Conventions: c = +1 is solid, c = -1 pore. The initial field is pore (c = -1) on the
2/3 of voxels with the lowest values of the random field and solid (+1) on the others;
the final structure is **solid (1) where c >= 0, pore (0) where c < 0**. The pore phase is
the majority phase: the mean of c (-1/3) is conserved, so the pore fraction stays near 2/3.

References
----------
.. [1] Y. Zhang, P.-S. Koutsourelakis, "PSP-GEN: Stochastic inversion of the
   Process-Structure-Property chain in materials design through deep, generative
   probabilistic modeling" (2025).
.. [2] J. Shen, X. Yang, "Numerical approximations of Allen-Cahn and Cahn-Hilliard
   equations", Discrete Contin. Dyn. Syst. A 28, 1669-1691 (2010).
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np
from scipy import fft

from microinv.checks import check_choice, check_integer, check_positive
from microinv.errors import InputError

from .spinodoid import _level_cut, _namespace, _wavenumbers

__all__ = ["FAMILIES", "PORE_FRACTION", "CahnHilliard", "ProcessModel", "free_energy", "lobes",
           "initial_field", "process_structure"]

#: Pore fraction of the initial two-phase field (the reference study's void fraction).
PORE_FRACTION = 2.0 / 3.0

#: Family name -> (dim, parameter names, lower bounds, upper bounds): the box of phi.
FAMILIES = {
    "2d": (2, ("phi1", "phi2"), (1.0, 0.2), (9.0, 2.0)),
    "3d": (3, ("phi1", "phi2", "phi3"), (1.0, 0.2, 1.0), (9.0, 2.0, 9.0)),
    "five-lobe": (2, tuple(f"w{j}" for j in range(1, 6)) + tuple(f"l{j}" for j in range(1, 6)),
                  (1.0,) * 5 + (0.02,) * 5, (9.0,) * 5 + (2.0,) * 5),
}

#: Sum of the two weights of the "2d" family.
WEIGHT_SUM = 10.0


def family_of(dim: int, parameters: int) -> str:
    """The family with ``parameters`` values of phi in dimension ``dim``; InputError if none."""
    for name, (family_dim, names, _, _) in FAMILIES.items():
        if family_dim == dim and len(names) == parameters:
            return name
    known = ", ".join(f"{len(names)} in {d}D ({name})" for name, (d, names, _, _) in FAMILIES.items())
    raise InputError(f"phi: {parameters} values in {dim}D match no process family ({known})")


def check_phi(phi, dim: int) -> tuple[np.ndarray, str]:
    """``phi`` as a float64 (B, P) array inside its family's box, and the family's name."""
    values = np.asarray(phi, dtype=float)
    if values.ndim not in (1, 2) or values.shape[-1] == 0:
        raise InputError(f"phi: must be a (P,) or (B, P) array of process parameters, got shape {values.shape}")
    family = family_of(dim, values.shape[-1])
    _, names, low, high = FAMILIES[family]
    batch = np.atleast_2d(values)
    outside = ~((batch >= low) & (batch <= high))  # NaN is outside
    if outside.any():
        row, col = (int(i) for i in np.argwhere(outside)[0])
        raise InputError(f"phi: {names[col]} must be in [{low[col]}, {high[col]}] ({family} family), "
                         f"got {batch[row, col]!r}")
    return batch, family


def lobes(phi, family: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights (B, L), widths (B, L) and unit directions (L, dim) of the k-space lobes of phi.

    The spectral density is ``S(k) = sum_j w_j exp(-l_j (k . e_j)^2)`` (module docstring).
    """
    phi = np.atleast_2d(np.asarray(phi, dtype=float))
    if family == "2d":
        weights = np.stack([phi[:, 0], WEIGHT_SUM - phi[:, 0]], axis=1)
        return weights, np.repeat(phi[:, 1:2], 2, axis=1), np.eye(2)
    if family == "3d":
        weights = np.stack([phi[:, 0], WEIGHT_SUM - phi[:, 0], phi[:, 2]], axis=1)
        return weights, np.repeat(phi[:, 1:2], 3, axis=1), np.eye(3)
    angles = np.arange(5) * np.pi / 5
    return phi[:, :5], phi[:, 5:], np.stack([np.cos(angles), np.sin(angles)], axis=1)


def spectral_density(phi, family: str, n: int) -> np.ndarray:
    """``S(k)`` of a batch of phi on the half spectrum of :func:`scipy.fft.rfftn`.

    Returns a float64 (B, n, ..., n // 2 + 1) array; ``k`` are the integer wavenumbers
    (``fftfreq(n) * n``, i.e. ``{-n/2, ..., n/2 - 1}``; S is even in k, so the half
    spectrum holds all its values).
    """
    weights, widths, directions = lobes(phi, family)
    dim = directions.shape[1]
    k = [_wavenumbers(n, axis, dim)[None] for axis in range(dim)]
    density = 0.0
    for j in range(directions.shape[0]):
        along = sum(directions[j, a] * k[a] for a in range(dim) if directions[j, a] != 0)
        shape = (-1,) + (1,) * dim
        density = density + weights[:, j].reshape(shape) * np.exp(-widths[:, j].reshape(shape) * along**2)
    return density


def initial_field(phi, n: int, seeds, dim: int = 2, *, pore_fraction: float = PORE_FRACTION,
                  workers: int = 1) -> np.ndarray:
    """The initial two-phase concentration c_0 (B, n, ..., n) of a batch, float64 of +-1.

    White noise ``W ~ N(0, 1)`` per voxel (``default_rng(seed).standard_normal``, float64,
    C order) is filtered, ``Psi = IFFT(sqrt(S(k)) FFT(W))``; ``c_0 = -1`` (pore) on exactly
    ``round(pore_fraction * n**dim)`` voxels of lowest ``Psi``, ``+1`` (solid) elsewhere.
    """
    batch, family = check_phi(phi, dim)
    seeds = np.atleast_1d(np.asarray(seeds))
    if seeds.shape != (batch.shape[0],):
        raise InputError(f"seed: must be one seed per phi ({batch.shape[0]}), got shape {seeds.shape}")
    shape = (n,) * dim
    noise = np.stack([np.random.default_rng(int(s)).standard_normal(shape) for s in seeds])
    axes = tuple(range(1, dim + 1))
    spectrum = fft.rfftn(noise, axes=axes, workers=workers)
    spectrum *= np.sqrt(spectral_density(batch, family, n))
    psi = fft.irfftn(spectrum, s=shape, axes=axes, workers=workers)
    solid = np.stack([_level_cut(p, pore_fraction) for p in psi])
    return 2.0 * solid - 1.0


@dataclasses.dataclass(frozen=True)
class CahnHilliard:
    """Semi-implicit spectral Cahn-Hilliard solver on a periodic grid of unit voxels.

    Parameters
    ----------
    mobility : float
        D in ``dc/dt = D lap(mu)`` (voxel^2 per unit time); reference 10.
    gamma : float
        Gradient energy coefficient (voxel^2); reference 2 (10 at 128^2). The interface
        width is about ``sqrt(2 gamma)`` voxels, the fastest-growing wavelength
        ``2 pi sqrt(2 gamma)``.
    time : float
        Final time T; reference 5.
    dt : float
        Time step; the number of steps is ``ceil(T / dt)``, the last step shortened so
        that the run ends at T exactly.
    stabilization : float
        The stabilising constant s of the scheme (default 2, see Notes).

    Notes
    -----
    With the chemical potential ``mu = f'(c) - gamma lap c``, ``f(c) = (c^2 - 1)^2 / 4``,
    the step from ``c^n`` to ``c^{n+1}`` is (Shen and Yang [2]_, eq. 2.6)

    .. math::

        \\frac{c^{n+1} - c^n}{\\Delta t} = D\\,\\Delta\\left[f'(c^n)
            + s\\,(c^{n+1} - c^n) - \\gamma \\Delta c^{n+1}\\right],

    linear in :math:`c^{n+1}` and diagonal in Fourier space (:math:`K = 2\\pi |m| / n`,
    :math:`m` the integer wavenumbers, voxel size 1):

    .. math::

        \\hat c^{n+1} = \\frac{(1 + \\Delta t D s K^2)\\,\\hat c^n
            - \\Delta t D K^2 \\widehat{f'(c^n)}}{1 + \\Delta t D K^2 (s + \\gamma K^2)} .

    *Conservation.* At :math:`K = 0` the update is :math:`\\hat c^{n+1} = \\hat c^n`: the
    mean of c is conserved exactly in exact arithmetic, to round-off in floating point.

    *Stability.* The free energy :math:`E(c) = \\sum_x [f(c) + \\frac{\\gamma}{2}
    |\\nabla c|^2]` (:func:`free_energy`) does not increase, for any :math:`\\Delta t`,
    when :math:`s \\ge L/2` with :math:`L = \\max |f''(c)| = \\max |3c^2 - 1|` over the
    values taken (Shen and Yang [2]_, Theorem 2.1; the linear term is treated implicitly,
    the concave part explicitly and :math:`s (c^{n+1} - c^n)` dominates the error of the
    explicit nonlinear term). For :math:`|c| \\le 1`, :math:`L = 2` and :math:`s = 1`
    suffices; the default :math:`s = 2` covers :math:`|c| \\le \\sqrt{5/3}`, the small
    overshoots of the sharp +-1 initial field included. Unconditional energy stability
    does not make a large step accurate: the splitting error grows like
    :math:`\\Delta t\\, D s K^2` at the wavenumbers that evolve, and the fastest linear
    growth rate is :math:`\\sigma_{max} = D / (4 \\gamma)` (1.25 per unit time at the
    reference D = 10, gamma = 2). The default :math:`\\Delta t = 0.01`
    (:math:`\\sigma_{max} \\Delta t = 0.0125`, 500 steps to T = 5) changes the structure at
    a few voxels of the interface against :math:`\\Delta t / 2` (tests/test_process.py).
    """

    mobility: float = 10.0
    gamma: float = 2.0
    time: float = 5.0
    dt: float = 0.01
    stabilization: float = 2.0

    def __post_init__(self):
        for name in ("mobility", "gamma", "dt", "stabilization"):
            check_positive(name, getattr(self, name))
        check_positive("time", self.time, or_zero=True)

    def steps(self) -> list[float]:
        """The step sizes: ``ceil(T / dt)`` steps of dt, the last one ending at T."""
        count = math.ceil(self.time / self.dt - 1e-9)
        return [self.dt] * (count - 1) + [self.time - self.dt * (count - 1)] if count else []

    def evolve(self, c0, *, workers: int = 1, callback=None):
        """The concentration at time T of a batch of initial fields c0 (B, n, ..., n).

        ``c0`` is a numpy array (:mod:`scipy.fft`, ``workers`` threads) or a torch tensor
        (:mod:`torch.fft` on its device, a GPU where there is one); the result is float64 of
        the same library. ``callback(step, c)``, when given, is called with every iterate
        (``step`` = 0 for c0); the FFTs are batched over the first axis.
        """
        xp = _namespace(c0)
        c = np.array(c0, dtype=float) if xp is np else c0.to(xp.float64)
        dim = c.ndim - 1
        n = c.shape[1]
        if tuple(c.shape[1:]) != (n,) * dim or dim not in (2, 3):
            raise InputError(f"c0: must be a batch of square 2D or cubic 3D fields, got shape {tuple(c.shape)}")
        axes, shape = tuple(range(1, dim + 1)), tuple(c.shape[1:])
        if xp is np:
            k2 = wavenumber_squared(n, dim)
            forward = functools.partial(fft.rfftn, axes=axes, workers=workers)
            inverse = functools.partial(fft.irfftn, s=shape, axes=axes, workers=workers)
        else:
            k2 = xp.as_tensor(wavenumber_squared(n, dim), device=c.device)
            forward = functools.partial(xp.fft.rfftn, dim=axes)
            inverse = functools.partial(xp.fft.irfftn, s=shape, dim=axes)
        d, s, g = self.mobility, self.stabilization, self.gamma
        if callback:
            callback(0, c)
        factors = {}  # dt -> the two multipliers of the update (at most two distinct steps)
        c_hat = forward(c)
        for step, dt in enumerate(self.steps(), start=1):
            if dt not in factors:
                denominator = 1 + dt * d * k2 * (s + g * k2)
                factors[dt] = (1 + dt * d * s * k2) / denominator, dt * d * k2 / denominator
            keep, nonlinear_factor = factors[dt]
            nonlinear = forward(c * c * c - c)
            nonlinear *= nonlinear_factor
            c_hat *= keep
            c_hat -= nonlinear
            c = inverse(c_hat)
            if callback:
                callback(step, c)
        return c


def wavenumber_squared(n: int, dim: int) -> np.ndarray:
    """``K^2 = sum_i (2 pi m_i / n)^2`` on the half spectrum of rfftn (voxel size 1)."""
    return sum((2 * np.pi / n * _wavenumbers(n, axis, dim)) ** 2 for axis in range(dim))


def free_energy(c, gamma: float) -> np.ndarray:
    """Discrete Cahn-Hilliard free energy of each field of a batch c (B, n, ..., n).

    ``E = sum_x (c^2 - 1)^2 / 4 + gamma / 2 sum_k K^2 |c_hat(k)|^2 / n^dim``: the bulk term
    voxel by voxel, the gradient term by Parseval with the spectral derivative (the
    energy the scheme of :class:`CahnHilliard` decreases), float64 (B,).
    """
    c = np.asarray(c, dtype=float)
    dim = c.ndim - 1
    n = c.shape[1]
    c_hat = fft.fftn(c, axes=tuple(range(1, dim + 1)))
    k2 = sum((2 * np.pi / n * fft.fftfreq(n, 1.0 / n).reshape([n if a == i else 1 for a in range(dim)])) ** 2
             for i in range(dim))
    bulk = ((c**2 - 1) ** 2 / 4).reshape(c.shape[0], -1).sum(axis=1)
    gradient = (k2 * np.abs(c_hat) ** 2).reshape(c.shape[0], -1).sum(axis=1) / n**dim
    return bulk + gamma / 2 * gradient


@dataclasses.dataclass(frozen=True)
class ProcessModel:
    """The process -> structure map at one grid size: ``structures = model(phi, seeds)``.

    Parameters
    ----------
    n : int
        Voxels per side.
    dim : {2, 3}
        Dimension (the family of phi follows from dim and the length of phi).
    dynamics : CahnHilliard
        The Cahn-Hilliard solver (mobility, gamma, T, dt).
    pore_fraction : float
        Pore fraction of the initial field (default 2/3).
    """

    n: int
    dim: int = 2
    dynamics: CahnHilliard = CahnHilliard()
    pore_fraction: float = PORE_FRACTION

    def __post_init__(self):
        check_integer("n", self.n, minimum=4)
        check_choice("dim", self.dim, (2, 3))
        if not 0 < self.pore_fraction < 1:
            raise InputError(f"pore_fraction: must be in (0, 1), got {self.pore_fraction!r}")

    def field(self, phi, seeds, *, workers: int = 1, device=None) -> np.ndarray:
        """Final concentration c(T) (B, n, ..., n) of a batch of phi (B, P) and seeds (B,).

        ``device`` (a torch device, e.g. ``"cuda"``) evolves the batch with :mod:`torch.fft`
        there; the initial field is the same (numpy), the result equal to the numpy one to
        round-off (which may flip a voxel where c is within round-off of 0). The structures
        of a campaign are made without it, so that they regenerate bit for bit anywhere.
        """
        c0 = initial_field(phi, self.n, seeds, self.dim, pore_fraction=self.pore_fraction, workers=workers)
        if device is None:
            return self.dynamics.evolve(c0, workers=workers)
        import torch

        return self.dynamics.evolve(torch.from_numpy(c0).to(device)).cpu().numpy()

    def __call__(self, phi, seeds, *, workers: int = 1, device=None) -> np.ndarray:
        """Structures (B, n, ..., n) uint8 of a batch: 1 = solid (c >= 0), 0 = pore."""
        return (self.field(phi, seeds, workers=workers, device=device) >= 0).view(np.uint8)


def process_structure(phi, n: int, seed, dim: int = 2, *, return_field: bool = False,
                      gamma: float = 2.0, mobility: float = 10.0, time: float = 5.0,
                      dt: float = 0.01, workers: int = 1):
    """Structure made by the process ``phi``: Cahn-Hilliard evolution of a cut random field.

    Parameters
    ----------
    phi : (P,) or (B, P) array_like of float
        Process parameters of a family of :data:`FAMILIES` (2 or 10 in 2D, 3 in 3D); a 2D
        array is a batch, evolved with batched FFTs.
    n : int
        Voxels per side.
    seed : int or (B,) array_like of int
        Non-negative seed(s) of the initial white noise, one per structure.
    dim : {2, 3}, optional
        Dimension.
    return_field : bool, keyword-only
        Also return the final concentration c (float64, same shape), whose sign gives the
        structure: the level-set field of the smooth interface c = 0.
    gamma, mobility, time, dt : float, keyword-only
        Cahn-Hilliard settings (:class:`CahnHilliard`); the reference study uses
        gamma = 10 at n = 128.
    workers : int, keyword-only
        Threads of :mod:`scipy.fft`.

    Returns
    -------
    solid : (n, n[, n]) or (B, n, n[, n]) ndarray of uint8
        1 = solid (c >= 0), 0 = pore (c < 0), axes (x, y[, z]).
    c : ndarray of float64, only with ``return_field``

    Examples
    --------
    >>> solid = process_structure((5.0, 1.0), 36, seed=3)
    >>> solid.shape, solid.dtype, bool(0.55 < 1 - solid.mean() < 0.8)
    ((36, 36), dtype('uint8'), True)
    """
    model = ProcessModel(n, dim, CahnHilliard(mobility=mobility, gamma=gamma, time=time, dt=dt))
    single = np.ndim(phi) == 1
    if single and np.ndim(seed) != 0:
        raise InputError(f"seed: one phi takes one seed, got shape {np.shape(seed)}")
    c = model.field(phi, np.atleast_1d(seed) if not single else [seed], workers=workers)
    if single:
        c = c[0]
    solid = (c >= 0).view(np.uint8)
    return (solid, c) if return_field else solid
