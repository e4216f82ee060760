"""Marker-and-cell (MAC) unknowns of a periodic voxel grid, reduced to the fluid.

Pressure lives at voxel centres, the velocity component ``u_d`` on the faces normal to
axis ``d``. The face of voxel ``i`` along ``d`` is its *lower* face, between voxels
``i - e_d`` and ``i``; every voxel owns ``dim`` faces and one centre, which is the
layout of a DMDA with ``dof = dim + 1`` (slots ``0 .. dim-1`` the faces, slot ``dim``
the centre). A DMDA decides the grid's distribution over the ranks.

Only the unknowns that can be nonzero are kept, those of the flowing region that a wall
geometry decides (`microinv.physics.walls`: on voxel walls a face whose two voxels are
both fluid and the centre of a fluid voxel). The other faces carry zero velocity and are
left out of the system, as is all of the solid. The kept velocities and pressures are
numbered as two spaces (`MACGrid`), contiguously per rank, so a rank's rows are the
unknowns of its block of voxels, and the DMDA's ghost exchange tells every rank the
numbers of its neighbours' unknowns.
"""

from __future__ import annotations

import numpy as np

__all__ = ["MACGrid", "stokes_operator"]


def shifted(array: np.ndarray, offset, ghost: int) -> np.ndarray:
    """The block of a ghosted array seen from ``offset`` voxels away.

    ``array`` carries ``ghost`` layers around the owned block on every axis; the result
    has the owned block's shape and holds ``array[i + offset]`` for each owned ``i``.
    """
    index = tuple(slice(ghost + o, array.shape[a] - ghost + o or None)
                  for a, o in enumerate(offset))
    return array[index]


def unit(dim: int, axis: int, sign: int = 1) -> tuple:
    """The offset of one voxel along ``axis``."""
    return tuple(sign if a == axis else 0 for a in range(dim))


class MACGrid:
    """The fluid unknowns of a MAC discretisation on a periodic voxel grid.

    The velocities and the pressures are numbered as two separate spaces (the two blocks
    of the saddle-point system): on every rank its velocities, component by component
    (all of its ``u_0``, then ``u_1``, ...), each in the DMDA's order of its voxels, and
    its pressures in that order.

    Parameters
    ----------
    region : microinv.physics.walls.Region
        The voxel centres and faces that carry unknowns, replicated on every rank, and
        the flat (C-order) indices of the centres whose pressure is fixed to zero and so
        left out (one per connected cluster removes the constant-pressure null space).
    comm : petsc4py.PETSc.Comm
        Communicator of the distribution.

    Attributes
    ----------
    ranges : tuple of (int, int)
        The block of voxels this rank owns, per axis (PETSc's DMDA distribution, periodic,
        ``dof = dim + 1``; the DMDA itself is dropped once the numbers are exchanged).
    number : ndarray of PETSc.IntType
        Number of every unknown on the owned block plus one ghost layer, shape
        ``(m_0 + 2, ..., dim + 1)`` in (x, y[, z], slot) order, -1 where dropped: in the
        velocity space for the slots ``0 .. dim-1``, in the pressure space for slot ``dim``.
    slots : ndarray of int8
        Component of each locally owned velocity, in the order of the rows.
    n_u, u_start, u_size : int
        Velocities on this rank, the number of its first one, velocities in all.
    n_p, p_start, p_size : int
        The same for the pressures.
    size : int
        Unknowns in all.
    """

    def __init__(self, region, comm):
        from petsc4py import PETSc

        self.shape = region.centres.shape
        self.dim = dim = region.centres.ndim
        self.comm = comm
        da = PETSc.DMDA().create(
            dim=dim, dof=dim + 1, sizes=self.shape,
            boundary_type=(PETSc.DM.BoundaryType.PERIODIC,) * dim,
            stencil_type=PETSc.DMDA.StencilType.STAR, stencil_width=1,
            setup=True, comm=comm)
        self.ranges = da.getRanges()
        centre = region.centres.copy()
        centre.flat[region.pinned] = False
        memory = self._to_memory(np.stack([self.window(a, 0) for a in region.faces + [centre]],
                                          axis=-1))
        counts = memory.sum(axis=0)
        mpi = comm.tompi4py()
        self.n_u, self.n_p = int(counts[:dim].sum()), int(counts[dim])
        self.u_start = mpi.exscan(self.n_u) or 0
        self.p_start = mpi.exscan(self.n_p) or 0
        self.u_size, self.p_size = mpi.allreduce(self.n_u), mpi.allreduce(self.n_p)
        self.size = self.u_size + self.p_size
        first = np.concatenate([[self.u_start], self.u_start + np.cumsum(counts[:dim])[:-1],
                                [self.p_start]])
        numbers = np.full(memory.shape, -1.0)
        for slot in range(dim + 1):
            numbers[memory[:, slot], slot] = first[slot] + np.arange(counts[slot])
        self.slots = np.repeat(np.arange(dim, dtype=np.int8), counts[:dim])
        self.number = self._ghosted_numbers(da, numbers)
        da.destroy()

    # -- layout helpers ---------------------------------------------------------------
    def window(self, array: np.ndarray, ghost: int) -> np.ndarray:
        """The owned block of a replicated voxel array plus ``ghost`` periodic layers."""
        for axis, (lo, hi) in enumerate(self.ranges):
            index = np.arange(lo - ghost, hi + ghost) % self.shape[axis]
            array = np.take(array, index, axis=axis)
        return array

    def _to_memory(self, block: np.ndarray) -> np.ndarray:
        """(x, y[, z], slot) block -> PETSc's order: rows of cells (x fastest) x slots."""
        order = tuple(reversed(range(self.dim))) + (self.dim,)
        return np.ascontiguousarray(block.transpose(order)).reshape(-1, self.dim + 1)

    def _ghosted_numbers(self, da, numbers: np.ndarray) -> np.ndarray:
        """Exchange the unknowns' numbers with the neighbour ranks (periodic ghosts); in
        PETSc's index type (int32 by default), as are all index arrays of the assembly."""
        from petsc4py import PETSc

        glob = da.createGlobalVec()
        loc = da.createLocalVec()
        glob.array[:] = numbers.ravel()
        da.globalToLocal(glob, loc)
        _, gm = da.getGhostCorners()
        shape = tuple(reversed(gm)) + (self.dim + 1,)
        order = tuple(reversed(range(self.dim))) + (self.dim,)
        ghosted = np.rint(loc.array).astype(PETSc.IntType).reshape(shape).transpose(order)
        glob.destroy()
        loc.destroy()
        return ghosted

    # -- what assembly needs ----------------------------------------------------------
    def owned(self, slot: int) -> np.ndarray:
        """Numbers of the owned block's unknowns of ``slot``, -1 where dropped."""
        return shifted(self.number[..., slot], (0,) * self.dim, 1)

    def neighbour(self, slot: int, offset) -> np.ndarray:
        """Numbers of the unknowns of ``slot`` one voxel away (``offset``)."""
        return shifted(self.number[..., slot], offset, 1)

    def rows(self, block: np.ndarray) -> np.ndarray:
        """A block-shaped array in the order of the rows (PETSc's, x fastest), flat."""
        return block.ravel(order="F")


def stokes_operator(grid: MACGrid, walls):
    """Assemble the blocks ``A`` (viscous, velocity x velocity) and ``G`` (pressure
    gradient, velocity x pressure) of ``[[A, G], [-G^T, 0]]`` on the owned rows.

    ``walls`` places the no-slip walls (`microinv.physics.walls`). The divergence rows
    ``sum_d u_d(upper face) - u_d(lower face)`` are ``-G^T`` exactly (the pinned
    pressures are left out of both), so they are not stored. Each block is assembled
    component by component straight into CSR arrays of the final size, which PETSc then
    uses in place (`microinv.physics.multigrid.CSR`): no list of all entries, no copy.
    Returns ``A``, ``G`` and the flux weights, the vector ``w`` on the velocities with
    ``sum_faces w u_d`` the total flux of ``u_d`` (:func:`_face_flux`).
    """
    from petsc4py import PETSc

    several = grid.comm.getSize() > 1
    u_range = (grid.u_start, grid.u_start + grid.n_u)
    p_range = (grid.p_start, grid.p_start + grid.n_p)
    stencils = [_stencil(grid, d) for d in range(grid.dim)]
    viscous = _csr(grid.n_u, [cols for cols, _ in stencils], u_range, several)
    gradient = _csr(grid.n_u, [[cols[0]] + grad for cols, grad in stencils], p_range, several,
                    diagonal=False)
    weights = PETSc.Vec().createMPI((grid.n_u, grid.u_size), comm=grid.comm)
    weights.set(0.0)
    for d in range(grid.dim):
        _momentum_rows(grid, walls, d, viscous, gradient, weights)
    weights.assemble()
    mats = []
    for arrays, columns in ((viscous, (grid.n_u, grid.u_size)), (gradient, (grid.n_p, grid.p_size))):
        mat = PETSc.Mat().createAIJWithArrays(((grid.n_u, grid.u_size), columns), arrays.csr,
                                              comm=grid.comm)
        mat.setAttr("csr", arrays.csr)  # the matrix works on these arrays in place
        mats.append(mat)
    return mats[0], mats[1], weights


def _stencil(grid: MACGrid, d: int):
    """Column blocks of the rows of ``u_d``: viscous (``u_d`` itself, then its neighbours
    along ``+e`` and ``-e`` for each ``e``) and gradient (``p_i``, ``p_{i - e_d}``)."""
    dim = grid.dim
    viscous = [grid.owned(d)] + [grid.neighbour(d, unit(dim, e, sign))
                                 for e in range(dim) for sign in (1, -1)]
    gradient = [grid.owned(dim), grid.neighbour(dim, unit(dim, d, -1))]
    return viscous, gradient


def _csr(n_rows: int, components, columns, several: bool, diagonal: bool = True):
    """Empty CSR arrays sized for the given column blocks: one list per component whose
    first block is the rows themselves (an entry of the block when ``diagonal``). Sized
    by the count of kept entries, and on several ranks of those outside the local
    ``columns`` range."""
    from microinv.physics.multigrid import CSR

    nnz = remote = 0
    for rows, *blocks in components:
        here = rows >= 0
        for col in [rows] * diagonal + blocks:
            kept = here & (col >= 0)
            nnz += int(np.count_nonzero(kept))
            if several:
                remote += int(np.count_nonzero(kept & ((col < columns[0]) | (col >= columns[1]))))
    return CSR(n_rows, nnz, remote if several else None, start=columns[0], stop=columns[1])


def _append(grid: MACGrid, arrays, here, cols, vals) -> None:
    """Add the rows ``here`` (block-shaped) with one entry per column block, in row
    order; entries whose column is dropped (-1) are left out, the columns sorted."""
    from petsc4py import PETSc

    from microinv.physics.multigrid import sort_rows

    rows = grid.rows(here)
    c = np.empty((int(np.count_nonzero(rows)), len(cols)), dtype=PETSc.IntType)
    v = np.empty(c.shape)
    for k, (col, val) in enumerate(zip(cols, vals)):
        c[:, k] = grid.rows(col)[rows]
        v[:, k] = grid.rows(np.broadcast_to(val, here.shape))[rows]
    present = c >= 0
    sort_rows(np.arange(c.shape[0]), present, c, v)
    arrays.append(present, c, v)


def _momentum_rows(grid: MACGrid, walls, d: int, viscous, gradient, weights) -> None:
    """Rows of ``u_d``: ``-lap u_d + (p_i - p_{i - e_d})``, the viscous term summed over
    the directions ``e`` (Shortley-Weller, :func:`_link`) into ``viscous``, the pressure
    gradient into ``gradient``; and the flux of ``u_d`` into ``weights``
    (:func:`_face_flux`).

    With spacings ``h_+`` and ``h_-`` to the two neighbours along ``e`` (to the wall,
    where the neighbour is dropped: ``u = 0`` there) the stencil of ``-d2 u_d / de2`` is
    ``w (u / h_+ + u / h_- - u_+ / h_+ - u_- / h_-)``, ``w = 2 / (h_+ + h_-)``, exact for a
    parabola.
    """
    dim = grid.dim
    row = grid.owned(d)
    here = row >= 0
    links = [_link(grid, walls, d, e) for e in range(dim)]
    diagonal = np.zeros(row.shape)
    cols, vals = [row], [diagonal]
    for link_cols, spacing in links:
        weight = 2.0 / (spacing[0] + spacing[1])
        for h, col in zip(spacing, link_cols):
            diagonal += weight / h
            cols.append(col)
            vals.append(-weight / h)
    _append(grid, viscous, here, cols, vals)
    # pressure gradient (p_i - p_{i - e_d}) on the face between the two voxels
    _append(grid, gradient, here, _stencil(grid, d)[1], [1.0, -1.0])
    _face_flux(row, here, [link for e, link in enumerate(links) if e != d], _Flux(weights))


class _Flux:
    """The flux functional's coefficients, added into the weights vector as they come."""

    def __init__(self, weights):
        self.weights = weights

    def add(self, col, val, where) -> None:
        """Flux coefficients ``val`` of the unknowns ``col`` where ``where`` holds."""
        from petsc4py import PETSc

        where = where & (col >= 0)
        self.weights.setValues(col[where], np.broadcast_to(val, where.shape)[where],
                               addv=PETSc.InsertMode.ADD_VALUES)


def _link(grid: MACGrid, walls, d: int, e: int):
    """Neighbour unknowns ``u_d`` one voxel away along ``+e`` and ``-e`` (-1 where
    dropped) and the distances to them, or to the wall where they are dropped."""
    cols, spacing = [], []
    for sign in (1, -1):
        col = grid.neighbour(d, offset=unit(grid.dim, e, sign))
        cols.append(col)
        spacing.append(walls.spacing(grid, d, e, sign, col < 0))
    return cols, spacing


def _face_flux(row, here, transverse, flux: _Flux) -> None:
    """Flux of a face: the integral of the local quadratic profile over its fluid part.

    Across the flow, along each transverse direction ``e``, the profile through the
    face's value ``u`` and its neighbours ``u_+``, ``u_-`` at ``h_+``, ``h_-`` (0 at a
    wall) is ``u + b s + c s^2`` with ``2 c`` the Shortley-Weller second difference and
    ``b = [(u_+ - u) h_- / h_+ - (u_- - u) h_+ / h_-] / (h_+ + h_-)``. The face stands for
    ``-a_- <= s <= a_+`` with ``a = 1/2`` towards a velocity point and ``a = h`` towards
    a wall (the fluid up to the wall), so the faces of a cross-section tile its fluid.
    Integrated over the rectangle of the transverse directions (sum of the separate
    profiles)::

        Q = u prod_e A_e + sum_e (b_e M_e + c_e N_e) prod_{e' != e} A_e',
        A = a_+ + a_-,  M = (a_+^2 - a_-^2) / 2,  N = (a_+^3 + a_-^3) / 3.

    On voxel walls ``a = 1/2`` everywhere: ``Q = u + sum_e (d2u/de2) / 24``, the face
    average of the local parabola. Exact for a plane Poiseuille profile wherever the walls
    sit. The coefficients of ``u, u_+, u_-`` are added to the flux functional ``flux``.
    """
    extents = []
    for cols, spacing in transverse:
        a = [np.where(col < 0, h, 0.5) for col, h in zip(cols, spacing)]
        extents.append((a[0] + a[1], (a[0] ** 2 - a[1] ** 2) / 2, (a[0] ** 3 + a[1] ** 3) / 3))
    area = np.prod([A for A, _, _ in extents], axis=0) if extents else 1.0
    flux.add(row, area, here)
    for i, ((cols, (hp, hm)), (_, moment, second)) in enumerate(zip(transverse, extents)):
        others = np.prod([A for j, (A, _, _) in enumerate(extents) if j != i], axis=0) \
            if len(extents) > 1 else 1.0
        total = hp + hm
        weight = 2.0 / total
        # coefficients of (u_+, u_-, u) in b and in c = (second difference) / 2
        slope = (hm / (hp * total), -hp / (hm * total), (hp / hm - hm / hp) / total)
        curve = (weight / hp / 2, weight / hm / 2, -weight * (1 / hp + 1 / hm) / 2)
        for col, b, c in zip((cols[0], cols[1], row), slope, curve):
            flux.add(col, others * (moment * b + second * c), here)
