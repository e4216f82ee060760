"""Effective diffusivity: closed forms, bounds, symmetry, an independent direct solve."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from scipy.sparse.csgraph import connected_components

from microinv.errors import InputError
from microinv.microstructure import spanning_mask, spinodoid, wrapping_mask
from microinv.physics.diffusion import diffusivity_tensor, effective_diffusivity
from microinv.physics.result import CONVERGED, DIVERGED, NOT_PERCOLATING

SHAPE = (9, 8, 7)  # nx != ny != nz catches axis-order bugs


def channels(shape, axis, where):
    """Solid block with straight pore channels along ``axis`` through the given
    transverse positions."""
    solid = np.ones(shape, dtype=np.uint8)
    for position in where:
        index = list(position)
        index.insert(axis, slice(None))
        solid[tuple(index)] = 0
    return solid


@pytest.mark.parametrize("bc", ["fixed", "periodic"])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_straight_channels_conduct_their_porosity(bc, axis):
    solid = channels(SHAPE, axis, [(1, 2), (4, 5), (5, 5)])  # two of them touch side by side
    result = effective_diffusivity(solid, axis, bc=bc)
    porosity = 1 - solid.mean()
    assert result.status == CONVERGED
    assert result.eta == pytest.approx(porosity, rel=1e-12)
    assert result.porosity == pytest.approx(porosity)
    assert result.tau == pytest.approx(1.0, rel=1e-12)
    across = effective_diffusivity(solid, (axis + 1) % 3, bc=bc)
    assert across.status == NOT_PERCOLATING and across.value == 0 and across.tau == math.inf


@pytest.mark.parametrize("bc", ["fixed", "periodic"])
def test_straight_channels_in_2d(bc):
    solid = np.ones((11, 6), dtype=np.uint8)
    solid[:, [1, 4]] = 0
    assert effective_diffusivity(solid, 0, bc=bc).eta == pytest.approx(2 / 6, rel=1e-12)
    assert effective_diffusivity(solid, 1, bc=bc).status == NOT_PERCOLATING


def laminate(n, axis, thicknesses, ndim=3):
    """Layers normal to ``axis``: pore (0) and solid (1) slabs of the given thicknesses."""
    phase = np.concatenate([np.full(t, i % 2, dtype=np.uint8) for i, t in enumerate(thicknesses)])
    shape = [n] * ndim
    shape[axis] = phase.size
    return np.broadcast_to(phase.reshape([-1 if a == axis else 1 for a in range(ndim)]), shape).copy()


@pytest.mark.parametrize("ndim", [2, 3])
def test_laminates_give_the_harmonic_and_arithmetic_means(ndim):
    s = 0.05
    solid = laminate(5, 1, [3, 2, 4, 1], ndim)  # 10 slabs along y: 7 pore, 3 solid
    sigma = np.where(solid[0, :, 0] if ndim == 3 else solid[0], s, 1.0)
    harmonic = 1 / np.mean(1 / sigma)
    arithmetic = np.mean(sigma)
    series = effective_diffusivity(solid, 1, solid_conductivity=s)
    parallel = [effective_diffusivity(solid, a, bc=bc, solid_conductivity=s).eta
                for a in [0] + [2] * (ndim == 3) for bc in ("periodic", "fixed")]
    assert series.eta == pytest.approx(harmonic, rel=1e-9)
    assert parallel == pytest.approx([arithmetic] * len(parallel), rel=1e-12)
    # Fixed ends: the resistance between the centres of the first and last slice is the
    # sum of 1/sigma over the slices between them, half of it for the two end slices.
    resistance = np.sum(1 / sigma) - (1 / sigma[0] + 1 / sigma[-1]) / 2
    fixed = effective_diffusivity(solid, 1, bc="fixed", solid_conductivity=s)
    assert fixed.eta == pytest.approx((sigma.size - 1) / resistance, rel=1e-9)


@pytest.mark.parametrize("bc", ["fixed", "periodic"])
def test_dead_ends_and_isolated_pores_carry_nothing(bc):
    solid = channels(SHAPE, 0, [(3, 3)])
    expected = effective_diffusivity(solid, 0, bc=bc).eta
    solid[4, 3, 4:6] = 0  # a dead-end branch
    solid[4:6, 6, 1] = 0  # an isolated cavity
    result = effective_diffusivity(solid, 0, bc=bc)
    assert result.eta == pytest.approx(expected, rel=1e-12)
    assert result.tau > 1


def reference_eta(solid, axis, bc, sides="periodic", s=0.0):
    """The same finite-volume problem solved directly with scipy, eta from the flux through
    one plane (fixed ends) or over all faces (periodic)."""
    pore = solid == 0
    if s > 0:
        active = np.ones(solid.shape, dtype=bool)
    elif bc == "fixed":
        active = spanning_mask(pore, axis, periodic_sides=sides == "periodic")
    else:
        active = wrapping_mask(pore, axis)
    sigma = np.where(pore, 1.0, s) * active
    n = solid.size
    index = np.arange(n).reshape(solid.shape)
    rows, cols, vals, faces = [], [], [], []
    for a in range(solid.ndim):
        k = 2 * sigma * np.roll(sigma, -1, a) / np.maximum(sigma + np.roll(sigma, -1, a), 1e-300)
        last = np.moveaxis(np.zeros(solid.shape, dtype=bool), a, 0)
        last[-1] = bc == "fixed" and (a == axis or sides == "noflux")
        k[np.moveaxis(last, 0, a)] = 0
        faces.append(k)
        i, j = index.ravel(), np.roll(index, -1, a).ravel()
        rows += [i, j, i, j]
        cols += [i, j, j, i]
        vals += [k.ravel(), k.ravel(), -k.ravel(), -k.ravel()]
    laplacian = sp.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), (n, n))
    if bc == "fixed":
        c = np.zeros(n)
        fixed = np.zeros(solid.shape, dtype=bool)
        np.moveaxis(fixed, axis, 0)[[0, -1]] = True
        np.moveaxis(c.reshape(solid.shape), axis, 0)[0] = 1.0
        free = (active & ~fixed).ravel()
        rhs = -(laplacian @ c)[free]
        c[free] = spla.spsolve(laplacian[free][:, free].tocsc(), rhs)
        c = c.reshape(solid.shape)
        first, second = np.take(c, 0, axis), np.take(c, 1, axis)
        flux = np.sum(np.take(faces[axis], 0, axis) * (first - second))
        return flux * (solid.shape[axis] - 1) / (n / solid.shape[axis])
    # Periodic: c = -x + u, L u = div(K e_axis), u = 0 at the first node of each
    # connected component of the conductance graph.
    k = faces[axis]
    rhs = (np.roll(k, 1, axis) - k).ravel()
    _, component = connected_components(abs(laplacian) > 0, directed=False)
    _, first = np.unique(component, return_index=True)
    free = np.ones(n, dtype=bool)
    free[first] = False
    free &= active.ravel()
    u = np.zeros(n)
    u[free] = spla.spsolve(laplacian[free][:, free].tocsc(), rhs[free])
    u = u.reshape(solid.shape)
    return np.sum(k * (u - np.roll(u, -1, axis) + 1)) / n


@pytest.mark.parametrize("bc, sides, s", [
    ("fixed", "periodic", 0.0), ("fixed", "noflux", 0.0), ("periodic", "periodic", 0.0),
    ("fixed", "periodic", 0.1), ("periodic", "periodic", 0.1),
])
def test_matches_an_independent_direct_solve(bc, sides, s):
    solid = spinodoid((0.5, 0.7, 0.9, 0.62), 12, 3)[:11, :10, :9].copy()
    for axis in range(3):
        result = effective_diffusivity(solid, axis, bc=bc, sides=sides, solid_conductivity=s, rtol=1e-12)
        assert result.status == CONVERGED
        assert result.eta == pytest.approx(reference_eta(solid, axis, bc, sides, s), rel=1e-8)


def test_the_energy_estimate_approaches_from_above():
    solid = spinodoid((0.2, 0.3, 0.4, 0.5), 32, 2)
    exact = effective_diffusivity(solid, 0, bc="fixed", rtol=1e-12)
    loose = [effective_diffusivity(solid, 0, bc="fixed", rtol=r) for r in (0.3, 0.1, 0.01)]
    etas = [r.eta for r in loose]
    assert etas == sorted(etas, reverse=True) and etas[-1] >= exact.eta * (1 - 1e-12)
    assert etas[-1] == pytest.approx(exact.eta, rel=1e-3)
    assert [r.iterations for r in loose] == sorted(r.iterations for r in loose)


@pytest.mark.parametrize("eps", [0.4, 0.6, 0.8])
def test_isotropic_spinodoids_obey_hashin_shtrikman_and_wiener(eps):
    solid = spinodoid((0.35, 0.35, 0.35, eps), 40, 5)
    porosity = 1 - solid.mean()
    tensor = diffusivity_tensor(solid, rtol=1e-6)
    fixed = [effective_diffusivity(solid, a, bc="fixed", rtol=1e-6).eta for a in range(3)]
    for eta in [*np.diag(tensor), *fixed]:
        assert 0 < eta <= 2 * porosity / (3 - porosity) <= porosity


def test_axis_swap_and_tensor_symmetry():
    solid = spinodoid((0.3, 0.5, 0.7, 0.6), 24, 7)[:23, :20, :17].copy()
    swapped = np.ascontiguousarray(np.swapaxes(solid, 0, 1))
    for bc in ("fixed", "periodic"):
        a = effective_diffusivity(solid, 0, bc=bc, rtol=1e-10).eta
        b = effective_diffusivity(swapped, 1, bc=bc, rtol=1e-10).eta
        assert a == pytest.approx(b, rel=1e-8)
    tensor = diffusivity_tensor(solid, rtol=1e-10)
    np.testing.assert_allclose(tensor, tensor.T, rtol=0, atol=1e-14)
    diagonal = [effective_diffusivity(solid, a, rtol=1e-10).eta for a in range(3)]
    np.testing.assert_allclose(np.diag(tensor), diagonal, rtol=1e-8)
    permuted = diffusivity_tensor(swapped, rtol=1e-10)
    np.testing.assert_allclose(permuted, tensor[[1, 0, 2]][:, [1, 0, 2]], rtol=1e-7, atol=1e-10)
    assert np.all(np.linalg.eigvalsh(tensor) > 0)


def test_no_flux_sides_cut_the_periodic_short_cut():
    solid = np.ones((6, 7, 5), dtype=np.uint8)
    solid[0:3, 0, 2] = 0   # a channel that crosses the y faces: y = 0 ...
    solid[2:6, 6, 2] = 0   # ... continues at y = 6 (its periodic neighbour)
    periodic = effective_diffusivity(solid, 0, bc="fixed", sides="periodic")
    noflux = effective_diffusivity(solid, 0, bc="fixed", sides="noflux")
    assert periodic.status == CONVERGED and periodic.eta > 0
    assert noflux.status == NOT_PERCOLATING


def test_a_diverged_solve_is_reported_not_raised():
    from petsc4py import PETSc

    options = PETSc.Options()
    options.setValue("diff_ksp_max_it", 1)
    try:
        result = effective_diffusivity(spinodoid((0.3, 0.3, 0.3, 0.5), 24, 1), 0, bc="fixed", rtol=1e-12)
    finally:
        options.delValue("diff_ksp_max_it")
    assert result.status == DIVERGED and math.isnan(result.value)
    assert result.reason == "KSP_DIVERGED_MAX_IT" and result.iterations == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"axis": 3}, "axis"), ({"bc": "dirichlet"}, "bc"), ({"sides": "open"}, "sides"),
    ({"sides": "noflux"}, "needs bc='fixed'"), ({"solid_conductivity": -1.0}, "solid_conductivity"),
])
def test_bad_arguments_say_what_is_wrong(kwargs, message):
    arguments = {"axis": 0, **kwargs}
    with pytest.raises(InputError, match=message):
        effective_diffusivity(np.zeros(SHAPE, dtype=np.uint8), arguments.pop("axis"), **arguments)
    with pytest.raises(InputError, match="uint8"):
        effective_diffusivity(np.zeros(SHAPE), 0)


@pytest.mark.parametrize("bc", ["fixed", "periodic"])
def test_thin_axes_of_one_or_two_voxels(bc):
    plane = spinodoid((0.4, 0.5, 0.6), 12, 8, dim=2)[:12, :10].copy()
    for axis in (0, 1):
        expected = effective_diffusivity(plane, axis, bc=bc, rtol=1e-12).eta
        one = effective_diffusivity(plane[:, :, None].copy(), axis, bc=bc, rtol=1e-12)
        two = effective_diffusivity(np.repeat(plane[:, :, None], 2, axis=2), axis, bc=bc, rtol=1e-12)
        assert one.eta == pytest.approx(expected, rel=1e-9)
        assert two.eta == pytest.approx(expected, rel=1e-9)
    if bc == "periodic":  # every pore voxel is a channel of length one along z
        assert effective_diffusivity(plane[:, :, None].copy(), 2).eta == pytest.approx(1 - plane.mean())


def test_tensor_of_a_layered_structure_is_zero_across_the_layers():
    solid = laminate(6, 2, [2, 3, 1, 2])[:7, :5].copy()  # pore slabs normal to z
    tensor = diffusivity_tensor(solid, rtol=1e-2)
    porosity = 1 - solid.mean()
    np.testing.assert_allclose(tensor, np.diag([porosity, porosity, 0.0]), atol=1e-14)


def test_tensor_in_2d():
    solid = spinodoid((0.3, 0.5, 0.55), 40, 6, dim=2)[:37, :31].copy()
    tensor = diffusivity_tensor(solid, rtol=1e-10)
    assert tensor.shape == (2, 2) and tensor[0, 1] == tensor[1, 0]
    diagonal = [effective_diffusivity(solid, a, rtol=1e-10).eta for a in range(2)]
    np.testing.assert_allclose(np.diag(tensor), diagonal, rtol=1e-8)
    assert np.all(np.linalg.eigvalsh(tensor) > 0) and np.all(np.diag(tensor) <= 1 - solid.mean())
