"""The ABC design point: the posterior draw with the smallest expected discrepancy.

The posterior mean of ABC-PMC summarises the posterior but need not be a good design: the
mean of a curved or multimodal posterior can lie where no particle is, and eta is not
linear in theta. Besides the mean, the design names the candidate that minimises the
expected discrepancy among posterior draws:

1. candidates c = 0 .. C-1: the posterior mean and C - 1 distinct particles of the last
   generation, drawn without replacement with probabilities proportional to their
   weights (fewer when the population has fewer distinct particles);
2. each scored by the surrogate's expected discrepancy

       J(theta_c) = (1/S') sum_s rho(eta_surrogate(theta_c, seed_s), eta*),

   over S structures per candidate with the same seeds for every candidate (common random
   numbers: the structure-to-structure noise, 8-18 % in eta at 64^3, largely cancels in
   the comparison of two candidates), S' <= S of them admissible (percolating); its
   standard error is s_c / sqrt(S');
3. the design is the candidate of smallest J; the solver validates it (``validation.json``
   with K fresh structures), which corrects the optimism of taking the smallest of C
   noisy estimates.

Cost: C S surrogate evaluations (16 x 16 = 256 by default, less than one ABC generation's
proposals) and no solve. Scoring the candidates with the solver instead would spend C S
solves (256 at 64^3, several minutes on 2 cores) per target before the validation; the
active-learning rounds spend solves where the surrogate is uncertain, which corrects the
surrogate near the posterior for every later design, and the chosen design is solver-
validated either way. Structure seeds: the stream ``(ABC, T, 2)`` of the design seed, T the
last generation (:mod:`microinv.seeds`): disjoint from every proposal and validation seed.
"""

from __future__ import annotations

import numpy as np

from microinv.design.abc import ABCResult, mape
from microinv.seeds import ABC, stream, uint64_seeds

__all__ = ["candidate_particles", "screen_candidates"]


def candidate_particles(result: ABCResult, count: int, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """The posterior mean and up to ``count - 1`` distinct weighted draws of the last
    generation: theta (C, d) and where each comes from (``"posterior mean"``,
    ``"particle j"``)."""
    particles, weights = result.particles, result.weights
    _, first = np.unique(particles, axis=0, return_index=True)  # a PMC population may repeat particles
    distinct = np.sort(first)
    p = weights[distinct] / weights[distinct].sum()
    take = min(count - 1, int(np.count_nonzero(p)))
    drawn = rng.choice(distinct, size=take, replace=False, p=p) if take else np.array([], dtype=int)
    theta = np.vstack([result.mean()[None], particles[drawn]])
    return theta, ["posterior mean"] + [f"particle {int(j)}" for j in drawn]


def screen_candidates(result: ABCResult, simulate, *, candidates: int, structures: int, seed: int) -> dict:
    """Score the candidates of an ABC posterior by the surrogate's expected discrepancy.

    Parameters
    ----------
    result : ABCResult
        The finished run; its target is the design's.
    simulate : callable
        ``simulate(theta (B, d), seeds (B,) uint64) -> eta (B, k)``, NaN for a structure
        that is not admissible (:class:`~microinv.design.simulators.SurrogateSimulator`).
    candidates : int, keyword-only
        C >= 1 (1: the posterior mean alone).
    structures : int, keyword-only
        S >= 1 structures per candidate.
    seed : int, keyword-only
        The design seed.

    Returns
    -------
    dict
        ``rule``, ``structures`` (S), ``best`` (index of the chosen candidate), ``theta``
        (its parameters) and ``candidates``: per candidate ``theta``, ``source``,
        ``expected_discrepancy`` J (%), ``expected_discrepancy_sem`` and ``admissible``
        (S'); a candidate without an admissible structure has J = None and is not chosen.
    """
    if candidates < 1 or structures < 1:
        raise ValueError(f"candidates and structures must be >= 1, got {candidates}, {structures}")
    draws, seeds = stream(seed, ABC, result.posterior.index, 2).spawn(2)
    theta, sources = candidate_particles(result, candidates, np.random.default_rng(draws))
    seeds = uint64_seeds(seeds, structures)
    eta = np.asarray(simulate(np.repeat(theta, structures, axis=0), np.tile(seeds, len(theta))), dtype=float)
    rho = mape(eta, result.target).reshape(len(theta), structures)
    scored = []
    for t, source, r in zip(theta, sources, rho):
        r = r[np.isfinite(r)]
        scored.append({"theta": t.tolist(), "source": source,
                       "expected_discrepancy": float(r.mean()) if len(r) else None,
                       "expected_discrepancy_sem": float(r.std(ddof=1) / np.sqrt(len(r))) if len(r) > 1 else None,
                       "admissible": int(len(r))})
    values = [np.inf if c["expected_discrepancy"] is None else c["expected_discrepancy"] for c in scored]
    best = int(np.argmin(values))
    return {"rule": "smallest surrogate expected discrepancy among the posterior mean and weighted "
                    "posterior draws, common structure seeds", "structures": int(structures),
            "best": best, "theta": scored[best]["theta"], "candidates": scored}
