"""Microstructure model: spinodoid structures, their prior, percolation, descriptors."""

from .descriptors import describe
from .percolation import percolates, percolation_flags, spanning_mask, wrapping_mask
from .plot import plot_slices
from .prior import PriorSample, SpinodoidPrior, sample_prior
from .spinodoid import spinodoid

__all__ = [
    "PriorSample",
    "SpinodoidPrior",
    "describe",
    "percolates",
    "percolation_flags",
    "plot_slices",
    "sample_prior",
    "spanning_mask",
    "spinodoid",
    "wrapping_mask",
]
