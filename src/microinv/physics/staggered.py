"""Marker-and-cell (MAC) unknowns of a periodic voxel grid, reduced to the fluid.

Pressure lives at voxel centres, the velocity component ``u_d`` on the faces normal to
axis ``d``. The face of voxel ``i`` along ``d`` is its *lower* face, between voxels
``i - e_d`` and ``i``; every voxel owns ``dim`` faces and one centre, which is the
layout of a DMDA with ``dof = dim + 1`` (slots ``0 .. dim-1`` the faces, slot ``dim``
the centre). The DMDA owns the grid and its distribution over the ranks.

Only the unknowns that can be nonzero are kept: a face whose two voxels are both fluid,
and the centre of a fluid voxel. Faces next to or inside the solid carry zero velocity
and are left out of the system, as is all of the solid. The kept unknowns are numbered
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
    fluid : (M, N[, P]) ndarray of bool
        Voxels that carry fluid, replicated on every rank.
    pinned : ndarray of int
        Flat (C-order) indices of fluid voxels whose pressure is fixed to zero and so
        left out; one per connected fluid cluster removes the constant-pressure null
        space (`microinv.physics.toolkit.pinned_voxels`).
    comm : petsc4py.PETSc.Comm
        Communicator of the DMDA.

    Attributes
    ----------
    da : petsc4py.PETSc.DMDA
        Periodic DMDA, ``dof = dim + 1``, star stencil of width 1.
    number : ndarray of int64
        Global number of every unknown on the owned block plus one DMDA ghost layer,
        shape ``(m_0 + 2, ..., dim + 1)`` in (x, y[, z], slot) order, -1 where dropped.
    slots : ndarray of int
        Slot of each locally owned unknown, in the order of the rows.
    n_local, start, size : int
        Unknowns on this rank, the global number of its first one, unknowns in all.
    """

    def __init__(self, fluid: np.ndarray, pinned: np.ndarray, comm):
        from petsc4py import PETSc

        self.shape = fluid.shape
        self.dim = dim = fluid.ndim
        self.comm = comm
        self.da = PETSc.DMDA().create(
            dim=dim, dof=dim + 1, sizes=self.shape,
            boundary_type=(PETSc.DM.BoundaryType.PERIODIC,) * dim,
            stencil_type=PETSc.DMDA.StencilType.STAR, stencil_width=1,
            setup=True, comm=comm)
        self.ranges = self.da.getRanges()
        block = self.window(fluid, 1)
        here = shifted(block, (0,) * dim, 1)
        faces = [here & shifted(block, unit(dim, d, -1), 1) for d in range(dim)]
        centre = fluid.copy()
        centre.flat[pinned] = False
        memory = self._to_memory(np.stack(faces + [self.window(centre, 0)], axis=-1))
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
        """Exchange the unknowns' numbers with the neighbour ranks (periodic ghosts)."""
        glob = self.da.createGlobalVec()
        loc = self.da.createLocalVec()
        glob.array[:] = numbers.ravel()
        self.da.globalToLocal(glob, loc)
        _, gm = self.da.getGhostCorners()
        shape = tuple(reversed(gm)) + (self.dim + 1,)
        order = tuple(reversed(range(self.dim))) + (self.dim,)
        ghosted = np.rint(loc.array).astype(np.int64).reshape(shape).transpose(order)
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


def stokes_operator(grid: MACGrid):
    """Assemble ``[[A, G], [D, 0]]`` on the locally owned rows (vectorised).

    Returns the PETSc AIJ matrix, with the rows numbered by ``grid``, and the flux
    weights: the vector ``w`` with ``sum_faces w u_d`` the total flux of ``u_d``.
    """
    entries = _Entries()
    for d in range(grid.dim):
        _momentum_rows(grid, d, entries)
    _continuity_rows(grid, entries)
    mat = _aij(grid, entries)
    return mat, _flux_weights(grid, mat, entries)


class _Entries:
    """Matrix entries (row, column, value) of the owned rows, in the order added, and the
    entries of the transverse second differences (their column sums give the flux weights).
    """

    def __init__(self):
        self.rows, self.cols, self.vals = [], [], []
        self.transverse_cols, self.transverse_vals = [], []

    def add(self, row, col, val, where, transverse=False) -> None:
        """Entries ``(row, col, val)`` where ``where`` holds and the column is kept."""
        where = where & (col >= 0)
        val = np.broadcast_to(val, where.shape)[where]
        self.rows.append(row[where])
        self.cols.append(col[where])
        self.vals.append(val)
        if transverse:
            self.transverse_cols.append(col[where])
            self.transverse_vals.append(val)


def _momentum_rows(grid: MACGrid, d: int, entries: _Entries) -> None:
    """Rows of ``u_d``: ``-lap u_d + (p_i - p_{i - e_d})``, the viscous term summed over
    the directions ``e`` (:func:`_second_difference`), then the pressure gradient."""
    dim = grid.dim
    row = grid.owned(d)
    here = row >= 0
    diagonal = np.zeros(row.shape)
    for e in range(dim):
        _second_difference(grid, d, e, row, here, diagonal, entries)
    entries.add(row, row, diagonal, here)
    # pressure gradient (p_i - p_{i - e_d}) on the face between the two voxels
    entries.add(row, grid.owned(dim), 1.0, here)
    entries.add(row, grid.neighbour(dim, unit(dim, d, -1)), -1.0, here)


def _second_difference(grid: MACGrid, d: int, e: int, row, here, diagonal, entries: _Entries) -> None:
    """``-d2 u_d / de2`` on the rows ``row``: off-diagonal entries added, the diagonal
    accumulated into ``diagonal``.

    With spacings ``h_+`` and ``h_-`` to the two neighbours along ``e`` the stencil is
    ``w (u / h_+ + u / h_- - u_+ / h_+ - u_- / h_-)``, ``w = 2 / (h_+ + h_-)``. Across the
    flow (``e != d``) a dropped neighbour face has a solid voxel beside it, so the wall
    is half a voxel away (``h = 1/2``) on the line through the face centre; along the
    flow the dropped face is itself the wall (``h = 1``). The transverse diagonal is
    also added as an entry of its own, marked transverse, for the flux weights.
    """
    dim = grid.dim
    spacing, neighbours = [], []
    for sign in (1, -1):
        col = grid.neighbour(d, offset=unit(dim, e, sign))
        half = (col < 0) if e != d else np.zeros(row.shape, dtype=bool)
        spacing.append(np.where(half, 0.5, 1.0))
        neighbours.append(col)
    weight = 2.0 / (spacing[0] + spacing[1])
    centre = weight * (1.0 / spacing[0] + 1.0 / spacing[1])
    diagonal += centre
    for h, col in zip(spacing, neighbours):
        entries.add(row, col, -weight / h, here, transverse=e != d)
    if e != d:
        entries.add(row, row, centre, here, transverse=True)
        diagonal -= centre


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
        csr=(local.indptr.astype(PETSc.IntType), local.indices.astype(PETSc.IntType),
             local.data.astype(PETSc.ScalarType)), comm=grid.comm)


def _flux_weights(grid: MACGrid, mat, entries: _Entries):
    """Flux of a face = its mean velocity over the face, ``u + (1/24) sum_e d2u/de2`` over
    the transverse directions (exact for a parabola): ``w = 1 - colsum(A_transverse) / 24``
    on the velocity unknowns, 0 on the pressures."""
    from petsc4py import PETSc

    weights = mat.createVecRight()
    weights.array[:] = (grid.slots < grid.dim).astype(float)
    weights.setValues(np.concatenate(entries.transverse_cols).astype(PETSc.IntType),
                      -np.concatenate(entries.transverse_vals) / 24.0, addv=PETSc.InsertMode.ADD_VALUES)
    weights.assemble()
    return weights
