"""Microstructure model: spinodoid structures, their prior, percolation, descriptors."""

from .percolation import percolates, percolation_flags, spanning_mask, wrapping_mask
from .prior import PriorSample, SpinodoidPrior, sample_prior
from .spinodoid import spinodoid

__all__ = [
    "PriorSample",
    "SpinodoidPrior",
    "percolates",
    "percolation_flags",
    "sample_prior",
    "spanning_mask",
    "spinodoid",
    "wrapping_mask",
]
