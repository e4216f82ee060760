"""Outcome of one homogenization solve, common to every property solver."""

from __future__ import annotations

import dataclasses

# Per-sample status codes stored in property chunks (int8) and their meaning.
STATUS_CODES = {
    0: "converged",
    1: "not_percolating",
    2: "diverged",
    3: "error",
}
CONVERGED, NOT_PERCOLATING, DIVERGED, ERROR = 0, 1, 2, 3


@dataclasses.dataclass(frozen=True)
class SolveResult:
    """What every solver reports besides its property value.

    Attributes
    ----------
    value : float
        The effective property (eta for diffusivity, k for permeability); 0 when the
        phase does not percolate, NaN when the solve failed.
    status : int
        One of ``STATUS_CODES``.
    reason : str
        PETSc's converged/diverged reason (``"KSP_CONVERGED_RTOL"``...) or why no solve
        was needed (``"pore phase does not percolate along x"``).
    iterations : int
        Krylov iterations.
    residual : float
        Final (preconditioned, as PETSc reports it) residual norm.
    seconds : float
        Wall-clock time of set-up plus solve, in s.
    settings : dict
        Solver settings (KSP/PC types, tolerances, grid size, ranks) for provenance.
    """

    value: float
    status: int
    reason: str
    iterations: int = 0
    residual: float = float("nan")
    seconds: float = 0.0
    settings: dict = dataclasses.field(default_factory=dict)

    @property
    def converged(self) -> bool:
        return self.status == CONVERGED
