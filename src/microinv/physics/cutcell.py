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
them is open. For the clusters that span between two ends (fixed ends), the cells whose
faces are all open are labelled on the cell grid (`scipy.ndimage.label`: any two
neighbours among them are joined), and the open faces that meet another cell, or cross the
grid boundary, join those labels and the remaining cells in a sparse graph
(`scipy.sparse.csgraph.connected_components`); these cells and faces are a band along the
interface. For the clusters that wrap (periodic cell), cells and faces are laid out on one
grid of twice the size (cell p at 2p, the face above it along a at 2p + e_a), so that the
face-connected clusters of the voxel percolation functions
(`microinv.microstructure.percolation`) on that grid are exactly the clusters of cells
joined through open faces, periodic images included.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse import csgraph

from microinv.microstructure.percolation import periodic_labels, wrapping_mask
from microinv.physics.multigrid import along

__all__ = ["face_apertures", "cell_pore_fractions", "porosity", "OpenFaceGraph"]


def vertex_values(field: np.ndarray) -> np.ndarray:
    """f at the grid vertices: entry p is the vertex at p + (1/2, 1/2[, 1/2]), the mean of
    the 2^dim cells around it (periodic), in the precision of ``field``."""
    # One periodic layer after the last cell on every axis, consumed one axis at a time.
    values = np.pad(np.asarray(field), [(0, 1)] * np.ndim(field), mode="wrap")
    for a in range(values.ndim):
        values = 0.5 * (along(values, a, slice(0, -1)) + along(values, a, slice(1, None)))
    return values


def _triangle_pore_fraction(v0, v1, v2) -> np.ndarray:
    """Fraction of a triangle where the linear function with these vertex values is < 0.

    The values are ordered by a min/max network (exact: the same triple as a sort),
    v0 <= v1 <= v2; the fraction is 1 (v2 < 0), 0 (v0 >= 0), v0^2 / ((v0 - v1)(v0 - v2))
    (v0 < 0 <= v1) or 1 - v2^2 / ((v2 - v0)(v2 - v1)) (v1 < 0 <= v2), the last two
    evaluated on the triangles the interface crosses only, as w^2 / ((w - x)(w - y)) with
    the pivot w the value of the lone sign.
    """
    low, high = np.minimum(v0, v1), np.maximum(v0, v1)
    v0, v1, v2 = np.minimum(low, v2), np.maximum(low, np.minimum(high, v2)), np.maximum(high, v2)
    fraction = (v2 < 0).astype(float)
    crossed = np.flatnonzero((v0 < 0) & (v2 >= 0))
    v0, v1, v2 = v0.ravel()[crossed], v1.ravel()[crossed], v2.ravel()[crossed]
    one = v1 >= 0  # else v1 < 0 <= v2
    pivot = np.where(one, v0, v2)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = pivot * pivot / ((pivot - np.where(one, v1, v0)) * (pivot - np.where(one, v2, v1)))
    fraction.ravel()[crossed] = np.where(one, ratio, 1.0 - ratio)
    return fraction


def _segment_pore_fraction(u, v) -> np.ndarray:
    """Fraction of a segment where the linear function with end values u, v is < 0."""
    low, high = np.minimum(u, v), np.maximum(u, v)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(high < 0, 1.0, np.where(low < 0, -low / (high - low), 0.0))


def _shifted(x: np.ndarray, steps) -> np.ndarray:
    """View of a padded array: entry p is x[p + 1 + steps] on the cell grid, one of the
    views that `face_apertures` compares (``steps`` of -1, 0 or +1 per axis)."""
    return x[tuple(slice(1 + s, x.shape[b] - 1 + s) for b, s in enumerate(steps))]


#: Cut faces integrated at a time by `face_apertures` (work arrays that stay in cache).
CUT_FACES = 1 << 13


def _cut_apertures(cells, vertices, lower, above, corners) -> np.ndarray:
    """Apertures of cut faces: their triangles (2D: half segments) integrated in float64.

    ``cells`` and ``vertices`` are the flat padded arrays of `face_apertures`, ``lower``
    the flat index of each face's lower cell, ``above`` the offset of its upper cell and
    ``corners`` those of its corner vertices, in order around the face.
    """
    m = 0.5 * (cells.take(lower).astype(float) + cells.take(lower + above))
    values = [vertices.take(lower + offset).astype(float) for offset in corners]
    if len(values) == 2:
        return 0.5 * (_segment_pore_fraction(m, values[0]) + _segment_pore_fraction(m, values[1]))
    # The four triangles (centre, corner k, corner k + 1) at once, summed in order.
    values = np.stack(values)
    triangles = _triangle_pore_fraction(m, values, np.roll(values, -1, axis=0))
    return 0.25 * (triangles[0] + triangles[1] + triangles[2] + triangles[3])


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
    # values have one sign are open or closed whole. The field and the vertices are padded
    # by one periodic layer on each side, so that the neighbours of a face are views (signs)
    # and fixed offsets of a flat index (values), with no wrap-around arithmetic.
    field = np.asarray(field)
    dim = field.ndim
    shape = field.shape
    cells = np.pad(field, 1, mode="wrap")
    vertices = np.pad(vertex_values(field), 1, mode="wrap")
    pore_cell, pore_vertex = cells < 0, vertices < 0
    strides = [math.prod(cells.shape[b + 1:]) for b in range(dim)]
    apertures = []
    for a in range(dim):
        # Corners of the face above p along a, in order around it: vertices p + e_a/2 +- e_b/2
        # (+- e_c/2), i.e. vertex entries p and p - e_b along each transverse axis b.
        others = [b for b in range(dim) if b != a]
        shifts = [()] + ([(others[0],)] if dim == 2 else [(others[0],), tuple(others), (others[1],)])
        steps = [[-1 if b in shift else 0 for b in range(dim)] for shift in shifts]
        # The centre value (f_p + f_q) / 2 is < 0 where both cells are, >= 0 where neither is:
        # testing the two cells instead only adds faces to the integrated ones, where the
        # triangles give the same aperture.
        here, there = _shifted(pore_cell, [0] * dim), _shifted(pore_cell, [int(b == a) for b in range(dim)])
        every, some = here & there, here | there
        for step in steps:
            corner = _shifted(pore_vertex, step)
            every &= corner
            some |= corner
        aperture = every.astype(float)
        some &= ~every
        cut = np.flatnonzero(some)
        del every, some
        # Flat index in the padded arrays of the face's lower cell (p + 1 per axis).
        padded = sum((i + 1) * stride for i, stride in zip(np.unravel_index(cut, shape), strides))
        offsets = [int(np.dot(step, strides)) for step in steps]
        fraction = np.empty(cut.size)
        for first in range(0, cut.size, CUT_FACES):  # a range at a time: work arrays in cache
            chunk = slice(first, first + CUT_FACES)
            fraction[chunk] = _cut_apertures(cells.ravel(), vertices.ravel(), padded[chunk], strides[a], offsets)
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
    """Cells joined through open faces.

    Parameters
    ----------
    apertures : list of ndarray
        `face_apertures` of the cell.
    cut : list of bool
        Per axis, whether the faces across the grid boundary (between the last and the
        first cell) are closed: fixed ends along that axis, or no-flux sides.

    Attributes
    ----------
    open : list of bool ndarray
        Per axis a, entry p: the face above cell p along a is open (aperture > 0, and not
        across a cut grid boundary).
    has_open_face : bool ndarray
        Cells with an open face.
    doubled : bool ndarray, 2 n per axis
        Cell p at 2p (True where the cell has an open face), the face above it along a at
        2p + e_a (True where open); entries with two or more odd indices are False. Built
        when first read (wrapping clusters).
    """

    def __init__(self, apertures, cut):
        self.dim = dim = len(apertures)
        self.cut = list(cut)
        self.open = []
        has_open_face = np.zeros(apertures[0].shape, dtype=bool)
        for a, aperture in enumerate(apertures):
            open_face = aperture > 0
            if cut[a]:
                along(open_face, a, -1)[...] = False
            has_open_face |= open_face
            has_open_face |= np.roll(open_face, 1, axis=a)
            self.open.append(open_face)
        self.has_open_face = has_open_face
        self._doubled = None

    @property
    def doubled(self) -> np.ndarray:
        if self._doubled is None:
            doubled = np.zeros(tuple(2 * n for n in self.has_open_face.shape), dtype=bool)
            for a, open_face in enumerate(self.open):
                key = [slice(0, None, 2)] * self.dim
                key[a] = slice(1, None, 2)
                doubled[tuple(key)] = open_face
            doubled[(slice(0, None, 2),) * self.dim] = self.has_open_face
            self._doubled = doubled
        return self._doubled

    @staticmethod
    def cells(doubled: np.ndarray) -> np.ndarray:
        """The cell entries of a doubled-grid array."""
        return doubled[(slice(0, None, 2),) * doubled.ndim]

    def clusters(self) -> tuple[np.ndarray, np.ndarray]:
        """The clusters of cells joined through open faces, periodic across the grid
        boundaries that are not cut.

        Returns
        -------
        node : (M, N[, P]) int ndarray
            Per cell its node of the graph (0 for a cell without open faces): the label of
            the cells whose faces are all open (face-connected among them, not across the
            grid boundary), else a node of its own.
        cluster : (nodes,) int ndarray
            Per node its cluster; node 0 is a cluster of its own.
        """
        shape = self.has_open_face.shape
        inner = self.has_open_face.copy()
        for a, open_face in enumerate(self.open):
            inner &= open_face
            inner &= np.roll(open_face, 1, axis=a)
        node, count = ndimage.label(inner, structure=ndimage.generate_binary_structure(self.dim, 1))
        band = self.has_open_face & ~inner
        node[band] = np.arange(count + 1, count + 1 + np.count_nonzero(band), dtype=node.dtype)
        nodes = count + 1 + np.count_nonzero(band)
        strides = [math.prod(shape[b + 1:]) for b in range(self.dim)]
        flat = node.ravel()
        ends = []
        for a, open_face in enumerate(self.open):
            # Open faces that the labelling has not joined: those that meet a band cell, and
            # those across the grid boundary.
            joined = inner & np.roll(inner, -1, axis=a)
            along(joined, a, -1)[...] = False
            lower = np.flatnonzero(open_face & ~joined)
            upper = lower + strides[a]
            upper[lower // strides[a] % shape[a] == shape[a] - 1] -= shape[a] * strides[a]
            ends.append((flat.take(lower), flat.take(upper)))
        u, v = (np.concatenate([e[k] for e in ends]) for k in (0, 1))
        graph = sparse.coo_matrix((np.ones(u.size, dtype=np.int8), (u, v)), shape=(nodes, nodes)).tocsr()
        return node, csgraph.connected_components(graph, directed=False)[1]

    def spanning(self, axis: int) -> np.ndarray:
        """Cells of the clusters joining the first and the last slice of cells along
        ``axis``, whose faces across the grid boundary must be cut; the clusters are
        periodic across the side boundaries that are not cut."""
        if not self.cut[axis]:
            raise ValueError(f"spanning along axis {axis} needs its faces across the grid boundary cut")
        node, cluster = self.clusters()
        ends = []
        for end in (0, -1):
            touches = np.zeros(cluster.max() + 1, dtype=bool)
            touches[cluster[along(node, axis, end)]] = True
            ends.append(touches)
        spans = (ends[0] & ends[1])[cluster]
        spans[0] = False
        return spans[node]

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
