"""Cut-cell geometry of a smooth interface f = 0 on the voxel grid: face apertures, cell
pore fractions, and the clusters of cells joined through open faces.

The structure is the level set of a continuous field f given at the voxel centres (pore
where f < 0, solid where f >= 0, `microinv.checks.check_field`); the interface is the
surface f = 0 of its piecewise-linear interpolation, not the staircase of the voxels.

Apertures
---------
The face between cell p and its neighbour p + e_a is the unit square (3D) or segment (2D)
at x_a = p_a + 1/2. f is interpolated to its corners, the grid vertices, as the mean of the
2^dim cells around each vertex (multilinear interpolation, second order), and to its centre
as the mean of the two cells it joins (linear along the link, second order). The square is
split into the four triangles spanned by its centre and two adjacent corners (the segment
into its two halves); f is linear on each, and the aperture is the exact pore fraction of
that piecewise-linear f,

    A_a(p + e_a/2) = (1/4) sum_{triangles T} |{x in T : f(x) < 0}| / |T|,

where a triangle with vertex values v0 <= v1 <= v2 has the pore fraction 1 (v2 < 0), 0
(v0 >= 0), v0^2 / ((v0 - v1)(v0 - v2)) (v0 < 0 <= v1) or 1 - v2^2 / ((v2 - v0)(v2 - v1))
(v1 < 0 <= v2); a half-segment with end values u, v of opposite sign has -u / (v - u) for
u < 0. For a field that is linear across a face (a planar interface) the aperture is exact,
so a slit or slab aligned with the grid gets its exact open area. The flux through a face
is its aperture times the difference of the two cell values (Ng, Min & Gibou, J. Comput.
Phys. 228, 8807 (2009), for a no-flux interface); measured second order in the voxel size
for the effective diffusivity (benchmarks/RESULTS.md). Only the values at the voxel centres
enter: a feature thinner than the spacing of two centres of one sign is not seen.

Cell pore fractions
-------------------
phi_p = mean of the apertures of the 2 dim faces of cell p. Summed over the grid this is
the midpoint rule, along each axis, of the pore area of the planes x_a = const, averaged
over the axes: a second-order estimate of the pore volume of curved interfaces, the
porosity of levelset mode (for a plane aligned with the grid the faces parallel to it are
open or closed whole, and the estimate can be off by a third of a voxel layer).

Open faces and clusters
-----------------------
A face is open when its aperture is > 0, and two cells are joined when the face between
them is open. Cells and faces are laid out on one grid of twice the size (cell p at 2p,
the face above it along a at 2p + e_a), so that the face-connected clusters of the voxel
percolation functions (`microinv.microstructure.percolation`) on that grid are exactly the
clusters of cells joined through open faces, periodic images included.
"""

from __future__ import annotations

import numpy as np

from microinv.microstructure.percolation import periodic_labels, spanning_mask, wrapping_mask
from microinv.physics.multigrid import along

__all__ = ["face_apertures", "cell_pore_fractions", "porosity", "OpenFaceGraph"]


def vertex_values(field: np.ndarray) -> np.ndarray:
    """f at the grid vertices: entry p is the vertex at p + (1/2, 1/2[, 1/2]), the mean of
    the 2^dim cells around it (periodic), in the precision of ``field``."""
    values = np.asarray(field)
    for a in range(values.ndim):
        values = 0.5 * (values + np.roll(values, -1, axis=a))
    return values


def _triangle_pore_fraction(v0, v1, v2) -> np.ndarray:
    """Fraction of a triangle where the linear function with these vertex values is < 0."""
    v0, v1, v2 = np.sort(np.stack(np.broadcast_arrays(v0, v1, v2)), axis=0)
    fraction = (v2 < 0).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        one = (v0 < 0) & (v1 >= 0)
        fraction = np.where(one, v0 * v0 / ((v0 - v1) * (v0 - v2)), fraction)
        two = (v1 < 0) & (v2 >= 0)
        fraction = np.where(two, 1.0 - v2 * v2 / ((v2 - v0) * (v2 - v1)), fraction)
    return fraction


def _segment_pore_fraction(u, v) -> np.ndarray:
    """Fraction of a segment where the linear function with end values u, v is < 0."""
    low, high = np.minimum(u, v), np.maximum(u, v)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(high < 0, 1.0, np.where(low < 0, -low / (high - low), 0.0))


def face_apertures(field: np.ndarray) -> list:
    """Open (pore) fraction of every face, per axis.

    Parameters
    ----------
    field : (M, N[, P]) float ndarray
        f at the voxel centres; pore where f < 0. The cell is periodic.

    Returns
    -------
    list of (M, N[, P]) float64 ndarray
        Entry a, p: aperture A_a of the face between cell p and cell p + e_a (periodically
        the first cell after the last), in [0, 1]; see the module docstring.
    """
    # Whole-grid work on signs only (bool arrays); the values of the cut faces, a band along
    # the interface, are gathered and integrated in float64. Faces whose five (2D: three)
    # values have one sign are open or closed whole.
    field = np.asarray(field)
    dim = field.ndim
    shape = field.shape
    vertices = vertex_values(field)
    pore_vertex, pore_cell = vertices < 0, field < 0
    apertures = []
    for a in range(dim):
        # The centre value (f_p + f_q) / 2 is < 0 where both cells are, >= 0 where neither is:
        # testing the two cells instead only adds faces to the integrated ones, where the
        # triangles give the same aperture.
        pore_next = np.roll(pore_cell, -1, axis=a)
        # Corners of the face above p along a, in order around it: vertices p + e_a/2 +- e_b/2
        # (+- e_c/2), i.e. vertex entries p and p - e_b along each transverse axis b.
        others = [b for b in range(dim) if b != a]
        shifts = [()] + ([(others[0],)] if dim == 2 else [(others[0],), tuple(others), (others[1],)])
        every, some = pore_cell & pore_next, pore_cell | pore_next
        for shift in shifts:
            corner = np.roll(pore_vertex, (1,) * len(shift), axis=shift) if shift else pore_vertex
            every &= corner
            some |= corner
        aperture = every.astype(float)
        cut = np.flatnonzero(some & ~every)
        del every, some, pore_next
        index = np.unravel_index(cut, shape)
        above = list(index)
        above[a] = (above[a] + 1) % shape[a]
        m = 0.5 * (field[index].astype(float) + field[tuple(above)])
        corners = []
        for shift in shifts:
            at = list(index)
            for b in shift:
                at[b] = (at[b] - 1) % shape[b]
            corners.append(vertices[tuple(at)].astype(float))
        if dim == 2:
            fraction = 0.5 * (_segment_pore_fraction(m, corners[0]) + _segment_pore_fraction(m, corners[1]))
        else:
            fraction = 0.25 * sum(_triangle_pore_fraction(m, corners[k], corners[(k + 1) % 4]) for k in range(4))
        aperture.ravel()[cut] = fraction
        apertures.append(aperture)
    return apertures


def cell_pore_fractions(apertures) -> np.ndarray:
    """phi_p: the mean aperture of the 2 dim faces of each cell (see the module docstring)."""
    dim = len(apertures)
    total = np.zeros(apertures[0].shape)
    for a, aperture in enumerate(apertures):
        total += aperture + np.roll(aperture, 1, axis=a)
    return total / (2 * dim)


def porosity(apertures) -> float:
    """The mean of `cell_pore_fractions`: (1/dim) sum_a mean(A_a), each face counted once."""
    return float(sum(aperture.mean() for aperture in apertures) / len(apertures))


class OpenFaceGraph:
    """Cells joined through open faces, laid out on the doubled grid.

    Parameters
    ----------
    apertures : list of ndarray
        `face_apertures` of the cell.
    cut : list of bool
        Per axis, whether the faces across the grid boundary (between the last and the
        first cell) are closed: fixed ends along that axis, or no-flux sides.

    Attributes
    ----------
    doubled : bool ndarray, 2 n per axis
        Cell p at 2p (True where the cell has an open face), the face above it along a at
        2p + e_a (True where open); entries with two or more odd indices are False.
    """

    def __init__(self, apertures, cut):
        dim = len(apertures)
        shape = apertures[0].shape
        doubled = np.zeros(tuple(2 * n for n in shape), dtype=bool)
        has_open_face = np.zeros(shape, dtype=bool)
        for a, aperture in enumerate(apertures):
            open_face = aperture > 0
            if cut[a]:
                along(open_face, a, -1)[...] = False
            has_open_face |= open_face | np.roll(open_face, 1, axis=a)
            key = [slice(0, None, 2)] * dim
            key[a] = slice(1, None, 2)
            doubled[tuple(key)] = open_face
        doubled[(slice(0, None, 2),) * dim] = has_open_face
        self.doubled = doubled
        self.dim = dim

    @staticmethod
    def cells(doubled: np.ndarray) -> np.ndarray:
        """The cell entries of a doubled-grid array."""
        return doubled[(slice(0, None, 2),) * doubled.ndim]

    def spanning(self, axis: int, *, periodic_sides: bool) -> np.ndarray:
        """Doubled-grid mask of the clusters joining the first and the last slice of cells
        along ``axis`` (the faces across the ends along it must be cut)."""
        n = self.doubled.shape[axis]
        trimmed = along(self.doubled, axis, slice(0, n - 1))  # last entry: the closed wrap faces
        spanning = np.zeros_like(self.doubled)
        along(spanning, axis, slice(0, n - 1))[...] = spanning_mask(trimmed, axis, periodic_sides=periodic_sides)
        return spanning

    def wrapping(self, axis: int) -> np.ndarray:
        """Doubled-grid mask of the clusters that wrap along ``axis`` (periodic cell)."""
        return wrapping_mask(self.doubled, axis)

    @staticmethod
    def pinned_cells(doubled: np.ndarray) -> np.ndarray:
        """Flat (C-order) index, on the cell grid, of the first cell of every periodic
        cluster of the doubled-grid mask ``doubled`` (one pinned unknown per cluster)."""
        labels, _ = periodic_labels(doubled)
        cells = OpenFaceGraph.cells(labels).ravel()
        ids, first = np.unique(cells, return_index=True)
        return first[ids > 0]
