"""One home for input checks (`microinv.checks`): microstructure and physics reject bad
input alike, with an InputError that names the argument and the bad value."""

import subprocess
import sys

import numpy as np
import pytest

from microinv import checks
from microinv.errors import InputError
from microinv.microstructure import descriptors, percolation
from microinv.physics import effective_diffusivity, toolkit

#: Every public function that takes a structure, called with it and the axis.
ON_STRUCTURE = {
    "porosity": lambda solid, axis: descriptors.porosity(solid),
    "specific_surface_area": lambda solid, axis: descriptors.specific_surface_area(solid),
    "describe": lambda solid, axis: descriptors.describe(solid),
    "percolation_flags": lambda solid, axis: percolation.percolation_flags(solid),
    "percolates": percolation.percolates,
    "two_point_correlation": descriptors.two_point_correlation,
    "mean_chord_length": descriptors.mean_chord_length,
    "lineal_path": descriptors.lineal_path,
    "effective_diffusivity": effective_diffusivity,
}
ON_AXIS = ["percolates", "two_point_correlation", "mean_chord_length", "lineal_path",
           "effective_diffusivity"]
ON_PHASE = {
    "percolates": lambda solid, phase: percolation.percolates(solid, 0, phase=phase),
    "mean_chord_length": lambda solid, phase: descriptors.mean_chord_length(solid, 0, phase=phase),
    "lineal_path": lambda solid, phase: descriptors.lineal_path(solid, 0, phase=phase),
}


def channel() -> np.ndarray:
    """A pore channel along x through a 7 x 6 x 5 solid block."""
    solid = np.ones((7, 6, 5), dtype=np.uint8)
    solid[:, 2, 2] = 0
    return solid


def raised(call, *args, **kwargs) -> str:
    with pytest.raises(InputError) as error:
        call(*args, **kwargs)
    return str(error.value)


@pytest.mark.parametrize("name", ON_STRUCTURE)
def test_every_structure_function_rejects_a_value_other_than_0_or_1_alike(name):
    solid = channel()
    solid[0, :5, 0] = 2
    assert raised(ON_STRUCTURE[name], solid, 0) == (
        "solid: values must be 0 (pore) or 1 (solid), found 2 at 5 voxels")


@pytest.mark.parametrize("name", ON_STRUCTURE)
@pytest.mark.parametrize("solid, message", [
    (np.zeros(4, dtype=np.uint8), "solid: must be a 2D or 3D voxel array, got shape (4,)"),
    (np.zeros((3, 0), dtype=np.uint8), "solid: must not be empty, got shape (3, 0)"),
    (np.zeros((4, 4)), "solid: must be a uint8 voxel array (1 = solid, 0 = pore), got dtype float64"),
])
def test_every_structure_function_rejects_a_bad_array_alike(name, solid, message):
    assert raised(ON_STRUCTURE[name], solid, 0) == message


@pytest.mark.parametrize("name", ON_AXIS)
@pytest.mark.parametrize("axis", [3, -1, 1.0, "x", True])
def test_every_axis_is_checked_alike(name, axis):
    message = f"axis: must be an integer in [0, 2] (x, y, z), got {axis!r}"
    assert raised(ON_STRUCTURE[name], channel(), axis) == message


@pytest.mark.parametrize("mask_function", [percolation.spanning_mask, percolation.wrapping_mask])
def test_mask_functions_check_the_mask_and_the_axis(mask_function):
    pore = channel() == 0
    assert raised(mask_function, pore, 3) == "axis: must be an integer in [0, 2] (x, y, z), got 3"
    assert raised(mask_function, pore[0, 0], 0) == "mask: must be a 2D or 3D voxel array, got shape (5,)"
    assert raised(percolation.periodic_labels, pore[0], axes=(0, 2)) == (
        "axes: must be an integer in [0, 1] (x, y), got 2")


@pytest.mark.parametrize("name", ON_PHASE)
@pytest.mark.parametrize("phase", [3, -1, 0.5, "pore", True])
def test_every_phase_is_checked_alike(name, phase):
    assert raised(ON_PHASE[name], channel(), phase) == (
        f"phase: must be 0 (pore) or 1 (solid), got {phase!r}")


def test_lags_name_the_argument_and_the_value():
    solid = channel()
    assert raised(descriptors.describe, solid, length=0) == "length: must be an integer >= 1, got 0"
    assert raised(descriptors.lineal_path, solid, 0, max_length=-1) == "max_length: must be an integer >= 0, got -1"
    assert raised(descriptors.two_point_correlation, solid, 0, max_lag=1.5) == (
        "max_lag: must be an integer >= 0, got 1.5")


def test_checks_return_clean_values():
    assert checks.check_phase(np.int64(1)) == 1 and type(checks.check_phase(np.uint8(1))) is int
    assert checks.check_integer("count", np.int32(4), minimum=1) == 4
    assert type(checks.check_integer("count", np.int32(4))) is int
    with pytest.raises(InputError, match=r"^count: must be an integer >= 0, got False$"):
        checks.check_integer("count", False)
    mask = checks.check_mask(np.array([[0, 3], [1, 0]], dtype=np.uint8))
    assert mask.dtype == bool and mask.tolist() == [[False, True], [True, False]]
    given = np.zeros((2, 3), dtype=bool)
    assert checks.check_mask(given) is given


def test_the_solver_toolkit_uses_the_same_checks():
    for name in ("check_structure", "check_axis", "check_choice", "check_positive", "check_tolerance"):
        assert getattr(toolkit, name) is getattr(checks, name)


def test_the_checks_import_nothing_above_them():
    code = ("import sys, microinv.checks; "
            "print(sorted(m for m in sys.modules if m.startswith('microinv.')))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "['microinv.checks', 'microinv.errors']"
