"""Stokes permeability against closed forms: slits, ducts, sphere and cylinder arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest

from microinv.physics.result import CONVERGED, DIVERGED, NOT_PERCOLATING
from microinv.physics.stokes import permeability, permeability_tensor


def slit(shape, gap: int, normal: int) -> np.ndarray:
    """Pore slit of ``gap`` voxels between solid walls normal to axis ``normal``."""
    solid = np.ones(shape, dtype=np.uint8)
    index = [slice(None)] * len(shape)
    index[normal] = slice(1, 1 + gap)
    solid[tuple(index)] = 0
    return solid


def ball_centred(shape, radius: float) -> np.ndarray:
    """Voxels whose centres lie within ``radius`` of the cell centre (1 inside)."""
    axes = [np.arange(n) + 0.5 - n / 2 for n in shape]
    r2 = sum(x ** 2 for x in np.meshgrid(*axes, indexing="ij"))
    return (r2 < radius ** 2).astype(np.uint8)


@pytest.mark.parametrize("shape, gap, normal, axis", [
    ((5, 13, 7), 10, 1, 0),     # 3D, flow along x
    ((6, 7, 11), 9, 2, 1),      # 3D, flow along y
    ((9, 4, 5), 3, 0, 2),       # 3D, flow along z, narrow slit
    ((8, 5, 6), 1, 0, 1),       # a one-voxel slit
    ((7, 12), 8, 1, 0),         # 2D
])
def test_plane_poiseuille_is_exact(shape, gap, normal, axis):
    solid = slit(shape, gap, normal)
    result = permeability(solid, axis, rtol=1e-10)
    assert result.status == CONVERGED, result.reason
    assert result.k == pytest.approx(gap ** 3 / (12 * shape[normal]), rel=1e-8)
    assert result.log10_k == pytest.approx(math.log10(result.k))
    # no flow across the walls, none along the other in-plane axis either
    assert np.abs(np.delete(result.column, axis)).max() < 1e-8 * result.k


def test_slit_is_impermeable_across_its_walls():
    result = permeability(slit((5, 9, 6), 4, 1), 1)
    assert result.status == NOT_PERCOLATING
    assert result.k == 0.0 and result.log10_k == -math.inf
    assert "does not percolate along y" in result.reason


def test_voxel_size_scales_k_by_its_square():
    solid = slit((4, 8, 5), 5, 1)
    k_voxel = permeability(solid, 0).k
    assert permeability(solid, 0, voxel_size=2e-6).k == pytest.approx(k_voxel * 4e-12)


def duct_error(side: int) -> float:
    """Relative error of the square duct's k (per duct cross-section) vs 0.0351443 a^2."""
    shape = (3, side + 1, side + 2)
    solid = np.ones(shape, dtype=np.uint8)
    solid[:, :side, :side] = 0
    k_cell = permeability(solid, 0, rtol=1e-10).k
    return k_cell * shape[1] * shape[2] / side ** 4 / 0.0351443 - 1


def test_square_duct_converges_to_the_series_solution():
    errors = [abs(duct_error(a)) for a in (8, 16, 32)]
    assert errors[2] < 0.01
    assert errors[0] > errors[1] > errors[2]        # converging ...
    assert errors[1] / errors[2] > 2.5               # ... at second order


def upsampled(solid: np.ndarray, factor: int) -> np.ndarray:
    """The same voxel geometry with every voxel split into ``factor**dim`` voxels."""
    for axis in range(solid.ndim):
        solid = solid.repeat(factor, axis=axis)
    return solid


def test_second_order_convergence_to_the_voxel_geometry():
    """Refining a staircase structure (each voxel split) converges at second order."""
    rng = np.random.default_rng(0)
    solid = (rng.random((13, 11)) < 0.3).astype(np.uint8)
    k1, k2, k4 = (permeability(upsampled(solid, f), 0, rtol=1e-10).k / f ** 2
                  for f in (1, 2, 4))
    assert abs(k2 - k4) < abs(k1 - k2) / 3


# Zick & Homsy (1982) for smooth spheres. The voxelised sphere is a staircase whose
# no-slip surface traps more fluid: the solver converges to the staircase geometry, which
# at 64 voxels per cell lies 2.8 %, 4.3 % and 5.2 % below the smooth-sphere values
# (9.4 %, 7.5 %, 10.2 % at 32 voxels): voxelisation error, first order in voxel size.
@pytest.mark.slow
@pytest.mark.parametrize("fraction, reference, tolerance", [
    (0.064, 0.07608, 0.03), (0.216, 0.01915, 0.05), (0.5236, 0.002520, 0.06),
])
def test_simple_cubic_spheres_zick_homsy(fraction, reference, tolerance):
    """Spheres of solid fraction c in a cubic cell of 64 voxels."""
    side = 64
    radius = side * (3 * fraction / (4 * math.pi)) ** (1 / 3)
    result = permeability(ball_centred((side,) * 3, radius), 2)
    assert result.status == CONVERGED, result.reason
    assert result.k / side ** 2 == pytest.approx(reference, rel=tolerance)
    assert result.k / side ** 2 < reference      # the staircase is less permeable


# Sangani & Acrivos (1982). At 128 voxels per cell the staircase cylinders lie 2.2 %
# (phi = 0.1) and 1.2 % (phi = 0.2) below; at 256 voxels 1.0 % and 0.9 %.
@pytest.mark.parametrize("fraction", [0.1, 0.2])
def test_square_cylinder_array_sangani_acrivos(fraction):
    """Transverse flow through a square array of cylinders, 256 voxels per cell."""
    side = 256
    radius = side * math.sqrt(fraction / math.pi)
    phi = fraction
    reference = (-math.log(phi) - 1.47633597 + 2 * phi - 1.77428264 * phi ** 2
                 + 4.07770444 * phi ** 3 - 4.84227402 * phi ** 4) / (8 * phi)
    result = permeability(ball_centred((side, side), radius), 1)
    assert result.k / radius ** 2 == pytest.approx(reference, rel=0.02)


def test_isolated_pores_carry_no_flow_and_do_not_break_the_solve():
    solid = slit((9, 14, 8), 6, 1)
    holed = solid.copy()
    holed[2, 10, 3] = 0                 # a single closed pore in the wall
    holed[4:7, 9:12, 5:7] = 0           # a closed cavity
    holed[3, 8:14, 6] = 0               # a dead-end channel into the cavity
    holed[:, 12, 2] = 0                 # a channel along x, separate from the slit
    duct = np.ones_like(solid)
    duct[:, 12, 2] = 0
    result = permeability(holed, 0)
    assert result.status == CONVERGED, result.reason
    assert result.k == pytest.approx(permeability(solid, 0).k + permeability(duct, 0).k,
                                     rel=1e-7)
    assert abs(result.column[2]) < 1e-9
    assert permeability(holed, 1).status == NOT_PERCOLATING


def test_two_disjoint_channels_add_up():
    solid = np.ones((6, 10, 9), dtype=np.uint8)
    solid[:, 1:4, 1:3] = 0
    solid[:, 6:9, 4:8] = 0
    parts = []
    for window in ((slice(1, 4), slice(1, 3)), (slice(6, 9), slice(4, 8))):
        one = np.ones_like(solid)
        one[(slice(None),) + window] = 0
        parts.append(permeability(one, 0).k)
    assert permeability(solid, 0).k == pytest.approx(sum(parts), rel=1e-7)


def spinodoid_block(shape, seed: int) -> np.ndarray:
    from microinv.microstructure import spinodoid

    n = max(shape)
    solid = spinodoid((0.05 * 192 / n, 0.06 * 192 / n, 0.07 * 192 / n, 0.6), n, seed)
    return np.ascontiguousarray(solid[: shape[0], : shape[1], : shape[2]])


def test_tensor_is_symmetric_and_follows_the_axes():
    solid = spinodoid_block((20, 17, 15), seed=4)
    tensor = permeability_tensor(solid, rtol=1e-10)
    columns = np.array([permeability(solid, a, rtol=1e-10).column for a in range(3)]).T
    assert np.allclose(np.diag(tensor), np.diag(columns), rtol=1e-12)
    # the Shortley-Weller walls are not self-adjoint: symmetric to discretisation error
    assert np.abs(columns - columns.T).max() < 0.01 * np.abs(np.diag(columns)).min()
    assert np.all(np.linalg.eigvalsh(tensor) > 0)
    # permuting the structure's axes permutes the tensor, exactly
    order = (2, 0, 1)
    permuted = permeability_tensor(np.ascontiguousarray(solid.transpose(order)), rtol=1e-10)
    assert np.allclose(permuted, tensor[np.ix_(order, order)], rtol=1e-7, atol=1e-9)


def test_two_dimensional_structure_and_its_transpose():
    rng = np.random.default_rng(3)
    solid = (rng.random((37, 29)) < 0.25).astype(np.uint8)
    tensor = permeability_tensor(solid, rtol=1e-10)
    transposed = permeability_tensor(np.ascontiguousarray(solid.T), rtol=1e-10)
    assert np.allclose(transposed, tensor[::-1, ::-1], rtol=1e-7)
    assert tensor[0, 0] > 0 and tensor[1, 1] > 0


def test_solver_failure_is_reported_not_raised():
    from petsc4py import PETSc

    options = PETSc.Options()
    options["stokes_ksp_max_it"] = 2
    try:
        result = permeability(spinodoid_block((16, 16, 16), seed=1), 0)
    finally:
        options.delValue("stokes_ksp_max_it")
    assert result.status == DIVERGED
    assert result.reason == "KSP_DIVERGED_MAX_IT"
    assert math.isnan(result.k) and result.iterations == 2


def test_bad_input_names_the_problem():
    with pytest.raises(ValueError, match="2D or 3D"):
        permeability(np.zeros(10, dtype=np.uint8), 0)
    with pytest.raises(ValueError, match="empty periodic cell"):
        permeability(np.zeros((5, 6, 7), dtype=np.uint8), 0)
    with pytest.raises(ValueError, match="axis"):
        permeability(slit((5, 5, 5), 2, 1), 3)


def test_velocity_multigrid_aggregates_each_component_on_its_own():
    """The coarse operators of `galerkin_hierarchy` are COARSE_SCALE times P^T A P, with
    P piecewise constant on 2 x 2 blocks of one field (here two fields of a 6 x 5 grid)."""
    from petsc4py import PETSc
    from scipy import sparse

    from microinv.physics.multigrid import COARSE_SCALE, galerkin_hierarchy

    rng = np.random.default_rng(3)
    fields = [rng.random((6, 5)) < 0.7, rng.random((6, 5)) < 0.6]
    sizes = [int(f.sum()) for f in fields]
    fine = sparse.random(sum(sizes), sum(sizes), density=0.3, random_state=4, format="csr")
    fine = (fine + sparse.identity(sum(sizes)) * 4).tocsr()
    mat = PETSc.Mat().createAIJ(fine.shape, csr=(fine.indptr, fine.indices, fine.data),
                                comm=PETSc.COMM_SELF)
    mats, prolongations = galerkin_hierarchy(mat, fields, coarsest_cells=4)
    assert len(mats) >= 2
    pi, pj, pv = prolongations[0].getValuesCSR()
    p = sparse.csr_matrix((pv, pj, pi), shape=prolongations[0].getSize())
    assert np.array_equal(p.getnnz(axis=1), np.ones(sum(sizes)))
    coarse_sizes = [int((np.add.reduceat(np.add.reduceat(f, [0, 2, 4], 0), [0, 2, 4], 1) > 0).sum())
                    for f in fields]
    assert p.shape[1] == sum(coarse_sizes)
    # no aggregate mixes the fields, and every cell goes to the block it lies in
    cols = p.indices
    assert cols[:sizes[0]].max() < coarse_sizes[0] <= cols[sizes[0]:].min()
    for field, first, offset in ((fields[0], 0, 0), (fields[1], sizes[0], coarse_sizes[0])):
        i, j = np.nonzero(field)                             # the rows, in C order
        blocks = np.zeros((3, 3), dtype=bool)
        blocks[i // 2, j // 2] = True
        number = np.cumsum(blocks.ravel()) - 1 + offset
        assert np.array_equal(cols[first:first + i.size], number[(i // 2) * 3 + j // 2])
    ai, aj, av = mats[1].getValuesCSR()
    coarse = sparse.csr_matrix((av, aj, ai), shape=mats[1].getSize()).toarray()
    assert np.allclose(coarse, COARSE_SCALE * (p.T @ fine @ p).toarray())
