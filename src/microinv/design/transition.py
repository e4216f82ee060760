"""Perturbation kernel of ABC-PMC: a Gaussian around particles drawn by weight.

Beaumont et al. (2009) perturb a particle theta_j of the previous population, drawn with
probability w_j, by a Gaussian kernel K(theta | theta_j) = N(theta; theta_j, Sigma) with
Sigma = 2 Cov_w(theta), twice the weighted covariance of that population. The same kernel
gives the proposal density sum_j w_j K(theta | theta_j) in the importance weights.
"""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

__all__ = ["MultivariateNormalTransition", "weighted_covariance"]


def weighted_covariance(particles: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Unbiased weighted covariance of a particle population.

    Parameters
    ----------
    particles : (P, d) ndarray
    weights : (P,) ndarray
        Non-negative importance weights (need not be normalised).

    Returns
    -------
    (d, d) ndarray

    Notes
    -----
    Cov = sum_i w_i (x_i - m)(x_i - m)^T / (1 - sum_i w_i^2) with normalised w and the
    weighted mean m: numpy's ``cov(..., aweights=w)``, the estimate pyABC uses too.
    """
    particles = np.asarray(particles, dtype=float)
    if particles.shape[0] < 2:
        return np.zeros((particles.shape[1], particles.shape[1]))
    return np.atleast_2d(np.cov(particles, aweights=weights, rowvar=False))


class MultivariateNormalTransition:
    """Gaussian perturbation kernel with covariance ``scaling`` x the weighted covariance.

    Parameters
    ----------
    scaling : float, keyword-only
        Factor on the weighted population covariance; 2 is Beaumont et al.'s choice.
    jitter : float, keyword-only
        Ridge ``jitter * trace(Sigma) / d`` added to the diagonal, so that the covariance
        stays positive definite when the population collapses (all particles equal in one
        coordinate, or fewer particles than dimensions).

    Methods follow pyABC's ``Transition``: :meth:`fit` to a weighted population, then
    :meth:`rvs` to propose and :meth:`logpdf` for the mixture density.
    """

    def __init__(self, *, scaling: float = 2.0, jitter: float = 1e-9):
        if scaling <= 0:
            raise ValueError(f"kernel scaling must be positive, got {scaling}")
        self.scaling = float(scaling)
        self.jitter = float(jitter)
        self.particles: np.ndarray | None = None
        self.weights: np.ndarray | None = None
        self.cov: np.ndarray | None = None
        self._chol: np.ndarray | None = None

    def fit(self, particles: np.ndarray, weights: np.ndarray) -> MultivariateNormalTransition:
        """Centre the mixture on ``particles`` (P, d) with normalised ``weights`` (P,)."""
        particles = np.asarray(particles, dtype=float)
        weights = np.asarray(weights, dtype=float)
        weights = weights / weights.sum()
        cov = self.scaling * weighted_covariance(particles, weights)
        d = cov.shape[0]
        level = np.trace(cov) / d
        if not level > 0:  # collapsed population: fall back on the parameters' magnitude
            level = max(float(np.abs(particles).max()) ** 2, 1.0)
        cov = cov + self.jitter * level * np.eye(d)
        self.particles, self.weights, self.cov = particles, weights, cov
        self._chol = np.linalg.cholesky(cov)
        return self

    def rvs(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """Draw ``size`` proposals: a particle by weight plus Gaussian noise. (size, d)."""
        self._check_fitted()
        parents = rng.choice(len(self.weights), size=size, p=self.weights)
        noise = rng.standard_normal((size, self.cov.shape[0])) @ self._chol.T
        return self.particles[parents] + noise

    def logpdf(self, theta: np.ndarray) -> np.ndarray:
        """Log of the mixture density sum_j w_j N(theta; theta_j, Sigma).

        Parameters
        ----------
        theta : (B, d) ndarray

        Returns
        -------
        (B,) ndarray
        """
        self._check_fitted()
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        d = theta.shape[1]
        log_det = 2.0 * np.log(np.diag(self._chol)).sum()
        # Mahalanobis distances of every (proposal, particle) pair through L^-1.
        diff = theta[:, None, :] - self.particles[None, :, :]
        z = np.linalg.solve(self._chol, diff.reshape(-1, d).T).T.reshape(diff.shape)
        log_kernel = -0.5 * (np.einsum("bpd,bpd->bp", z, z) + d * np.log(2 * np.pi) + log_det)
        with np.errstate(divide="ignore"):
            log_w = np.log(self.weights)
        return logsumexp(log_kernel + log_w[None, :], axis=1)

    def _check_fitted(self) -> None:
        if self.cov is None:
            raise RuntimeError("fit the transition to a population before sampling from it")
