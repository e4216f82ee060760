"""Absolute permeability from Stokes flow in the pore space of a periodic structure.

Equations (voxel units: voxel size 1, viscosity mu = 1)::

    -mu lap u + grad p = f e_a,    div u = 0    in the pore space,
    u = 0                                       on the pore/solid interface,

periodic in every direction, driven by a unit body force ``f = 1`` along axis ``a``.
The permeability tensor column ``a`` is ``k_ba = mu <u_b> / f``, where ``<.>`` is the
mean over the whole cell (solid included); ``k = k_aa`` is in voxel units and becomes
m^2 when multiplied by the voxel size squared.

Discretisation: marker-and-cell (MAC) grid (:mod:`microinv.physics.staggered`), pressure
at voxel centres, ``u_d`` on the faces normal to ``d``. Where the no-slip wall sits is
the one difference between the two geometries (:mod:`microinv.physics.walls`):

* **voxel mode** (no field): the walls are the voxel faces between pore and solid (the
  staircase geometry of the image). A face with a solid voxel on either side carries no
  velocity. Across the flow, the line through a face centre meets the solid half a voxel
  away as soon as a voxel beside the neighbouring face is solid; along the flow the
  wall is the dropped face, one voxel away.
* **levelset mode** (``field=f``, pore where ``f < 0``): the wall is the interface
  ``f = 0`` of the continuous field, located by linear interpolation. A face carries
  velocity where the field at its centre, ``f_d = (f(i - e_d) + f(i)) / 2``, is negative;
  every voxel with such a face carries pressure (cut cells included), except dead ends,
  whose velocity is zero by continuity. Along a stencil link from a fluid face
  (``f_d = f_0 < 0``) to a face that is not fluid (``f_1 >= 0``) the wall is at
  ``h = max(f_0 / (f_0 - f_1), 1/10)`` (the clamp, documented in
  `microinv.physics.walls`, bounds the coefficients; the wall moves by at most a tenth
  of a voxel where the interface passes closer than that to a velocity point).

In both, the second derivative towards a wall at ``h_-`` or ``h_+`` (``u = 0`` there) is
the Shortley-Weller formula, exact for a parabola::

    -u''  ~  2 / (h_- + h_+) * [ (u - u_-) / h_- + (u - u_+) / h_+ ],

with ``h = 1`` towards a fluid face. The flux of a face is the integral of the local
parabola over the fluid part of the face (up to the wall across the flow; on voxel walls
its point value plus ``1/24`` of its transverse second differences), and
``<u_a> = sum of the face fluxes / cell volume``. Plane Poiseuille flow is then exact for
any gap, in voxel mode for whole voxels, in levelset mode wherever the walls sit; voxel
mode converges at second order to the staircase geometry, levelset mode to the smooth
interface (Zick & Homsy's spheres 0.12-0.20 % above at 64 voxels per cell, against
2.8-5.2 % below them in voxel mode; benchmarks/RESULTS.md). The simpler linear ghost value
overestimates a slit of gap ``h`` by ``3 / (2 h^2)`` (17 % at ``h = 3``, a factor 2 for a
one-voxel slit); taking the zero velocity one voxel away at an edge (where only one
voxel beside the neighbouring face is solid) overestimates staircase channels by tens
of per cent at a few voxels' width.

Only the pore clusters that wrap along ``a`` carry flow: any other cluster is at rest
(hydrostatic, its pressure balances the force), so it is removed with the solid. The
pressure of the first voxel of each remaining cluster is fixed to zero
(`microinv.physics.walls.Region`), which removes the
constant-pressure null space exactly: that voxel's continuity equation is implied by the
others. The reduced saddle-point system ``[[A, G], [D, 0]]`` (``D = -G^T`` the
divergence) is solved by BiCGStab with a block preconditioner (`UpperSchur`).

Solver and memory. Options (prefix ``stokes_``, every one can be overridden from the
PETSc options database; defaults in ``DEFAULT_OPTIONS`` and ``MULTIGRID_OPTIONS``):

* ``ksp_*``: the outer Krylov method, BiCGStab, right-preconditioned (its residual is
  the true one, tested against ``rtol``; two preconditioner applications per
  iteration). GMRES(30) (``-stokes_ksp_type gmres``) needs about 0.8x the
  preconditioner applications, for the same or more time, but keeps 31 vectors
  (+590 B/voxel); GMRES(10) and GMRES(15) are slower than BiCGStab and still heavier.
* ``velocity_*``: the velocity PC, one W-cycle of aggregation multigrid on ``A``
  (`microinv.physics.multigrid.galerkin_hierarchy`: 2^dim blocks of one component on
  one rank, piecewise-constant prolongation, ``COARSE_SCALE`` times the Galerkin
  product; SOR(1.2) smoothing, one sweep per level, LU on the coarsest grid). In both
  modes ``A`` is three decoupled scalar Laplacians (with Shortley-Weller walls), and
  the aggregates never mix components.
* ``darcy_*``: the same multigrid on the Darcy matrix ``G^T K G``.
* ``conductance_ksp_*``: the loose solve of ``K = A^-1 1`` (GMRES(10), rtol 1e-2, with
  the velocity PC).

Peak memory per voxel (measured, one rank, DESIGN's reference spinodoid at 96^3 in
levelset mode, 2.66 unknowns per voxel, 1.98 of them velocities; benchmarks/RESULTS.md):
``A`` (13.6 entries per voxel), ``G`` (4.0; ``D`` is applied from ``G``, not stored) and
the flux weights about 240 B; the velocity multigrid about 250 B (prolongations and
coarse operators, the smoother's and the cycle's work vectors); ``G^T K G`` and its
multigrid about 110 B; BiCGStab's work vectors, the solution and the right-hand side
about 210 B; the wall geometry and the numbering about 30 B. The assembly writes the
CSR arrays of ``A`` and ``G`` in place component by component
(`microinv.physics.staggered.stokes_operator`), so its peak stays below the solve's.
In all 870-890 B per voxel above the interpreter and the input arrays (930-950 B of
peak resident memory per voxel at 128^3), against 2.3-2.7 kB with PCFIELDSPLIT
(copies of the blocks), GAMG on both blocks and GMRES(30).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time

import numpy as np

from microinv.checks import (check_axis, check_field, check_positive, check_structure,
                             check_tolerance)
from microinv.errors import InputError
from microinv.physics import multigrid
from microinv.physics.result import CONVERGED, DIVERGED, NOT_PERCOLATING, SolveResult
from microinv.physics.staggered import MACGrid, stokes_operator
from microinv.physics.toolkit import default_options, reason_name
from microinv.physics.walls import InterfaceWalls, VoxelWalls

__all__ = ["PermeabilityResult", "permeability", "permeability_tensor", "OPTIONS_PREFIX",
           "DEFAULT_OPTIONS"]

log = logging.getLogger(__name__)

OPTIONS_PREFIX = "stokes_"

# BiCGStab, right-preconditioned (the residual it tests is the true one), by the block
# upper-triangular Schur factorisation `UpperSchur`. Velocity block A: one W-cycle of the
# ``stokes_velocity_`` multigrid. Schur complement S = G^T A^-1 G: the Darcy-Stokes
# approximation, with the Darcy matrix G^T K G from the local conductance
# K = diag(A^-1 1) (one loose GMRES solve with the velocity PC, prefix
# ``stokes_conductance_``) and one W-cycle of the ``stokes_darcy_`` multigrid. Measured
# on a 48^3 spinodoid (eps = 0.5, rtol 1e-8, with GMRES(30) and GAMG): 31 iterations,
# against 94 with the SIMPLE-type approximation diag(A)^-1 for K and 70 with the
# pressure mass matrix alone. Every option can be overridden on the command line with
# the ``stokes_`` prefix, e.g. ``-stokes_ksp_type gmres -stokes_velocity_pc_mg_cycle_type v``.
DEFAULT_OPTIONS = {
    "ksp_type": "bcgs",
    "ksp_pc_side": "right",
    "ksp_max_it": "2000",
    "conductance_ksp_type": "gmres",
    "conductance_ksp_gmres_restart": "10",
    "conductance_ksp_rtol": "1e-2",
}

# The velocity and Darcy multigrid cycles (prefixes ``stokes_velocity_`` and
# ``stokes_darcy_``), as the diffusion solver's (`microinv.physics.diffusion`); applied
# as preconditioners, one cycle each.
MULTIGRID_OPTIONS = {
    "ksp_type": "preonly",
    "pc_mg_type": "multiplicative",
    "pc_mg_cycle_type": "w",
    "mg_levels_ksp_type": "richardson",
    "mg_levels_ksp_max_it": 1,
    "mg_levels_pc_type": "sor",
    "mg_levels_pc_sor_omega": 1.2,
}

#: Coarsen the velocity and Darcy multigrids down to at most this many unknowns per rank.
COARSEST_CELLS = 1000

AXES = "xyz"


@dataclasses.dataclass(frozen=True)
class PermeabilityResult(SolveResult):
    """Permeability along one axis, with the solve's convergence figures.

    ``value`` is ``k = mu <u_a> / f`` in voxel units times ``voxel_size**2``.
    ``column`` holds the whole tensor column ``k_ba`` (b = 0 .. dim-1) in the same units.
    """

    column: tuple = ()

    @property
    def k(self) -> float:
        return self.value

    @property
    def log10_k(self) -> float:
        """``log10(k)``; ``-inf`` when the pore phase does not percolate."""
        if self.value == 0.0:
            return -math.inf
        return math.log10(self.value) if self.value > 0 else math.nan


def _check_solid(solid) -> np.ndarray:
    """The structure (`check_structure`) with what a periodic Stokes cell needs besides."""
    solid = check_structure(solid)
    if min(solid.shape) < 3:
        raise InputError(f"solid: the permeability needs at least 3 voxels along every axis, "
                         f"got shape {solid.shape}")
    if not solid.any():
        raise InputError("solid: no voxel is solid: the permeability of an empty periodic "
                         "cell is infinite")
    return solid


class UpperSchur:
    """Block upper-triangular preconditioner of ``[[A, G], [-G^T, 0]]`` (a petsc4py
    Python PC; the rank's velocities come first in its part of a vector)::

        [[A, G], [0, S]]^-1,   y_p = S^-1 x_p,   y_u = A^-1 (x_u - G y_p),

    ``A^-1`` one application of ``velocity`` and ``S^-1`` that of the Schur complement
    ``S = G^T A^-1 G`` as the sum of its two limits: long pressure waves drive Darcy flow,
    ``S ~ G^T K G`` with ``K`` the local conductance of each face; pressure waves of a few
    voxels see the viscous, local response ``S ~ mu^-1 M`` with the pressure mass matrix
    ``M = I`` of unit voxels. Like Cahouet and Chabard's preconditioner for unsteady
    Stokes::

        S^-1 ~ (G^T K G)^-1 + mu^-1 M^-1,

    with ``(G^T K G)^-1`` one application of ``darcy``. Two work vectors in all.
    """

    def __init__(self, velocity, darcy, gradient, index_sets):
        self.velocity, self.darcy, self.gradient = velocity, darcy, gradient
        self.index_sets = index_sets
        self.work = gradient.createVecLeft()

    def apply(self, pc, x, y):
        is_u, is_p = self.index_sets
        x_u, x_p = x.getSubVector(is_u), x.getSubVector(is_p)
        y_u, y_p = y.getSubVector(is_u), y.getSubVector(is_p)
        self.darcy.apply(x_p, y_p)
        y_p.axpy(1.0, x_p)
        self.gradient.mult(y_p, self.work)
        self.work.aypx(-1.0, x_u)
        self.velocity.apply(self.work, y_u)
        for vec, iset, sub in ((x, is_u, x_u), (x, is_p, x_p), (y, is_u, y_u), (y, is_p, y_p)):
            vec.restoreSubVector(iset, sub)


class _StokesSolver:
    """The reduced MAC system of one fluid region and its Krylov solver.

    Set-up order: the velocity PC (on ``A``) first; the local conductance
    ``K = A^-1 1`` is solved with it, then the Darcy matrix ``G^T K G`` assembled and its
    PC set up.
    """

    def __init__(self, region, walls, rtol: float, comm):
        from petsc4py import PETSc

        self.walls = walls
        self.grid = grid = MACGrid(region, comm)
        self.velocity, self.gradient, self.weights = stokes_operator(self.grid, walls)
        self.divergence = PETSc.Mat().createTranspose(self.gradient)
        self.divergence.scale(-1.0)   # D = -G^T, applied from G's storage
        self.matrix = PETSc.Mat().createNest([[self.velocity, self.gradient],
                                              [self.divergence, None]], comm=comm)
        index_sets, _ = self.matrix.getNestISs()
        with default_options(OPTIONS_PREFIX, DEFAULT_OPTIONS):
            self.velocity_ksp = self._multigrid("velocity_", self.velocity, range(grid.dim))
            self.velocity_pc = self.velocity_ksp.getPC()
            self.darcy, self.conductance_iterations = self._darcy()
            self.darcy_ksp = self._multigrid("darcy_", self.darcy, [grid.dim])
            self.ksp = PETSc.KSP().create(comm=comm)
            self.ksp.setOptionsPrefix(OPTIONS_PREFIX)
            self.ksp.setOperators(self.matrix)
            self.ksp.setTolerances(rtol=rtol, atol=0.0)
            pc = self.ksp.getPC()
            pc.setType(PETSc.PC.Type.PYTHON)
            pc.setPythonContext(UpperSchur(self.velocity_pc, self.darcy_ksp.getPC(), self.gradient,
                                           index_sets))
            self.ksp.setFromOptions()
            self.ksp.setUp()

    def _multigrid(self, name: str, mat, slots):
        """Aggregation multigrid on ``mat``, whose rows are the unknowns of ``slots``, one
        field per slot (`microinv.physics.multigrid.galerkin_hierarchy`), options prefix
        ``stokes_<name>``; its PC is what `UpperSchur` applies."""
        grid = self.grid
        unknowns = [grid.owned(slot).transpose() >= 0 for slot in slots]   # rows' order
        mats, prolongations = multigrid.galerkin_hierarchy(mat, unknowns,
                                                           coarsest_cells=COARSEST_CELLS)
        return multigrid.solver(mats, prolongations, rtol=0.0,
                                prefix=OPTIONS_PREFIX + name, defaults=MULTIGRID_OPTIONS)

    def _darcy(self):
        """``G^T K G`` with ``K = diag(A^-1 1)``, the Darcy limit of the Schur complement,
        and the iterations of its conductance solve.

        ``A^-1 1`` is the velocity that a unit force drives through every face with the
        pressure held at zero: in a straight channel exactly its Poiseuille profile, so
        ``K`` is the local conductance of each face. Solved loosely (prefix
        ``stokes_conductance_``) with the velocity PC.
        """
        from petsc4py import PETSc

        ksp = PETSc.KSP().create(comm=self.grid.comm)
        ksp.setOptionsPrefix(OPTIONS_PREFIX + "conductance_")
        ksp.setOperators(self.velocity)
        ksp.setPC(self.velocity_pc)
        ksp.setFromOptions()
        force, conductance = self.velocity.createVecs()
        force.set(1.0)
        ksp.solve(force, conductance)
        iterations = ksp.getIterationNumber()
        ksp.destroy()
        scaled = self.gradient.duplicate(copy=True)
        scaled.diagonalScale(L=conductance)
        transpose = self.gradient.transpose(PETSc.Mat())
        product = transpose.matMult(scaled)
        darcy = product.duplicate(copy=True)   # a product keeps its factors alive
        product.destroy()
        for obj in (transpose, scaled, force, conductance):
            obj.destroy()
        return darcy, iterations

    def mean_velocity(self, axis: int):
        """Solve with a unit body force along ``axis``; cell-mean velocity per component."""
        grid = self.grid
        rhs, sol = self.matrix.createVecs()
        rhs.set(0.0)
        rhs.array[:grid.n_u] = grid.slots == axis   # a rank's velocities, then its pressures
        sol.set(0.0)
        self.ksp.solve(rhs, sol)
        flux = sol.array[:grid.n_u] * self.weights.array
        local = np.bincount(grid.slots, weights=flux, minlength=grid.dim)
        total = grid.comm.tompi4py().allreduce(local)
        return total / np.prod(grid.shape), self.ksp.getConvergedReason()

    def settings(self) -> dict:
        pc = self.ksp.getPC()
        return {
            "ksp_type": self.ksp.getType(),
            "pc_type": pc.getType(),
            "rtol": self.ksp.getTolerances()[0],
            "options_prefix": OPTIONS_PREFIX,
            "shape": list(self.grid.shape),
            "unknowns": self.grid.size,
            "ranks": self.grid.comm.getSize(),
            "geometry": self.walls.geometry,
            "discretisation": self.walls.discretisation,
        }

    def destroy(self) -> None:
        for obj in (self.ksp, self.velocity_ksp, self.darcy_ksp, self.matrix, self.darcy,
                    self.divergence, self.gradient, self.velocity):
            obj.destroy()
        self.weights.destroy()


def _solve_axes(walls, axes, rtol: float, voxel_size: float, comm):
    """Permeability results for the given axes, one solver per distinct flowing region."""
    from petsc4py import PETSc

    comm = comm or PETSc.COMM_WORLD
    dim = len(walls.shape)
    scale = voxel_size ** 2
    results, solver, region = {}, None, None
    for axis in axes:
        start = time.perf_counter()
        fluid = walls.flowing(axis)
        if fluid is None:
            results[axis] = PermeabilityResult(
                value=0.0, status=NOT_PERCOLATING,
                reason=f"pore phase does not percolate along {AXES[axis]}",
                seconds=time.perf_counter() - start,
                column=(0.0,) * dim)
            continue
        if not fluid.same_as(region):
            if solver is not None:
                solver.destroy()
            solver, region = _StokesSolver(fluid, walls, rtol, comm), fluid
        velocity, reason = solver.mean_velocity(axis)
        status = CONVERGED if reason > 0 else DIVERGED
        column = tuple(float(v) * scale for v in velocity)
        results[axis] = PermeabilityResult(
            value=column[axis] if status == CONVERGED else math.nan,
            status=status, reason=reason_name(reason),
            iterations=solver.ksp.getIterationNumber(),
            residual=solver.ksp.getResidualNorm(),
            seconds=time.perf_counter() - start,
            settings=solver.settings(),
            column=column if status == CONVERGED else (math.nan,) * dim)
        log.info("k_%s = %.6g (%s, %d iterations, %.2f s)", AXES[axis], results[axis].k,
                 results[axis].reason, results[axis].iterations, results[axis].seconds)
    if solver is not None:
        solver.destroy()
    return [results[a] for a in axes]


def _walls(solid: np.ndarray, field):
    """Voxel walls without a field, the interpolated interface of a checked field with one."""
    if field is None:
        return VoxelWalls(solid)
    return InterfaceWalls(check_field(field, solid))


def permeability(solid, axis: int, *, rtol: float = 1e-8, voxel_size: float = 1.0,
                 comm=None, field=None) -> PermeabilityResult:
    """Absolute permeability of the pore phase along one axis.

    Parameters
    ----------
    solid : (M, N[, P]) array_like of uint8
        The structure, 1 = solid, 0 = pore; the whole array on every rank. The cell is
        periodic along every axis.
    axis : int
        Direction of the driving body force and of the reported permeability.
    rtol : float, optional
        Relative tolerance of the Krylov solver (unpreconditioned residual).
    voxel_size : float, optional
        Edge length of a voxel; ``k`` is reported in its unit squared (voxel units by
        default, m^2 for a voxel size in m).
    comm : petsc4py.PETSc.Comm, optional
        Communicator over which the unknowns are distributed (default COMM_WORLD).
    field : (M, N[, P]) float ndarray, optional
        The level-set field ``f`` the structure was cut from (pore where ``f < 0``,
        ``solid == (f >= 0)``), the whole array on every rank. With it the no-slip wall
        sits at the interpolated interface ``f = 0`` (levelset mode); without it on the
        voxel faces (voxel mode). See the module docstring.

    Returns
    -------
    PermeabilityResult
        ``k`` (``value``) and ``log10_k``; ``k = 0`` with status NOT_PERCOLATING when no
        pore cluster wraps along ``axis``; status DIVERGED and ``k = nan`` with PETSc's
        reason when the solver fails. Every rank returns the same result.

    Raises
    ------
    InputError
        A structure that is not a 2D or 3D uint8 array of 0 and 1
        (`microinv.checks.check_structure`), smaller than 3 voxels along an
        axis or without solid; a bad ``axis``, ``rtol`` or ``voxel_size``; a field that
        does not match the structure (`microinv.checks.check_field`).

    Notes
    -----
    ``k = mu <u_axis> / f`` with a unit body force ``f`` along ``axis`` and ``<.>`` the
    mean over the whole cell, solid included (see the module docstring).

    Examples
    --------
    >>> solid = np.zeros((4, 12), dtype=np.uint8)
    >>> solid[:, :2] = 1                         # a slit of gap 10 in a period of 12
    >>> round(permeability(solid, 0).k, 6) == round(10**3 / (12 * 12), 6)
    True
    """
    solid = _check_solid(solid)
    axis = check_axis(axis, solid.ndim)
    rtol = check_tolerance("rtol", rtol)
    voxel_size = check_positive("voxel_size", voxel_size)
    return _solve_axes(_walls(solid, field), [axis], rtol, voxel_size, comm)[0]


def permeability_tensor(solid, *, rtol: float = 1e-8, comm=None, field=None) -> np.ndarray:
    """Permeability tensor ``k_ij`` in voxel units, one solve per axis.

    Column ``j`` is the cell-mean velocity under a unit body force along ``j``. The
    discrete tensor is symmetric up to the discretisation error of the wall formula
    (it is exactly symmetric for a symmetric scheme); the symmetric part is returned.
    Axes along which the pore phase does not percolate give zero rows and columns.
    ``field`` as for `permeability` (levelset mode).

    Returns
    -------
    k : (dim, dim) ndarray of float
    """
    solid = _check_solid(solid)
    rtol = check_tolerance("rtol", rtol)
    results = _solve_axes(_walls(solid, field), list(range(solid.ndim)), rtol, 1.0, comm)
    columns = np.array([r.column for r in results]).T
    return 0.5 * (columns + columns.T)
