"""Aggregation multigrid for cell-centred finite-volume diffusion on a DMDA decomposition.

A level carries a symmetric positive definite operator on the cells that hold an unknown,

    (A u)_p = sum_a [ K_a(p - 1/2) (u_p - u_{p-e_a}) + K_a(p + 1/2) (u_p - u_{p+e_a}) ] + d_p u_p,

with K_a >= 0 the conductance of the face between two cells along axis a (zero unless both
hold an unknown) and d_p >= 0 the conductance from p to cells of fixed value (Dirichlet
slices, pinned cells). Only cells with an unknown become rows: vectors and matrices are
compressed to them, while the grid of each level and its distribution over the ranks come
from a DMDA (see `hierarchy`).

Coarse levels aggregate blocks of 2 x 2 (x 2) cells. With the piecewise-constant
prolongation P (1 from a block to each of its unknown cells) the Galerkin product P^T A P
has the same form: a coarse face conductance is the sum of the fine conductances crossing
that face, faces inside a block drop out, and d sums over the block. These coarsened
conductances are computed on each rank's own block without communication: all grids of the
hierarchy share one decomposition, so a block of fine cells never straddles two ranks.

Each coarse operator is that product times ``COARSE_SCALE`` = 0.55. The plain product is
about twice too stiff for smooth errors (a face conductance scales as h^(dim - 2) while the
Galerkin sum adds 2^(dim - 1) fine faces), so its correction falls short by half; scaling
it by 1/2 makes it the rediscretisation on the coarse grid. For the W-cycle used here the
factor must stay above 1/2: the error of a smooth mode after a coarse correction is
e <- 1 - (1 - e_c^2) / s with e_c that of the coarser cycle, which stays in (-1, 1), i.e.
the preconditioner stays positive definite, only for s > 1/2 (s = 0.45 gives an
indefinite preconditioner on periodic problems). Measured on five prior spinodoids at
64^3-128^3: 8-11 CG iterations to 1e-6 with s = 0.55 and a W-cycle, against 10-18 with
s = 0.5 and a V-cycle and about twice that with the plain Galerkin product.

`galerkin_hierarchy` builds the same aggregation for an operator that is already
assembled (the Stokes velocity block, one field per velocity component, and its Darcy
matrix; `microinv.physics.stokes`): the blocks are formed on each rank's own block of
cells, the coarse operators are PETSc's Galerkin products times ``COARSE_SCALE``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from microinv.physics.toolkit import default_options

#: Galerkin-to-rediscretisation factor of the coarse operators (see module docstring).
COARSE_SCALE = 0.55


@dataclasses.dataclass
class Grid:
    """One grid of the hierarchy and this rank's block of it.

    Attributes
    ----------
    shape : tuple of int
        Cells per axis (numpy axis order).
    block : tuple of slice
        The block of cells this rank owns.
    procs : tuple of int
        Ranks per axis; ranks are numbered in C order over this process grid (PETSc's DMDA
        numbering with its dimensions reversed).
    coords : tuple of int
        This rank's position in the process grid.
    comm : petsc4py.PETSc.Comm
    """

    shape: tuple
    block: tuple
    procs: tuple
    coords: tuple
    comm: object

    def neighbour(self, axis: int, step: int) -> int:
        """Rank owning the block next to this one along ``axis`` (periodically)."""
        coords = list(self.coords)
        coords[axis] = (coords[axis] + step) % self.procs[axis]
        return int(np.ravel_multi_index(coords, self.procs))


@dataclasses.dataclass
class Level:
    """The operator's coefficients on one grid, on this rank's block.

    Attributes
    ----------
    grid : Grid
    faces : list of ndarray
        Per axis a, the conductances K_a of the faces of the owned cells along a: shape of the
        block with one more entry along a; entry i is the face below owned cell i (entry 0
        enters the block from the rank or the periodic image below).
    sink : (block) ndarray
        d_p, the conductance to cells of fixed value.
    unknown : (block) bool ndarray
        Cells that hold an unknown.
    """

    grid: Grid
    faces: list
    sink: np.ndarray
    unknown: np.ndarray


def along(x: np.ndarray, axis: int, index) -> np.ndarray:
    """``x`` indexed by ``index`` along ``axis`` (all of every other axis)."""
    key = [slice(None)] * x.ndim
    key[axis] = index
    return x[tuple(key)]


def hierarchy(shape, comm, *, coarsest_cells: int) -> list:
    """Grids of the multigrid hierarchy, finest first, sharing one decomposition.

    Each level halves the previous one (ceil(n / 2) cells per axis) until the grid has at
    most ``coarsest_cells`` cells per rank; that grid is solved by a direct method (LU,
    redundant on every rank). Fine blocks are multiples of the coarsest ones, so more
    coarsest cells per rank also balance the fine blocks better. A DMDA on the
    coarsest grid decides the distribution (PETSc's choice of process grid and ranges);
    every finer grid is its uniform refinement, so a block of 2^dim fine cells never
    straddles two ranks and each level is coarsened without communication. (A DMDA on the
    fine grid itself would cost about 1 s to set up at 192^3 for ghost scatters these
    compressed operators do not use.)
    """
    from petsc4py import PETSc

    shapes = [tuple(int(n) for n in shape)]
    while math.prod(shapes[-1]) > coarsest_cells * comm.getSize() and max(shapes[-1]) > 1:
        shapes.append(tuple(-(-n // 2) for n in shapes[-1]))
    dim = len(shape)
    da = PETSc.DMDA().create(
        dim=dim,
        dof=1,
        sizes=shapes[-1][::-1],
        boundary_type=(PETSc.DM.BoundaryType.PERIODIC,) * dim,
        stencil_type=PETSc.DMDA.StencilType.STAR,
        stencil_width=1,
        comm=comm,
    )
    counts = [np.asarray(c) for c in da.getOwnershipRanges()[::-1]]
    starts = [start for start, _ in da.getRanges()[::-1]]
    da.destroy()
    procs = tuple(c.size for c in counts)
    coords = tuple(int(np.searchsorted(np.cumsum(c) - c, s)) for c, s in zip(counts, starts))
    grids = []
    for level, sizes in enumerate(shapes):
        factor = 2 ** (len(shapes) - 1 - level)
        block = []
        for n, c, k in zip(sizes, counts, coords):
            bounds = np.minimum(np.cumsum(c) * factor, n)
            block.append(slice(int(bounds[k - 1]) if k else 0, int(bounds[k])))
        grids.append(Grid(shape=sizes, block=tuple(block), procs=procs, coords=coords, comm=comm))
    return grids


def _pairsum(x: np.ndarray, axis: int) -> np.ndarray:
    """Sum neighbouring pairs of slices along ``axis`` (a lone last slice stays alone)."""
    total = along(x, axis, slice(0, None, 2)).astype(float)
    along(total, axis, slice(0, x.shape[axis] // 2))[...] += along(x, axis, slice(1, None, 2))
    return total


def _blocksum(x: np.ndarray, axes) -> np.ndarray:
    for a in axes:
        x = _pairsum(x, a)
    return x


def coarsen(fine: Level, grid: Grid) -> Level:
    """The next coarser level: ``COARSE_SCALE`` times the Galerkin product P^T A P."""
    dim = fine.unknown.ndim
    faces = []
    for a in range(dim):
        n = fine.unknown.shape[a]
        # Faces below coarse cells: below fine cells 0, 2, 4, ..., plus the face above the block.
        kept = along(fine.faces[a], a, slice(0, n + 1, 2))
        if n % 2:
            kept = np.concatenate([kept, along(fine.faces[a], a, slice(n, n + 1))], axis=a)
        faces.append(COARSE_SCALE * _blocksum(kept, [b for b in range(dim) if b != a]))
    return Level(
        grid=grid,
        faces=faces,
        sink=COARSE_SCALE * _blocksum(fine.sink, range(dim)),
        unknown=_blocksum(fine.unknown, range(dim)) > 0,
    )


class Numbering:
    """Global row numbers of a level's unknown cells: rank by rank, C order in a block.

    ``ghosted`` holds the numbers of the owned cells and of the face-neighbouring cells
    around the block (-1 where no unknown), exchanged with the neighbouring ranks.
    (A red-black order makes PETSc's SOR sweeps about 20 % faster but smooths worse
    here: measured, no gain.)
    """

    def __init__(self, level: Level):
        from petsc4py import PETSc

        unknown = level.unknown
        grid = level.grid
        comm = grid.comm.tompi4py()
        dim = unknown.ndim
        self.count = int(np.count_nonzero(unknown))
        self.start = comm.exscan(self.count) or 0
        self.total = comm.allreduce(self.count)
        self.ghosted = np.full(tuple(n + 2 for n in unknown.shape), -1, dtype=PETSc.IntType)
        ids = self.ghosted[(slice(1, -1),) * dim]
        ids[unknown] = np.arange(self.start, self.start + self.count, dtype=PETSc.IntType)
        self.cells = np.flatnonzero(self.ghosted >= 0)  # flat ghosted index of each row
        for a in range(dim):
            for step in (-1, 1):
                # Our first (last) layer is the halo above (below) the neighbour below (above).
                send = np.ascontiguousarray(along(ids, a, 0 if step < 0 else -1))
                recv = np.empty_like(send)
                comm.Sendrecv(send, dest=grid.neighbour(a, step), recvbuf=recv, source=grid.neighbour(a, -step))
                halo = [slice(1, -1)] * dim
                halo[a] = -1 if step < 0 else 0
                self.ghosted[tuple(halo)] = recv

    def neighbours(self, axis: int, step: int) -> np.ndarray:
        """Ids of the neighbour at ``step`` (-1, 0, +1) along ``axis`` of every owned cell."""
        key = [slice(1, -1)] * self.ghosted.ndim
        key[axis] = slice(1 + step, self.ghosted.shape[axis] - 1 + step)
        return self.ghosted[tuple(key)]


#: Rows assembled at a time, to bound the work arrays.
ASSEMBLY_ROWS = 1 << 18


def assemble(level: Level, numbering: Numbering):
    """The level's operator as an AIJ matrix on its unknowns.

    CSR rows are built vectorised, a range of rows at a time: one column per stencil slot
    (-e0, ..., diagonal, ..., +e0: ascending inside a block), gathered with ``take`` from
    the ghosted numbering, and the face conductances and sink from the level's own arrays
    at the owned index of each row (no padded copies of them); entries of zero
    conductance are dropped, and the rows of the block's boundary layers (the only ones
    whose neighbours can wrap around a periodic or rank boundary) sorted. The arrays are
    handed to PETSc without a copy (``createAIJWithArrays``; split into the diagonal and
    off-diagonal blocks on several ranks) and kept alive on the returned matrix.
    """
    from petsc4py import PETSc

    dim = level.unknown.ndim
    n = numbering.count
    shape = numbering.ghosted.shape
    strides = [math.prod(shape[a + 1 :]) for a in range(dim)]
    ids = numbering.ghosted.ravel()
    # Faces and sink are read in their own layouts, at the owned (C-order) index o of each
    # row: the face below the cell along a is o + (o // (m_a P_a)) P_a in an array with one
    # more slice along a (P_a cells per slice of the block), the face above P_a further.
    owned = np.flatnonzero(level.unknown)
    faces = [np.ravel(f) for f in level.faces]
    slices = [math.prod(level.unknown.shape[a + 1 :]) for a in range(dim)]
    blocks = [level.unknown.shape[a] * slices[a] for a in range(dim)]
    sink = np.ravel(level.sink)
    edge = np.ones(shape, dtype=bool)
    edge[(slice(2, -2),) * dim] = False
    # Interior faces serve two rows, faces on the block's boundary one.
    nnz = n + sum(2 * np.count_nonzero(along(f, a, slice(1, -1))) + np.count_nonzero(along(f, a, 0))
                  + np.count_nonzero(along(f, a, -1)) for a, f in enumerate(level.faces))
    slots = [(a, -1) for a in range(dim)] + [(None, 0)] + [(a, +1) for a in reversed(range(dim))]
    # Off-process columns occur only in the rows of the block's boundary layers.
    remote = len(slots) * int(np.count_nonzero(edge.ravel().take(numbering.cells)))
    arrays = CSR(n, nnz, remote if level.grid.comm.getSize() > 1 else None, start=numbering.start)
    for first in range(0, n, ASSEMBLY_ROWS):
        cells = numbering.cells[first : first + ASSEMBLY_ROWS]
        index = owned[first : first + ASSEMBLY_ROWS]
        cols = np.empty((len(slots), cells.size), dtype=PETSc.IntType)
        vals = np.empty((len(slots), cells.size))
        diagonal = sink.take(index).astype(float)
        below = [index + index // blocks[a] * slices[a] if a else index for a in range(dim)]
        for k, (a, step) in enumerate(slots):
            if a is None:
                continue
            conductance = faces[a].take(below[a] if step < 0 else below[a] + slices[a])
            diagonal += conductance
            np.negative(conductance, out=vals[k], dtype=float)
            ids.take(cells + step * strides[a], out=cols[k])
        vals[dim] = diagonal
        cols[dim] = np.arange(numbering.start + first, numbering.start + first + cells.size)
        # Row-major views of the slot-major arrays.
        cols, vals = cols.T, vals.T
        present = vals != 0
        sort_rows(np.flatnonzero(edge.take(cells)), present, cols, vals)
        arrays.append(present, cols, vals)
    size = ((n, numbering.total), (n, numbering.total))
    mat = PETSc.Mat().createAIJWithArrays(size, arrays.csr, comm=level.grid.comm)
    mat.setOption(PETSc.Mat.Option.SPD, True)
    mat.setAttr("csr", arrays.csr)  # the matrix works on these arrays in place
    return mat


class CSR:
    """CSR arrays filled range of rows by range of rows: one block of ``nnz`` entries, or
    (several ranks, ``remote`` not None) the diagonal block (local columns, the global
    columns ``start <= j < stop``; ``stop = start + rows`` for a square matrix) and the
    off-diagonal block of at most ``remote`` entries (global columns) that
    MatCreateMPIAIJWithSplitArrays takes."""

    def __init__(self, rows: int, nnz: int, remote: int | None, *, start: int,
                 stop: int | None = None):
        from petsc4py import PETSc

        def empty(size):
            return [np.zeros(rows + 1, dtype=PETSc.IntType), np.empty(size, dtype=PETSc.IntType), np.empty(size)]

        self.blocks = [empty(nnz)] + ([empty(remote)] if remote is not None else [])
        self.start, self.stop = start, start + rows if stop is None else stop
        self.row = 0
        self.ends = [0] * len(self.blocks)

    def append(self, present, cols, vals) -> None:
        """Add rows: ``present`` entries of ``cols`` (global) and ``vals``, row-major."""
        if len(self.blocks) == 1:
            pieces = [(present, cols)]
        else:
            local = present & (cols >= self.start) & (cols < self.stop)
            pieces = [(local, cols - self.start), (present & ~local, cols)]
        m = vals.shape[0]
        for b, ((mask, columns), (indptr, j, a)) in enumerate(zip(pieces, self.blocks)):
            counts = mask.sum(axis=1, dtype=indptr.dtype)
            np.cumsum(counts, out=indptr[self.row + 1 : self.row + m + 1])
            indptr[self.row + 1 : self.row + m + 1] += self.ends[b]
            end = int(indptr[self.row + m])
            j[self.ends[b] : end] = columns[mask]
            a[self.ends[b] : end] = vals[mask]
            self.ends[b] = end
        self.row += m

    @property
    def csr(self):
        blocks = [(indptr, j[:end], a[:end]) for (indptr, j, a), end in zip(self.blocks, self.ends)]
        return blocks[0] if len(blocks) == 1 else tuple(blocks)


def sort_rows(rows, present, cols, vals) -> None:
    """Sort the present columns of ``rows`` (absent ones last) and merge repeated columns,
    in place. Repeats come from axes of one or two cells, where the periodic neighbours
    below and above are one cell, or the cell itself (the merged diagonal then drops the
    conductance of a face that joins a cell to itself)."""
    if rows.size == 0:
        return
    key = np.where(present[rows], cols[rows], np.iinfo(cols.dtype).max)
    order = np.argsort(key, axis=1, kind="stable")
    p, c, v = (np.take_along_axis(array[rows], order, axis=1) for array in (present, cols, vals))
    for j in range(1, p.shape[1]):
        repeat = p[:, j] & p[:, j - 1] & (c[:, j] == c[:, j - 1])
        v[repeat, j] += v[repeat, j - 1]
        p[repeat, j - 1] = False
    present[rows], cols[rows], vals[rows] = p, c, v


def prolongation(fine: Level, fine_numbering: Numbering, coarse_numbering: Numbering):
    """Piecewise-constant prolongation: each fine unknown takes its block's coarse value."""
    from petsc4py import PETSc

    coarse = coarse_numbering.neighbours(0, 0) - coarse_numbering.start  # local: blocks stay on their rank
    expanded = coarse.reshape([m for n in coarse.shape for m in (n, 1)])
    expanded = np.broadcast_to(expanded, [m for n in coarse.shape for m in (n, 2)])
    index = expanded.reshape([2 * n for n in coarse.shape])[tuple(slice(0, n) for n in fine.unknown.shape)]
    n = fine_numbering.count
    diag = (np.arange(n + 1, dtype=PETSc.IntType), index[fine.unknown], np.ones(n))
    csr = diag
    if fine.grid.comm.getSize() > 1:
        csr = (diag, (np.zeros(n + 1, dtype=PETSc.IntType), np.zeros(0, dtype=PETSc.IntType), np.zeros(0)))
    size = ((n, fine_numbering.total), (coarse_numbering.count, coarse_numbering.total))
    mat = PETSc.Mat().createAIJWithArrays(size, csr, comm=fine.grid.comm)
    mat.setAttr("csr", csr)
    return mat


def solver(mats, prolongations, *, rtol: float, prefix: str, defaults: dict):
    """A KSP preconditioned by the multigrid V-cycle over ``mats`` (finest first).

    ``defaults`` are PETSc options (without the prefix) that apply unless the options
    database sets them under ``prefix``; ``rtol`` likewise (``-<prefix>ksp_rtol`` wins).
    """
    from petsc4py import PETSc

    nlevels = len(mats)
    ksp = PETSc.KSP().create(mats[0].comm)
    ksp.setOptionsPrefix(prefix)
    ksp.setOperators(mats[0])
    ksp.setTolerances(rtol=rtol, atol=0.0)
    ksp.setInitialGuessNonzero(True)
    pc = ksp.getPC()
    pc.setType(PETSc.PC.Type.MG)
    pc.setMGLevels(nlevels)
    for k, (mat, interp) in enumerate(zip(mats[:-1], prolongations)):
        level = nlevels - 1 - k  # PETSc counts levels from the coarsest (0)
        pc.setMGInterpolation(level, interp)
        pc.getMGSmoother(level).setOperators(mat)
    pc.getMGCoarseSolve().setOperators(mats[-1])
    with default_options(prefix, defaults):  # PCMG reads its smoothers' options during set-up
        ksp.setFromOptions()
        ksp.setUp()
    return ksp


def galerkin_hierarchy(fine, unknowns: list, *, coarsest_cells: int):
    """Operators and prolongations of aggregation multigrid on an assembled operator.

    ``fine`` is an AIJ matrix whose locally owned rows are the True cells of the arrays
    in ``unknowns``, each a block of cells of this rank (one array per decoupled field,
    e.g. the velocity components of a MAC grid), field by field and in C order within a
    field. Each coarser level aggregates blocks of 2 x 2 (x 2) cells of the rank's block
    and field (aggregates never straddle ranks or fields); with the piecewise-constant
    prolongation P its operator is ``COARSE_SCALE`` times the Galerkin product P^T A P
    (computed by PETSc, so ``fine`` need not be symmetric nor of the finite-volume form
    of `Level`). Coarsening stops at ``coarsest_cells`` cells per rank, or when no
    block can be halved. Returns ``(mats, prolongations)`` for `solver`, finest first;
    ``mats[0]`` is ``fine`` itself.
    """
    from petsc4py import PETSc

    comm = fine.comm.tompi4py()
    mats, prolongations = [fine], []
    while (comm.allreduce(sum(int(np.count_nonzero(u)) for u in unknowns))
           > coarsest_cells * comm.size and comm.allreduce(max(max(u.shape) for u in unknowns)) > 1):
        dim = unknowns[0].ndim
        coarse = [_blocksum(u, range(dim)) > 0 for u in unknowns]
        count = sum(int(np.count_nonzero(c)) for c in coarse)
        start = comm.exscan(count) or 0
        cols, first = [], start
        for u, c in zip(unknowns, coarse):
            number = np.cumsum(c.ravel(), dtype=PETSc.IntType) - 1 + first
            cells = np.unravel_index(np.flatnonzero(u), u.shape)
            cols.append(number[np.ravel_multi_index(tuple(i // 2 for i in cells), c.shape)])
            first += int(np.count_nonzero(c))
        n = sum(col.size for col in cols)
        diag = (np.arange(n + 1, dtype=PETSc.IntType), np.concatenate(cols) - start, np.ones(n))
        csr = diag if comm.size == 1 else (
            diag, (np.zeros(n + 1, dtype=PETSc.IntType), np.zeros(0, dtype=PETSc.IntType), np.zeros(0)))
        interp = PETSc.Mat().createAIJWithArrays(((n, PETSc.DECIDE), (count, PETSc.DECIDE)), csr,
                                                 comm=fine.comm)
        interp.setAttr("csr", csr)
        operator = mats[-1].ptap(interp)
        operator.scale(COARSE_SCALE)
        mats.append(operator)
        prolongations.append(interp)
        unknowns = coarse
    return mats, prolongations
