"""Active learning: spend numerical solves where the design needs them, round after round.

Round r (r = 1 .. R) of one target t and method m starts from the design and the
surrogate of round r - 1 (round 0: the campaign's first design and surrogate):

1. **Candidates.** C parameter vectors near the design: draws of the ABC posterior (its
   last generation, resampled by weight) or, for BO, the optimum theta* perturbed as
   a_i = a*_i exp(s z_i), eps = eps* (1 + s z_4), z ~ N(0, 1), s = ``active.spread``,
   kept when the prior density is positive. Each gets a fresh structure seed.
2. **Acquisition.** The surrogate predicts, for each candidate structure j, the mean
   mu_j and standard deviation sigma_j of eta per direction (a deep ensemble). The weight

   .. math::

       w_j = u_j \\exp(-\\rho_j / \\tau), \\qquad
       u_j = \\frac{100}{3} \\sum_i \\frac{\\sigma_{ji}}{t_i}, \\qquad
       \\rho_j = \\frac{100}{3} \\sum_i \\frac{|\\mu_{ji} - t_i|}{t_i},

   favours structures whose prediction is uncertain (u, in %) and close to the target
   (rho, in %; tau = ``active.scale``). B = ``active.batch`` candidates are drawn without
   replacement with probabilities proportional to w (successive sampling: each draw
   among the remaining ones). A surrogate without spread (u = 0 everywhere) weighs by
   closeness alone.
3. The B structures are generated and solved with the campaign's commands and join the
   **train split only** (:func:`microinv.data.dataset.assemble`, ``added``); the
   surrogate is fine-tuned on the grown dataset (``active.fine_tune_epochs`` epochs from the
   weights of round r - 1's), the design is made and validated again, on K fresh
   structures of the round's own validation stream.
4. **Bias correction** (``active.correct_bias``). The round's design aims the surrogate at
   t' = t + b, b the round's surrogate's mean bias on the solved validation structures of
   round r - 1 (:func:`microinv.design.validation.corrected_target`): the solver's answer
   corrects what a few new training samples cannot.

**Stopping.** A target and method stop (an empty batch) when the validated discrepancy
of the mean (``discrepancy_of_mean`` of :func:`microinv.design.validation.summarise`) of
the design it starts from is at most ``active.tolerance`` (%), or when the
round would take its solves past its share of the budget: ``active.budget`` extra solves
per target, shared equally by its methods, each round costing B + K solves (K validation
structures). A stopped loop's answer is its last validated design; a round in which every
loop has stopped trains no surrogate.

Random numbers: round r of target number a and method number b draws from the
:data:`~microinv.seeds.ACTIVE_LEARNING` stream ``(r, a, b)`` of the campaign seed
(children 0: candidates, 1: structure seeds, 2: selection). The new samples' indices
follow the campaign's: ``count + ((r - 1) T M + a M + b) B + k`` (T targets, M methods),
so every sample of a campaign has its own index and the datasets stay in index order.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from microinv.design.abc import mape
from microinv.seeds import ACTIVE_LEARNING, stream, uint64_seeds

__all__ = ["Stop", "acquisition_weights", "first_index", "local_candidates", "posterior_candidates",
           "round_streams", "select", "stop_reason", "structure_seeds"]


def acquisition_weights(mean, std, target, *, scale: float) -> np.ndarray:
    """Acquisition weights w_j = u_j exp(-rho_j / tau) (see the module notes).

    Parameters
    ----------
    mean, std : (C, 3) array_like
        Predictive mean and standard deviation of eta per candidate and direction; ``std``
        None, or all zero, weighs by closeness alone (u_j = 1).
    target : (3,) array_like
    scale : float
        tau, in % of discrepancy.

    Returns
    -------
    (C,) ndarray
        Non-negative weights, not normalised.
    """
    target = np.asarray(target, dtype=float)
    closeness = np.exp(-mape(mean, target) / scale)
    if std is None or not np.any(np.asarray(std) > 0):
        return closeness
    spread = 100.0 * np.mean(np.asarray(std, dtype=float) / target, axis=-1)
    return spread * closeness


def select(weights, count: int, rng: np.random.Generator) -> np.ndarray:
    """``count`` indices drawn without replacement, each draw with probability proportional to
    the weights of the indices not drawn yet (all remaining alike once those are zero)."""
    weights = np.asarray(weights, dtype=float)
    count = min(count, len(weights))
    if count == 0:
        return np.zeros(0, dtype=int)
    if np.count_nonzero(weights > 0) < count:
        weights = weights + np.finfo(float).tiny * (weights == 0)
    return rng.choice(len(weights), size=count, replace=False, p=weights / weights.sum())


def posterior_candidates(particles, weights, count: int, rng: np.random.Generator) -> np.ndarray:
    """(count, d) draws of a weighted posterior sample, with probability w_j each."""
    particles = np.asarray(particles, dtype=float)
    weights = np.asarray(weights, dtype=float)
    return particles[rng.choice(len(particles), size=count, p=weights / weights.sum())]


def local_candidates(theta, prior, count: int, rng: np.random.Generator, *, spread: float) -> np.ndarray:
    """(count, d) parameters around ``theta``: each coordinate scaled by exp(s z) (lengths)
    or 1 + s z (the last, the pore fraction), z ~ N(0, 1), kept where ``prior.logpdf`` is
    finite; the draws repeat until ``count`` are kept (``theta`` itself in the support)."""
    theta = np.asarray(theta, dtype=float)
    kept = []
    while sum(len(k) for k in kept) < count:
        z = rng.standard_normal((count, theta.size))
        draws = np.concatenate([theta[:-1] * np.exp(spread * z[:, :-1]),
                                theta[-1:] * (1 + spread * z[:, -1:])], axis=1)
        kept.append(draws[np.isfinite(prior.logpdf(draws))])
    return np.concatenate(kept)[:count]


def round_streams(seed: int, round_: int, target: int, method: int) -> dict:
    """Generators of round ``round_`` of target and method numbers: ``candidates``,
    ``selection``, and the ``seeds`` sequence of the structure seeds."""
    children = stream(seed, ACTIVE_LEARNING, round_, target, method).spawn(3)
    return {"candidates": np.random.default_rng(children[0]), "seeds": children[1],
            "selection": np.random.default_rng(children[2])}


def structure_seeds(streams: dict, count: int) -> np.ndarray:
    """(count,) uint64 structure seeds of the round's candidates."""
    return uint64_seeds(streams["seeds"], count)


def first_index(count: int, round_: int, target: int, method: int, *, targets: int, methods: int,
                batch: int) -> int:
    """Sample index of the first new structure of a round: ``count + ((r - 1) T M + a M + b) B``."""
    return count + ((round_ - 1) * targets * methods + target * methods + method) * batch


@dataclasses.dataclass(frozen=True)
class Stop:
    """Why a loop stopped (``reason``: "tolerance" or "budget") and the figures behind it."""

    reason: str
    detail: str


def stop_reason(discrepancy: float, spent: int, *, tolerance: float, budget: int, cost: int) -> Stop | None:
    """Whether a loop stops before a round: None to go on.

    Parameters
    ----------
    discrepancy : float
        Validated rho of the mean (%) of the design the round would start from.
    spent : int
        Extra solves of the loop so far.
    tolerance : float
        ``active.tolerance`` (%).
    budget : int
        This loop's share of ``active.budget``.
    cost : int
        Solves of one more round (batch plus validation).
    """
    if discrepancy <= tolerance:
        return Stop("tolerance", f"validated rho of the mean {discrepancy:.3g} % <= {tolerance:g} %")
    if spent + cost > budget:
        return Stop("budget", f"{spent} solves spent + {cost} for a round > budget {budget}")
    return None
