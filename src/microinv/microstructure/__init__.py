"""Microstructure models: spinodoid structures, the Cahn-Hilliard process model, their
priors, percolation, descriptors.

The torch generator of the same structures is :mod:`.spinodoid_torch` (not imported here:
it needs torch).
"""

from .descriptors import describe
from .percolation import percolates, percolation_flags, spanning_mask, wrapping_mask
from .process import CahnHilliard, ProcessModel, process_structure
from .prior import PriorSample, ProcessPrior, SpinodoidPrior, admissible, sample_prior, sample_process
from .spinodoid import NumpyGenerator, spinodoid, spinodoid_field

__all__ = [
    "CahnHilliard",
    "ProcessModel",
    "process_structure",
    "NumpyGenerator",
    "PriorSample",
    "ProcessPrior",
    "SpinodoidPrior",
    "admissible",
    "describe",
    "percolates",
    "percolation_flags",
    "sample_prior",
    "sample_process",
    "spanning_mask",
    "spinodoid",
    "spinodoid_field",
    "wrapping_mask",
]
