"""Levelset-mode diffusivity: the smooth interface f = 0 with cut-cell apertures.

Closed forms (slit, sphere arrays), second-order convergence on a Fourier-resampled
spinodoid, symmetry, clusters through open faces, 1 rank against 2, bad fields.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
from scipy import ndimage

from conftest import gathered_rows
from microinv.errors import InputError
from microinv.microstructure.percolation import spanning_mask
from microinv.microstructure.spinodoid import fourier_upsample, spinodoid, spinodoid_field
from microinv.physics import multigrid
from microinv.physics.closed_forms import cylinder_array_conductivity, sphere_array_conductivity, sphere_array_field
from microinv.physics.cutcell import OpenFaceGraph, cell_pore_fractions, face_apertures
from microinv.physics.diffusion import diffusivity_tensor, effective_diffusivity
from microinv.physics.result import CONVERGED, NOT_PERCOLATING

SHAPE = (13, 11, 9)  # nx != ny != nz catches axis-order bugs


def slit(shape, normal, low, high):
    """A pore slab low < x_normal < high (voxel-centre coordinates) with its signed distance
    as field (solid outside, f >= 0); the walls lie between voxel centres."""
    x = np.arange(shape[normal], dtype=float)
    f = np.maximum(low - x, x - high)
    view = [1] * len(shape)
    view[normal] = -1
    field = np.broadcast_to(f.reshape(view), shape).astype(np.float64).copy()
    return (field >= 0).astype(np.uint8), field


@pytest.mark.parametrize("bc", ["fixed", "periodic"])
@pytest.mark.parametrize("axis, normal", [(0, 1), (0, 2), (1, 0), (2, 1)])
def test_slit_along_the_gradient_conducts_exactly_its_open_fraction(bc, axis, normal):
    low, high = 2.3, 6.55  # open width 4.25 voxels, not a whole number
    solid, field = slit(SHAPE, normal, low, high)
    result = effective_diffusivity(solid, axis, bc=bc, field=field)
    eps = (high - low) / SHAPE[normal]
    assert result.status == CONVERGED
    assert result.eta == pytest.approx(eps, rel=1e-10)
    # The porosity is the midpoint rule across the walls on the faces parallel to them (a
    # third of the faces): within a third of a voxel layer, second order only for curved walls.
    assert result.porosity == pytest.approx(eps, abs=1 / (3 * SHAPE[normal]))
    voxel = effective_diffusivity(solid, axis, bc=bc)
    assert voxel.eta == pytest.approx(4 / SHAPE[normal], rel=1e-10)  # the staircase: 4 whole voxels


def test_slit_across_the_gradient_blocks_and_conducts_in_series_with_a_conducting_solid():
    solid, field = slit(SHAPE, 0, 2.3, 6.55)
    assert effective_diffusivity(solid, 0, bc="periodic", field=field).status == NOT_PERCOLATING
    sigma = 4.0  # a conducting solid: series (harmonic) mean of the two layers, exactly
    result = effective_diffusivity(solid, 0, bc="periodic", field=field, solid_conductivity=sigma)
    eps = (6.55 - 2.3) / SHAPE[0]
    assert result.eta == pytest.approx(1 / (eps + (1 - eps) / sigma), rel=1e-10)
    along = effective_diffusivity(solid, 1, bc="periodic", field=field, solid_conductivity=0.25)
    assert along.eta == pytest.approx(eps + (1 - eps) * 0.25, rel=1e-10)  # parallel: arithmetic


def test_apertures_of_a_plane_are_exact_and_the_pore_fractions_sum_to_its_volume():
    # f = x . n - d, an oblique plane in a periodic-looking box: exact away from the wrap.
    normal = np.array([0.3, -0.5, 0.81])
    x = np.indices((12, 12, 12)).astype(float)
    field = np.tensordot(normal, x, axes=1) - 4.1
    apertures = face_apertures(field)
    inner = (slice(2, -2),) * 3
    # A face's open fraction for a linear f: the area of {y : f(face centre + y) < 0}.
    rng = np.random.default_rng(0)
    samples = rng.uniform(-0.5, 0.5, size=(2, 20000))
    for a in range(3):
        b, c = [d for d in range(3) if d != a]
        for p in [(5, 6, 4), (3, 8, 7), (6, 2, 5)]:
            centre = np.array(p, dtype=float)
            centre[a] += 0.5
            points = np.repeat(centre[:, None], samples.shape[1], axis=1)
            points[b] += samples[0]
            points[c] += samples[1]
            expected = np.mean(normal @ points - 4.1 < 0)
            assert apertures[a][p] == pytest.approx(expected, abs=0.01)  # Monte Carlo error
    assert ((0 <= apertures[0]) & (apertures[0] <= 1)).all()
    phi = cell_pore_fractions(apertures)
    assert phi[inner].min() >= 0 and phi[inner].max() <= 1


# Sphere arrays: Rayleigh / McPhedran & McKenzie. Measured errors of levelset mode
# (benchmarks/RESULTS.md, "Levelset diffusivity"): +0.17 % (c = 0.1, 32 per cell),
# +0.23 % (c = 0.2, 32), +0.36 % (c = 0.4, 32), +0.15 % (c = 0.4, 48), +0.076 % (c = 0.4, 64);
# voxel mode at 64: -0.5 % to -1.9 %. The tolerances are those errors with a margin.
@pytest.mark.parametrize("fraction, n, tolerance", [(0.1, 32, 0.002), (0.2, 32, 0.003), (0.4, 32, 0.005),
                                                    (0.4, 48, 0.002), (0.4, 64, 0.001)])
def test_simple_cubic_insulating_spheres_match_rayleigh(fraction, n, tolerance):
    solid, field = sphere_array_field(n, fraction)
    result = effective_diffusivity(solid, 0, field=field, rtol=1e-10)
    reference = sphere_array_conductivity(fraction)
    assert result.eta == pytest.approx(reference, rel=tolerance)
    assert result.eta > reference  # the levelset error is positive and shrinks as h^2
    assert result.porosity == pytest.approx(1 - fraction, abs=2e-3)


# Two-phase contrast (measured, 48 per cell): +0.23 % for spheres of conductivity 0.1 at
# c = 0.4 (voxel mode -1.3 %), -0.06 % for spheres of conductivity 10 at c = 0.2 (voxel +0.26 %).
@pytest.mark.parametrize("fraction, sigma, tolerance", [(0.4, 0.1, 0.004), (0.2, 10.0, 0.002)])
def test_simple_cubic_conducting_spheres_match_rayleigh(fraction, sigma, tolerance):
    solid, field = sphere_array_field(48, fraction)
    result = effective_diffusivity(solid, 0, field=field, solid_conductivity=sigma, rtol=1e-10)
    assert result.eta == pytest.approx(sphere_array_conductivity(fraction, sigma), rel=tolerance)


def test_square_array_of_cylinders_in_2d_converges_to_rayleigh_at_second_order():
    # Measured: +0.238 % (32 per cell), +0.060 % (64); voxel mode -0.9 % and -2.8 %.
    reference = cylinder_array_conductivity(0.4)
    errors = []
    for n in (32, 64):
        solid, field = sphere_array_field(n, 0.4, dim=2)
        errors.append(effective_diffusivity(solid, 1, field=field, rtol=1e-10).eta / reference - 1)
    assert 0 < errors[1] < 1e-3
    assert 3.3 < errors[0] / errors[1] < 4.8
    solid, field = slit((9, 7), 1, 1.6, 4.35)
    assert effective_diffusivity(solid, 0, bc="fixed", field=field).eta == pytest.approx(2.75 / 7, rel=1e-10)


def test_sphere_array_converges_at_second_order():
    reference = sphere_array_conductivity(0.3)
    errors = []
    for n in (16, 32):
        solid, field = sphere_array_field(n, 0.3)
        errors.append(effective_diffusivity(solid, 0, field=field, rtol=1e-10).eta - reference)
    assert errors[0] > 0 and errors[1] > 0
    assert 3.3 < errors[0] / errors[1] < 4.8  # h^2: 4 for a halved voxel


def test_spinodoid_levelset_converges_at_second_order_on_the_resampled_field():
    # One smooth field on N, 2N, 3N (Fourier interpolation, same level): the levelset
    # answers fit eta_inf + C h^p with p near 2 (benchmarks/RESULTS.md: 48/96/144, p = 1.97).
    # Periodic BC: the cell is the same on every grid (fixed ends put c at the centres of the
    # first and last slice, which moves the ends by h/2).
    theta = (0.55, 0.81, 1.47, 0.666)  # DESIGN's reference lengths scaled from 128 to 32
    values = []
    for k in (1, 2, 3):
        field = spinodoid_field(theta, 32, 1, upsample=k)
        values.append(effective_diffusivity((field >= 0).view(np.uint8), 0, field=field, rtol=1e-10).eta)
    ratio = (values[0] - values[1]) / (values[1] - values[2])
    assert 4.4 < ratio < 6.6, values  # (1 - 2^-p) / (2^-p - 3^-p): 2.40 for p = 1, 5.40 for p = 2


def test_fourier_upsample_interpolates_the_coarse_values():
    field = spinodoid_field((0.4, 0.5, 0.6, 0.5), 16, 3)
    fine = spinodoid_field((0.4, 0.5, 0.6, 0.5), 16, 3, upsample=3)
    assert fine.shape == (48, 48, 48) and fine.dtype == np.float32
    np.testing.assert_allclose(fine[::3, ::3, ::3], field, atol=1e-6 * np.abs(field).max())
    noise = np.random.default_rng(1).standard_normal((6, 7))  # odd and even sizes, Nyquist
    noise = noise[:6, :6]
    np.testing.assert_allclose(fourier_upsample(noise, 2)[::2, ::2], noise, atol=1e-12)
    with pytest.raises(ValueError, match="upsample"):
        spinodoid_field((0.4, 0.5, 0.6, 0.5), 16, 3, upsample=0)


def test_tensor_is_symmetric_and_matches_the_single_solves():
    field = spinodoid_field((0.3, 0.4, 0.5, 0.6), 20, 4)
    solid = (field >= 0).view(np.uint8)
    tensor = diffusivity_tensor(solid, field=field, rtol=1e-10)
    np.testing.assert_allclose(tensor, tensor.T, rtol=1e-8, atol=1e-12)
    assert np.abs(tensor - np.diag(np.diag(tensor))).max() > 1e-4  # an anisotropic, skewed structure
    for axis in range(3):
        single = effective_diffusivity(solid, axis, field=field, rtol=1e-10).eta
        assert tensor[axis, axis] == pytest.approx(single, rel=1e-8)
    assert np.all(np.linalg.eigvalsh(tensor) > 0)


def test_cells_with_a_solid_centre_join_through_open_faces():
    # A staircase of pore voxels along x, consecutive ones diagonal neighbours in the x-y
    # plane (no shared face): voxel mode sees isolated voxels, levelset mode joins them
    # through the open faces of the solid-centred cells beside each step (their corners,
    # the means of the cells around them, are pore).
    shape = (8, 6, 5)
    field = np.full(shape, 0.2)
    for i in range(shape[0]):
        field[i, 1 + i % 2, 2] = -1.0
    solid = (field >= 0).astype(np.uint8)
    assert effective_diffusivity(solid, 0).status == NOT_PERCOLATING
    level = effective_diffusivity(solid, 0, field=field)
    assert level.status == CONVERGED and level.eta > 0
    assert effective_diffusivity(solid, 1, field=field).status == NOT_PERCOLATING  # no path along y
    tensor = diffusivity_tensor(solid, field=field)
    assert tensor[0, 0] == pytest.approx(level.eta, rel=1e-6) and tensor[1, 1] == 0 and tensor[2, 2] == 0


@pytest.mark.parametrize("bc", ["fixed", "periodic"])
def test_an_isolated_pore_carries_no_flux(bc):
    # A smooth channel along x, and the same with a closed pore beside it (its own cluster
    # of cells joined through open faces): the same eta to round-off.
    x = np.indices((10, 9, 8)).astype(float)
    channel = np.sqrt((x[1] - 4.0) ** 2 + (x[2] - 3.5) ** 2) - 1.7
    bubble = np.sqrt((x[0] - 5) ** 2 + (x[1] - 8.0) ** 2 + (x[2] - 7.0) ** 2) - 0.9
    alone, both = channel, np.minimum(channel, bubble)
    etas = [effective_diffusivity((f >= 0).astype(np.uint8), 0, bc=bc, field=f).eta for f in (alone, both)]
    assert etas[1] == pytest.approx(etas[0], rel=1e-12)
    # A prism along x conducts exactly the open area of its cross-section, the x-apertures.
    assert etas[0] == pytest.approx(face_apertures(alone)[0].mean(), rel=1e-12)


@pytest.mark.parametrize("sides", ["periodic", "noflux"])
def test_spanning_clusters_of_the_band_graph_are_those_of_the_doubled_grid(sides):
    # OpenFaceGraph.spanning labels the cells whose faces are all open and joins the rest
    # in a sparse graph: the same cells as labelling the grid of cells and faces (the voxel
    # percolation on the doubled grid), on rough fields whose clusters meet through cut
    # faces, corners and the periodic sides; nx != ny != nz, 2D too.
    rng = np.random.default_rng(7)
    spanning = 0
    for shape in [(9, 7, 6), (6, 8), (5, 4, 7)]:
        for _ in range(8):
            field = ndimage.gaussian_filter(rng.standard_normal(shape), 0.8, mode="wrap") + rng.uniform(-0.1, 0.3)
            apertures = face_apertures(field)
            for axis in range(len(shape)):
                graph = OpenFaceGraph(apertures, [a == axis or sides == "noflux" for a in range(len(shape))])
                trimmed = multigrid.along(graph.doubled, axis, slice(0, graph.doubled.shape[axis] - 1))
                expected = spanning_mask(trimmed, axis, periodic_sides=sides == "periodic")
                got = graph.spanning(axis)
                assert np.array_equal(got, graph.cells(expected))
                spanning += got.any()
    assert spanning > 10


@pytest.mark.parametrize("bad, message", [
    (lambda f: f[:-1], "must have the structure's shape"),
    (lambda f: f.astype(np.int32), "float32 or float64"),
    (lambda f: np.where(f == f.max(), np.nan, f), "must be finite"),
    (lambda f: -f, "disagrees with solid"),
])
def test_a_bad_field_is_a_one_line_input_error(bad, message):
    field = spinodoid_field((0.3, 0.4, 0.5, 0.6), 12, 2)
    solid = spinodoid((0.3, 0.4, 0.5, 0.6), 12, 2)
    with pytest.raises(InputError, match=message) as error:
        effective_diffusivity(solid, 0, field=bad(field))
    assert str(error.value).startswith("field: ") and "\n" not in str(error.value)
    with pytest.raises(InputError, match=message):
        diffusivity_tensor(solid, field=bad(field))


# Awkward sizes: the ranks split a 25 x 22 x 19 grid, with odd blocks on coarse levels.
SCRIPT = textwrap.dedent("""
    import json, sys
    import petsc4py
    petsc4py.init(sys.argv)
    from petsc4py import PETSc
    from microinv.microstructure.spinodoid import spinodoid_field
    from microinv.physics.diffusion import diffusivity_tensor, effective_diffusivity

    field = spinodoid_field((0.3, 0.4, 0.5, 0.6), 26, 4)[:25, :22, :19].copy()
    solid = (field >= 0).view("uint8")
    row = {"rank": PETSc.COMM_WORLD.getRank(),
           "tensor": diffusivity_tensor(solid, field=field, rtol=1e-10).tolist()}
    for bc, sides in [("fixed", "periodic"), ("fixed", "noflux"), ("periodic", "periodic")]:
        results = [effective_diffusivity(solid, a, bc=bc, sides=sides, field=field, rtol=1e-10) for a in range(3)]
        row[bc + "-" + sides] = [r.eta for r in results]
        row["ranks"] = results[0].settings["ranks"]
    for sigma in (0.2, 5.0):
        row[str(sigma)] = effective_diffusivity(solid, 2, bc="fixed", field=field, solid_conductivity=sigma,
                                                rtol=1e-10).eta
    rows = PETSc.COMM_WORLD.tompi4py().gather(row)
    if rows is not None:
        print(json.dumps(rows), flush=True)
""")


@pytest.mark.mpi
def test_two_ranks_agree_with_one(tmp_path):
    rows = gathered_rows(SCRIPT, tmp_path)
    assert rows[0] == {**rows[1], "rank": rows[0]["rank"]}
    parallel = rows[0]
    assert parallel["ranks"] == 2
    field = spinodoid_field((0.3, 0.4, 0.5, 0.6), 26, 4)[:25, :22, :19].copy()
    solid = (field >= 0).view(np.uint8)
    np.testing.assert_allclose(parallel["tensor"], diffusivity_tensor(solid, field=field, rtol=1e-10),
                               rtol=1e-8, atol=1e-12)
    for bc, sides in [("fixed", "periodic"), ("fixed", "noflux"), ("periodic", "periodic")]:
        serial = [effective_diffusivity(solid, a, bc=bc, sides=sides, field=field, rtol=1e-10).eta for a in range(3)]
        np.testing.assert_allclose(parallel[bc + "-" + sides], serial, rtol=1e-8)
    for sigma in (0.2, 5.0):
        serial = effective_diffusivity(solid, 2, bc="fixed", field=field, solid_conductivity=sigma, rtol=1e-10).eta
        assert parallel[str(sigma)] == pytest.approx(serial, rel=1e-8)
