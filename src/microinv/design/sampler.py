"""Vectorised rejection step of one ABC generation.

Proposals are drawn, simulated and compared with the tolerance in batches (one call of the
simulator per batch, so a GPU generates and predicts a whole batch at once) until
``population`` of them pass. The accepted particles are the first ``population`` passes in
proposal order, so the outcome depends only on the random streams and the batch size.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

import numpy as np

__all__ = ["BatchSampler", "Sample", "structure_seeds"]

log = logging.getLogger(__name__)


def structure_seeds(rng: np.random.Generator, size: int) -> np.ndarray:
    """``size`` fresh 64-bit structure seeds, uint64 (size,)."""
    return rng.integers(0, 2**64, size=size, dtype=np.uint64)


@dataclasses.dataclass(frozen=True)
class Sample:
    """Outcome of :meth:`BatchSampler.sample`; ``complete`` is False when it gave up."""

    theta: np.ndarray
    seeds: np.ndarray
    eta: np.ndarray
    distances: np.ndarray
    trials: int
    evaluations: int
    complete: bool


class BatchSampler:
    """Propose, simulate and accept in batches until a population is complete.

    Parameters
    ----------
    batch_size : int, keyword-only
        Proposals per simulator call.
    max_trials : int or None, keyword-only
        Give up a generation after this many proposals (None: never).
    progress_seconds : float, keyword-only
        Log progress at INFO level at most this often within a generation.
    """

    def __init__(self, *, batch_size: int = 256, max_trials: int | None = None,
                 progress_seconds: float = 30.0):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if max_trials is not None and max_trials < 1:
            raise ValueError(f"max_trials must be >= 1, got {max_trials}")
        self.batch_size = int(batch_size)
        self.max_trials = max_trials
        self.progress_seconds = progress_seconds

    def sample(
        self,
        propose: Callable[[int], np.ndarray],
        simulate: Callable[[np.ndarray, np.ndarray], np.ndarray],
        distance: Callable[[np.ndarray], np.ndarray],
        *,
        population: int,
        tolerance: float,
        seed_rng: np.random.Generator,
    ) -> Sample:
        """Run batches of ``propose(B) -> theta (B, d)``, ``simulate(theta, seeds) -> eta``
        and ``distance(eta) -> rho (B,)``, keeping proposals with rho <= tolerance.

        A non-finite rho (a failed simulation) counts as a rejection.
        """
        kept: list[tuple[np.ndarray, ...]] = []
        n_accepted = trials = evaluations = 0
        last_report = time.monotonic()
        while n_accepted < population:
            if self.max_trials is not None and evaluations >= self.max_trials:
                log.warning(
                    "giving up after %d proposals: %d of %d accepted at tolerance %g",
                    evaluations, n_accepted, population, tolerance,
                )
                break
            theta = propose(self.batch_size)
            seeds = structure_seeds(seed_rng, self.batch_size)
            eta = np.asarray(simulate(theta, seeds), dtype=float)
            rho = np.asarray(distance(eta), dtype=float)
            passed = np.flatnonzero(rho <= tolerance)[: population - n_accepted]
            trials = evaluations + (int(passed[-1]) + 1 if n_accepted + passed.size == population
                                    else self.batch_size)
            evaluations += self.batch_size
            n_accepted += passed.size
            kept.append((theta[passed], seeds[passed], eta[passed], rho[passed]))
            if time.monotonic() - last_report > self.progress_seconds:
                last_report = time.monotonic()
                log.info("  %d/%d accepted after %d proposals (tolerance %g)",
                         n_accepted, population, evaluations, tolerance)
        theta, seeds, eta, rho = (np.concatenate(parts) for parts in zip(*kept))
        return Sample(theta, seeds, eta, rho, trials, evaluations, n_accepted == population)
