"""Numerical homogenization: effective diffusivity and Stokes permeability (PETSc, MPI).

Solvers are imported lazily so that ``import microinv.physics`` does not initialise
PETSc; the command-line entry calls ``petsc4py.init`` first with the user's options.
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "effective_diffusivity": "microinv.physics.diffusion",
    "diffusivity_tensor": "microinv.physics.diffusion",
    "permeability": "microinv.physics.stokes",
    "permeability_tensor": "microinv.physics.stokes",
}

# property name -> (solver function, keyword arguments taken from the config's
# ``solve.<property>`` section). "conductivity" is the two-phase conductivity: the
# diffusivity solver with a conducting solid phase.
PROPERTIES = {
    "diffusivity": ("effective_diffusivity", ("bc", "sides")),
    "conductivity": ("effective_diffusivity", ("bc", "sides", "solid_conductivity")),
    "permeability": ("permeability", ()),
}

__all__ = list(_EXPORTS) + ["PROPERTIES"]


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'microinv.physics' has no attribute {name!r}")
