"""Marker-and-cell (MAC) unknowns of a periodic voxel grid, reduced to the fluid.

Pressure lives at voxel centres, the velocity component ``u_d`` on the faces normal to
axis ``d``. The face of voxel ``i`` along ``d`` is its *lower* face, between voxels
``i - e_d`` and ``i``; every voxel owns ``dim`` faces and one centre, which is the
layout of a DMDA with ``dof = dim + 1`` (slots ``0 .. dim-1`` the faces, slot ``dim``
the centre). The DMDA owns the grid and its distribution over the ranks.

Only the unknowns that can be nonzero are kept, those of the flowing region that a wall
geometry decides (`microinv.physics.walls`: on voxel walls a face whose two voxels are
both fluid and the centre of a fluid voxel). The other faces carry zero velocity and are
left out of the system, as is all of the solid. The kept unknowns are numbered
contiguously per rank in the DMDA's own (interleaved) order, so a rank's rows are the
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

    Parameters
    ----------
    region : microinv.physics.walls.Region
        The voxel centres and faces that carry unknowns, replicated on every rank, and
        the flat (C-order) indices of the centres whose pressure is fixed to zero and so
        left out (one per connected cluster removes the constant-pressure null space).
    comm : petsc4py.PETSc.Comm
        Communicator of the DMDA.

    Attributes
    ----------
    da : petsc4py.PETSc.DMDA
        Periodic DMDA, ``dof = dim + 1``, star stencil of width 1.
    number : ndarray of PETSc.IntType
        Global number of every unknown on the owned block plus one DMDA ghost layer,
        shape ``(m_0 + 2, ..., dim + 1)`` in (x, y[, z], slot) order, -1 where dropped.
    slots : ndarray of int
        Slot of each locally owned unknown, in the order of the rows.
    n_local, start, size : int
        Unknowns on this rank, the global number of its first one, unknowns in all.
    """

    def __init__(self, region, comm):
        from petsc4py import PETSc

        self.shape = region.centres.shape
        self.dim = dim = region.centres.ndim
        self.comm = comm
        self.da = PETSc.DMDA().create(
            dim=dim, dof=dim + 1, sizes=self.shape,
            boundary_type=(PETSc.DM.BoundaryType.PERIODIC,) * dim,
            stencil_type=PETSc.DMDA.StencilType.STAR, stencil_width=1,
            setup=True, comm=comm)
        self.ranges = self.da.getRanges()
        centre = region.centres.copy()
        centre.flat[region.pinned] = False
        memory = self._to_memory(np.stack([self.window(a, 0) for a in region.faces + [centre]],
                                          axis=-1))
        self.n_local = int(memory.sum())
        self.start = comm.tompi4py().exscan(self.n_local) or 0
        self.size = comm.tompi4py().allreduce(self.n_local)
        numbers = np.full(memory.shape, -1.0)
        numbers[memory] = self.start + np.arange(self.n_local)
        self.slots = np.nonzero(memory)[1]
        self.number = self._ghosted_numbers(numbers)

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

    def _ghosted_numbers(self, numbers: np.ndarray) -> np.ndarray:
        """Exchange the unknowns' numbers with the neighbour ranks (periodic ghosts); in
        PETSc's index type (int32 by default), as are all index arrays of the assembly."""
        from petsc4py import PETSc

        glob = self.da.createGlobalVec()
        loc = self.da.createLocalVec()
        glob.array[:] = numbers.ravel()
        self.da.globalToLocal(glob, loc)
        _, gm = self.da.getGhostCorners()
        shape = tuple(reversed(gm)) + (self.dim + 1,)
        order = tuple(reversed(range(self.dim))) + (self.dim,)
        ghosted = np.rint(loc.array).astype(PETSc.IntType).reshape(shape).transpose(order)
        glob.destroy()
        loc.destroy()
        return ghosted

    # -- what assembly needs ----------------------------------------------------------
    def owned(self, slot: int) -> np.ndarray:
        """Global numbers of the owned block's unknowns of ``slot``, -1 where dropped."""
        return shifted(self.number[..., slot], (0,) * self.dim, 1)

    def neighbour(self, slot: int, offset) -> np.ndarray:
        """Global numbers of the unknowns of ``slot`` one voxel away (``offset``)."""
        return shifted(self.number[..., slot], offset, 1)

    def index_set(self, slots) -> "PETSc.IS":
        """Global numbers of the locally owned unknowns of the given slots."""
        from petsc4py import PETSc

        local = np.nonzero(np.isin(self.slots, slots))[0]
        return PETSc.IS().createGeneral(
            (self.start + local).astype(PETSc.IntType), comm=self.comm)

    def destroy(self) -> None:
        self.da.destroy()


def stokes_operator(grid: MACGrid, walls):
    """Assemble ``[[A, G], [D, 0]]`` on the locally owned rows (vectorised).

    ``walls`` places the no-slip walls (`microinv.physics.walls`). Returns the PETSc AIJ
    matrix, with the rows numbered by ``grid``, and the flux weights: the vector ``w``
    with ``sum_faces w u_d`` the total flux of ``u_d`` (:func:`_face_flux`).
    """
    entries = _Entries()
    for d in range(grid.dim):
        _momentum_rows(grid, walls, d, entries)
    _continuity_rows(grid, entries)
    mat = _aij(grid, entries)
    return mat, _flux_weights(grid, mat, entries)


class _Entries:
    """Matrix entries (row, column, value) of the owned rows, in the order added, and the
    entries (column, value) of the linear functional that gives the total flux.
    """

    def __init__(self):
        self.rows, self.cols, self.vals = [], [], []
        self.flux_cols, self.flux_vals = [], []

    def add(self, row, col, val, where) -> None:
        """Entries ``(row, col, val)`` where ``where`` holds and the column is kept."""
        where = where & (col >= 0)
        self.rows.append(row[where])
        self.cols.append(col[where])
        self.vals.append(np.broadcast_to(val, where.shape)[where])

    def add_flux(self, col, val, where) -> None:
        """Flux coefficients ``val`` of the unknowns ``col`` where ``where`` holds."""
        where = where & (col >= 0)
        self.flux_cols.append(col[where])
        self.flux_vals.append(np.broadcast_to(val, where.shape)[where])


def _momentum_rows(grid: MACGrid, walls, d: int, entries: _Entries) -> None:
    """Rows of ``u_d``: ``-lap u_d + (p_i - p_{i - e_d})``, the viscous term summed over
    the directions ``e`` (Shortley-Weller, :func:`_link`), then the pressure gradient;
    and the flux of ``u_d`` (:func:`_face_flux`).

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
    for cols, spacing in links:
        weight = 2.0 / (spacing[0] + spacing[1])
        for h, col in zip(spacing, cols):
            diagonal += weight / h
            entries.add(row, col, -weight / h, here)
    entries.add(row, row, diagonal, here)
    # pressure gradient (p_i - p_{i - e_d}) on the face between the two voxels
    entries.add(row, grid.owned(dim), 1.0, here)
    entries.add(row, grid.neighbour(dim, unit(dim, d, -1)), -1.0, here)
    _face_flux(row, here, [link for e, link in enumerate(links) if e != d], entries)


def _link(grid: MACGrid, walls, d: int, e: int):
    """Neighbour unknowns ``u_d`` one voxel away along ``+e`` and ``-e`` (-1 where
    dropped) and the distances to them, or to the wall where they are dropped."""
    cols, spacing = [], []
    for sign in (1, -1):
        col = grid.neighbour(d, offset=unit(grid.dim, e, sign))
        cols.append(col)
        spacing.append(walls.spacing(grid, d, e, sign, col < 0))
    return cols, spacing


def _face_flux(row, here, transverse, entries: _Entries) -> None:
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
    sit. The coefficients of ``u, u_+, u_-`` are added to the flux functional.
    """
    extents = []
    for cols, spacing in transverse:
        a = [np.where(col < 0, h, 0.5) for col, h in zip(cols, spacing)]
        extents.append((a[0] + a[1], (a[0] ** 2 - a[1] ** 2) / 2, (a[0] ** 3 + a[1] ** 3) / 3))
    area = np.prod([A for A, _, _ in extents], axis=0) if extents else 1.0
    entries.add_flux(row, area, here)
    for i, ((cols, (hp, hm)), (_, moment, second)) in enumerate(zip(transverse, extents)):
        others = np.prod([A for j, (A, _, _) in enumerate(extents) if j != i], axis=0) \
            if len(extents) > 1 else 1.0
        total = hp + hm
        weight = 2.0 / total
        # coefficients of (u_+, u_-, u) in b and in c = (second difference) / 2
        slope = (hm / (hp * total), -hp / (hm * total), (hp / hm - hm / hp) / total)
        curve = (weight / hp / 2, weight / hm / 2, -weight * (1 / hp + 1 / hm) / 2)
        for col, b, c in zip((cols[0], cols[1], row), slope, curve):
            entries.add_flux(col, others * (moment * b + second * c), here)


def _continuity_rows(grid: MACGrid, entries: _Entries) -> None:
    """Rows of the pressure unknowns: divergence ``sum_d u_d(upper face) - u_d(lower face)``."""
    dim = grid.dim
    row = grid.owned(dim)
    here = row >= 0
    for d in range(dim):
        entries.add(row, grid.neighbour(d, unit(dim, d)), 1.0, here)
        entries.add(row, grid.owned(d), -1.0, here)


def _aij(grid: MACGrid, entries: _Entries):
    """The entries as local CSR rows (duplicates summed), copied into PETSc's AIJ storage."""
    from petsc4py import PETSc
    from scipy import sparse

    local = sparse.csr_matrix(
        (np.concatenate(entries.vals),
         (np.concatenate(entries.rows) - grid.start, np.concatenate(entries.cols))),
        shape=(grid.n_local, grid.size))
    local.sum_duplicates()
    return PETSc.Mat().createAIJ(
        size=((grid.n_local, grid.size), (grid.n_local, grid.size)),
        csr=(np.asarray(local.indptr, dtype=PETSc.IntType),
             np.asarray(local.indices, dtype=PETSc.IntType),
             np.asarray(local.data, dtype=PETSc.ScalarType)), comm=grid.comm)


def _flux_weights(grid: MACGrid, mat, entries: _Entries):
    """The flux functional (:func:`_face_flux`) as a vector on the unknowns (0 on the
    pressures)."""
    from petsc4py import PETSc

    weights = mat.createVecRight()
    weights.set(0.0)
    weights.setValues(np.concatenate(entries.flux_cols).astype(PETSc.IntType),
                      np.concatenate(entries.flux_vals), addv=PETSc.InsertMode.ADD_VALUES)
    weights.assemble()
    return weights
