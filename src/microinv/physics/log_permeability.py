"""log10 permeability per axis of batches of structures, with a floor for non-flowing ones.

The property of the process-structure-property chain is ``m = (log10 k_x, log10 k_y[,
log10 k_z])``, ``k`` the Stokes permeability of :func:`microinv.physics.stokes.permeability`
in voxel units (voxel size 1, viscosity 1, unit body force). A structure whose pore phase
does not wrap along an axis has ``k = 0`` there: its ``log10 k`` is recorded as the
``floor`` (config ``process.log10_k_floor``) with status NOT_PERCOLATING, so that it stays a
finite point of the property cloud, below every flowing structure, and outside every target
box above the floor. A solve that fails (status DIVERGED or ERROR) gives NaN, which no box
contains.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np

from microinv.checks import check_structure
from microinv.physics.result import CONVERGED, ERROR, NOT_PERCOLATING

__all__ = ["LogPermeabilities", "log10_permeability", "log10_permeabilities"]

log = logging.getLogger(__name__)


def log10_permeability(k, status, floor: float) -> np.ndarray:
    """``log10 k`` where converged, ``floor`` where not percolating, NaN otherwise.

    Parameters
    ----------
    k : array_like of float
        Permeabilities (voxel units), e.g. the ``value`` of a permeability chunk.
    status : array_like of int
        Status codes of :mod:`microinv.physics.result`, same shape.
    floor : float
        The value recorded for a structure that does not flow.

    Returns
    -------
    ndarray of float64

    Examples
    --------
    >>> log10_permeability([100.0, 0.0, np.nan], [0, 1, 2], floor=-3.0).tolist()
    [2.0, -3.0, nan]
    """
    k, status = np.asarray(k, dtype=float), np.asarray(status)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.log10(k)
    value = np.where(status == CONVERGED, value, np.nan)
    value = np.where(status == NOT_PERCOLATING, float(floor), value)
    # a flowing structure below the floor is clipped to it (it would sort below a blocked one)
    return np.where(np.isfinite(value), np.maximum(value, floor), value)


@dataclasses.dataclass(frozen=True)
class LogPermeabilities:
    """``m`` (B, dim) log10 permeabilities of a batch, their status (B, dim) and the cost.

    ``solves`` counts the Stokes solves run (axes along which the pore phase percolates);
    ``seconds`` their wall-clock time.
    """

    values: np.ndarray
    status: np.ndarray
    solves: int
    seconds: float


def log10_permeabilities(structures, *, floor: float, rtol: float = 1e-6, comm=None) -> LogPermeabilities:
    """Solve every structure of a batch along every axis: ``m = log10 k`` per axis.

    Parameters
    ----------
    structures : (B, n, n[, n]) array_like of uint8
        1 = solid, 0 = pore, periodic.
    floor : float
        ``log10 k`` recorded where the pore phase does not percolate.
    rtol : float, optional
        Relative tolerance of the Stokes solver.
    comm : petsc4py.PETSc.Comm, optional
        Communicator of each solve (default COMM_WORLD; COMM_SELF solves in this process).

    Returns
    -------
    LogPermeabilities

    Notes
    -----
    A structure without solid (infinite permeability) or any other error of a solve is
    logged and recorded with status ERROR and NaN: one structure never stops the batch.
    """
    from microinv.physics.stokes import permeability

    structures = np.asarray(structures)
    count, dim = structures.shape[0], structures.ndim - 1
    k = np.full((count, dim), np.nan)
    status = np.full((count, dim), ERROR, dtype=np.int8)
    solves, seconds = 0, 0.0
    for row in range(count):
        solid = check_structure(structures[row], name=f"structures[{row}]")
        for axis in range(dim):
            try:
                result = permeability(solid, axis, rtol=rtol, comm=comm)
            except Exception as err:  # one bad structure never stops the batch
                log.error("structure %d axis %d: %s", row, axis, err)
                continue
            k[row, axis], status[row, axis] = result.value, result.status
            solves += result.status != NOT_PERCOLATING
            seconds += result.seconds
    return LogPermeabilities(log10_permeability(k, status, floor), status, int(solves), float(seconds))

