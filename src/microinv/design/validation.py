"""Numerical validation of a design: K fresh structures at theta, solved, against the target.

For solver results eta_k (K structures x 3 axes) at a design theta, :func:`summarise`
gives the solver's answer: per axis the mean with its standard error, the discrepancy of
the mean rho(mean) = 100/3 sum_i |mean_i - eta*_i| / eta*_i from the target eta* with its
bootstrap standard error, the expected discrepancy mean_k rho_k, the fraction of structures
within a relative tolerance of the target on all axes at once
(|eta_k,i - eta*_i| <= tol * eta*_i for every i), and, given the surrogate's predictions
for the same structures, how far the surrogate is from the solver. ``microinv validate``
writes it as ``validation.json``; the active-learning loop calls it after every round.

The solver's answer also corrects the next design: :func:`corrected_target` moves the
target the surrogate is asked to hit by the surrogate's bias at the last validated design.

Upscaling: the structure (theta, 3N) with a/3 is the (theta, N) structure at three times
the resolution (a N fixed, DESIGN.md), a check that the design does not depend on the
discretisation; :func:`upscaled_theta` gives its parameters and :func:`coarsen` brings such
a structure back to the surrogate's N.
"""

from __future__ import annotations

import numpy as np

from microinv.design.abc import mape

__all__ = ["AXES", "BOOTSTRAP_RESAMPLES", "VALIDATION_FORMAT", "bootstrap_sem", "coarsen", "corrected_target",
           "summarise", "surrogate_error", "upscaled_theta"]

AXES = ("x", "y", "z")
#: Format of ``validation.json``: :func:`summarise`'s record (2: the answer's fields at the
#: top level) with the design's method, theta and provenance.
VALIDATION_FORMAT = "microinv.validation/2"
#: Resamples of the bootstrap standard error of the discrepancy of the mean.
BOOTSTRAP_RESAMPLES = 2000


def upscaled_theta(theta, factor: int) -> np.ndarray:
    """Parameters (a_x, a_y, a_z, eps) of the same structure on a grid ``factor`` x finer.

    >>> upscaled_theta([0.3, 0.6, 0.9, 0.5], 3).tolist()
    [0.09999999999999999, 0.19999999999999998, 0.3, 0.5]
    """
    theta = np.array(theta, dtype=float)
    theta[..., :-1] /= factor
    return theta


def coarsen(solid: np.ndarray, factor: int) -> np.ndarray:
    """Coarsen a structure by ``factor`` per axis, keeping its porosity.

    Parameters
    ----------
    solid : (N, N, N) uint8 ndarray
        1 = solid; N divisible by ``factor``.
    factor : int

    Returns
    -------
    (N / factor,) * 3 uint8 ndarray
        The round(eps M) blocks with the fewest solid voxels are pore (M blocks, eps the
        porosity of ``solid``), ties broken by position.
    """
    n = solid.shape[0]
    if any(s % factor for s in solid.shape):
        raise ValueError(f"structure shape {solid.shape} is not divisible by {factor}")
    m = n // factor
    blocks = solid.reshape(m, factor, m, factor, m, factor).sum(axis=(1, 3, 5), dtype=np.int32)
    pores = int(round((1 - blocks.sum() / solid.size) * blocks.size))
    coarse = np.ones(blocks.size, dtype=np.uint8)
    coarse[np.argsort(blocks, axis=None, kind="stable")[:pores]] = 0
    return coarse.reshape(blocks.shape)



def bootstrap_sem(statistic, sample: np.ndarray, *, resamples: int = BOOTSTRAP_RESAMPLES,
                  seed: int = 0) -> float | None:
    """Bootstrap standard error of ``statistic(sample)``: the standard deviation of the
    statistic over ``resamples`` resamples of the rows of ``sample`` with replacement.

    Parameters
    ----------
    statistic : callable
        ``statistic((B, K, k) ndarray) -> (B,) ndarray``, one value per resample.
    sample : (K, k) ndarray
    resamples : int, keyword-only
    seed : int, keyword-only
        Seed of the resampling, fixed so that a record is a function of its data.

    Returns
    -------
    float or None
        None for K < 2.
    """
    k = len(sample)
    if k < 2:
        return None
    rows = np.random.default_rng(seed).integers(0, k, size=(resamples, k))
    return float(np.std(statistic(sample[rows]), ddof=1))


def _sem(values: np.ndarray) -> list | float | None:
    """s / sqrt(K) along axis 0 (sample standard deviation s); None for K < 2."""
    if len(values) < 2:
        return None if values.ndim == 1 else [None] * values.shape[1]
    sem = values.std(axis=0, ddof=1) / np.sqrt(len(values))
    return float(sem) if values.ndim == 1 else sem.tolist()


def summarise(eta_solver, target, *, tolerance: float, eta_surrogate=None,
              sample_index=None, seeds=None) -> dict:
    """The solver's answer at a design: the ``validation.json`` record (without provenance).

    Parameters
    ----------
    eta_solver : (K, 3) array_like
        Numerically solved eta per structure and axis; a structure with NaN on an axis (a
        failed solve) is left out and counted (``structures`` - ``solved``).
        Non-percolating axes carry 0.
    target : (3,) array_like
        Target eta*, positive.
    tolerance : float, keyword-only
        Relative tolerance per axis: structure k hits axis i when
        |eta_k,i - eta*_i| <= tolerance * eta*_i.
    eta_surrogate : (K, 3) array_like or None, keyword-only
        The surrogate's predictions for the same structures.
    sample_index, seeds : (K,) array_like or None, keyword-only
        Identify the structures in ``per_structure``.

    Returns
    -------
    dict
        Over the K' solved structures:

        * ``mean``, ``std``, ``sem`` per axis: mean_i, sample standard deviation s_i and
          standard error s_i / sqrt(K'); ``min``, ``max``;
        * ``discrepancy_of_mean``: rho(mean) = 100/3 sum_i |mean_i - eta*_i| / eta*_i (%),
          the miss of the design, and ``discrepancy_of_mean_sem``, its bootstrap standard
          error (:func:`bootstrap_sem`: |.| has a kink at the target, where the
          delta method's error vanishes although the miss's does not);
        * ``expected_discrepancy``: the mean of the structures' own rho_k (what BO
          minimises with the surrogate), with ``expected_discrepancy_sem`` = s / sqrt(K');
        * ``hit_fraction``: the fraction of structures within the tolerance on all axes at
          once, with its binomial standard error sqrt(h (1 - h) / K'), and
          ``hit_fraction_axes`` per axis;
        * ``surrogate`` (None without ``eta_surrogate``): the surrogate's mean and
          rho(mean) on the same structures, its error against the solver
          ``mape_percent`` = 100 mean_k |eta^s_k,i - eta_k,i| / eta_k,i per axis (solver
          values of 0 left out) and ``bias`` = mean_k (eta^s_k,i - eta_k,i);
        * ``per_structure``: solver eta, surrogate eta, rho_k, index and seed of each.

    Examples
    --------
    >>> record = summarise([[0.40, 0.50, 0.60], [0.44, 0.50, 0.60]], [0.4, 0.5, 0.6], tolerance=0.05)
    >>> round(record["discrepancy_of_mean"], 4), record["hit_fraction"]
    (1.6667, 0.5)
    """
    target = np.asarray(target, dtype=float)
    solver = np.asarray(eta_solver, dtype=float)
    ok = np.all(np.isfinite(solver), axis=1)
    if not ok.any():
        raise ValueError("no structure has solver results on all axes")
    eta, count = solver[ok], int(ok.sum())
    rho = mape(eta, target)
    hits = np.abs(eta - target) <= tolerance * target
    hit = float(hits.all(axis=1).mean())
    record = {
        "target": target.tolist(), "tolerance": float(tolerance), "structures": len(solver), "solved": count,
        "mean": eta.mean(axis=0).tolist(), "sem": _sem(eta),
        "std": eta.std(axis=0, ddof=1).tolist() if count > 1 else [None] * 3,
        "min": eta.min(axis=0).tolist(), "max": eta.max(axis=0).tolist(),
        "discrepancy_of_mean": float(mape(eta.mean(axis=0), target)),
        "discrepancy_of_mean_sem": bootstrap_sem(lambda s: mape(s.mean(axis=1), target), eta),
        "expected_discrepancy": float(rho.mean()), "expected_discrepancy_sem": _sem(rho),
        "hit_fraction": hit, "hit_fraction_sem": float(np.sqrt(hit * (1 - hit) / count)),
        "hit_fraction_axes": {a: float(h) for a, h in zip(AXES, hits.mean(axis=0))},
        "surrogate": None,
    }
    per = [{"solver": row.tolist(), "rho": float(mape(row, target)) if good else None}
           for row, good in zip(solver, ok)]
    if eta_surrogate is not None:
        predicted = np.asarray(eta_surrogate, dtype=float)
        record["surrogate"] = surrogate_error(predicted[ok], eta, target)
        for entry, row in zip(per, predicted):
            entry["surrogate"] = row.tolist()
    for key, values in (("index", sample_index), ("seed", seeds)):
        if values is not None:
            for entry, value in zip(per, values):
                entry[key] = int(value)
    record["per_structure"] = per
    return record


def surrogate_error(predicted: np.ndarray, solved: np.ndarray, target: np.ndarray) -> dict:
    """The surrogate against the solver on the same (K, 3) structures: its mean and
    rho(mean), ``mape_percent`` and ``bias`` per axis (see :func:`summarise`)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        error = 100 * np.abs(predicted - solved) / solved
    return {"mean": predicted.mean(axis=0).tolist(),
            "discrepancy_of_mean": float(mape(predicted.mean(axis=0), target)),
            "mape_percent": [float(np.mean(e[np.isfinite(e)])) for e in error.T],
            "bias": (predicted - solved).mean(axis=0).tolist()}


#: Bounds of a corrected target: eta stays inside (0, 1), where the surrogate's logit lives.
TARGET_BOUNDS = (0.005, 0.995)


def corrected_target(target, predicted, solved) -> dict:
    """The target the surrogate must hit for the solver to hit ``target``: t' = t + b.

    b_i = mean_k (eta^s_k,i - eta_k,i) is the surrogate's bias on K solved structures of
    the last validated design (surrogate eta^s, solver eta). If the bias varies slowly with
    theta, a design whose surrogate mean is t + b has a solver mean near t; iterating
    (design, validate on fresh structures, correct again) is output space mapping (Bandler
    et al. 2004), with the solver as the fine model. The statistical error of the correction is
    the standard error of b, s_b / sqrt(K); t' is clipped to ``TARGET_BOUNDS``.

    Parameters
    ----------
    target : (3,) array_like
        The user's target eta*.
    predicted, solved : (K, 3) array_like
        Surrogate and solver eta of the same structures; rows with a non-finite solver
        value are left out.

    Returns
    -------
    dict
        ``target`` (t), ``surrogate_target`` (t'), ``bias`` (b) and ``bias_sem`` per axis
        (None for K < 2), ``structures`` (K used).

    Examples
    --------
    >>> c = corrected_target([0.4, 0.5, 0.6], [[0.42, 0.5, 0.6], [0.44, 0.5, 0.58]], [[0.4, 0.5, 0.6], [0.4, 0.5, 0.6]])
    >>> [round(v, 3) for v in c["surrogate_target"]]
    [0.43, 0.5, 0.59]
    """
    target = np.asarray(target, dtype=float)
    predicted, solved = np.asarray(predicted, dtype=float), np.asarray(solved, dtype=float)
    ok = np.all(np.isfinite(solved), axis=1) & np.all(np.isfinite(predicted), axis=1)
    if not ok.any():
        raise ValueError("no structure has surrogate and solver results on all axes")
    residual = predicted[ok] - solved[ok]
    bias = residual.mean(axis=0)
    return {"target": target.tolist(), "surrogate_target": np.clip(target + bias, *TARGET_BOUNDS).tolist(),
            "bias": bias.tolist(), "bias_sem": _sem(residual), "structures": int(ok.sum())}
