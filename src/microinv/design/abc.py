"""ABC-PMC: population Monte Carlo approximate Bayesian computation (Beaumont et al. 2009).

Given a target property vector eta (k,), a stochastic simulator theta -> eta' and a prior
pi(theta), ABC-PMC approximates the posterior by a weighted population that shrinks with a
decreasing tolerance schedule tau_0 > tau_1 > ... :

* generation 0: theta ~ pi, keep it when rho(eta', eta) <= tau_0; equal weights;
* generation t: draw theta_j from generation t-1 with probability w_j, perturb it with
  K(. | theta_j) = N(theta_j, 2 Cov_w), redraw when pi(theta) = 0, keep it when
  rho <= tau_t; weight w ~ pi(theta) / sum_j w_j K(theta | theta_j), normalised.

The discrepancy is the mean absolute percentage error
rho = 100 * mean_i |eta'_i - eta_i| / eta_i. The stochasticity of the simulator (a fresh
structure seed per proposal) is part of the likelihood.

Reproducibility: generation t draws proposals and seeds from its own stream of the run's
seed (:mod:`microinv.seeds`), so a run resumed from its ``posterior.h5`` after
generation t-1 produces exactly the generations of an uninterrupted run.

References
----------
Beaumont, M. A., Cornuet, J.-M., Marin, J.-M. and Robert, C. P. (2009). Adaptive approximate
Bayesian computation. Biometrika 96(4), 983-990.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Sequence

import numpy as np

from microinv.design.history import Generation, PosteriorHistory
from microinv.design.sampler import BatchSampler
from microinv.design.transition import MultivariateNormalTransition
from microinv.seeds import ABC, SCHEME, stream

__all__ = ["ABCPMC", "ABCResult", "NoGenerationFinished", "REFERENCE_SCHEDULE", "abc_pmc", "mape",
           "reference_tolerances", "tolerance_schedule", "weighted_quantile"]

log = logging.getLogger(__name__)


class NoGenerationFinished(RuntimeError):
    """The first generation gave up (``max_trials``) before its population was complete."""


def mape(eta: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Discrepancy rho = 100 * mean_i |eta_i - target_i| / target_i, in percent.

    Parameters
    ----------
    eta : (B, k) ndarray
    target : (k,) ndarray

    Returns
    -------
    (B,) ndarray
    """
    target = np.asarray(target, dtype=float)
    return 100.0 * np.mean(np.abs(np.asarray(eta, dtype=float) - target) / target, axis=-1)


def reference_tolerances(start: float = 100.0, stop: float = 1.0, count: int = 9) -> list[float]:
    """Log-equidistant tolerance schedule (reference: 9 values from 100 % to 1 %)."""
    return [float(t) for t in np.geomspace(start, stop, count)]


#: The name of :func:`reference_tolerances` in ``design.tolerances`` and ``--tolerances``.
REFERENCE_SCHEDULE = "reference"


def tolerance_schedule(value) -> list[float]:
    """The tolerances (%) a ``design.tolerances`` value names: its numbers, or for
    ``"reference"`` the reference schedule (Röding et al. 2022) of
    :func:`reference_tolerances`, 100, 56.2, 31.6, ..., 1.

    >>> [round(t, 1) for t in tolerance_schedule("reference")][:3], tolerance_schedule([100, 50])
    ([100.0, 56.2, 31.6], [100.0, 50.0])
    """
    if isinstance(value, str):
        if value != REFERENCE_SCHEDULE:
            raise ValueError(f"a tolerance schedule is a list of numbers or {REFERENCE_SCHEDULE!r}, got {value!r}")
        return reference_tolerances()
    return [float(t) for t in value]


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q) -> np.ndarray:
    """Quantiles of a weighted sample (inverse of the interpolated weighted CDF).

    Parameters
    ----------
    values : (P,) ndarray
    weights : (P,) ndarray
    q : float or ndarray in [0, 1]

    Notes
    -----
    Sorted values x_(i) sit at cumulative probabilities c_i = S_i - w_(i) / 2 (S_i the
    cumulative weight, weights normalised), the midpoint rule; the quantile linearly
    interpolates between them. Equal weights give numpy's ``"hazen"`` method.
    """
    order = np.argsort(values)
    x = np.asarray(values, dtype=float)[order]
    w = np.asarray(weights, dtype=float)[order]
    w = w / w.sum()
    cdf = np.cumsum(w) - w / 2
    return np.interp(q, cdf, x)


@dataclasses.dataclass(frozen=True)
class ABCResult:
    """Finished generations of an ABC-PMC run; the last one is the posterior sample.

    Attributes
    ----------
    generations : list of Generation
    target : (k,) ndarray
    param_names : tuple of str
    complete : bool
        False when a generation gave up (``max_trials``) before the schedule's end.
    resumed_from : int
        Generation the run (re)started at; 0 for a fresh run.
    """

    generations: list[Generation]
    target: np.ndarray
    param_names: tuple[str, ...]
    complete: bool
    resumed_from: int = 0

    @property
    def posterior(self) -> Generation:
        return self.generations[-1]

    @property
    def particles(self) -> np.ndarray:
        return self.posterior.particles

    @property
    def weights(self) -> np.ndarray:
        return self.posterior.weights

    def mean(self) -> np.ndarray:
        """Posterior mean sum_i w_i theta_i, (d,)."""
        return self.weights @ self.particles

    def std(self) -> np.ndarray:
        """Posterior standard deviation per parameter (weighted, biased), (d,)."""
        return np.sqrt(self.weights @ (self.particles - self.mean()) ** 2)

    def credible_interval(self, level: float = 0.95) -> np.ndarray:
        """Equal-tailed credible interval per parameter, (d, 2)."""
        q = [(1 - level) / 2, (1 + level) / 2]
        return np.array([weighted_quantile(p, self.weights, q) for p in self.particles.T])

    def summary(self, level: float = 0.95) -> dict:
        """JSON-ready posterior summary and per-generation acceptance."""
        interval = self.credible_interval(level)
        return {
            "param_names": list(self.param_names),
            "mean": self.mean().tolist(),
            "std": self.std().tolist(),
            "credible_level": level,
            "credible_interval": interval.tolist(),
            "ess": self.posterior.ess,
            "complete": self.complete,
            "generations": [
                {"tolerance": float(g.tolerance), "trials": int(g.trials),
                 "evaluations": int(g.evaluations), "acceptance_rate": float(g.acceptance_rate),
                 "seconds": float(g.seconds)}
                for g in self.generations
            ],
        }


class ABCPMC:
    """ABC-PMC engine assembled from strategies, in the manner of pyABC's ``ABCSMC``.

    Parameters
    ----------
    simulate : callable
        ``simulate(theta (B, d), seeds (B,) uint64) -> eta (B, k)``.
    prior : object
        ``.sample(rng, size) -> (size, d)`` and ``.logpdf(theta (B, d)) -> (B,)``, -inf
        outside the support.
    discrepancy : callable, keyword-only
        ``discrepancy(eta (B, k), target (k,)) -> rho (B,)``; default :func:`mape`.
    transition : MultivariateNormalTransition, keyword-only
        Perturbation kernel; default scaling 2 (Beaumont et al.).
    sampler : BatchSampler, keyword-only
    history : PosteriorHistory or None, keyword-only
        Where finished generations go and a run resumes from; None keeps them in memory.
    """

    def __init__(self, simulate, prior, *, discrepancy: Callable = mape,
                 transition: MultivariateNormalTransition | None = None,
                 sampler: BatchSampler | None = None, history: PosteriorHistory | None = None):
        self.simulate = simulate
        self.prior = prior
        self.discrepancy = discrepancy
        self.transition = transition or MultivariateNormalTransition(scaling=2.0)
        self.sampler = sampler or BatchSampler()
        self.history = history

    def run(self, target, tolerances: Sequence[float], population: int, *, seed,
            param_names: Sequence[str] | None = None, provenance: dict | None = None,
            simulator_settings: dict | None = None) -> ABCResult:
        """Run (or resume) the generations of ``tolerances``; returns the result so far.

        ``simulator_settings`` (JSON-ready) describe the simulator (surrogate hash,
        generator, N); a resumed run must have the same."""
        target = np.asarray(target, dtype=float)
        tolerances = [float(t) for t in tolerances]
        if population < 2:
            raise ValueError(f"population must be >= 2, got {population}")
        if np.any(np.diff(tolerances) > 0):
            raise ValueError(f"tolerances must not increase, got {tolerances}")
        seed = int(seed)
        history = self.history or PosteriorHistory(None)
        history.start(
            {"target": target.tolist(), "tolerances": tolerances, "population": int(population),
             "seed": str(seed), "seed_scheme": SCHEME, "batch_size": self.sampler.batch_size,
             "kernel_scaling": self.transition.scaling,
             "discrepancy": getattr(self.discrepancy, "__name__", type(self.discrepancy).__name__),
             "simulator": simulator_settings},
            provenance,
        )
        start = len(history.generations)
        if start:
            log.info("resuming after generation %d of %d from %s", start - 1, len(tolerances),
                     history.path)
        complete = True
        for t in range(start, len(tolerances)):
            generation = self.run_generation(t, history.generations, target, tolerances[t],
                                             population, seed)
            if generation is None:
                complete = False
                break
            history.append(generation)
        if not history.generations:
            raise NoGenerationFinished(
                f"generation 0 accepted fewer than {population} of {self.sampler.max_trials} "
                f"proposals at tolerance {tolerances[0]}: raise max_trials or the first tolerance")
        names = tuple(param_names or (f"theta_{i}" for i in range(history.generations[0].particles.shape[1])))
        return ABCResult(list(history.generations), target, names, complete, start)

    def run_generation(self, t: int, previous: list[Generation], target: np.ndarray,
                       tolerance: float, population: int, seed: int) -> Generation | None:
        """Generation t: propose, simulate, accept, weight. None if the sampler gave up."""
        tic = time.perf_counter()
        theta_seq, seed_seq = stream(seed, ABC, t).spawn(2)
        rng = np.random.default_rng(theta_seq)
        if t == 0:
            def propose(size):
                return np.asarray(self.prior.sample(rng, size), dtype=float)
        else:
            self.transition.fit(previous[-1].particles, previous[-1].weights)
            propose = self._perturbation(rng)
        sample = self.sampler.sample(
            propose, self.simulate, lambda eta: self.discrepancy(eta, target),
            population=population, tolerance=tolerance, seed_rng=np.random.default_rng(seed_seq),
        )
        if not sample.complete:
            log.warning("generation %d stopped at tolerance %g: %d of %d accepted", t, tolerance,
                        len(sample.theta), population)
            return None
        weights = self.importance_weights(sample.theta, t)
        generation = Generation(
            index=t, particles=sample.theta, weights=weights, distances=sample.distances,
            seeds=sample.seeds, eta=sample.eta, tolerance=tolerance, trials=sample.trials,
            evaluations=sample.evaluations, acceptance_rate=population / sample.trials,
            seconds=time.perf_counter() - tic,
        )
        log.info("generation %d: tolerance %.4g, accepted %d/%d (%.3g %%), ESS %.0f, %.1f s",
                 t, tolerance, population, sample.trials, 100 * generation.acceptance_rate,
                 generation.ess, generation.seconds)
        return generation

    def _perturbation(self, rng: np.random.Generator) -> Callable[[int], np.ndarray]:
        """Proposal of generation t > 0: perturbed particles inside the prior's support."""
        def propose(size):
            parts, n = [], 0
            while n < size:
                theta = self.transition.rvs(rng, size)
                theta = theta[np.isfinite(self.prior.logpdf(theta))]
                parts.append(theta)
                n += len(theta)
            return np.concatenate(parts)[:size]
        return propose

    def importance_weights(self, theta: np.ndarray, t: int) -> np.ndarray:
        """Normalised w_i ~ pi(theta_i) / sum_j w_j K(theta_i | theta_j); equal at t = 0."""
        if t == 0:
            return np.full(len(theta), 1.0 / len(theta))
        log_w = self.prior.logpdf(theta) - self.transition.logpdf(theta)
        w = np.exp(log_w - log_w.max())
        return w / w.sum()


def abc_pmc(target, simulate, prior, population: int, tolerances: Sequence[float], *,
            seed, batch_size: int = 256, history_path=None, discrepancy: Callable = mape,
            kernel_scaling: float = 2.0, max_trials: int | None = None,
            param_names: Sequence[str] | None = None, provenance: dict | None = None,
            simulator_settings: dict | None = None) -> ABCResult:
    """Approximate posterior of theta given a target property vector, by ABC-PMC.

    Parameters
    ----------
    target : (k,) array_like
        Target properties eta.
    simulate : callable
        ``simulate(theta (B, d), seeds (B,) uint64) -> eta (B, k)``; stochastic only through
        the seeds.
    prior : object
        ``.sample(rng, size)`` and ``.logpdf(theta)`` (for example
        ``microinv.microstructure.SpinodoidPrior``).
    population : int
        Particles per generation P (reference 512).
    tolerances : sequence of float
        Decreasing acceptance thresholds on rho, one per generation
        (:func:`reference_tolerances`).
    seed : int, keyword-only
        Entropy of the run; with the same seed and batch size a run, interrupted or not,
        gives the same particles.
    batch_size : int, keyword-only
        Proposals per simulator call.
    history_path : path-like or None, keyword-only
        ``posterior.h5``: written after every generation; when it exists the run resumes
        after its last finished generation (its settings must match).
    discrepancy : callable, keyword-only
        ``discrepancy(eta, target) -> rho``; default :func:`mape` (percent).
    kernel_scaling : float, keyword-only
        Perturbation covariance = ``kernel_scaling`` x weighted population covariance.
    max_trials : int or None, keyword-only
        Stop the run when a generation needs more proposals than this.
    param_names : sequence of str, keyword-only
    provenance : dict, keyword-only
        Stored in ``posterior.h5``.
    simulator_settings : dict, keyword-only
        What the simulator is (e.g. surrogate SHA-256, generator, N); stored, and a resumed
        run must match it.

    Returns
    -------
    ABCResult

    Examples
    --------
    >>> import numpy as np
    >>> class Uniform:
    ...     def sample(self, rng, size): return rng.uniform(0, 1, (size, 1))
    ...     def logpdf(self, theta):
    ...         inside = np.all((theta >= 0) & (theta <= 1), axis=1)
    ...         return np.where(inside, 0.0, -np.inf)
    >>> def simulate(theta, seeds): return theta + 0.01
    >>> result = abc_pmc([0.5], simulate, Uniform(), 50, [50, 10, 2], seed=1, batch_size=64)
    >>> bool(abs(result.mean()[0] - 0.49) < 0.01)
    True
    """
    history = None if history_path is None else PosteriorHistory(history_path)
    engine = ABCPMC(
        simulate, prior, discrepancy=discrepancy,
        transition=MultivariateNormalTransition(scaling=kernel_scaling),
        sampler=BatchSampler(batch_size=batch_size, max_trials=max_trials), history=history,
    )
    return engine.run(target, tolerances, population, seed=seed, param_names=param_names,
                      provenance=provenance, simulator_settings=simulator_settings)
