"""Spanning and wrapping clusters against hand-made cases and a brute-force voxel graph."""

import numpy as np
import pytest
from scipy import sparse
from scipy.sparse import csgraph

from microinv.microstructure.percolation import (
    percolates,
    percolation_flags,
    spanning_mask,
    wrapping_mask,
)


# --- brute-force references: one graph node per voxel ------------------------------------

def _voxel_components(mask, periodic_axes):
    """Component id per voxel of the face-neighbour graph (-1 outside the mask)."""
    index = np.arange(mask.size).reshape(mask.shape)
    rows, cols = [], []
    for axis in range(mask.ndim):
        neighbour = np.roll(index, -1, axis=axis)
        keep = mask & np.roll(mask, -1, axis=axis)
        if axis not in periodic_axes:
            last = [slice(None)] * mask.ndim
            last[axis] = -1
            keep[tuple(last)] = False
        rows.append(index[keep])
        cols.append(neighbour[keep])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    graph = sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(mask.size,) * 2)
    comp = csgraph.connected_components(graph, directed=False)[1].reshape(mask.shape)
    return np.where(mask, comp, -1)


def _reference_spanning(mask, axis, periodic_sides):
    sides = [a for a in range(mask.ndim) if a != axis] if periodic_sides else []
    comp = _voxel_components(mask, sides)
    first = np.take(comp, 0, axis=axis)
    last = np.take(comp, -1, axis=axis)
    both = np.intersect1d(first[first >= 0], last[last >= 0])
    return np.isin(comp, both)


def _reference_wrapping(mask, axis, copies=5):
    """Copies of a voxel in a periodic supercell of ``copies`` cells per axis are joined
    only if the cluster has a period with a nonzero component along ``axis``."""
    ndim = mask.ndim
    tiled = np.tile(mask, (copies,) * ndim)
    comp = _voxel_components(tiled, list(range(ndim)))
    shape = []
    for n in mask.shape:
        shape += [copies, n]
    comp = comp.reshape(shape).transpose(list(range(0, 2 * ndim, 2)) + list(range(1, 2 * ndim, 2)))
    home = comp[(0,) * ndim]
    away = np.moveaxis(comp, axis, 0)[1:].reshape(-1, *mask.shape)
    return mask & (away == home).any(axis=0)


# --- hand-made cases ---------------------------------------------------------------------

def test_straight_channel_percolates_along_its_axis_only():
    solid = np.ones((7, 8, 9), dtype=np.uint8)
    solid[:, 3, 4] = 0
    assert [percolates(solid, a) for a in range(3)] == [True, False, False]
    assert spanning_mask(solid == 0, 0).sum() == 7
    assert wrapping_mask(solid == 0, 0).sum() == 7
    assert not wrapping_mask(solid == 0, 1).any()
    # the solid around the channel connects everything
    assert all(percolates(solid, a, phase=1) for a in range(3))
    assert percolation_flags(solid).tolist() == [[True, False, False], [True, True, True]]


def test_closed_cavity_does_not_percolate():
    x, y, z = np.indices((9, 10, 11))
    solid = ((x - 4) ** 2 + (y - 5) ** 2 + (z - 5) ** 2 > 9).astype(np.uint8)
    pore = solid == 0
    assert pore.sum() > 100
    for axis in range(3):
        assert not percolates(solid, axis)
        assert not percolates(solid, axis, periodic_sides=True)
        assert not wrapping_mask(pore, axis).any()
        assert percolates(solid, axis, phase=1)


def _staircase_2d():
    """One cluster touching both faces along axis 0 at different columns (8 x 9)."""
    mask = np.zeros((8, 9), dtype=bool)
    mask[0:4, 1] = True
    mask[3, 1:5] = True
    mask[3:8, 4] = True
    return mask


def test_touching_both_faces_is_spanning_but_not_wrapping():
    mask = _staircase_2d()
    assert spanning_mask(mask, 0).sum() == mask.sum() == 11
    assert spanning_mask(mask, 0, periodic_sides=True).sum() == 11
    assert not wrapping_mask(mask, 0).any()
    assert not wrapping_mask(mask, 1).any()


def test_cluster_wrapping_only_through_a_periodic_side():
    # A runs from x=0 to the y=8 face; B continues from the y=0 face to x=7, facing
    # A's start across the x faces. Period of A+B: (1, 1).
    mask = np.zeros((8, 9), dtype=bool)
    mask[0:4, 1] = True
    mask[3, 1:6] = True
    mask[3:6, 5] = True
    mask[5, 5:9] = True                      # A
    mask[5:8, 0] = True
    mask[7, 1] = True                        # B
    assert not spanning_mask(mask, 0).any()
    assert spanning_mask(mask, 0, periodic_sides=True).sum() == mask.sum()
    assert wrapping_mask(mask, 0).sum() == mask.sum()
    assert wrapping_mask(mask, 1).sum() == mask.sum()
    # cutting B off from A's start (x faces) leaves a cluster that wraps nowhere
    mask[7, 1] = False
    assert not wrapping_mask(mask, 0).any() and not wrapping_mask(mask, 1).any()


def test_two_clusters_wrap_together_with_period_two():
    # A (plane z=0) runs from column 1 on the top face to column 4 on the bottom face;
    # B leaves the top face at column 4, crosses over A in plane z=2 and reaches the
    # bottom face at column 1. Neither wraps alone; together they have period (2, 0, 0).
    a = np.zeros((8, 6, 4), dtype=bool)
    a[0:4, 1, 0] = True
    a[3, 1:5, 0] = True
    a[3:8, 4, 0] = True
    b = np.zeros_like(a)
    b[0, 4, 0:3] = True
    b[0:4, 4, 2] = True
    b[3, 1:5, 2] = True
    b[3:8, 1, 2] = True
    b[7, 1, 0:3] = True
    both = a | b
    comp = _voxel_components(both, [])
    assert comp[0, 1, 0] != comp[0, 4, 0]    # separate clusters inside the cell
    assert not wrapping_mask(a, 0).any() and not wrapping_mask(b, 0).any()
    assert wrapping_mask(both, 0).sum() == both.sum()
    assert not wrapping_mask(both, 1).any() and not wrapping_mask(both, 2).any()
    assert spanning_mask(both, 0).sum() == both.sum()


def test_diagonal_helix_wraps_along_every_axis():
    n = 6
    path = []
    for k in range(n):                       # steps +x, +y, +z: period (1, 1, 1)
        path += [(k, k, k), (k + 1, k, k), (k + 1, k + 1, k)]
    mask = np.zeros((n, n, n), dtype=bool)
    mask[tuple(np.array(path).T % n)] = True
    for axis in range(3):
        assert wrapping_mask(mask, axis).sum() == 3 * n
    # remove one voxel: the helix no longer closes on any of its images
    mask[2, 2, 2] = False
    assert not any(wrapping_mask(mask, a).any() for a in range(3))


@pytest.mark.parametrize("seed", range(6))
def test_random_2d_matches_voxel_graph(seed):
    rng = np.random.default_rng(seed)
    mask = rng.random((6, 7)) < 0.55
    for axis in range(2):
        for sides in (False, True):
            np.testing.assert_array_equal(
                spanning_mask(mask, axis, periodic_sides=sides),
                _reference_spanning(mask, axis, sides))
        np.testing.assert_array_equal(wrapping_mask(mask, axis), _reference_wrapping(mask, axis))


@pytest.mark.parametrize("seed", range(4))
def test_random_3d_matches_voxel_graph(seed):
    rng = np.random.default_rng(100 + seed)
    mask = rng.random((4, 5, 6)) < 0.33
    for axis in range(3):
        for sides in (False, True):
            np.testing.assert_array_equal(
                spanning_mask(mask, axis, periodic_sides=sides),
                _reference_spanning(mask, axis, sides))
        np.testing.assert_array_equal(wrapping_mask(mask, axis),
                                      _reference_wrapping(mask, axis, copies=4))


def test_random_cases_exercise_the_differences():
    """The random cases above include spanning-without-wrapping and the reverse."""
    found = set()
    for seed in range(6):
        mask = np.random.default_rng(seed).random((6, 7)) < 0.55
        for axis in range(2):
            span = spanning_mask(mask, axis, periodic_sides=True).any()
            wrap = wrapping_mask(mask, axis).any()
            found.add((bool(span), bool(wrap)))
    assert {(True, False), (True, True), (False, False)} <= found


def test_percolation_flags_match_percolates():
    rng = np.random.default_rng(7)
    solid = (rng.random((9, 10, 11)) < 0.5).astype(np.uint8)
    for sides in (False, True):
        flags = percolation_flags(solid, periodic_sides=sides)
        expected = [[percolates(solid, a, phase=p, periodic_sides=sides) for a in range(3)]
                    for p in (0, 1)]
        assert flags.tolist() == expected


def test_invalid_arguments_name_the_bad_value():
    solid = np.zeros((4, 4), dtype=np.uint8)
    with pytest.raises(ValueError, match="got 2"):
        percolates(solid, 2)
    with pytest.raises(ValueError, match="got 3"):
        percolates(solid, 0, phase=3)
    with pytest.raises(ValueError, match=r"\(5,\)"):
        spanning_mask(np.ones(5, dtype=bool), 0)


def test_coarse_shortcut_gives_the_full_answer():
    """Even sizes take the 2x-coarser shortcut; its answers equal full labelling."""
    from microinv.microstructure.percolation import _full_blocks, _phase_spans, _spanning_axes
    from microinv.microstructure.spinodoid import spinodoid

    # a one-voxel channel is invisible on 2x2x2 blocks but spans on the voxels
    solid = np.ones((8, 10, 12), dtype=np.uint8)
    solid[:, 3, 4] = 0
    assert percolation_flags(solid)[0].tolist() == [True, False, False]
    checked = shortcuts = 0
    for seed in range(4):
        solid = spinodoid((0.3, 0.4, 0.6, 0.3 + 0.15 * seed), 24, seed)
        for phase, mask in enumerate((solid == 0, solid == 1)):
            for sides in (False, True):
                full = _spanning_axes(mask, [0, 1, 2], sides)
                coarse = _spanning_axes(_full_blocks(mask), [0, 1, 2], sides)
                assert not (coarse & ~full).any()
                shortcuts += coarse.sum()
                np.testing.assert_array_equal(_phase_spans(mask, [0, 1, 2], sides), full)
                np.testing.assert_array_equal(
                    percolation_flags(solid, periodic_sides=sides)[phase], full)
                checked += full.sum()
    assert checked > shortcuts > 0
