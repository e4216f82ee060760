"""Percolation of one phase of a voxel structure: clusters, spanning and wrapping ones.

Two voxels of a phase are connected when they share a face (6-connectivity in 3D,
4-connectivity in 2D). A *cluster* is a connected component of the phase; in a cell
periodic along some axes, faces across those axes connect too (`periodic_labels`, the
one cluster labelling of the package, used by the solvers of `microinv.physics`).

* A cluster **spans** along an axis when it contains a voxel of the first slice and a
  voxel of the last slice along that axis. This is the criterion of a fixed
  inlet/outlet experiment. The other ("side") axes are either walls (non-periodic) or
  periodic: with ``periodic_sides=True`` a voxel on the last slice along a side axis is
  also a neighbour of the voxel on the first slice, so clusters merge across the sides.
* A cluster **wraps** along an axis in a fully periodic cell when, in the infinite
  periodic tiling of the cell, it connects to its own image shifted by a lattice vector
  whose component along that axis is nonzero; it is then infinite along that axis and
  carries a macroscopic flux under periodic homogenization. Touching both faces is
  not enough: a staircase that meets the first face at one place and the last face at
  another, where the facing voxels across the periodic boundary are not in the phase,
  spans but does not wrap. Conversely a cluster can wrap without spanning inside the
  cell, by closing on its image through the side faces.
* A cluster **touches the boundary** of the (non-periodic) box when it has a voxel on the
  first or last slice along some axis (`boundary_mask`): the clusters that boundary
  conditions on the whole outer boundary reach.

The phase is labelled with :func:`scipy.ndimage.label`; periodic faces are handled on the
(few) label pairs that meet across them and mapped back through lookup tables, never per
voxel.

Arguments are checked by `microinv.checks`: a structure is uint8 with 1 = solid and 0 =
pore, a mask any 2D or 3D array (nonzero = in the phase), an axis 0, 1 or 2 (x, y, z) and
a phase 0 or 1; anything else raises `microinv.errors.InputError` naming it.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse import csgraph

from microinv.checks import check_axis, check_mask, check_phase, check_structure

__all__ = ["periodic_labels", "spanning_mask", "wrapping_mask", "percolates", "percolation_flags"]


def _label(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """Face-connected components of ``mask``; label 0 is the other phase."""
    structure = ndimage.generate_binary_structure(mask.ndim, 1)
    return ndimage.label(mask, structure=structure)


def _face_pairs(labels: np.ndarray, count: int, axis: int) -> np.ndarray:
    """Distinct label pairs (u, v), u on the last slice along ``axis``, v facing it on
    the first slice; the periodic neighbour of u's voxel is v's voxel one cell further.

    Returns an int64 array of shape (P, 2).
    """
    last = np.take(labels, -1, axis=axis).ravel()
    first = np.take(labels, 0, axis=axis).ravel()
    both = (last > 0) & (first > 0)
    base = np.int64(count) + 1
    codes = np.unique(last[both].astype(np.int64) * base + first[both])
    return np.stack([codes // base, codes % base], axis=1)


def _touching(labels: np.ndarray, count: int, axis: int, index: int) -> np.ndarray:
    """Boolean flag per label (0..count): the label occurs on slice ``index`` of ``axis``."""
    flags = np.zeros(count + 1, dtype=bool)
    flags[np.take(labels, index, axis=axis)] = True
    flags[0] = False
    return flags


def _cluster_ids(labels: np.ndarray, count: int, periodic_axes) -> np.ndarray:
    """Cluster id per label (0..count) after merging labels across periodic faces.

    Label 0 (the other phase) keeps id 0, and the ids 1..n follow the smallest label of
    each cluster (the merge of `periodic_labels`). Without periodic axes the id is the label.
    """
    if not periodic_axes:
        return np.arange(count + 1)
    pairs = np.concatenate([_face_pairs(labels, count, a) for a in periodic_axes])
    graph = sparse.coo_matrix(
        (np.ones(len(pairs), dtype=np.int8), (pairs[:, 0], pairs[:, 1])),
        shape=(count + 1, count + 1),
    ).tocsr()
    return csgraph.connected_components(graph, directed=False)[1]


def periodic_labels(mask: np.ndarray, *, axes=None) -> tuple[np.ndarray, int]:
    """Face-connected clusters of a phase in a cell that is periodic along ``axes``.

    Parameters
    ----------
    mask : (M, N[, P]) array_like of bool
        The phase (True or nonzero = voxel of the phase).
    axes : sequence of int, optional
        Periodic axes: a voxel on the last slice along such an axis is a neighbour of the
        voxel facing it on the first slice. Every axis by default; ``()`` for none.

    Returns
    -------
    labels : (M, N[, P]) ndarray of int
        Cluster of every voxel, 1..count, and 0 outside the phase. Clusters are numbered
        in the order of their first voxel in C order (a voxel's cluster is never higher
        than one plus the highest cluster before it).
    count : int
        Number of clusters.

    Notes
    -----
    The cell is labelled without periodicity by :func:`scipy.ndimage.label`
    (6-connectivity in 3D, 4 in 2D), whose labels follow the first voxel of each
    component. The distinct label pairs that face each other across the periodic faces
    are the edges of a graph on the labels; its connected components
    (:func:`scipy.sparse.csgraph.connected_components`, numbered in the order of their
    smallest label) are the clusters, mapped back to the voxels through a lookup table.
    The work per voxel is the labelling and one lookup; the merge is over the labels.

    Examples
    --------
    >>> mask = np.array([[1, 0, 1],
    ...                  [0, 0, 0],
    ...                  [1, 0, 0]], dtype=bool)
    >>> labels, count = periodic_labels(mask)
    >>> count, labels.tolist()
    (1, [[1, 0, 1], [0, 0, 0], [1, 0, 0]])
    >>> periodic_labels(mask, axes=(1,))[1]
    2
    """
    mask = check_mask(mask)
    axes = range(mask.ndim) if axes is None else [check_axis(a, mask.ndim, name="axes") for a in axes]
    labels, count = _label(mask)
    cluster = _cluster_ids(labels, count, list(axes))
    return cluster[labels], int(cluster.max())


def _spanning_labels(mask: np.ndarray, axis: int, periodic_sides: bool):
    """Labels of ``mask`` and a lookup table label -> belongs to a spanning cluster."""
    labels, count = _label(mask)
    sides = [a for a in range(mask.ndim) if a != axis] if periodic_sides else []
    cluster = _cluster_ids(labels, count, sides)
    lut = _spanning_lut(labels, count, axis, cluster)
    return labels, lut


def _spanning_lut(labels, count, axis, cluster) -> np.ndarray:
    """Per label (0..count): its cluster touches the first and the last slice of ``axis``."""
    n_clusters = cluster.max() + 1
    at_inlet = np.zeros(n_clusters, dtype=bool)
    at_outlet = np.zeros(n_clusters, dtype=bool)
    at_inlet[cluster[_touching(labels, count, axis, 0)]] = True
    at_outlet[cluster[_touching(labels, count, axis, -1)]] = True
    lut = (at_inlet & at_outlet)[cluster]
    lut[0] = False
    return lut


def spanning_mask(mask: np.ndarray, axis: int, *, periodic_sides: bool = False) -> np.ndarray:
    """Voxels of a phase that belong to a cluster spanning the domain along ``axis``.

    Parameters
    ----------
    mask : (M, N[, P]) array_like of bool
        The phase (True or nonzero = voxel of the phase).
    axis : int
        Axis along which the cluster must connect the first and the last slice.
    periodic_sides : bool, optional
        If True, the axes other than ``axis`` are periodic: voxels on opposite faces of
        those axes are neighbours. If False (default) those faces are walls.

    Returns
    -------
    spanning : (M, N[, P]) ndarray of bool
        True for voxels of clusters that contain a voxel with index 0 and a voxel with
        index ``mask.shape[axis] - 1`` along ``axis``.

    Notes
    -----
    The clusters are those of :func:`periodic_labels` with the side axes periodic
    (``periodic_sides=True``) or none. These are the voxels that can carry flux in a fixed inlet/outlet experiment, before
    removing dead ends.

    Examples
    --------
    >>> mask = np.array([[1, 0, 0],
    ...                  [1, 1, 0],
    ...                  [0, 1, 1]], dtype=bool)
    >>> spanning_mask(mask, axis=0).astype(int)
    array([[1, 0, 0],
           [1, 1, 0],
           [0, 1, 1]])
    >>> spanning_mask(np.eye(3, dtype=bool), axis=0).any()
    np.False_
    """
    mask = check_mask(mask)
    axis = check_axis(axis, mask.ndim)
    labels, lut = _spanning_labels(mask, axis, periodic_sides)
    return lut[labels]


def boundary_mask(mask: np.ndarray) -> np.ndarray:
    """Voxels of a phase that belong to a cluster touching the outer boundary of the box.

    Parameters
    ----------
    mask : (M, N[, P]) array_like of bool
        The phase (True or nonzero = voxel of the phase).

    Returns
    -------
    touching : (M, N[, P]) ndarray of bool
        True for voxels of (non-periodic, face-connected) clusters that contain a voxel on
        the first or last slice along some axis. These are the voxels that affine or
        uniform-flux boundary conditions on the whole outer boundary reach
        (`microinv.physics.diffusion.apparent_tensor`); the others float.

    Examples
    --------
    >>> mask = np.zeros((5, 5), dtype=bool)
    >>> mask[2, 2] = mask[0, 1] = mask[1, 1] = True
    >>> boundary_mask(mask).astype(int)[:3]
    array([[0, 1, 0, 0, 0],
           [0, 1, 0, 0, 0],
           [0, 0, 0, 0, 0]])
    """
    mask = check_mask(mask)
    labels, count = _label(mask)
    touches = np.zeros(count + 1, dtype=bool)
    for axis in range(mask.ndim):
        for index in (0, -1):
            touches[np.take(labels, index, axis=axis)] = True
    touches[0] = False
    return touches[labels]


def _wrapping_lut(labels: np.ndarray, count: int) -> np.ndarray:
    """Per label (0..count) and axis: the label's cluster wraps along that axis.

    Weighted union-find over the label pairs that meet across the periodic faces. Each
    label ``u`` keeps a parent and the integer cell offset ``off[u]`` of its copy relative
    to its parent's copy. A face pair (u, v) across the faces of axis ``d`` says that the
    copy of v in the cell ``cell(u) + e_d`` touches u. Joining two trees records the
    offset between their roots; a pair within one tree closes a cycle whose offset
    vector ``off(u) + e_d - off(v)`` is a period of the cluster: a nonzero component
    along an axis means the cluster wraps along that axis.

    Returns an array of shape (count + 1, ndim) of bool.
    """
    ndim = labels.ndim
    edges = [(_face_pairs(labels, count, d), d) for d in range(ndim)]
    nodes = np.unique(np.concatenate([p.ravel() for p, _ in edges] + [np.zeros(0, np.int64)]))
    # plain Python state: the loop runs once per face pair (thousands at most)
    parent = list(range(len(nodes)))
    size = [1] * len(nodes)
    zero = (0,) * ndim
    offset = [zero] * len(nodes)          # a root's own offset stays zero
    wraps = [0] * len(nodes)              # bit d set: the tree has a period with k[d] != 0

    def find(x):
        path = []
        while parent[x] != x:
            path.append(x)
            x = parent[x]
        total = zero                      # path compression, offsets made root-relative
        for y in reversed(path):
            total = tuple(t + o for t, o in zip(total, offset[y]))
            offset[y] = total
            parent[y] = x
        return x

    for pairs, d in edges:
        for u, v in np.searchsorted(nodes, pairs).tolist():
            ru, rv = find(u), find(v)
            shift = tuple(a - b + (k == d) for k, (a, b) in enumerate(zip(offset[u], offset[v])))
            if ru == rv:
                wraps[ru] |= sum(1 << k for k, c in enumerate(shift) if c)
                continue
            if size[ru] < size[rv]:
                ru, rv, shift = rv, ru, tuple(-c for c in shift)
            parent[rv] = ru
            offset[rv] = shift
            size[ru] += size[rv]
            wraps[ru] |= wraps[rv]

    lut = np.zeros((count + 1, ndim), dtype=bool)
    if len(nodes):
        bits = np.array([wraps[find(x)] for x in range(len(nodes))])
        lut[nodes] = (bits[:, None] >> np.arange(ndim)) & 1 == 1
    lut[0] = False
    return lut


def wrapping_mask(mask: np.ndarray, axis: int) -> np.ndarray:
    """Voxels of a phase in clusters that wrap along ``axis`` in a fully periodic cell.

    Parameters
    ----------
    mask : (M, N[, P]) array_like of bool
        The phase (True or nonzero = voxel of the phase); the cell is periodic along
        every axis.
    axis : int
        Axis along which the cluster must be infinite in the periodic tiling.

    Returns
    -------
    wrapping : (M, N[, P]) ndarray of bool
        True for voxels of clusters that connect to their own periodic image shifted by a
        lattice vector ``k`` (integer cell offsets) with ``k[axis] != 0``.

    Notes
    -----
    The cell is labelled without periodicity; the label pairs that face each other across
    the periodic faces are joined by a weighted union-find that carries the integer cell
    offset of every label relative to its root. A pair inside one tree closes a cycle
    whose offset vector ``k = off(u) + e_d - off(v)`` is a period of the cluster; the
    cluster is infinite along ``axis`` when some period has ``k[axis] != 0`` (the periods
    form a lattice generated by these cycle vectors). This is exact, including clusters
    that wrap only diagonally (``k = (1, 1, 0)``, a helix through the side faces), and
    excludes clusters that touch both faces without wrapping. Only these voxels can carry
    flux under periodic homogenization with a macroscopic gradient along ``axis``.

    Examples
    --------
    >>> mask = np.zeros((4, 4), dtype=bool)
    >>> mask[:, 1] = True                     # a channel along axis 0
    >>> wrapping_mask(mask, axis=0).sum(), wrapping_mask(mask, axis=1).sum()
    (np.int64(4), np.int64(0))
    """
    mask = check_mask(mask)
    axis = check_axis(axis, mask.ndim)
    labels, count = _label(mask)
    return _wrapping_lut(labels, count)[:, axis][labels]


def _full_blocks(mask: np.ndarray) -> np.ndarray:
    """Blocks of 2 x 2 [x 2] voxels that lie entirely in the phase (even sizes only)."""
    for axis in range(mask.ndim):
        even = [slice(None)] * mask.ndim
        odd = [slice(None)] * mask.ndim
        even[axis] = slice(0, None, 2)
        odd[axis] = slice(1, None, 2)
        mask = mask[tuple(even)] & mask[tuple(odd)]
    return mask


def _spanning_axes(mask: np.ndarray, axes, periodic_sides: bool) -> np.ndarray:
    """Whether some cluster of ``mask`` spans along each of ``axes`` (one labelling)."""
    labels, count = _label(mask)
    flags = np.zeros(len(axes), dtype=bool)
    for i, axis in enumerate(axes):
        sides = [a for a in range(mask.ndim) if a != axis] if periodic_sides else []
        cluster = _cluster_ids(labels, count, sides)
        flags[i] = _spanning_lut(labels, count, axis, cluster).any()
    return flags


def _phase_spans(mask: np.ndarray, axes, periodic_sides: bool) -> np.ndarray:
    """Spanning flags of ``mask`` along ``axes``, confirmed on 2x coarser blocks first.

    A path of face-adjacent blocks of 2 x 2 [x 2] phase voxels is a path of phase voxels,
    and a block on a first or last coarse slice contains voxels of the first or last fine
    slice (sizes even), also across periodic faces. So a coarse spanning cluster proves
    a fine one; only the axes it cannot confirm are decided on the full labelling, and
    the answer is the same as labelling the full grid, at an eighth of the work when the
    phase is thick enough.
    """
    flags = np.zeros(len(axes), dtype=bool)
    if all(size % 2 == 0 for size in mask.shape):
        flags = _spanning_axes(_full_blocks(mask), axes, periodic_sides)
    pending = [axis for axis, done in zip(axes, flags) if not done]
    if pending:
        flags[~flags] = _spanning_axes(mask, pending, periodic_sides)
    return flags


def percolates(solid: np.ndarray, axis: int, *, phase: int = 0,
               periodic_sides: bool = False) -> bool:
    """Whether a phase of a two-phase structure connects the two faces normal to ``axis``.

    Parameters
    ----------
    solid : (M, N[, P]) array_like of uint8
        The structure, 1 = solid, 0 = pore.
    axis : int
        Axis whose first and last slices must be connected.
    phase : {0, 1}, optional
        0 (default) tests the pore phase, 1 the solid phase.
    periodic_sides : bool, optional
        If True the other axes are periodic, else they are walls (default).

    Returns
    -------
    bool
        True when some face-connected cluster of the phase spans along ``axis`` (see
        :func:`spanning_mask`).

    Notes
    -----
    For even sizes the test first labels the blocks of 2 x 2 [x 2] voxels that lie
    entirely in the phase: a spanning cluster of such blocks proves a spanning cluster
    of voxels. Only when it finds none is the full grid labelled. The answer does not
    depend on this shortcut.

    Examples
    --------
    >>> solid = np.ones((5, 6, 7), dtype=np.uint8)
    >>> solid[:, 2, 3] = 0                    # a straight pore channel along x
    >>> percolates(solid, 0), percolates(solid, 1)
    (True, False)
    """
    mask = check_structure(solid) == check_phase(phase)
    axis = check_axis(axis, mask.ndim)
    return bool(_phase_spans(mask, [axis], periodic_sides)[0])


def percolation_flags(solid: np.ndarray, *, periodic_sides: bool = False) -> np.ndarray:
    """Spanning flags of both phases along every axis (one labelling per phase).

    Parameters
    ----------
    solid : (M, N[, P]) array_like of uint8
        The structure, 1 = solid, 0 = pore.
    periodic_sides : bool, optional
        If True the side axes are periodic (see :func:`spanning_mask`).

    Returns
    -------
    flags : (2, ndim) ndarray of bool
        ``flags[phase, axis]`` is ``percolates(solid, axis, phase=phase,
        periodic_sides=periodic_sides)``; row 0 is the pore phase, row 1 the solid phase,
        as stored in the ``percolates`` dataset of a structures chunk.

    Notes
    -----
    Each phase is labelled once for all axes (plus once on 2x coarser blocks for even
    sizes, see :func:`percolates`).

    Examples
    --------
    >>> solid = np.zeros((4, 5), dtype=np.uint8)
    >>> solid[:, 2] = 1                       # a solid wall along axis 0
    >>> percolation_flags(solid)
    array([[ True, False],
           [ True, False]])
    """
    solid = check_structure(solid) == 1
    axes = list(range(solid.ndim))
    return np.stack([_phase_spans(mask, axes, periodic_sides) for mask in (~solid, solid)])
