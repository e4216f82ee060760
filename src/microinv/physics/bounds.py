"""Closed-form bounds on the effective conductivity (diffusivity) of a two-phase medium.

Phase 1 is the pore phase, conductivity 1 and volume fraction eps; phase 2 the solid,
conductivity s in [0, 1] (0 = insulating), fraction 1 - eps. Values are relative to the pore
phase, eta = sigma_eff / sigma_pore.

* **Wiener** (1912): every direction of every microstructure lies between the harmonic and
  the arithmetic mean,

      1 / (eps + (1 - eps) / s)  <=  eta_i  <=  eps + (1 - eps) s,

  attained by laminates across and along their layers (the lower bound is 0 for s = 0).
* **Hashin-Shtrikman** (1962), statistically isotropic media in d dimensions, s <= 1:

      s + eps / (1 / (1 - s) + (1 - eps) / (d s))  <=  eta  <=  1 + (1 - eps) / (1 / (s - 1) + eps / d),

  attained by coated spheres; for s = 0 the upper bound is (d - 1) eps / (d - eps)
  (2 eps / (3 - eps) in 3D) and the lower one 0. Anisotropic structures can exceed it along
  their easy direction (up to the Wiener bound), not on average over directions.
"""

from __future__ import annotations

import numpy as np

from microinv.checks import check_positive
from microinv.errors import InputError

__all__ = ["hashin_shtrikman_bounds", "wiener_bounds"]


def _check(eps, solid_conductivity):
    eps = np.asarray(eps, dtype=float)
    if not np.all((eps >= 0) & (eps <= 1)):
        raise InputError(f"eps: expected pore fractions in [0, 1], got {eps}")
    s = check_positive("solid_conductivity", solid_conductivity, or_zero=True)
    if s > 1:
        raise InputError(f"solid_conductivity: must be at most 1 (the pore phase conducts best), got {s}")
    return eps, s


def wiener_bounds(eps, solid_conductivity: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper): the harmonic and the arithmetic mean of the phases, arrays like ``eps``."""
    eps, s = _check(eps, solid_conductivity)
    lower = 1 / (eps + (1 - eps) / s) if s > 0 else np.zeros_like(eps)
    return lower, eps + (1 - eps) * s


def hashin_shtrikman_bounds(eps, solid_conductivity: float = 0.0, *, dim: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """(lower, upper) for statistically isotropic media in ``dim`` dimensions, arrays like ``eps``."""
    eps, s = _check(eps, solid_conductivity)
    if s == 1:
        return np.ones_like(eps), np.ones_like(eps)
    upper = 1 + (1 - eps) / (1 / (s - 1) + eps / dim)
    lower = s + eps / (1 / (1 - s) + (1 - eps) / (dim * s)) if s > 0 else np.zeros_like(eps)
    return lower, upper
