"""Numerical validation of a design: K fresh structures at theta, solved, against the target.

For solver results eta_k (K structures x 3 axes) at a design theta the validation reports
the mean and spread per axis, the discrepancy rho_k of each structure and of the mean, the
fraction of structures within a relative tolerance of the target per axis
(|eta_k,i - eta_i| <= tol * eta_i) and on all axes at once, and, given the surrogate's
predictions for the same structures, how far the surrogate is from the solver.

Upscaling: the structure (theta, 3N) with a/3 is the (theta, N) structure at three times
the resolution (a N fixed, DESIGN.md), a check that the design does not depend on the
discretisation; :func:`upscaled_theta` gives its parameters and :func:`coarsen` brings such
a structure back to the surrogate's N.
"""

from __future__ import annotations

import numpy as np

from microinv.design.abc import mape

__all__ = ["AXES", "coarsen", "summarize", "upscaled_theta"]

AXES = ("x", "y", "z")


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


def _axis_stats(eta: np.ndarray, target: np.ndarray, tolerance: float) -> dict:
    within = np.abs(eta - target) <= tolerance * target
    rho = mape(eta, target)
    return {
        "mean": eta.mean(axis=0).tolist(),
        "std": eta.std(axis=0, ddof=1).tolist() if len(eta) > 1 else [None] * eta.shape[1],
        "min": eta.min(axis=0).tolist(),
        "max": eta.max(axis=0).tolist(),
        "rho": rho.tolist(),
        "rho_mean": float(rho.mean()),
        "rho_of_mean": float(mape(eta.mean(axis=0)[None], target)[0]),
        "within_tolerance": {**{a: float(w) for a, w in zip(AXES, within.mean(axis=0))},
                             "all": float(within.all(axis=1).mean())},
    }


def summarize(target, solver_eta, *, tolerance: float = 0.05, surrogate_eta=None,
              sample_index=None, seeds=None) -> dict:
    """The ``validation.json`` record of one design.

    Parameters
    ----------
    target : (3,) array_like
    solver_eta : (K, 3) array_like
        Numerically solved eta per structure and axis; NaN where the solve failed (such
        structures are left out and counted). Non-percolating axes carry 0.
    tolerance : float, keyword-only
        Relative tolerance on each axis for ``within_tolerance``.
    surrogate_eta : (K, 3) array_like or None, keyword-only
        Surrogate predictions for the same structures.
    sample_index, seeds : (K,) array_like or None, keyword-only
        Identify the structures in ``per_structure``.

    Returns
    -------
    dict
        ``solver`` (and ``surrogate``) statistics, ``surrogate_vs_solver`` (mean absolute
        percentage error and bias per axis), ``per_structure`` records.
    """
    target = np.asarray(target, dtype=float)
    solver_eta = np.asarray(solver_eta, dtype=float)
    k = len(solver_eta)
    ok = np.all(np.isfinite(solver_eta), axis=1)
    if not ok.any():
        raise ValueError("no structure has solver results on all axes")
    record = {"target": target.tolist(), "tolerance": tolerance, "structures": k,
              "solved": int(ok.sum()), "solver": _axis_stats(solver_eta[ok], target, tolerance)}
    per = [{"solver": solver_eta[i].tolist()} for i in range(k)]
    if surrogate_eta is not None:
        surrogate_eta = np.asarray(surrogate_eta, dtype=float)
        record["surrogate"] = _axis_stats(surrogate_eta[ok], target, tolerance)
        diff = surrogate_eta[ok] - solver_eta[ok]
        with np.errstate(divide="ignore", invalid="ignore"):
            error = 100 * np.abs(diff) / solver_eta[ok]
        record["surrogate_vs_solver"] = {
            "mape_percent": [float(np.mean(e[np.isfinite(e)])) for e in error.T],
            "bias": diff.mean(axis=0).tolist(),
        }
        for i in range(k):
            per[i]["surrogate"] = surrogate_eta[i].tolist()
    for i in range(k):
        per[i]["rho"] = float(mape(solver_eta[i][None], target)[0]) if ok[i] else None
        if sample_index is not None:
            per[i]["index"] = int(sample_index[i])
        if seeds is not None:
            per[i]["seed"] = int(seeds[i])
    record["per_structure"] = per
    return record
