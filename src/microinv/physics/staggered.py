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
    from petsc4py import PETSc

    dim = grid.dim
    rows, cols, vals = [], [], []
    sums, where_sums = [], []

    def add(row, col, val, where, transverse=False):
        where = where & (col >= 0)
        val = np.broadcast_to(val, where.shape)[where]
        rows.append(row[where])
        cols.append(col[where])
        vals.append(val)
        if transverse:   # column sums of the transverse second differences
            where_sums.append(col[where])
            sums.append(val)

    for d in range(dim):
        row = grid.owned(d)
        here = row >= 0
        diagonal = np.zeros(row.shape)
        for e in range(dim):
            spacing, neighbours = [], []
            for sign in (1, -1):
                col = grid.neighbour(d, offset=unit(dim, e, sign))
                # Across the flow (e != d) a dropped neighbour face has a solid voxel
                # beside it, so the solid begins half a voxel away on the line through
                # the face centre. Along the flow the dropped face is itself the wall.
                half = (col < 0) if e != d else np.zeros(row.shape, dtype=bool)
                spacing.append(np.where(half, 0.5, 1.0))
                neighbours.append(col)
            weight = 2.0 / (spacing[0] + spacing[1])
            centre = weight * (1.0 / spacing[0] + 1.0 / spacing[1])
            diagonal += centre
            for h, col in zip(spacing, neighbours):
                add(row, col, -weight / h, here, transverse=e != d)
            if e != d:
                add(row, row, centre, here, transverse=True)
                diagonal -= centre
        add(row, row, diagonal, here)
        # pressure gradient (p_i - p_{i - e_d}) on the face between the two voxels
        add(row, grid.owned(dim), 1.0, here)
        add(row, grid.neighbour(dim, unit(dim, d, -1)), -1.0, here)

    row = grid.owned(dim)
    here = row >= 0
    for d in range(dim):   # divergence: u_d(upper face) - u_d(lower face)
        add(row, grid.neighbour(d, unit(dim, d)), 1.0, here)
        add(row, grid.owned(d), -1.0, here)

    # Local rows in CSR (duplicates summed), copied into PETSc's AIJ storage.
    from scipy import sparse

    local = sparse.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows) - grid.start, np.concatenate(cols))),
        shape=(grid.n_local, grid.size))
    local.sum_duplicates()
    mat = PETSc.Mat().createAIJ(
        size=((grid.n_local, grid.size), (grid.n_local, grid.size)),
        csr=(local.indptr.astype(PETSc.IntType), local.indices.astype(PETSc.IntType),
             local.data.astype(PETSc.ScalarType)), comm=grid.comm)
    del local, rows, cols, vals

    # Flux of a face = its mean velocity over the face, u + (1/24) sum_e d2u/de2 over
    # the transverse directions (exact for a parabola): w = 1 - colsum(A_transverse)/24.
    weights = mat.createVecRight()
    weights.array[:] = (grid.slots < dim).astype(float)
    weights.setValues(np.concatenate(where_sums).astype(PETSc.IntType),
                      -np.concatenate(sums) / 24.0, addv=PETSc.InsertMode.ADD_VALUES)
    weights.assemble()
    return mat, weights
