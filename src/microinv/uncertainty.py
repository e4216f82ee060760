"""Predictive mean and spread of a deep ensemble, and their calibration on held-out data.

An ensemble of M members predicts eta_m = sigmoid(z_m), m = 1..M, for one structure and
direction. Its prediction is the members' mean and its uncertainty their spread, taken in
linear eta (the space of the targets, the discrepancy and the MAPE):

.. math::

    \\bar\\eta = \\frac{1}{M} \\sum_m \\eta_m, \\qquad
    \\sigma = \\Big( \\frac{1}{M - 1} \\sum_m (\\eta_m - \\bar\\eta)^2 \\Big)^{1/2},

the members' mean and sample standard deviation. The members are M draws from the
distribution of networks that the training makes, so the variance takes Bessel's
correction: the mixture's 1/M would understate sigma by sqrt((M - 1) / M), 0.71 for
M = 2 and 0.82 for M = 3 (on the default campaign, M = 3: 53 % of test values within one
sigma with 1/M, 61 % with 1/(M - 1); Gaussian: 68 %). Averaging in linear eta, not in
logit space (the sigmoid of the mean logit), keeps the mean the average of the members'
eta and puts mean and sigma in the units of the errors they describe, so that
``|eta - mean| <= k sigma`` is the coverage test. The members are trained with a squared
loss and carry no noise term: sigma is the epistemic spread only.

Calibration (:func:`calibration`): on test samples with solved eta, the fraction within
k = 1 and 2 standard deviations, ``mean(|eta - mean| <= k sigma)``, against the Gaussian
nominal coverage erf(k / sqrt 2) = 0.683 and 0.954, per direction and pooled.
"""

from __future__ import annotations

from statistics import NormalDist

import numpy as np

from microinv.checks import AXIS_NAMES as DIRECTIONS

#: Gaussian probability of |error| <= k sigma, k = 1, 2.
NOMINAL = {k: 2 * NormalDist().cdf(k) - 1 for k in (1, 2)}


def moments(eta_members):
    """Mean and sample standard deviation over the members (axis 0).

    Parameters
    ----------
    eta_members : (M, ...) ndarray or torch.Tensor
        Predictions of each member, linear eta.

    Returns
    -------
    mean, std : (...) arrays of the input's type
        See the module docstring; ``std`` is 0 for M = 1, which has no spread
        (:meth:`microinv.surrogate.Surrogate.predict` refuses to return it).
    """
    mean = eta_members.mean(0)
    return mean, (((eta_members - mean) ** 2).sum(0) / max(len(eta_members) - 1, 1)) ** 0.5


def coverage(eta, mean, std, k):
    """Fraction of samples with |eta - mean| <= k std.

    eta, mean, std : (S,) arrays; k : float, or (K,) array of multiples -> float or (K,) array.
    """
    error, std = np.abs(np.asarray(eta) - np.asarray(mean)), np.asarray(std)
    fraction = (error[:, None] <= np.atleast_1d(k)[None, :] * std[:, None]).mean(axis=0)
    return fraction if np.ndim(k) else float(fraction[0])


def calibration(eta, mean, std, direction, *, members: int) -> dict:
    """Coverage of the predictive standard deviation on samples with known eta.

    Parameters
    ----------
    eta, mean, std : (S,) ndarray
        Solved eta, predictive mean and standard deviation of each sample.
    direction : (S,) int ndarray
        Direction of each sample, 0, 1, 2 for x, y, z.
    members : int
        Ensemble size, recorded.

    Returns
    -------
    dict
        ``members``, ``nominal`` (Gaussian ``within_1std``, ``within_2std``) and, for
        ``all`` (pooled) and each of ``x``, ``y``, ``z``: ``within_1std``, ``within_2std``,
        ``mean_std``, ``mean_abs_error`` (eta, linear) and ``samples``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> eta = rng.normal(0.5, 0.01, 100_000)
    >>> c = calibration(eta, np.full_like(eta, 0.5), np.full_like(eta, 0.01), np.zeros(len(eta), int), members=2)
    >>> round(c["x"]["within_1std"], 2), round(c["x"]["within_2std"], 2)
    (0.68, 0.95)
    """
    eta, mean, std, direction = (np.asarray(a) for a in (eta, mean, std, direction))
    groups = {"all": np.ones(len(eta), dtype=bool), **{name: direction == d for d, name in enumerate(DIRECTIONS)}}
    out = {"members": int(members), "space": "linear eta; sample std of the members",
           "nominal": {f"within_{k}std": round(p, 4) for k, p in NOMINAL.items()}}
    for name, sel in groups.items():
        if not sel.any():
            continue
        out[name] = {**{f"within_{k}std": coverage(eta[sel], mean[sel], std[sel], k) for k in NOMINAL},
                     "mean_std": float(std[sel].mean()),
                     "mean_abs_error": float(np.abs(eta[sel] - mean[sel]).mean()),
                     "samples": int(sel.sum())}
    return out
