"""Descriptors against closed forms and brute-force loops, at awkward shapes."""

import numpy as np
import pytest

from microinv.microstructure import spinodoid
from microinv.microstructure.descriptors import (
    describe,
    lineal_path,
    mean_chord_length,
    porosity,
    specific_surface_area,
    two_point_correlation,
)


def _random_structure(shape, seed, solid_fraction=0.5):
    rng = np.random.default_rng(seed)
    solid = (rng.random(shape) < solid_fraction).astype(np.uint8)
    solid[0] = 0                              # some lines entirely in the pore phase
    return solid


def _lines(solid, axis):
    return np.moveaxis(solid, axis, -1).reshape(-1, solid.shape[axis])


def _reference_chords(line, phase):
    """Chord lengths on one periodic line, by walking it (a full line: one chord of n)."""
    n = len(line)
    inside = line == phase
    if inside.all():
        return [n]
    start = int(np.argmin(inside))             # a voxel outside the phase
    chords, run = [], 0
    for k in range(1, n + 1):
        if inside[(start + k) % n]:
            run += 1
        elif run:
            chords.append(run)
            run = 0
    return chords + ([run] if run else [])


def test_porosity_and_specific_surface_closed_forms():
    solid = np.zeros((5, 6, 7), dtype=np.uint8)
    solid[2, 3, 4] = 1
    assert porosity(solid) == pytest.approx(1 - 1 / 210)
    assert specific_surface_area(solid) == pytest.approx(6 / 210)
    slab = np.zeros((5, 6, 7), dtype=np.uint8)
    slab[1:3] = 1                              # two interfaces normal to x, 6 x 7 faces each
    assert specific_surface_area(slab) == pytest.approx(2 * 42 / 210)
    stripes = np.zeros((4, 9), dtype=np.uint8)
    stripes[:, ::2] = 1                        # odd period: 8 changes per row + 1 periodic
    assert specific_surface_area(stripes) == pytest.approx(4 * 8 / 36)


@pytest.mark.parametrize("shape", [(7, 10), (5, 6, 9)])
def test_two_point_correlation_matches_brute_force(shape):
    solid = _random_structure(shape, 1)
    indicator = solid.astype(float)
    for axis in range(len(shape)):
        n = shape[axis]
        expected = [np.mean(indicator * np.roll(indicator, -r, axis=axis)) for r in range(n + 2)]
        found = two_point_correlation(solid, axis, max_lag=n + 1)
        np.testing.assert_allclose(found, expected, atol=1e-6)
        assert len(two_point_correlation(solid, axis)) == n // 2 + 1


def test_two_point_correlation_limits_on_a_spinodoid():
    solid = spinodoid((0.08, 0.1, 0.12, 0.6), 64, seed=5)
    phi = 1 - porosity(solid)
    for axis in range(3):
        s2 = two_point_correlation(solid, axis)
        assert s2[0] == pytest.approx(phi, abs=1e-6)
        assert s2[-8:].mean() == pytest.approx(phi**2, abs=0.02)
        assert s2[1] < s2[0] and s2[1] > phi**2 + 0.1   # correlated at short range


@pytest.mark.parametrize("shape", [(7, 10), (6, 5, 8)])
def test_chords_and_lineal_path_match_brute_force(shape):
    solid = _random_structure(shape, 2, solid_fraction=0.4)
    for axis in range(len(shape)):
        n = shape[axis]
        for phase in (0, 1):
            chords = np.concatenate([_reference_chords(line, phase)
                                     for line in _lines(solid, axis)])
            assert mean_chord_length(solid, axis, phase=phase) == pytest.approx(chords.mean())
            inside = (solid == phase).astype(float)
            expected, segment = [], inside.copy()
            for r in range(n + 3):               # longer than the line: full lines only
                expected.append(segment.mean())
                segment = segment * np.roll(inside, -(r + 1), axis=axis)
            found = lineal_path(solid, axis, phase=phase, max_length=n + 2)
            np.testing.assert_allclose(found, expected, atol=1e-12)


def test_chord_across_the_periodic_boundary_and_absent_phase():
    line = np.array([[1, 1, 0, 0, 1, 1, 1]], dtype=np.uint8)   # one solid chord of 5
    assert mean_chord_length(line, 1, phase=1) == 5.0
    assert mean_chord_length(line, 1, phase=0) == 2.0
    np.testing.assert_allclose(lineal_path(line, 1, phase=1, max_length=5),
                               np.array([5, 4, 3, 2, 1, 0]) / 7)
    full = np.zeros((3, 4), dtype=np.uint8)
    assert mean_chord_length(full, 0, phase=0) == 3.0          # unbroken lines: length n
    assert np.isnan(mean_chord_length(full, 0, phase=1))
    np.testing.assert_allclose(lineal_path(full, 1, max_length=6), 1.0)


def test_longest_length_gives_longest_chords():
    for theta, longest in [((0.1, 0.2, 0.4, 0.5), 2), ((0.4, 0.1, 0.2, 0.5), 0),
                           ((0.15, 0.45, 0.2, 0.7), 1)]:
        solid = spinodoid(theta, 48, seed=1)
        for phase in (0, 1):
            chords = [mean_chord_length(solid, a, phase=phase) for a in range(3)]
            assert int(np.argmax(chords)) == longest
            assert np.argsort(chords).tolist() == np.argsort(theta[:3]).tolist()


def test_feature_size_in_voxels_depends_on_a_times_n():
    """a n fixed: the n=64 structure has the chords of the n=32 one, twice the grid."""
    small = [mean_chord_length(spinodoid((0.2, 0.3, 0.4, 0.5), 32, s), 0) for s in range(4)]
    large = [mean_chord_length(spinodoid((0.1, 0.15, 0.2, 0.5), 64, s), 0) for s in range(2)]
    assert np.mean(large) == pytest.approx(np.mean(small), rel=0.15)


@pytest.mark.parametrize("shape", [(10, 7), (9, 12, 8)])
def test_describe_shapes_and_values(shape):
    solid = _random_structure(shape, 3)
    d = describe(solid)
    dim, length = len(shape), min(shape) // 2
    assert set(d) == {"porosity", "specific_surface", "s2", "chord_length", "lineal_path"}
    assert d["s2"].shape == d["lineal_path"].shape == (dim, length)
    assert d["chord_length"].shape == (2, dim)
    assert d["porosity"] == porosity(solid)
    for axis in range(dim):
        np.testing.assert_array_equal(d["s2"][axis],
                                      two_point_correlation(solid, axis, max_lag=length - 1))
        np.testing.assert_array_equal(d["lineal_path"][axis],
                                      lineal_path(solid, axis, max_length=length - 1))
        assert d["chord_length"][1, axis] == mean_chord_length(solid, axis, phase=1)
    assert describe(solid, length=2)["s2"].shape == (dim, 2)


def test_bad_arguments_name_the_value():
    solid = np.zeros((4, 5), dtype=np.uint8)
    with pytest.raises(ValueError, match="got 2"):
        two_point_correlation(solid, 2)
    with pytest.raises(ValueError, match="got -1"):
        lineal_path(solid, 0, max_length=-1)
    with pytest.raises(ValueError, match="got 5"):
        mean_chord_length(solid, 0, phase=5)
    with pytest.raises(ValueError, match=r"got shape \(4,\)"):
        porosity(np.zeros(4))
    with pytest.raises(ValueError, match="length: must be an integer >= 1, got 0"):
        describe(solid, length=0)
