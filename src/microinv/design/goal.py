"""Goal-oriented process design: the process phi most likely to give properties in a box.

The property of a structure is ``m = (log10 k_x, log10 k_y[, log10 k_z])``
(:mod:`microinv.physics.log_permeability`); a target is a box ``M_d = prod_i [l_i, u_i]``
of m. The structure is random given the process parameters phi, so the design objective is
the probability

.. math:: p(\\phi) = P(m \\in M_d \\mid \\phi) = \\int 1[m(x) \\in M_d]\\, p(x \\mid \\phi)\\, dx,

estimated by Monte Carlo over K structures ``x_k ~ p(x | phi)`` (seeds ``s_k``) with a
predictor of m (the surrogate, or the numerical solver):

.. math:: \\hat p(\\phi) = \\frac{1}{K} \\sum_{k=1}^K 1[\\hat m(x_k) \\in M_d]

(:func:`p_in_target`), and maximised over the prior's box of phi with Optuna
(:func:`design_box`). Every trial uses the same K structure seeds (common random numbers):
two trials then differ by phi only, not by the noise of their draws, so the comparison of
``p_hat`` between trials has a smaller variance than with fresh seeds per trial. The study
starts from a space-filling set of trials (:func:`initial_points`: a grid with the corners
of the box, or Sobol points in many dimensions), since p(phi) often peaks on an edge or a
corner of the box of phi, where TPE's random start rarely looks.

The best trial of a noisy objective is biased towards trials whose K structures happened to
fall well (winner's curse), and p(phi) is flat near its maximum, so the argmax of ``p_hat``
over 60 trials of K = 64 can lie several standard errors of p below the true maximum. The
design therefore re-selects (:func:`reselect`): the ``top`` best distinct trials are
estimated again on ``K'`` fresh structures, common to all of them (seeds ``(REFINE,)``), and
phi* is the best of these estimates. With K' = 1,000 a candidate's estimate has a standard
error below 0.016, and the maximum over five candidates is nearly unbiased. The search may
predict m with the surrogate (cheap, so K can be large) and re-select with the numerical
solver (``reselect_predict``): phi* is then chosen by the solver's p, free of the
surrogate's bias near the box's faces. The design
phi* is validated with fresh structures solved numerically (:func:`validate_design`): the
fraction in the box with its Wilson interval (:func:`wilson_interval`), beside the best
point of a reference grid of phi (:func:`reference_grid`), each grid point with its own K
structures solved numerically: the ground-truth map of p(phi).

Seeds (:mod:`microinv.seeds`): the design's structures ``(BO_TRIAL, 0)``, its re-selection
``(REFINE,)``, the validation of
box b ``(VALIDATION, b)``, grid point g ``(REFERENCE_GRID, g)``, all of the design seed.

References
----------
.. [1] Y. Zhang, P.-S. Koutsourelakis, "PSP-GEN: Stochastic inversion of the
   Process-Structure-Property chain in materials design through deep, generative
   probabilistic modeling" (2025): the three boxes and Table 1 this design reproduces.
.. [2] E. B. Wilson, "Probable inference, the law of succession, and statistical
   inference", J. Am. Stat. Assoc. 22, 209-212 (1927).
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import time
from collections.abc import Callable
from statistics import NormalDist

import numpy as np
import optuna

from microinv.design.bo import BoxSpace, make_sampler
from microinv.data.journal import journal_storage
from microinv.errors import InputError
from microinv.progress import progress
from microinv.seeds import BO_TRIAL, REFERENCE_GRID, REFINE, VALIDATION, stream, uint64_seeds

__all__ = ["TargetBox", "best_distinct_trials", "design_box", "grid_points", "initial_points",
           "merge_grid", "p_in_target", "ratio_interval", "reference_grid", "reselect", "study_name",
           "validate_design", "wilson_interval"]

#: Predictor of the properties: ``predict(structures (K, n, ..., n) uint8) -> m (K, dim)``.
Predictor = Callable[[np.ndarray], np.ndarray]
#: The process: ``make(phi (K, P), seeds (K,) uint64) -> structures (K, n, ..., n) uint8``.
Process = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclasses.dataclass(frozen=True)
class TargetBox:
    """A box of properties ``prod_i [low_i, high_i]`` (log10 k per axis), named.

    Examples
    --------
    >>> box = TargetBox("both-high", [[0.6, 1.2], [0.6, 1.2]])
    >>> box.contains(np.array([[0.7, 1.0], [0.7, 1.3], [np.nan, 1.0]])).tolist()
    [True, False, False]
    """

    name: str
    bounds: tuple

    def __post_init__(self):
        bounds = np.asarray(self.bounds, dtype=float)
        if bounds.ndim != 2 or bounds.shape[1] != 2 or not (bounds[:, 0] < bounds[:, 1]).all():
            raise InputError(f"boxes.{self.name}: must be intervals [low, high], low < high, got {self.bounds!r}")
        object.__setattr__(self, "bounds", tuple(map(tuple, bounds.tolist())))

    def contains(self, m) -> np.ndarray:
        """Whether each row of m (..., dim) lies in the box (bounds included); NaN never does."""
        m = np.asarray(m, dtype=float)
        bounds = np.asarray(self.bounds)
        if m.shape[-1] != len(bounds):
            raise InputError(f"m: box {self.name} has {len(bounds)} axes, got properties of shape {m.shape}")
        return ((m >= bounds[:, 0]) & (m <= bounds[:, 1])).all(axis=-1)


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion.

    Notes
    -----
    With ``h = successes / trials``, ``n = trials`` and ``z`` the standard normal quantile of
    ``(1 + confidence) / 2``,

    .. math:: \\frac{h + z^2 / 2n \\pm z \\sqrt{h (1 - h) / n + z^2 / 4n^2}}{1 + z^2 / n},

    which stays inside [0, 1] and keeps its coverage near ``confidence`` also for h near 0
    or 1, where the normal interval ``h +- z sqrt(h (1 - h) / n)`` collapses [2]_.

    Examples
    --------
    >>> [round(v, 4) for v in wilson_interval(81, 100)]
    [0.7222, 0.8749]
    >>> wilson_interval(0, 10)[0]
    0.0
    """
    if trials < 1 or not 0 <= successes <= trials:
        raise InputError(f"successes: must lie in [0, trials] with trials >= 1, got {successes} of {trials}")
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    h, n = successes / trials, trials
    centre = (h + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(h * (1 - h) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact ends, not round-off off them
    return low, 1.0 if successes == trials else min(1.0, centre + half)


def ratio_interval(successes_a: int, trials_a: int, successes_b: int, trials_b: int,
                   confidence: float = 0.95) -> tuple[float, float]:
    """Confidence interval of the ratio ``p_a / p_b`` of two independent binomial proportions.

    Notes
    -----
    The log-ratio interval (Katz et al. 1978): with ``h_a = s_a / n_a``, ``h_b = s_b / n_b``,

    .. math:: \\frac{h_a}{h_b} \\exp\\left(\\pm z \\sqrt{\\frac{1 - h_a}{s_a} + \\frac{1 - h_b}{s_b}}\\right),

    for ``s_a, s_b >= 1``. At p = 0.5 and n = 1,000 each, the 95 % interval of a ratio near 1
    is about +-9 %; at p = 0.15, +-21 %.

    Examples
    --------
    >>> [round(v, 3) for v in ratio_interval(500, 1000, 500, 1000)]
    [0.916, 1.092]
    """
    if successes_a < 1 or successes_b < 1 or successes_a > trials_a or successes_b > trials_b:
        raise InputError(f"successes: need 1 <= s <= n for both proportions, got {successes_a} of {trials_a} "
                         f"and {successes_b} of {trials_b}")
    z = NormalDist().inv_cdf((1 + confidence) / 2)
    ratio = (successes_a / trials_a) / (successes_b / trials_b)
    spread = z * math.sqrt((1 - successes_a / trials_a) / successes_a + (1 - successes_b / trials_b) / successes_b)
    return ratio * math.exp(-spread), ratio * math.exp(spread)


def p_in_target(phi, boxes, *, make: Process, predict: Predictor, seeds) -> np.ndarray:
    """Monte Carlo estimate of P(m in M_d | phi) for each box, over one set of structures.

    Parameters
    ----------
    phi : (P,) array_like
        Process parameters.
    boxes : sequence of TargetBox
    make : callable
        ``make(phi (K, P), seeds (K,)) -> structures``, the process model.
    predict : callable
        ``predict(structures) -> m (K, dim)``; NaN rows (failed predictions) count as misses.
    seeds : (K,) array_like of uint64
        Structure seeds.

    Returns
    -------
    p : (len(boxes),) ndarray of float64
        ``mean_k 1[m_k in box]`` per box.
    """
    seeds = np.asarray(seeds, dtype=np.uint64)
    structures = make(np.tile(np.asarray(phi, dtype=float), (len(seeds), 1)), seeds)
    m = np.asarray(predict(structures), dtype=float)
    return np.array([box.contains(m).mean() for box in boxes])


def design_seeds(seed: int, count: int) -> np.ndarray:
    """The ``count`` structure seeds every trial of a design of ``seed`` uses."""
    return uint64_seeds(stream(seed, BO_TRIAL, 0), count)


def initial_points(bounds, count: int, seed: int) -> np.ndarray:
    """The study's first trials, (N, P): space-filling over the box of phi.

    A grid of ``g = floor(count^(1/P))`` values per axis, bounds included
    (:func:`grid_points`, ``g^P`` points with every corner), when g >= 2; otherwise (many
    parameters) ``count`` scrambled Sobol points of ``seed``; (0, P) for ``count`` = 0.

    Examples
    --------
    >>> initial_points([[1, 9], [0.2, 2]], 9, seed=0)[[0, 4, 8]].tolist()
    [[1.0, 0.2], [5.0, 1.1], [9.0, 2.0]]
    >>> initial_points([[0, 1]] * 10, 16, seed=0).shape
    (16, 10)
    """
    from scipy.stats import qmc

    bounds = np.asarray(bounds, dtype=float)
    if count < 1:
        return np.empty((0, len(bounds)))
    per_axis = int(math.floor(count ** (1 / len(bounds)) + 1e-9))
    if per_axis >= 2:
        return grid_points(bounds, per_axis)
    unit = qmc.Sobol(d=len(bounds), scramble=True, seed=seed).random(count)
    return qmc.scale(unit, bounds[:, 0], bounds[:, 1])


def study_name(box: TargetBox, setting: dict) -> str:
    """The Optuna study of a design: ``process-<box>-<digest>``, the digest (12 hex digits)
    of everything that defines its trials' values (predictor, structures, seed, sampler), so
    that a design with another setting starts its own study in the same journal instead of
    resuming trials of different values."""
    from microinv.data.provenance import sha256_json

    return f"process-{box.name}-{sha256_json({'bounds': box.bounds, **setting})[:12]}"


def design_box(box: TargetBox, *, bounds, names, make: Process, predict: Predictor, structures: int,
               trials: int, seed: int, storage_path, predictor: str = "", sampler: str = "tpe",
               initial_trials: int = 0, reselect_top: int = 0, reselect_structures: int = 0,
               reselect_predict: Predictor | None = None) -> dict:
    """phi* maximising the Monte Carlo P(m in box | phi), by an Optuna study in a journal.

    Parameters
    ----------
    box : TargetBox
    bounds : (P, 2) array_like
        The box of phi (the prior's support).
    names : sequence of str
        Names of the parameters of phi (the trials' parameter names).
    make, predict : callable
        As for :func:`p_in_target`.
    structures : int
        K, structures per trial (the same seeds in every trial, :func:`design_seeds`).
    trials : int
        Finished trials the study must hold; a resumed study runs only the missing ones.
    seed : int
        Seed of the structures and of the TPE sampler.
    storage_path : path-like
        The study's journal (:func:`microinv.data.journal.journal_storage`); the study is
        named by :func:`study_name`.
    predictor : str
        What ``predict`` is (e.g. the surrogate checkpoint's sha256), part of the study's name.
    initial_trials : int
        The study's first trials are :func:`initial_points` of this count (then ``sampler``).
    reselect_top, reselect_structures : int
        Re-select phi* among the ``reselect_top`` best trials on ``reselect_structures``
        fresh structures (:func:`reselect`); 0 takes the best trial as it is.
    reselect_predict : callable, optional
        The predictor of the re-selection (the numerical solver); default ``predict``.

    Returns
    -------
    dict
        ``phi`` (the design), ``p_estimate`` (its Monte Carlo p: over the K' re-selection
        structures, else over the K of the trials), ``trial`` (the design's), ``trials``
        (finished), ``structures`` (K), ``evaluations`` (K times the trials run by this
        call, plus K' per re-selected candidate), ``seconds`` (wall time of this call),
        ``study`` (its name) and, with re-selection, ``reselection`` (:func:`reselect`'s
        record).
    """
    start, space, seeds = time.perf_counter(), BoxSpace(bounds, names), design_seeds(seed, structures)
    name = study_name(box, {"predictor": predictor, "structures": int(structures), "seed": int(seed),
                            "sampler": sampler, "initial_trials": int(initial_trials)})
    study = optuna.create_study(storage=journal_storage(storage_path), study_name=name,
                                sampler=make_sampler(sampler, seed), direction="maximize", load_if_exists=True)
    if not study.trials:  # a new study; a resumed one holds its initial trials (run or waiting)
        for point in initial_points(bounds, initial_trials, seed)[:trials]:
            study.enqueue_trial(dict(zip(space.names, map(float, point))))
    done = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)))

    def objective(trial: optuna.Trial) -> float:
        phi = space.suggest(trial)
        trial.set_user_attr("phi", phi.tolist())
        return float(p_in_target(phi, [box], make=make, predict=predict, seeds=seeds)[0])

    missing = max(trials - done, 0)
    if missing:
        study.optimize(objective, n_trials=missing)
    finished = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    out = {"box": box.name, "bounds": [list(b) for b in box.bounds], "study": name, "trials": len(finished),
           "structures": int(structures), "evaluations": int(structures * missing)}
    if reselect_top and reselect_structures:
        chosen = reselect(study, box, top=reselect_top, structures=reselect_structures, make=make,
                          predict=reselect_predict or predict, seed=seed)
        best = chosen["candidates"][chosen["chosen"]]
        out["evaluations"] += reselect_structures * len(chosen["candidates"])
        return {**out, "phi": best["phi"], "p_estimate": best["p_reselect"], "trial": best["trial"],
                "reselection": chosen, "seconds": time.perf_counter() - start}
    best = study.best_trial
    return {**out, "phi": best.user_attrs["phi"], "p_estimate": best.value, "trial": best.number,
            "seconds": time.perf_counter() - start}


def best_distinct_trials(finished, top: int) -> list:
    """The ``top`` finished trials of largest value (ties: the earlier trial), one per distinct phi."""
    ranked, seen = [], set()
    for trial in sorted(finished, key=lambda t: (-t.value, t.number)):
        key = tuple(trial.user_attrs.get("phi") or ())
        if key not in seen and len(ranked) < top:
            seen.add(key)
            ranked.append(trial)
    return ranked


def reselect(study: optuna.Study, box: TargetBox, *, top: int, structures: int, make: Process,
             predict: Predictor, seed: int) -> dict:
    """Estimate the ``top`` best distinct trials again on fresh structures; the best is phi*.

    The candidates are the finished trials of largest ``p_hat`` (ties: the earlier trial),
    one per distinct phi; each is estimated on the same ``structures`` seeds of stream
    ``(REFINE,)`` of ``seed``, disjoint from the trials' seeds, so the candidates are compared
    by phi alone and the chosen estimate is not the one that ranked it.

    Returns
    -------
    dict
        ``structures`` (K'), ``candidates`` (list of ``trial``, ``phi``, ``p_trials`` the
        study's estimate, ``p_reselect`` the new one) and ``chosen`` (index of the largest
        ``p_reselect``; ties: the better-ranked candidate).
    """
    finished = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    ranked = best_distinct_trials(finished, top)
    seeds = uint64_seeds(stream(seed, REFINE), structures)
    candidates = [{"trial": t.number, "phi": t.user_attrs["phi"], "p_trials": t.value,
                   "p_reselect": float(p_in_target(t.user_attrs["phi"], [box], make=make, predict=predict,
                                                   seeds=seeds)[0])} for t in ranked]
    chosen = max(range(len(candidates)), key=lambda i: (candidates[i]["p_reselect"], -i))
    return {"structures": int(structures), "candidates": candidates, "chosen": chosen}


def grid_points(bounds, points: int) -> np.ndarray:
    """The reference grid: ``points`` equidistant values per axis of the box, bounds included,
    in C order (last parameter fastest), (points ** P, P)."""
    bounds = np.asarray(bounds, dtype=float)
    axes = [np.linspace(low, high, points) for low, high in bounds]
    return np.array(list(itertools.product(*axes)))


def reference_grid(bounds, points: int, structures: int, *, make: Process, predict: Predictor,
                   seed: int, cells: range | None = None, batch: int = 256) -> dict:
    """Properties of ``structures`` structures at each point of a grid of phi, solved numerically.

    ``cells`` (a chunk of :func:`microinv.data.layout.grid_chunks`) limits the work to those
    grid points; each point keeps its own seeds, so the parts of a grid, merged
    (:func:`merge_grid`), are the grid. The structures of several grid points are made in one
    call of ``make`` (about ``batch`` at a time: batched FFTs).

    Returns
    -------
    dict
        ``cells`` (G,) the grid points' indices, ``phi`` (G, P) of :func:`grid_points`, ``m``
        (G, K, dim) the predicted (numerical) properties of grid point g's structures (seeds
        ``(REFERENCE_GRID, g)`` of ``seed``), and ``seconds``. p(phi) of any box is
        ``box.contains(m).mean(axis=1)``.
    """
    every = grid_points(bounds, points)
    cells = range(len(every)) if cells is None else cells
    start, m = time.perf_counter(), []
    per_batch = max(1, batch // structures)  # grid points whose structures are made in one batch
    for first in progress(range(cells.start, cells.stop, per_batch), desc="reference grid"):
        batch_cells = range(first, min(first + per_batch, cells.stop))
        seeds = np.concatenate([uint64_seeds(stream(seed, REFERENCE_GRID, g), structures) for g in batch_cells])
        phi = np.repeat(every[batch_cells.start:batch_cells.stop], structures, axis=0)
        predicted = np.asarray(predict(make(phi, seeds)), dtype=float)
        m.extend(predicted.reshape(len(batch_cells), structures, -1))
    return {"cells": np.arange(cells.start, cells.stop), "phi": every[cells.start:cells.stop],
            "m": np.stack(m), "seconds": time.perf_counter() - start}


def merge_grid(parts: dict, cells: int) -> dict:
    """One reference grid of its parts (name -> :func:`reference_grid` dict), in cell order.

    Raises :class:`InputError`, naming the parts, unless every cell 0 .. ``cells`` - 1 is in
    exactly one part and every part has as many structures per point.
    """
    owner = {}
    for name, part in parts.items():
        for g in map(int, part["cells"]):
            if g in owner:
                raise InputError(f"{name}: grid point {g} is also in {owner[g]}")
            owner[g] = name
    missing, extra = sorted(set(range(cells)) - set(owner)), sorted(set(owner) - set(range(cells)))
    if missing or extra:
        raise InputError(f"reference grid of {cells} points: {len(missing)} are in no part "
                         f"(first {missing[:3]}), {len(extra)} of the parts' points lie beyond it "
                         f"(in {sorted({owner[g] for g in extra})[:3]}); re-run the grid's parts")
    shapes = {name: part["m"].shape[1:] for name, part in parts.items()}
    if len(set(shapes.values())) > 1:
        raise InputError(f"reference grid: the parts differ in structures per point: {shapes}")
    merged = {key: np.concatenate([part[key] for part in parts.values()]) for key in ("cells", "phi", "m")}
    order = np.argsort(merged["cells"])
    return {key: value[order] for key, value in merged.items()} | {
        "seconds": sum(part["seconds"] for part in parts.values())}


def validate_design(phi, box: TargetBox, box_index: int, *, count: int, make: Process, predict: Predictor,
                    seed: int, grid: dict | None = None, confidence: float = 0.95) -> dict:
    """Fraction of ``count`` fresh structures at phi whose solved m lies in the box.

    ``predict`` is the numerical solver here; the seeds are ``(VALIDATION, box_index)`` of
    ``seed``, disjoint from those of the design and of the grid. With the ``grid`` of
    :func:`reference_grid`, its best point ``phi_ref`` and ``p_ref`` are recorded beside;
    ``p_ref`` is the largest of the grid's estimates, so it is biased upwards by the noise
    of its K structures (winner's curse). ``phi_ref`` is therefore also solved with
    ``count`` fresh structures (seeds ``(VALIDATION, box_index, 1)``): ``p_ref_validated``,
    the like-for-like value to compare ``p_in_target`` with.

    Returns
    -------
    dict
        ``phi``, ``p_in_target``, ``p_in_target_ci`` (Wilson, ``confidence``), ``count``,
        ``in_target``, ``m_mean``, ``seconds`` and, with a grid, ``phi_ref``, ``p_ref``,
        ``p_ref_ci`` (Wilson of the grid point's K structures), ``p_ref_validated``,
        ``p_ref_validated_ci``, ``ratio`` = p_in_target / p_ref_validated and ``ratio_ci``
        (:func:`ratio_interval`).
    """
    start = time.perf_counter()
    inside = _count_inside(phi, box, count, make, predict, stream(seed, VALIDATION, box_index))
    out = {"box": box.name, "bounds": [list(b) for b in box.bounds], "phi": [float(v) for v in phi],
           "p_in_target": inside / count, "p_in_target_ci": list(wilson_interval(inside, count, confidence)),
           "confidence": confidence, "count": int(count), "in_target": inside}
    if grid is not None:
        hits = box.contains(grid["m"]).sum(axis=1)
        best = int(np.argmax(hits))
        structures = grid["m"].shape[1]
        reference = _count_inside(grid["phi"][best], box, count, make, predict, stream(seed, VALIDATION, box_index, 1))
        out.update(phi_ref=grid["phi"][best].tolist(), p_ref=float(hits[best] / structures),
                   p_ref_ci=list(wilson_interval(int(hits[best]), structures, confidence)),
                   p_ref_validated=reference / count,
                   p_ref_validated_ci=list(wilson_interval(reference, count, confidence)))
        out["ratio"] = out["p_in_target"] / out["p_ref_validated"] if reference else None
        out["ratio_ci"] = list(ratio_interval(inside, count, reference, count, confidence)) if inside and reference \
            else None
    out["seconds"] = time.perf_counter() - start
    return out


def _count_inside(phi, box, count, make, predict, sequence) -> int:
    """Structures of ``count`` fresh seeds of ``sequence`` at phi whose m lies in the box."""
    seeds = uint64_seeds(sequence, count)
    m = np.asarray(predict(make(np.tile(np.asarray(phi, dtype=float), (count, 1)), seeds)), dtype=float)
    return int(box.contains(m).sum())
