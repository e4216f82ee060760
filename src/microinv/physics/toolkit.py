"""What every solver of `microinv.physics` checks and asks of PETSc, in one place.

* Input checks (`check_structure`, `check_axis`, `check_choice`, `check_positive`,
  `check_tolerance`): each returns the clean value or raises
  `microinv.errors.InputError` with a message that starts with the argument's name and
  names the bad value, so the command line reports it in one line.
* PETSc: the name of a converged reason (`reason_name`, `enum_name`), and the solver's
  default options wherever the user set none (`default_options`).
* The null space of periodic problems: one pinned voxel per periodic cluster
  (`pinned_voxels`).
"""

from __future__ import annotations

import contextlib
import math
import numbers

import numpy as np

from microinv.errors import InputError
from microinv.microstructure.percolation import periodic_labels

__all__ = ["check_structure", "check_axis", "check_choice", "check_positive", "check_tolerance",
           "enum_name", "reason_name", "default_options", "pinned_voxels"]

#: Bad voxel values named one by one in a message; the rest are counted.
NAMED_VALUES = 3


def _voxels(count: int) -> str:
    return f"{count} voxel" if count == 1 else f"{count} voxels"


def check_structure(solid, *, name: str = "solid") -> np.ndarray:
    """The voxel structure a solver takes: 2D or 3D, uint8, 1 = solid and 0 = pore.

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
    solid = np.asarray(solid)
    if solid.ndim not in (2, 3):
        raise InputError(f"{name}: must be a 2D or 3D voxel array, got shape {solid.shape}")
    if solid.size == 0:
        raise InputError(f"{name}: must not be empty, got shape {solid.shape}")
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


def check_axis(axis, dim: int) -> int:
    """``axis`` as an int in ``[0, dim - 1]``; InputError for anything else (also bool)."""
    if isinstance(axis, bool) or not isinstance(axis, numbers.Integral) or not 0 <= axis < dim:
        raise InputError(f"axis: must be an integer in [0, {dim - 1}] ({', '.join('xyz'[:dim])}), got {axis!r}")
    return int(axis)


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


def enum_name(enum, value) -> str:
    """Name of a petsc4py enumeration value (``KSP.ConvergedReason``, ``KSP.NormType``...)."""
    names = {getattr(enum, n): n for n in dir(enum) if n.isupper()}
    return names.get(value, str(value))


def reason_name(reason: int) -> str:
    """PETSc's name of a KSP converged reason, e.g. ``"KSP_CONVERGED_RTOL"``."""
    from petsc4py import PETSc

    return "KSP_" + enum_name(PETSc.KSP.ConvergedReason, reason)


@contextlib.contextmanager
def default_options(prefix: str, defaults: dict):
    """Put ``defaults`` into PETSc's options database, under ``prefix``, where the user
    set nothing; take them out again on leaving, also after an error.

    A solver calls ``setFromOptions`` and ``setUp`` inside: PCMG and PCFIELDSPLIT read
    their sub-solvers' options during set-up. ``-<prefix><key>`` on the command line (or
    set by the caller) always wins.
    """
    from petsc4py import PETSc

    options = PETSc.Options(prefix)
    added = [key for key in defaults if not options.hasName(key)]
    for key in added:
        options.setValue(key, defaults[key])
    try:
        yield
    finally:
        for key in added:
            options.delValue(key)


def pinned_voxels(mask: np.ndarray) -> np.ndarray:
    """Flat (C-order) index of the first voxel of every periodic cluster of ``mask``.

    Fixing the unknown of one voxel per cluster removes the null space of a periodic
    problem (a constant per face-connected cluster, the cell periodic along every axis).

    Parameters
    ----------
    mask : (M, N[, P]) bool ndarray
        The voxels that hold an unknown.

    Returns
    -------
    (n,) int64 ndarray
        Entry k - 1 is the first voxel of cluster k of
        `microinv.microstructure.percolation.periodic_labels`; those clusters are numbered
        in the order of their first voxels, so these are where the running maximum of the
        flat labels rises.
    """
    labels, _ = periodic_labels(mask)
    highest = np.maximum.accumulate(labels.ravel())
    return np.flatnonzero(np.diff(highest, prepend=0) > 0)
