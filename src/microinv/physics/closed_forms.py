"""Closed forms that the solvers of `microinv.physics` are validated against, and the
smooth geometries they hold for.

* `sphere_array_conductivity`: simple cubic array of spheres (Rayleigh's method).
* `cylinder_array_conductivity`: square array of parallel cylinders (the same, in 2D).
* `ZICK_HOMSY`: Stokes permeability of the simple cubic array of spheres.
* `sphere_array_field`: the level-set field of one sphere (disc in 2D) centred in a
  periodic cell, for levelset-mode solves (`microinv.physics.diffusion`).
"""

from __future__ import annotations

import math

import numpy as np

#: McPhedran & McKenzie's (1978) lattice-sum coefficient of the octupole term of the simple
#: cubic lattice (Rayleigh's 1892 value 1.65 corrected).
OCTUPOLE_COEFFICIENT = 1.305


def sphere_array_conductivity(fraction: float, solid_conductivity: float = 0.0) -> float:
    """Effective conductivity of a simple cubic array of spheres in a unit matrix.

    Rayleigh's series to the octupole term, with McPhedran & McKenzie's coefficient,

        sigma_eff = 1 - 3 c / (T_1^-1 + c - 1.305 T_3 c^(10/3)),
        T_1 = (1 - s) / (2 + s),  T_3 = (1 - s) / (4/3 + s),

    c the sphere volume fraction, s the sphere (solid) conductivity relative to the matrix
    (0: insulating spheres). For insulating spheres the omitted poles are small: the
    Richardson limits of the levelset solver at 48 and 64 voxels per cell agree with it to
    1e-5 for c <= 0.3 and 2e-4 at c = 0.4 (benchmarks/RESULTS.md); conducting spheres near
    touching need more poles.

    References
    ----------
    Lord Rayleigh, Phil. Mag. 34, 481 (1892); R. C. McPhedran and D. R. McKenzie,
    Proc. R. Soc. Lond. A 359, 45 (1978).
    """
    s = float(solid_conductivity)
    t1_inverse = (2 + s) / (1 - s)
    t3 = (1 - s) / (4 / 3 + s)
    return 1 - 3 * fraction / (t1_inverse + fraction - OCTUPOLE_COEFFICIENT * t3 * fraction ** (10 / 3))


#: Perrins, McKenzie & McPhedran's (1979) lattice-sum coefficient of the square array.
SQUARE_ARRAY_COEFFICIENT = 0.305827


def cylinder_array_conductivity(fraction: float, solid_conductivity: float = 0.0) -> float:
    """Transverse effective conductivity of a square array of cylinders in a unit matrix.

    Rayleigh's series to its first lattice term,

        sigma_eff = 1 - 2 c / (T^-1 + c - 0.305827 T^2 c^4),  T = (1 - s) / (1 + s),

    c the area fraction, s the cylinder conductivity relative to the matrix. The omitted
    terms are of order c^8: below 1e-4 for insulating cylinders at c <= 0.4.

    References
    ----------
    Lord Rayleigh, Phil. Mag. 34, 481 (1892); W. T. Perrins, D. R. McKenzie and
    R. C. McPhedran, Proc. R. Soc. Lond. A 369, 207 (1979).
    """
    t = (1 - float(solid_conductivity)) / (1 + float(solid_conductivity))
    return 1 - 2 * fraction / (1 / t + fraction - SQUARE_ARRAY_COEFFICIENT * t**2 * fraction**4)


#: Stokes permeability k / L^2 of the simple cubic array of spheres (cell side L) at solid
#: volume fraction c (0.5236: touching spheres), from A. A. Zick and G. M. Homsy,
#: J. Fluid Mech. 115, 13 (1982).
ZICK_HOMSY = {0.064: 0.07608, 0.216: 0.01915, 0.5236: 0.002520}


def sphere_array_field(n: int, fraction: float, dim: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """One sphere (``dim=2``: disc) of volume (area) fraction ``fraction`` centred in a
    periodic n^dim cell.

    Returns
    -------
    solid : (n,) * dim uint8 ndarray
        The voxels, ``field >= 0``.
    field : (n,) * dim float32 ndarray
        f = r - |x - x_0| (the signed distance, solid inside), r = (3 c / 4 pi)^(1/3) n
        (2D: (c / pi)^(1/2) n), x_0 the centre of the cell ((n - 1) / 2 in voxel-centre
        coordinates).
    """
    radius = ((3 * fraction / (4 * math.pi)) ** (1 / 3) if dim == 3 else math.sqrt(fraction / math.pi)) * n
    x = np.arange(n) - (n - 1) / 2
    squares = [(x**2).reshape([-1 if b == a else 1 for b in range(dim)]) for a in range(dim)]
    field = (radius - np.sqrt(sum(squares))).astype(np.float32)
    return (field >= 0).astype(np.uint8), field
