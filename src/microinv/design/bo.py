"""Bayesian optimisation of the expected discrepancy with Optuna, shared by many workers.

The design minimises the expected discrepancy

    J(theta) = E_seed[ rho(eta'(theta, seed), eta) ]
             ~ (1/K) sum_k rho(eta'(theta, seed_k), eta),

estimated per trial from K structures with fresh seeds, so the objective is noisy, as the
structures are. The study lives in an Optuna journal file
(:func:`microinv.data.journal.journal_storage`): any number of workers (SLURM array tasks,
processes, hosts with a shared file system) add trials to it with
:func:`microinv.design.bo_workers.run_worker`, reproducibly, and trial numbers continue
across restarts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import optuna
from optuna.trial import TrialState

from microinv.data.journal import journal_storage
from microinv.design.abc import mape
from microinv.seeds import BO_TRIAL, stream, uint64_seeds

__all__ = ["FINISHED", "SAMPLERS", "BoxSpace", "DiscrepancyObjective", "SpinodoidSpace", "best_design",
           "finished_trials", "load_study", "make_sampler", "trial_seeds"]

SAMPLERS = ("tpe", "gp")
#: States of a trial that count towards a study's budget: it ran to the end.
FINISHED = (TrialState.COMPLETE, TrialState.PRUNED)


def trial_seeds(seed: int, trial_number: int, count: int) -> np.ndarray:
    """``count`` uint64 structure seeds of trial ``trial_number`` of a study of ``seed``."""
    return uint64_seeds(stream(seed, BO_TRIAL, trial_number), count)


def make_sampler(kind: str, seed: int) -> optuna.samplers.BaseSampler:
    """The Optuna sampler ``kind`` ("tpe" or "gp"), seeded."""
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed)
    if kind == "gp":
        return optuna.samplers.GPSampler(seed=seed)
    raise ValueError(f"sampler must be one of {SAMPLERS}, got {kind!r}")


def load_study(storage_path, study_name: str, *,
               sampler: optuna.samplers.BaseSampler | None = None) -> optuna.Study:
    """Create the study in the journal, or load it when it exists (``load_if_exists``).

    ``sampler`` proposes this process's trials, typically a
    :class:`~microinv.design.bo_workers.BatchSampler` (default: Optuna's, unseeded).
    """
    return optuna.create_study(storage=journal_storage(storage_path), study_name=study_name,
                               sampler=sampler, direction="minimize", load_if_exists=True)


class BoxSpace:
    """Search space: theta_i uniform on [low_i, high_i], suggested as is.

    Parameters
    ----------
    bounds : (d, 2) array_like
    names : sequence of str
    """

    def __init__(self, bounds, names: Sequence[str]):
        self.bounds = np.asarray(bounds, dtype=float)
        self.names = tuple(names)
        if self.bounds.shape != (len(self.names), 2):
            raise ValueError(f"bounds must be ({len(self.names)}, 2), got {self.bounds.shape}")

    def suggest(self, trial: optuna.Trial) -> np.ndarray:
        return np.array([trial.suggest_float(name, lo, hi) for name, (lo, hi) in zip(self.names, self.bounds)])


class SpinodoidSpace:
    """Search space of spinodoid parameters that follows the prior's support.

    theta = (a_x, a_y, a_z, eps) is suggested through the mean length m, the log-ratios
    u_y = log(a_y / a_x), u_z = log(a_z / a_x) and eps:

        a = 3 m (1, e^u_y, e^u_z) / (1 + e^u_y + e^u_z),

    m on the prior's mean range, u in [-log r, log r] (r the largest length ratio), eps on
    its range. Every suggestion has an admissible mean; the quarter of the (u_y, u_z) square
    where max(a) / min(a) > r falls outside the prior and is pruned by the objective.

    Parameters
    ----------
    prior : microinv.microstructure.SpinodoidPrior
        3D prior (``mean_bounds``, ``max_ratio``, ``eps_range``).
    """

    names = ("mean_length", "log_ratio_y", "log_ratio_z", "eps")

    def __init__(self, prior):
        if prior.dim != 3:
            raise ValueError(f"SpinodoidSpace is for 3D priors, got dim={prior.dim}")
        log_r = float(np.log(prior.max_ratio))
        self.bounds = np.array([prior.mean_bounds, (-log_r, log_r), (-log_r, log_r), prior.eps_range],
                               dtype=float)

    def suggest(self, trial: optuna.Trial) -> np.ndarray:
        m, u_y, u_z, eps = (trial.suggest_float(name, lo, hi) for name, (lo, hi) in zip(self.names, self.bounds))
        ratios = np.exp([0.0, u_y, u_z])
        return np.append(3 * m * ratios / ratios.sum(), eps)


class DiscrepancyObjective:
    """Optuna objective: mean discrepancy of K structures at the suggested theta.

    Parameters
    ----------
    simulate : callable
        ``simulate(theta (K, d), seeds (K,) uint64) -> eta (K, k)``.
    target : (k,) array_like
    space : BoxSpace or SpinodoidSpace
        ``space.suggest(trial) -> theta (d,)``.
    structures_per_trial : int, keyword-only
        K.
    seed : int, keyword-only
        Entropy of the structure seeds (:func:`trial_seeds`).
    prior : object or None, keyword-only
        With ``.logpdf``: trials outside its support are pruned without simulating.
    discrepancy : callable, keyword-only
        ``discrepancy(eta, target) -> rho``; default :func:`~microinv.design.abc.mape`.

    Each trial stores ``theta``, its structure ``seeds``, the per-structure ``rho``, the
    mean ``eta`` and the standard error ``rho_sem`` as user attributes. Structures the
    simulator refuses (eta NaN: not percolating) are left out of the mean, so J is the
    expectation over admissible structures; a trial with none is pruned.
    """

    def __init__(self, simulate: Callable, target, space, *, structures_per_trial: int = 8,
                 seed: int = 0, prior=None, discrepancy: Callable = mape):
        self.simulate = simulate
        self.target = np.asarray(target, dtype=float)
        self.space = space
        self.structures_per_trial = int(structures_per_trial)
        self.seed = seed
        self.prior = prior
        self.discrepancy = discrepancy

    def __call__(self, trial: optuna.Trial) -> float:
        theta = self.space.suggest(trial)
        trial.set_user_attr("theta", theta.tolist())
        if self.prior is not None and not np.isfinite(self.prior.logpdf(theta[None])[0]):
            raise optuna.TrialPruned("theta outside the prior's support")
        seeds = trial_seeds(self.seed, trial.number, self.structures_per_trial)
        eta = np.asarray(self.simulate(np.tile(theta, (len(seeds), 1)), seeds), dtype=float)
        rho = self.discrepancy(eta, self.target)
        trial.set_user_attr("seeds", [str(s) for s in seeds])
        trial.set_user_attr("rho", [float(r) if np.isfinite(r) else None for r in rho])
        rho = rho[np.isfinite(rho)]  # structures the simulator refused (NaN) are left out
        if not len(rho):
            raise optuna.TrialPruned("no structure of this trial could be simulated")
        trial.set_user_attr("eta_mean", np.nanmean(eta, axis=0).tolist())
        trial.set_user_attr("rho_sem", float(rho.std(ddof=1) / np.sqrt(len(rho))) if len(rho) > 1 else None)
        return float(rho.mean())


def finished_trials(study: optuna.Study) -> int:
    """Trials of ``study`` that ran to the end (complete or pruned), every worker's."""
    return len(study.get_trials(deepcopy=False, states=FINISHED))


def _has_complete(study: optuna.Study) -> bool:
    return bool(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))


def best_design(study: optuna.Study) -> dict:
    """The best complete trial: theta, estimated J and its standard error, trial counts."""
    if not _has_complete(study):
        raise ValueError(f"study {study.study_name!r} has no complete trial yet")
    best = study.best_trial
    counts = {state.name.lower(): len(study.get_trials(deepcopy=False, states=(state,)))
              for state in TrialState}
    return {"theta": best.user_attrs["theta"], "value": best.value,
            "value_sem": best.user_attrs.get("rho_sem"), "trial": best.number,
            "trials": counts}
