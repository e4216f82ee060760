"""The solver toolkit: one set of input checks, PETSc helpers and one periodic labelling."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from microinv.errors import InputError
from microinv.microstructure.percolation import periodic_labels
from microinv.physics import effective_diffusivity, permeability
from microinv.checks import check_axis, check_choice, check_positive, check_structure, check_tolerance
from microinv.physics.toolkit import default_options, pinned_voxels, reason_name

SOLVERS = [effective_diffusivity, permeability]


def block(shape=(7, 6, 5)) -> np.ndarray:
    """A pore channel along x through a solid block."""
    solid = np.ones(shape, dtype=np.uint8)
    solid[:, 2, 2] = 0
    return solid


# -- one message for a bad structure, from every solver ----------------------------------
@pytest.mark.parametrize("solver", SOLVERS)
def test_a_value_other_than_0_or_1_is_rejected_with_its_count(solver):
    solid = block()
    solid[0, :5, 0] = 2
    solid[3, 0, 0] = 7
    message = "solid: values must be 0 (pore) or 1 (solid), found 2 at 5 voxels, 7 at 1 voxel"
    with pytest.raises(InputError) as error:
        solver(solid, 0)
    assert str(error.value) == message


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("solid, message", [
    (np.zeros((5, 5, 5)), "solid: must be a uint8 voxel array (1 = solid, 0 = pore), got dtype float64"),
    (np.zeros((5, 5, 5), dtype=bool), "got dtype bool"),
    (np.zeros(10, dtype=np.uint8), "solid: must be a 2D or 3D voxel array, got shape (10,)"),
    (np.zeros((0, 4, 4), dtype=np.uint8), "solid: must not be empty, got shape (0, 4, 4)"),
])
def test_every_solver_rejects_a_bad_structure_alike(solver, solid, message):
    with pytest.raises(InputError) as error:
        solver(solid, 0)
    assert message in str(error.value)


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("axis", [3, -1, 1.0, "x", True])
def test_every_solver_rejects_a_bad_axis_naming_it(solver, axis):
    with pytest.raises(InputError) as error:
        solver(block(), axis)
    assert str(error.value) == f"axis: must be an integer in [0, 2] (x, y, z), got {axis!r}"


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("rtol", [0.0, -1e-6, 1.0, float("nan"), "tight"])
def test_every_solver_rejects_a_bad_tolerance(solver, rtol):
    with pytest.raises(InputError) as error:
        solver(block(), 0, rtol=rtol)
    assert str(error.value) == f"rtol: must be a number in (0, 1), got {rtol!r}"


def test_permeability_rejects_a_bad_voxel_size():
    with pytest.raises(InputError, match=r"^voxel_size: must be a number > 0, got -1.0$"):
        permeability(block(), 0, voxel_size=-1.0)


def test_stokes_specific_checks_raise_input_errors():
    with pytest.raises(InputError, match=r"^solid: the permeability needs at least 3 voxels"):
        permeability(np.ones((7, 6, 2), dtype=np.uint8), 0)
    with pytest.raises(InputError, match="empty periodic cell"):
        permeability(np.zeros((5, 6, 7), dtype=np.uint8), 0)


# -- the checks themselves -------------------------------------------------------------
def test_a_good_structure_is_returned_as_is():
    solid = block()
    assert check_structure(solid) is solid


def test_many_bad_values_are_summarised():
    solid = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    with pytest.raises(InputError) as error:
        check_structure(solid, name="structures[3]")
    assert str(error.value) == ("structures[3]: values must be 0 (pore) or 1 (solid), found 2 at 1 voxel, "
                                "3 at 1 voxel, 4 at 1 voxel and 19 other values at 19 voxels")


def test_axis_choice_and_number_checks_return_clean_values():
    assert check_axis(np.int64(1), 2) == 1 and type(check_axis(np.int64(1), 2)) is int
    with pytest.raises(InputError, match=r"^axis: must be an integer in \[0, 1\] \(x, y\), got 2$"):
        check_axis(2, 2)
    check_choice("bc", "fixed", ("periodic", "fixed"))
    with pytest.raises(InputError, match=r"^bc: must be one of \['periodic', 'fixed'\], got 'dirichlet'$"):
        check_choice("bc", "dirichlet", ("periodic", "fixed"))
    assert check_positive("voxel_size", np.float32(0.5)) == 0.5
    assert check_tolerance("rtol", 1e-8) == 1e-8
    assert check_positive("solid_conductivity", 0, or_zero=True) == 0.0
    with pytest.raises(InputError, match=r"^solid_conductivity: must be a number >= 0, got -1$"):
        check_positive("solid_conductivity", -1, or_zero=True)


# -- PETSc ----------------------------------------------------------------------------
def test_reason_names_are_petsc_names():
    from petsc4py import PETSc

    assert reason_name(PETSc.KSP.ConvergedReason.CONVERGED_RTOL) == "KSP_CONVERGED_RTOL"
    assert reason_name(PETSc.KSP.ConvergedReason.DIVERGED_MAX_IT) == "KSP_DIVERGED_MAX_IT"
    assert reason_name(-999) == "KSP_-999"


def test_defaults_apply_only_where_the_user_set_nothing_and_are_removed_after():
    from petsc4py import PETSc

    options = PETSc.Options()
    options.setValue("toolkit_test_ksp_type", "gmres")
    try:
        with default_options("toolkit_test_", {"ksp_type": "cg", "ksp_max_it": 7}):
            assert options.getString("toolkit_test_ksp_type") == "gmres"
            assert options.getInt("toolkit_test_ksp_max_it") == 7
        assert options.getString("toolkit_test_ksp_type") == "gmres"
        assert not options.hasName("toolkit_test_ksp_max_it")
    finally:
        options.delValue("toolkit_test_ksp_type")


def test_defaults_are_removed_when_the_set_up_fails():
    from petsc4py import PETSc

    with pytest.raises(RuntimeError):
        with default_options("toolkit_test_", {"ksp_max_it": 7}):
            raise RuntimeError("set-up failed")
    assert not PETSc.Options().hasName("toolkit_test_ksp_max_it")


# -- one periodic cluster labelling ----------------------------------------------------
def test_periodic_labels_merge_across_the_periodic_faces_only():
    mask = np.zeros((5, 6), dtype=bool)
    mask[0, 1] = mask[4, 1] = True          # meet across the faces of axis 0
    mask[2, 0] = mask[2, 5] = True          # meet across the faces of axis 1
    mask[2, 3] = True                       # alone
    labels, count = periodic_labels(mask)
    assert count == 3
    assert labels[0, 1] == labels[4, 1] and labels[2, 0] == labels[2, 5]
    assert len({labels[0, 1], labels[2, 0], labels[2, 3]}) == 3
    assert (labels[~mask] == 0).all()
    labels, count = periodic_labels(mask, axes=(1,))
    assert count == 4 and labels[0, 1] != labels[4, 1] and labels[2, 0] == labels[2, 5]
    labels, count = periodic_labels(mask, axes=())
    assert count == 5


def test_periodic_labels_are_numbered_by_their_first_voxel():
    rng = np.random.default_rng(3)
    mask = rng.random((9, 8, 7)) < 0.4
    labels, count = periodic_labels(mask)
    flat = labels.ravel()[mask.ravel()]
    _, first = np.unique(flat, return_index=True)
    assert count > 5 and np.array_equal(flat[np.sort(first)], np.arange(1, count + 1))
    # The same partition as the components of the torus graph, built voxel by voxel.
    index = np.arange(mask.size).reshape(mask.shape)
    edges = np.concatenate([np.stack([index[both], np.roll(index, -1, axis=a)[both]])
                            for a in range(3) for both in [mask & np.roll(mask, -1, axis=a)]], axis=1)
    graph = sparse.coo_matrix((np.ones(edges.shape[1]), tuple(edges)), shape=(mask.size,) * 2)
    torus = connected_components(graph, directed=False)[1][mask.ravel()]
    pairs = np.unique(np.stack([torus, labels[mask]]), axis=1)
    assert pairs.shape[1] == count == len(np.unique(torus))


def test_pinned_voxels_are_the_first_voxel_of_each_periodic_cluster():
    rng = np.random.default_rng(4)
    mask = rng.random((13, 11, 9)) < 0.3
    labels, count = periodic_labels(mask)
    pins = pinned_voxels(mask)
    assert len(pins) == count
    assert np.array_equal(labels.flat[pins], np.arange(1, count + 1))
    for k, pin in enumerate(pins, start=1):
        assert np.flatnonzero(labels == k)[0] == pin
    assert pinned_voxels(np.zeros((3, 4), dtype=bool)).size == 0
