"""Representative volume: apparent tensors at growing size, their spread, bound gap and the RVE size.

A structure of parameters theta = (a_x, a_y, a_z, eps) given at the campaign's N is made
at size L with lengths a N / L (a L fixed: the same material, in a larger volume; DESIGN,
"Microstructure model"). At each L, K structures (seeds) are solved under the three BCs of
`microinv.physics.diffusion.apparent_tensor`, with a solid of conductivity s > 0 so that
the uniform-flux bound is not trivially 0:

    D_A(L) >= D_P(L) >= D_F(L)   (Loewner order, every structure),

and eta_BC,i = (D_BC)_ii. Per L and direction i the statistics are the mean and the
standard deviation over the K seeds, the coefficient of variation of the periodic answer

    CV_i(L) = std_k eta_P,i / mean_k eta_P,i,

and the relative bound gap gap_i(L) = mean_k (eta_A,i - eta_F,i) / mean_k eta_P,i. For a
random medium of correlation length l, Var eta ~ (l / L)^p with p = dim (Kanit et al. 2003,
Int. J. Solids Struct. 40:3647; Lantuejoul's integral range), so CV ~ L^(-p/2); the gap of
the bounds closes about as the boundary layer's share of the volume, ~ L^-q with q ~ 1.
Both are fitted by least squares on log-log axes (`power_law`); the exponent's standard
error comes from the residuals. The RVE size of a criterion is the smallest measured L at
which it holds at that and every larger measured L, else the L where its fitted power law
reaches the tolerance (``extrapolated``; at most ``EXTRAPOLATION_LIMIT`` times the largest
L), else unknown (None: no decrease, or too slow a one to extrapolate). The RVE size of
theta is the largest over the criteria and directions.
"""

from __future__ import annotations

import math

import numpy as np

from microinv import seeds as seed_scheme
from microinv.data.chunks import read_json
from microinv.errors import InputError

#: Version of the rve.json layout.
RVE_FORMAT = "microinv.rve/1"
#: Farthest extrapolation, in multiples of the largest size: beyond, the size is unknown.
EXTRAPOLATION_LIMIT = 16
#: The boundary conditions, upper bound first; index 1 is the homogenization answer.
BCS = ("affine", "periodic", "flux")


def scaled_theta(theta, n_reference: int, size: int) -> np.ndarray:
    """theta at size L with a L = a N fixed: lengths a N / L, porosity unchanged."""
    theta = np.asarray(theta, dtype=float)
    return np.concatenate([theta[:-1] * n_reference / size, theta[-1:]])


def structure_seeds(seed: int, entry: int, size: int, count: int) -> np.ndarray:
    """Seeds of the ``count`` structures of entry ``entry`` at size L: the stream
    ``(RVE, entry, size)`` of `microinv.seeds`, so a size can be added or redone alone.
    Entry e at size L has the same seeds in every rve.json of a campaign (the designs'
    files all have entry 0): common random numbers, so designs compare on the same noise."""
    return seed_scheme.uint64_seeds(seed_scheme.stream(seed, seed_scheme.RVE, entry, size), count)


def prior_draws(prior, seed: int, count: int) -> np.ndarray:
    """``count`` theta from ``prior`` (a `SpinodoidPrior`), stream ``(RVE,)``."""
    rng = np.random.default_rng(seed_scheme.stream(seed, seed_scheme.RVE))
    return prior.sample(rng, count)


def apparent_tensors(theta, size: int, seed: int, *, n_reference: int, solid_conductivity: float,
                     rtol: float, comm=None) -> np.ndarray:
    """(3, dim, dim): D_A, D_P, D_F of the spinodoid (theta scaled to L, L, seed)."""
    from microinv.microstructure import spinodoid
    from microinv.physics.diffusion import apparent_tensor

    solid = spinodoid(scaled_theta(theta, n_reference, size), size, int(seed))
    return np.stack([apparent_tensor(solid, bc=bc, solid_conductivity=solid_conductivity, rtol=rtol, comm=comm)
                     for bc in BCS])


def power_law(sizes, values) -> dict:
    """Least-squares fit log v = log c - q log L.

    Returns ``{"exponent": q, "stderr": s.e. of q (None with two points), "prefactor": c}``;
    None for fewer than two positive values.
    """
    sizes, values = np.asarray(sizes, dtype=float), np.asarray(values, dtype=float)
    keep = np.isfinite(values) & (values > 0)
    if keep.sum() < 2:
        return None
    x, y = np.log(sizes[keep]), np.log(values[keep])
    design = np.stack([np.ones_like(x), -x], axis=1)
    coef, *_ = np.linalg.lstsq(design, y, rcond=None)
    stderr = None
    if x.size > 2:
        residual = y - design @ coef
        sigma2 = residual @ residual / (x.size - 2)
        stderr = float(math.sqrt(sigma2 * np.linalg.inv(design.T @ design)[1, 1]))
    return {"exponent": float(coef[1]), "stderr": stderr, "prefactor": float(math.exp(coef[0]))}


def required_size(sizes, values, tolerance: float, fit) -> dict:
    """Smallest L from which ``values`` stay <= ``tolerance`` (measured), else where the fit
    reaches it (extrapolated beyond the largest L), else None."""
    sizes, values = np.asarray(sizes), np.asarray(values, dtype=float)
    below = values <= tolerance
    holds = np.flip(np.logical_and.accumulate(np.flip(below)))  # holds here and at every larger L
    if holds.any():
        return {"size": int(sizes[np.argmax(holds)]), "extrapolated": False}
    if fit is None or fit["exponent"] <= 0:
        return {"size": None, "extrapolated": True}
    size = (fit["prefactor"] / tolerance) ** (1.0 / fit["exponent"])
    if size > EXTRAPOLATION_LIMIT * sizes[-1]:
        return {"size": None, "extrapolated": True}
    return {"size": int(math.ceil(max(size, sizes[-1]))), "extrapolated": True}


def summarise(sizes, tensors, *, cv_tolerance: float, gap_tolerance: float) -> dict:
    """Statistics of one theta.

    Parameters
    ----------
    sizes : (S,) increasing ints
    tensors : (S, K, 3, dim, dim) ndarray
        Apparent tensors per size, seed and BC (`BCS`), K >= 2.

    Returns
    -------
    dict
        ``eta_mean``/``eta_std`` {bc: (S, dim)}, ``cv`` and ``gap`` (S, dim), per direction
        the fits ``variance`` (Var ~ L^-p: p = 2 x the CV's exponent, its s.e. doubled) and
        ``gap_fit``, the sizes each criterion needs (``cv_size``, ``gap_size``) and
        ``rve_size`` (the largest; None if one is unknown) with ``extrapolated``.
    """
    sizes = [int(s) for s in sizes]
    tensors = np.asarray(tensors, dtype=float)
    if tensors.shape[1] < 2:
        raise InputError(f"seeds: the spread needs K >= 2 structures per size, got {tensors.shape[1]}")
    eta = np.diagonal(tensors, axis1=-2, axis2=-1)  # (S, K, 3, dim)
    mean, std = eta.mean(axis=1), eta.std(axis=1, ddof=1)
    periodic = BCS.index("periodic")
    cv = std[:, periodic] / mean[:, periodic]
    gap = (mean[:, 0] - mean[:, 2]) / mean[:, periodic]
    dim = eta.shape[-1]
    variance, gap_fit, cv_size, gap_size = [], [], [], []
    for i in range(dim):
        fit = power_law(sizes, cv[:, i])
        cv_size.append(required_size(sizes, cv[:, i], cv_tolerance, fit))
        variance.append(None if fit is None else {
            "exponent": 2 * fit["exponent"], "stderr": None if fit["stderr"] is None else 2 * fit["stderr"],
            "prefactor": fit["prefactor"] ** 2})
        fit = power_law(sizes, gap[:, i])
        gap_fit.append(fit)
        gap_size.append(required_size(sizes, gap[:, i], gap_tolerance, fit))
    needed = [r["size"] for r in cv_size + gap_size]
    return {
        "sizes": sizes,
        "eta_mean": {bc: mean[:, b].tolist() for b, bc in enumerate(BCS)},
        "eta_std": {bc: std[:, b].tolist() for b, bc in enumerate(BCS)},
        "cv": cv.tolist(),
        "gap": gap.tolist(),
        "variance": variance,
        "gap_fit": gap_fit,
        "cv_size": cv_size,
        "gap_size": gap_size,
        "rve_size": None if None in needed else max(needed),
        "extrapolated": any(r["extrapolated"] for r in cv_size + gap_size),
        "tolerances": {"cv": cv_tolerance, "gap": gap_tolerance},
    }


def exceeds(entry: dict, n: int) -> bool:
    """Whether the RVE size of an entry (unknown counts as exceeding) is above N."""
    return entry["rve_size"] is None or entry["rve_size"] > n


def _needs_more(results, n: int) -> bool:
    """Whether one criterion's per-direction sizes (unknown counts as more) exceed N."""
    return any(r["size"] is None or r["size"] > n for r in results)


def guard(doc: dict) -> dict:
    """The campaign guard of an rve.json: its N, how many entries need more than N (in all
    and by each criterion: the spread, the bound gap), and the sizes they need (for a
    warning, never a stop)."""
    n, entries = doc["n"], doc["entries"]
    over = [e for e in entries if exceeds(e, n)]
    return {"n": n, "entries": len(entries), "exceeding": len(over),
            "fraction_exceeding": len(over) / len(entries) if entries else 0.0,
            "exceeding_cv": sum(_needs_more(e["cv_size"], n) for e in entries),
            "exceeding_gap": sum(_needs_more(e["gap_size"], n) for e in entries),
            "sizes_needed": [e["rve_size"] for e in entries]}


def read_rve(path) -> dict:
    """An ``rve.json`` of `microinv rve` (one-line InputError naming the file otherwise)."""
    return read_json(path, "rve", RVE_FORMAT)


def design_flag(doc: dict) -> dict:
    """The RVE flag a design's validation carries: N, the RVE size it needs (and whether
    that is extrapolated), the sizes of each criterion per direction, and ``exceeds``."""
    entry = doc["entries"][0]
    return {"n": doc["n"], "rve_size": entry["rve_size"], "extrapolated": entry["extrapolated"],
            "cv_size": [r["size"] for r in entry["cv_size"]], "gap_size": [r["size"] for r in entry["gap_size"]],
            "exceeds": exceeds(entry, doc["n"])}


def warning(flag: dict) -> str | None:
    """One line for a design whose RVE size exceeds N (None when it does not)."""
    if not flag["exceeds"]:
        return None
    size = "unknown (no decrease with L)" if flag["rve_size"] is None else (
        f"L = {flag['rve_size']}" + (" (extrapolated)" if flag["extrapolated"] else ""))
    return f"RVE size {size} exceeds N = {flag['n']}: eta at N is an apparent, not an effective, property"
