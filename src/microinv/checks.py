"""Input checks of the package, in one place below everything that uses them.

Each check returns the clean value or raises `microinv.errors.InputError` with a message
that starts with the argument's name and names the bad value, so the command line
reports it in one line: ``"axis: must be an integer in [0, 2] (x, y, z), got 3"``.

* Voxel arrays: `check_structure` (uint8, 1 = solid, 0 = pore) and `check_mask` (one
  phase, bool), both 2D or 3D and not empty; `check_field` (the continuous level-set field
  a structure was cut from: solid exactly where it is >= 0).
* Indices: `check_axis` (0, 1, 2 for x, y, z), `check_phase` (0 pore, 1 solid),
  `check_integer`.
* Options and numbers: `check_choice`, `check_positive`, `check_tolerance`.

`microinv.microstructure` and `microinv.physics` both use them; this module imports
nothing of the package but its errors.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from microinv.errors import InputError

__all__ = ["check_structure", "check_mask", "check_field", "check_axis", "check_phase", "check_integer",
           "check_choice", "check_positive", "check_tolerance"]

#: Bad voxel values named one by one in a message; the rest are counted.
NAMED_VALUES = 3


def _voxels(count: int) -> str:
    return f"{count} voxel" if count == 1 else f"{count} voxels"


def _voxel_array(array, name: str) -> np.ndarray:
    """``array`` as an ndarray, or InputError unless it is a non-empty 2D or 3D one."""
    array = np.asarray(array)
    if array.ndim not in (2, 3):
        raise InputError(f"{name}: must be a 2D or 3D voxel array, got shape {array.shape}")
    if array.size == 0:
        raise InputError(f"{name}: must not be empty, got shape {array.shape}")
    return array


def check_structure(solid, *, name: str = "solid") -> np.ndarray:
    """The voxel structure: 2D or 3D, uint8, 1 = solid and 0 = pore.

    Parameters
    ----------
    solid : (M, N[, P]) array_like
        The structure.
    name : str, optional
        How the message calls it (the argument, or the file and dataset it came from).

    Returns
    -------
    (M, N[, P]) uint8 ndarray
        ``solid`` itself when it is already such an array.

    Raises
    ------
    InputError
        For another number of dimensions, an empty array, another dtype, or values other
        than 0 and 1: ``"solid: values must be 0 (pore) or 1 (solid), found 2 at 5 voxels"``.
    """
    solid = _voxel_array(solid, name)
    if solid.dtype != np.uint8:
        raise InputError(f"{name}: must be a uint8 voxel array (1 = solid, 0 = pore), got dtype {solid.dtype}")
    if solid.max() > 1:
        values, counts = np.unique(solid[solid > 1], return_counts=True)
        found = [f"{v} at {_voxels(c)}" for v, c in zip(values[:NAMED_VALUES], counts[:NAMED_VALUES])]
        message = f"{name}: values must be 0 (pore) or 1 (solid), found {', '.join(found)}"
        if len(values) > NAMED_VALUES:
            message += f" and {len(values) - NAMED_VALUES} other values at {_voxels(counts[NAMED_VALUES:].sum())}"
        raise InputError(message)
    return solid


def check_mask(mask, *, name: str = "mask") -> np.ndarray:
    """One phase of a structure as a bool array (nonzero = in the phase), 2D or 3D.

    ``mask`` itself when it is already a bool ndarray; InputError for another number of
    dimensions or an empty array.
    """
    mask = _voxel_array(mask, name)
    return mask if mask.dtype == bool else mask != 0


def check_field(field, solid, *, name: str = "field") -> np.ndarray:
    """The level-set field f of a structure: pore where f < 0, solid where f >= 0.

    Parameters
    ----------
    field : array_like of float
        The continuous field (voxel units of length are not implied: only its sign and
        its linear interpolation between voxel centres are used by the solvers).
    solid : (M, N[, P]) uint8 ndarray
        The checked structure (`check_structure`) the field must reproduce.
    name : str, optional
        How the message calls the field.

    Returns
    -------
    float32 or float64 ndarray
        ``field`` itself when it already is one.

    Raises
    ------
    InputError
        Another shape, a non-float dtype, non-finite values, or voxels where
        ``(field >= 0) != solid``: ``"field: disagrees with solid at 3 voxels, first at (0, 4, 1)"``.
    """
    field = np.asarray(field)
    if field.shape != solid.shape:
        raise InputError(f"{name}: must have the structure's shape {solid.shape}, got {field.shape}")
    if field.dtype not in (np.float32, np.float64):
        raise InputError(f"{name}: must be a float32 or float64 array, got dtype {field.dtype}")
    finite = np.isfinite(field)
    if not finite.all():
        raise InputError(f"{name}: must be finite, found NaN or infinity at {_voxels(int((~finite).sum()))}")
    wrong = (field >= 0) != (solid == 1)
    if wrong.any():
        first = tuple(int(i) for i in np.argwhere(wrong)[0])
        raise InputError(f"{name}: disagrees with solid (solid exactly where {name} >= 0) at "
                         f"{_voxels(int(wrong.sum()))}, first at {first}")
    return field


def _integer(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


#: Names of the array axes 0, 1, 2 (the directions of a tensor property).
AXIS_NAMES = ("x", "y", "z")


def check_axis(axis, dim: int, *, name: str = "axis") -> int:
    """``axis`` as an int in ``[0, dim - 1]``; InputError for anything else (also bool)."""
    if not _integer(axis) or not 0 <= axis < dim:
        raise InputError(f"{name}: must be an integer in [0, {dim - 1}] ({', '.join(AXIS_NAMES[:dim])}), got {axis!r}")
    return int(axis)


def check_phase(phase) -> int:
    """``phase`` as the int 0 (pore) or 1 (solid); InputError for anything else."""
    if not _integer(phase) or phase not in (0, 1):
        raise InputError(f"phase: must be 0 (pore) or 1 (solid), got {phase!r}")
    return int(phase)


def check_integer(name: str, value, *, minimum: int = 0) -> int:
    """``value`` as an int >= ``minimum``; InputError otherwise (also for a bool)."""
    if not _integer(value) or value < minimum:
        raise InputError(f"{name}: must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_choice(name: str, value, allowed) -> None:
    """InputError unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise InputError(f"{name}: must be one of {list(allowed)}, got {value!r}")


def _real(name: str, value, condition: str) -> float:
    """``value`` as a float, or InputError saying what it must be (NaN is no number)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
        raise InputError(f"{name}: must be a number {condition}, got {value!r}")
    return float(value)


def check_positive(name: str, value, *, or_zero: bool = False) -> float:
    """``value`` as a float > 0 (>= 0 with ``or_zero``); InputError otherwise."""
    condition = ">= 0" if or_zero else "> 0"
    number = _real(name, value, condition)
    if not (number >= 0 if or_zero else number > 0):
        raise InputError(f"{name}: must be a number {condition}, got {value!r}")
    return number


def check_tolerance(name: str, value) -> float:
    """A relative tolerance: a float in (0, 1), as PETSc's ``KSPSetTolerances`` needs."""
    number = _real(name, value, "in (0, 1)")
    if not 0 < number < 1:
        raise InputError(f"{name}: must be a number in (0, 1), got {value!r}")
    return number
