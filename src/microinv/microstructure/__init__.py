"""Microstructure model: spinodoid structures, their prior, percolation, descriptors."""

from .percolation import percolates, percolation_flags, spanning_mask, wrapping_mask
from .spinodoid import spinodoid

__all__ = ["percolates", "percolation_flags", "spanning_mask", "spinodoid", "wrapping_mask"]
