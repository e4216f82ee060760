"""Effective diffusivity (equivalently conductivity) of voxel microstructures, PETSc under MPI.

Equations
---------
Steady diffusion div(sigma grad c) = 0 on the voxel grid, sigma = 1 in the pore phase and
``solid_conductivity`` in the solid, discretised by cell-centred finite volumes (5-point
stencil in 2D, 7-point in 3D, unit voxel). The face between voxels p and q has conductance
K_pq = 2 sigma_p sigma_q / (sigma_p + sigma_q) (harmonic mean; zero between pore and an
insulating solid), and the flux from p to q is K_pq (c_p - c_q).

*Fixed ends* (``bc="fixed"``): c = 1 at the centres of the first slice along ``axis`` and
c = 0 at the centres of the last; the sides are periodic or no-flux (``sides``). With N
slices along the axis and A voxels per slice,

    eta = (mean flux through a slice / A) * (N - 1) / (c_in - c_out).

*Periodic* (``bc="periodic"``): c = -x_axis + u with u periodic, i.e. a unit macroscopic
gradient; eta is the mean flux per unit cross-section, the homogenised diffusivity.

eta is evaluated as the energy a(c, c) = sum_faces K (c_p - c_q)^2, eta = (N - 1) / A * a(c, c)
(fixed) or a(c, c) / V (periodic, V voxels), which equals the mean flux at the solution. Its
error is quadratic in the error of c (Dirichlet's principle: a(c, c) - a(c*, c*) =
||c - c*||_A^2), so the residual needs to fall only by about the square root of the wanted
accuracy of eta. For CG iterates started from the linear profile (fixed) or u = 0
(periodic) the mean flux and the energy coincide exactly (CG's A-orthogonality), so there is
one estimate, approached from above.

*Affine* (``bc="affine"``, kinematic) and *uniform flux* (``bc="flux"``, static): BC on the
whole outer boundary of the box [0, N_0] x [0, N_1] (x [0, N_2]), whose faces are the outer
faces of the boundary voxels, half a cell from their centres. Affine: c = g . x on every
face of the box, entering the cell-centred scheme as the half-cell conductance 2 sigma_p
between a boundary voxel and its face. Uniform flux: the normal flux g . n through every
boundary face, with the potential free; its dissipation includes that of the half cells,
(g . n)^2 / (2 sigma_p) per boundary face. With V = N_0 N_1 (N_2) the apparent tensors are

    g . D_A g = min { E(c) : c = g . x on the box's faces } / V
    J . D_F^-1 J = min { E*(q) : div q = 0, q . n = J . n on the box's faces } / V

(E = sum_faces K (c_p - c_q)^2 + boundary half cells, E* = sum_faces q^2 / K + boundary half
cells, the complementary energy of fluxes q), and the periodic one is the same minimum over
c = g . x + u, u periodic (fluxes periodic with mean J). The discrete energy inequalities
hold exactly, not only as N grows: an affine field minus g . x is a periodic u whose periodic
energy is at most the affine one (across the periodic seam, the face conductance K_pq is
the series of the two half cells, K (e_p - e_q)^2 <= 2 sigma_p e_p^2 + 2 sigma_q e_q^2), and
a flux field of the box continued through the seam by its boundary value J . n is
periodic, divergence-free, of mean J and of the same complementary energy (1 / K_pq =
1 / (2 sigma_p) + 1 / (2 sigma_q)). Hence, in the Loewner order,

    D_A >= D_P >= D_F,

all three equal for a uniform block, affine = periodic along the layers of a laminate
(arithmetic mean of the layers) and flux = periodic across them (harmonic mean); the gap
closes as the volume grows (Huet 1990; Kanit et al. 2003, Int. J. Solids Struct. 40:3647).
With an insulating solid that meets the boundary, a uniform flux along an axis whose
boundary faces contain solid is not admissible: the static bound along it is 0
(``conducts``), so a bracket of a porous medium needs ``solid_conductivity > 0``. Pore
clusters that do not touch the box's boundary float at a constant and carry no energy
under affine or flux BC; they are not unknowns. ``effective_diffusivity`` with
``bc="flux"`` returns 1 / (e . D_F^-1 e), the response along the axis to a flux along it
(<= (D_F)_axis,axis); `apparent_tensor` returns the full tensors.

With an insulating solid only pore voxels that carry flux are kept: for fixed ends the
clusters that span from the first to the last slice, for periodic BC the clusters that wrap
around the axis (`microinv.microstructure.percolation`). The periodic problem is singular by
a constant per cluster; the first voxel of each cluster is pinned to u = 0
(`microinv.physics.toolkit.pinned_voxels`).

Levelset mode
-------------
With ``field=f``, the continuous field the structure was cut from (pore where f < 0), the
pore space is the smooth region f < 0 of its piecewise-linear interpolation, not the
staircase of the voxels (`microinv.physics.cutcell`). The unknowns stay one per cell, at
the cell centres; the face between p and q conducts with its aperture A_pq, the open
(pore) fraction of its area, K_pq = A_pq (the cut-cell finite-volume flux of a no-flux
interface: Ng, Min & Gibou, J. Comput. Phys. 228, 8807 (2009)); with a conducting solid
K_pq = A_pq + (1 - A_pq) sigma_s, or the series conductance along the link where it
crosses the interface and sigma_s > 1 (`microinv.physics.conduction`). Every cell with an
open face (aperture > 0) holds pore volume and may be an unknown, also where its centre is
solid (its value is then the pore potential extrapolated to the centre); cells joined
through open faces form the clusters that span or wrap, as voxels joined through pore
faces do in voxel mode. The porosity is the mean cell pore fraction. The energy, the
normalisation and the solver are those of voxel mode; eta converges at second order in the
voxel size to the smooth geometry (measured: benchmarks/RESULTS.md, "Levelset
diffusivity"), and a slit or slab aligned with the grid gives eta = eps exactly.

Solver
------
Conjugate gradients preconditioned by a multigrid W-cycle (`microinv.physics.multigrid`):
2^dim aggregation with coarsened conductances, one symmetric SOR sweep (omega = 1.2) before
and after each coarse-grid correction, a direct solve on the coarsest grid (at most
``COARSEST_CELLS`` cells per rank). Only the pore voxels that carry flux are unknowns. Choices, as
measured on five prior spinodoids at 64^3-192^3 (eps 0.3-0.67, tau 1.5-7):

* W- rather than V-cycle: 8-11 instead of 10-18 iterations to 1e-6; a V-cycle on the
  finest level alone costs as much accuracy as one iteration.
* symmetric SOR rather than a forward sweep before and a backward one after (cheaper by a
  third per cycle, but one to two more iterations at the same accuracy), or Chebyshev-
  Jacobi (as fast, ten times less accurate); omega = 1.2 halves the error of 1.0 at the
  same cost; a red-black order of the unknowns speeds SOR up but smooths worse.
* the residual is measured in CG's natural norm sqrt(r^T M^-1 r) ~ ||c - c*||_A, relative
  to that of the initial guess, so the relative error of eta is about rtol^2 (tau - 1),
  independent of the grid size. At 128^3, ``rtol = 1e-2`` takes 2-6 iterations and
  gives |delta eta| / eta <= 7e-4 on all five, both BCs (2e-6 on DESIGN's reference
  structure), within the 0.1 % asked of the benchmark; ``rtol = 1e-8`` (the default)
  buys round-off accuracy with 8-23 iterations.

``SOLVER_OPTIONS`` holds these defaults; every option can be changed from the PETSc options
database with the prefix ``diff_`` (``-diff_ksp_type``, ``-diff_mg_levels_pc_type``,
``-diff_pc_mg_cycle_type``, ``-diff_ksp_monitor``...).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time

import numpy as np

from microinv.checks import check_axis, check_choice, check_field, check_positive, check_structure, check_tolerance
from microinv.errors import InputError
from microinv.physics import multigrid
from microinv.physics.conduction import BOX_BCS, BlockCoefficients, ConductionProblem
from microinv.physics.result import CONVERGED, DIVERGED, NOT_PERCOLATING, SolveResult
from microinv.physics.toolkit import enum_name, reason_name

logger = logging.getLogger(__name__)

OPTIONS_PREFIX = "diff_"

#: Default PETSc options of the solver; ``-diff_<key>`` on the command line overrides each.
SOLVER_OPTIONS = {
    "ksp_type": "cg",
    "ksp_norm_type": "natural",
    "ksp_converged_use_initial_residual_norm": True,
    "ksp_max_it": 500,
    "pc_mg_type": "multiplicative",
    "pc_mg_cycle_type": "w",
    "mg_levels_ksp_type": "richardson",
    "mg_levels_ksp_max_it": 1,
    "mg_levels_pc_type": "sor",
    "mg_levels_pc_sor_omega": 1.2,
}

#: Coarsen down to a grid of at most this many cells per rank, solved directly.
COARSEST_CELLS = 1000


@dataclasses.dataclass(frozen=True)
class DiffusivityResult(SolveResult):
    """Effective diffusivity of one structure along one axis.

    ``value`` is eta = D_eff / D (pore diffusivity 1), in [0, 1] for an insulating solid.

    Attributes
    ----------
    porosity : float
        Pore volume fraction eps of the structure.

    ``settings`` records the BC, the solver (KSP and PC types, multigrid levels, norm,
    tolerance, options prefix), the grid, the number of unknowns and ranks, and the
    wall-clock seconds of the phases: ``seconds_connectivity`` (percolation clusters),
    ``seconds_setup`` (coefficients, hierarchy, assembly, PETSc set-up) and
    ``seconds_solve``.
    """

    porosity: float = float("nan")

    @property
    def eta(self) -> float:
        """Relative effective diffusivity D_eff / D."""
        return self.value

    @property
    def tau(self) -> float:
        """Tortuosity factor eps / eta (infinite when nothing percolates)."""
        return self.porosity / self.value if self.value > 0 else math.inf


def effective_diffusivity(
    solid,
    axis: int,
    *,
    bc: str = "periodic",
    sides: str = "periodic",
    solid_conductivity: float = 0.0,
    rtol: float = 1e-8,
    comm=None,
    field=None,
) -> DiffusivityResult:
    """Relative effective diffusivity eta = D_eff / D of the pore phase along ``axis``.

    Parameters
    ----------
    solid : (M, N) or (M, N, P) uint8 ndarray
        1 = solid, 0 = pore; the whole structure, identical on every rank.
    axis : int
        Direction of the macroscopic gradient (0 = x, 1 = y, 2 = z).
    bc : {"periodic", "fixed", "affine", "flux"}
        Periodic fluctuation around a unit gradient (homogenization), or c = 1 and c = 0
        at the centres of the first and last slice along ``axis``, or a unit gradient
        (affine) or unit normal flux along ``axis`` on the whole outer boundary (see the
        module docstring: upper and lower bounds of the periodic answer).
    sides : {"periodic", "noflux"}
        Lateral boundaries for ``bc="fixed"``.
    solid_conductivity : float
        Conductivity of the solid relative to the pore phase (0 = insulating).
    rtol : float
        Decrease of the residual in CG's natural norm (~ the energy norm of the error);
        the relative error of eta is about rtol^2 (tau - 1).
    comm : petsc4py.PETSc.Comm, optional
        Communicator; ``PETSc.COMM_WORLD`` when None.
    field : (M, N) or (M, N, P) float ndarray, optional
        Levelset mode: the continuous field f the structure was cut from (pore where
        f < 0, ``solid == (field >= 0)``), identical on every rank; the smooth interface
        f = 0 is solved with cut-cell apertures (see Levelset mode above). None: voxel
        mode, the staircase of ``solid``.

    Returns
    -------
    DiffusivityResult
        The same on every rank. A pore phase that does not percolate gives value 0 and
        status NOT_PERCOLATING; a diverged solve gives NaN, status DIVERGED and PETSc's
        reason.

    Raises
    ------
    InputError
        A structure that is not a 2D or 3D uint8 array of 0 and 1
        (`microinv.checks.check_structure`); a bad ``axis``, ``bc``, ``sides``,
        ``solid_conductivity`` or ``rtol``; a ``field`` that does not match ``solid``
        (`microinv.checks.check_field`).
    """
    start = time.perf_counter()
    solid = check_structure(solid)
    if field is not None:
        field = check_field(field, solid)
    axis = check_axis(axis, solid.ndim)
    check_choice("bc", bc, ("periodic", "fixed", *BOX_BCS))
    check_choice("sides", sides, ("periodic", "noflux"))
    if bc == "periodic" and sides != "periodic":
        raise InputError("sides: 'noflux' needs bc='fixed': periodic BC are periodic on every side")
    if bc in BOX_BCS and sides != "periodic":
        raise InputError(f"sides: 'noflux' needs bc='fixed': bc={bc!r} applies to every face of the box")
    if bc == "fixed" and solid.shape[axis] < 3:
        raise InputError(f"solid: bc='fixed' needs at least 3 voxels along axis {axis}, got shape {solid.shape}")
    if bc in BOX_BCS and field is not None:
        raise InputError(f"field: bc={bc!r} solves the voxels only; levelset mode takes bc='periodic' or 'fixed'")
    solid_conductivity = check_positive("solid_conductivity", solid_conductivity, or_zero=True)
    rtol = check_tolerance("rtol", rtol)
    settings = {"bc": bc, "sides": sides, "axis": axis, "solid_conductivity": solid_conductivity}
    if field is not None:
        settings["geometry"] = "levelset"
    problem = ConductionProblem(solid, bc=bc, sides=sides, axes=(axis,), solid_conductivity=solid_conductivity,
                                field=field)
    porosity = problem.porosity

    def without_solve(status: int, reason: str) -> DiffusivityResult:
        return DiffusivityResult(value=0.0, status=status, reason=reason, seconds=time.perf_counter() - start,
                                 settings=settings, porosity=porosity)

    if problem.empty:
        return without_solve(NOT_PERCOLATING, f"pore phase does not percolate along {'xyz'[axis]}")
    if bc == "flux" and not problem.conducts[axis]:
        return without_solve(CONVERGED, f"uniform flux along {'xyz'[axis]} enters insulating solid: "
                                        "the static bound is 0")
    connectivity = time.perf_counter()
    solve = _MultigridSolve(problem, rtol=rtol, comm=comm)
    setup = time.perf_counter()
    solution = solve(axis)
    eta = _normalisation(solid.shape, axis, bc) * solve.energy(solution, solution)
    if bc == "flux":  # the compliance e . D_F^-1 e, inverted
        eta = 1.0 / (_normalisation(solid.shape, axis, bc) * solve.box_compliance(axis) - eta)
    settings.update(solve.settings)
    settings["seconds_connectivity"] = connectivity - start
    settings["seconds_setup"] = setup - connectivity
    settings["seconds_solve"] = time.perf_counter() - setup
    converged = solve.reason > 0
    result = DiffusivityResult(
        value=eta if converged else float("nan"),
        status=CONVERGED if converged else DIVERGED,
        reason=solve.reason_name,
        iterations=solve.iterations,
        residual=solve.residual,
        seconds=time.perf_counter() - start,
        settings=settings,
        porosity=porosity,
    )
    solution.destroy()
    solve.destroy()
    logger.debug("eta_%s = %.6g, %s after %d iterations, %.2f s", "xyz"[axis], result.value,
                 result.reason, result.iterations, result.seconds)
    return result


def diffusivity_tensor(solid, *, rtol: float = 1e-8, comm=None, field=None) -> np.ndarray:
    """Homogenised relative diffusivity tensor D_eff / D (periodic BC, insulating solid).

    One multigrid set-up serves all directions: with periodic BC the operator does not
    depend on the direction of the macroscopic gradient, only the right-hand side does.
    Entry (i, j) is a(c_i, c_j) / V with c_i = -x_i + u_i, symmetric by construction.

    Parameters
    ----------
    solid : (M, N) or (M, N, P) uint8 ndarray
        1 = solid, 0 = pore; identical on every rank.
    rtol, comm, field
        As for `effective_diffusivity` (``field``: levelset mode).

    Returns
    -------
    (dim, dim) ndarray
        Zero rows and columns for directions in which no pore cluster wraps; NaN if a
        solve diverged.
    """
    solid = check_structure(solid)
    if field is not None:
        field = check_field(field, solid)
    rtol = check_tolerance("rtol", rtol)
    dim = solid.ndim
    problem = ConductionProblem(solid, bc="periodic", sides="periodic", axes=tuple(range(dim)), solid_conductivity=0.0,
                                field=field)
    tensor = np.zeros((dim, dim))
    if problem.empty:
        return tensor
    energy, _, converged = _energy_matrix(problem, range(dim), rtol=rtol, comm=comm)
    tensor[:] = energy if converged else np.nan
    blocked = ~np.array(problem.conducts)
    tensor[blocked, :] = tensor[:, blocked] = 0.0  # exactly, not to the solver tolerance
    return tensor


def apparent_tensor(solid, *, bc: str, solid_conductivity: float = 0.0, rtol: float = 1e-8,
                    comm=None) -> np.ndarray:
    """Apparent relative diffusivity tensor D / D_pore under periodic, affine or uniform-flux BC.

    D_A >= D_P >= D_F in the Loewner order, exactly for these discrete problems (module
    docstring). One multigrid set-up serves every direction (the operator does not depend
    on g). Affine and periodic: D_ij = a(c_i, c_j) / V, c_i the solution for the unit
    gradient along i. Uniform flux: the compliance S_ij = (delta_ij C_i - a(c_i, c_j)) / V
    with the boundary half-cell term C_i = sum 1 / (2 sigma_p) over the faces normal to i
    and a(c_i, c_j) = -x_i^T A x_j at the solution; D_F = S^-1.

    Parameters
    ----------
    solid : (M, N) or (M, N, P) uint8 ndarray
        1 = solid, 0 = pore; identical on every rank.
    bc : {"periodic", "affine", "flux"}
    solid_conductivity : float
        sigma of the solid relative to the pore phase; 0 = insulating (then the flux bound
        is 0 along every axis whose boundary faces contain solid).
    rtol, comm
        As for `effective_diffusivity`.

    Returns
    -------
    (dim, dim) ndarray
        Symmetric; zero rows and columns for directions that carry no flux (periodic: no
        wrapping cluster; flux: not admissible); NaN if a solve diverged.
    """
    solid = check_structure(solid)
    check_choice("bc", bc, ("periodic", *BOX_BCS))
    solid_conductivity = check_positive("solid_conductivity", solid_conductivity, or_zero=True)
    rtol = check_tolerance("rtol", rtol)
    dim = solid.ndim
    problem = ConductionProblem(solid, bc=bc, sides="periodic", axes=tuple(range(dim)),
                                solid_conductivity=solid_conductivity)
    axes = [a for a in range(dim) if problem.conducts[a]]
    tensor = np.zeros((dim, dim))
    if problem.empty or not axes:
        return tensor
    energy, compliance, converged = _energy_matrix(problem, axes, rtol=rtol, comm=comm)
    if bc == "flux":
        energy = np.linalg.inv(np.diag(compliance) - energy)
    tensor[np.ix_(axes, axes)] = energy
    if not converged:
        tensor[:] = np.nan
    return tensor


def _energy_matrix(problem: ConductionProblem, axes, *, rtol: float, comm):
    """One multigrid set-up, one solve per axis: a(c_i, c_j) / V over ``axes`` (symmetrised:
    symmetric to round-off already, exactly so), the uniform-flux box compliances per axis
    / V (`BlockCoefficients.box_compliance`; None for other BC) and whether every solve
    converged."""
    axes = list(axes)
    volume = math.prod(problem.shape)
    solve = _MultigridSolve(problem, rtol=rtol, comm=comm)
    solutions = [solve(a) for a in axes]
    energy = np.array([[solve.energy(c, d) for d in solutions] for c in solutions]) / volume
    energy = (energy + energy.T) / 2
    compliance = np.array([solve.box_compliance(a) for a in axes]) / volume if problem.bc == "flux" else None
    converged = solve.reason > 0
    for solution in solutions:
        solution.destroy()
    solve.destroy()
    return energy, compliance, converged


def _normalisation(shape, axis, bc) -> float:
    """Energy-to-eta factor: (N - 1) / A for fixed ends, 1 / V for periodic BC."""
    volume = math.prod(shape)
    if bc == "fixed":
        return (shape[axis] - 1) * shape[axis] / volume
    return 1.0 / volume


@dataclasses.dataclass
class _Solution:
    """Unknowns x of one solve, its right-hand side b and a(c_0, c_0) (see `BlockCoefficients.rhs`)."""

    x: object
    rhs: object
    energy0: float

    def destroy(self) -> None:
        self.x.destroy()
        self.rhs.destroy()


class _MultigridSolve:
    """Multigrid hierarchy and KSP for one problem; one solve per gradient axis."""

    def __init__(self, problem: ConductionProblem, *, rtol: float, comm):
        from petsc4py import PETSc

        self.comm = PETSc.COMM_WORLD if comm is None else comm
        self.mpi = self.comm.tompi4py()
        grids = multigrid.hierarchy(problem.shape, self.comm, coarsest_cells=COARSEST_CELLS)
        self.local = BlockCoefficients(problem, grids[0])
        levels = [self.local.level()]
        for grid in grids[1:]:
            levels.append(multigrid.coarsen(levels[-1], grid))
        numberings = [multigrid.Numbering(level) for level in levels]
        self.mats = [multigrid.assemble(level, numbering) for level, numbering in zip(levels, numberings)]
        self.prolongations = [
            multigrid.prolongation(fine, numberings[k], numberings[k + 1]) for k, fine in enumerate(levels[:-1])
        ]
        self.size = (numberings[0].count, numberings[0].total)
        nlevels = len(levels)
        del levels, numberings  # before PETSc allocates its work vectors: a lower peak
        self.ksp = multigrid.solver(
            self.mats, self.prolongations, rtol=rtol, prefix=OPTIONS_PREFIX, defaults=SOLVER_OPTIONS
        )
        self.iterations = 0
        self.residual = float("nan")
        self.reason = 0
        self.settings = {
            "ksp_type": self.ksp.getType(),
            "pc_type": self.ksp.getPC().getType(),
            "mg_levels": nlevels,
            "grid": list(problem.shape),
            "unknowns": self.size[1],
            "rtol": rtol,
            "norm_type": enum_name(PETSc.KSP.NormType, self.ksp.getNormType()).lower(),
            "ranks": self.comm.getSize(),
            "options_prefix": OPTIONS_PREFIX,
        }

    @property
    def reason_name(self) -> str:
        return reason_name(self.reason)

    def __call__(self, axis: int) -> "_Solution":
        """Solve for the gradient along ``axis``."""
        from petsc4py import PETSc

        rhs, guess, energy0 = self.local.rhs(axis)
        energy0 = self.mpi.allreduce(energy0)
        b = PETSc.Vec().createWithArray(rhs, size=self.size, comm=self.comm)
        x = PETSc.Vec().createWithArray(guess, size=self.size, comm=self.comm)
        # Stop at round-off when the initial guess is already exact (straight channels):
        # the natural norm is about the energy norm of the error, so this is a relative
        # energy error of 1e-20 against a(c_0, c_0).
        self.ksp.setTolerances(atol=1e-10 * math.sqrt(energy0))
        self.ksp.solve(b, x)
        self.iterations += self.ksp.getIterationNumber()
        self.residual = self.ksp.getResidualNorm()
        if self.reason >= 0:  # keep the first failure of several solves
            self.reason = self.ksp.getConvergedReason()
        return _Solution(x=x, rhs=b, energy0=energy0)

    def energy(self, c: "_Solution", d: "_Solution") -> float:
        """a(c, d) = x_c^T A x_d - x_c^T b_d - x_d^T b_c + [c is d] a(c_0, c_0).

        For d = c this is a(c, c) = a(c_0, c_0) - 2 b^T x + x^T A x, exact for any x (the
        cross terms with c_0 vanish for different gradient directions).
        """
        product = self.mats[0].createVecLeft()
        self.mats[0].mult(d.x, product)
        value = c.x.dot(product) - c.x.dot(d.rhs) - d.x.dot(c.rhs)
        if c is d:
            value += c.energy0
        product.destroy()
        return value

    def box_compliance(self, axis: int) -> float:
        """Uniform flux along ``axis``: sum of 1 / (2 sigma_p) over the boundary half cells
        normal to it (`BlockCoefficients.box_compliance`), over all ranks."""
        return self.mpi.allreduce(self.local.box_compliance(axis))

    def destroy(self) -> None:
        for obj in [self.ksp, *self.mats, *self.prolongations]:
            obj.destroy()
