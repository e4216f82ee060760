"""Random streams of the design stage, all derived from one design seed.

Every stream is ``SeedSequence(seed, spawn_key=(purpose, *index))`` with its own purpose,
so streams never overlap, and any one of them (generation t of ABC, trial i of BO, the
validation structures) can be rebuilt alone, which is what makes resumed runs exact.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ABC_GENERATION", "BO_TRIAL", "BO_WORKER", "VALIDATION", "stream", "uint64_seeds"]

ABC_GENERATION, BO_TRIAL, BO_WORKER, VALIDATION = range(4)


def stream(seed: int, purpose: int, *index: int) -> np.random.SeedSequence:
    """The seed sequence of one purpose (and index) of a design run."""
    return np.random.SeedSequence(int(seed), spawn_key=(purpose, *index))


def uint64_seeds(seed_sequence: np.random.SeedSequence, count: int) -> np.ndarray:
    """``count`` 64-bit structure seeds, uint64 (count,)."""
    return seed_sequence.generate_state(count, np.uint64)
