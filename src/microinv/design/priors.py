"""Priors for inversion in the ``.sample(rng, size)`` / ``.logpdf(theta)`` protocol.

The spinodoid prior of DESIGN.md lives with the generator
(``microinv.microstructure.SpinodoidPrior``); this module holds generic ones, for process
parameters or tests.
"""

from __future__ import annotations

import numpy as np

__all__ = ["UniformPrior"]


class UniformPrior:
    """Independent uniform prior on a box, theta_i ~ U[low_i, high_i].

    Parameters
    ----------
    low, high : (d,) array_like
        Box corners, low < high.
    """

    def __init__(self, low, high):
        self.low = np.atleast_1d(np.asarray(low, dtype=float))
        self.high = np.atleast_1d(np.asarray(high, dtype=float))
        if self.low.shape != self.high.shape or np.any(self.low >= self.high):
            raise ValueError(f"need low < high elementwise, got low={low}, high={high}")
        self._log_density = -np.sum(np.log(self.high - self.low))

    @property
    def bounds(self) -> np.ndarray:
        """(d, 2) box of the support."""
        return np.stack([self.low, self.high], axis=1)

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:
        """(size, d) draws."""
        return rng.uniform(self.low, self.high, size=(size, self.low.size))

    def logpdf(self, theta) -> np.ndarray:
        """(B,) log density: -sum log(high - low) inside the box, -inf outside."""
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        inside = np.all((theta >= self.low) & (theta <= self.high), axis=1)
        return np.where(inside, self._log_density, -np.inf)
