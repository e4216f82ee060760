"""The structure model of a samples chunk: spinodoid or process, in one place for every stage.

A samples chunk (``microinv sample``) names its model in its ``"model"`` field: absent for
spinodoid campaigns (theta = (a_x, a_y[, a_z], eps), :func:`~.spinodoid.spinodoid`), or the
process settings ``{"name": "process", "family": ..., "parameters": [names of phi],
"mobility": ..., "gamma": ..., "time": ..., "dt": ...}`` (theta = phi,
:class:`~.process.ProcessModel`). ``microinv
generate``, the designs and ``microinv audit`` make structures through
:func:`structures_of`, so a regenerated structure is the stored one bit for bit.
"""

from __future__ import annotations

import numpy as np

from .process import FAMILIES, CahnHilliard, ProcessModel
from .spinodoid import spinodoid

__all__ = ["PROCESS", "process_model", "process_settings", "structures_of"]

#: ``"name"`` of the process model in a samples chunk's ``"model"`` field.
PROCESS = "process"


def process_settings(section: dict) -> dict:
    """The ``"model"`` field of a process campaign's samples chunks, from its config ``process`` section."""
    return {"name": PROCESS, "family": section["family"], "parameters": list(FAMILIES[section["family"]][1]),
            **{key: section[key] for key in ("mobility", "gamma", "time", "dt")}}


def process_model(n: int, dim: int, settings: dict) -> ProcessModel:
    """The :class:`ProcessModel` of a ``"model"`` field (or a config ``process`` section)."""
    dynamics = CahnHilliard(mobility=settings["mobility"], gamma=settings["gamma"], time=settings["time"],
                            dt=settings["dt"])
    return ProcessModel(n, dim, dynamics)


def structures_of(n: int, dim: int, model: dict | None, theta, seeds) -> np.ndarray:
    """Structures (B, n, ..., n) uint8 of parameters theta (B, P) and seeds (B,) of a chunk.

    ``model`` is the samples chunk's ``"model"`` field (None: spinodoid). Process structures
    are evolved as one batch (batched FFTs); a structure does not depend on the batch it is
    made in.
    """
    theta, seeds = np.asarray(theta, dtype=float).reshape(len(seeds), -1), np.asarray(seeds, dtype=np.uint64)
    if model is None:
        return np.stack([spinodoid(t, n, int(s), dim=dim) for t, s in zip(theta, seeds)])
    return process_model(n, dim, model)(theta, seeds)
