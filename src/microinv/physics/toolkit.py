"""What every solver of `microinv.physics` checks and asks of PETSc, in one place.

* Input checks (`check_structure`, `check_axis`, `check_choice`, `check_positive`,
  `check_tolerance`): those of `microinv.checks`, the package's one home for them, which
  `microinv.microstructure` uses too. Each returns the clean value or raises
  `microinv.errors.InputError` with a message that starts with the argument's name and
  names the bad value, so the command line reports it in one line.
* PETSc: the name of a converged reason (`reason_name`, `enum_name`), and the solver's
  default options wherever the user set none (`default_options`).
* The null space of periodic problems: one pinned voxel per periodic cluster
  (`pinned_voxels`).
"""

from __future__ import annotations

import contextlib

import numpy as np

from microinv.checks import check_axis, check_choice, check_positive, check_structure, check_tolerance
from microinv.microstructure.percolation import periodic_labels

__all__ = ["check_structure", "check_axis", "check_choice", "check_positive", "check_tolerance",
           "enum_name", "reason_name", "default_options", "pinned_voxels"]


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


def pinned_voxels(mask: np.ndarray, *, axes=None) -> np.ndarray:
    """Flat (C-order) index of the first voxel of every periodic cluster of ``mask``.

    Fixing the unknown of one voxel per cluster removes the null space of a periodic
    problem (a constant per face-connected cluster, the cell periodic along every axis).

    Parameters
    ----------
    mask : (M, N[, P]) bool ndarray
        The voxels that hold an unknown.
    axes : sequence of int, optional
        The periodic axes (every axis by default; ``()`` for the clusters of a box with
        pure Neumann conditions, whose null space is a constant per non-periodic cluster).

    Returns
    -------
    (n,) int64 ndarray
        Entry k - 1 is the first voxel of cluster k of
        `microinv.microstructure.percolation.periodic_labels`; those clusters are numbered
        in the order of their first voxels, so these are where the running maximum of the
        flat labels rises.
    """
    labels, _ = periodic_labels(mask, axes=axes)
    highest = np.maximum.accumulate(labels.ravel())
    return np.flatnonzero(np.diff(highest, prepend=0) > 0)
