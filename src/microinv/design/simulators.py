"""The forward model of the inversion: theta, seed -> structure -> surrogate eta.

One proposal of ABC (or one structure of a BO trial) is a spinodoid generated from its
parameters theta and its own seed, evaluated by the trained surrogate; the seed's
randomness is part of the likelihood. :class:`SurrogateSimulator` does that for a batch,
in chunks that bound memory, with either generator of the structure model: numpy
(:class:`microinv.microstructure.NumpyGenerator`, the structures ``microinv generate``
writes) or torch (:class:`microinv.microstructure.spinodoid_torch.TorchGenerator`, batched
on a device).
"""

from __future__ import annotations

import numpy as np
import torch

from microinv.microstructure import NumpyGenerator
from microinv.microstructure.spinodoid_torch import TorchGenerator

__all__ = ["GENERATORS", "SurrogateSimulator", "make_generator"]

GENERATORS = ("torch", "numpy")


def make_generator(kind: str, n: int, *, device: str = "auto"):
    """``"torch"`` (batched, on ``device``) or ``"numpy"`` (the ``generate`` stage's code)."""
    if kind == "torch":
        return TorchGenerator(n, device=device)
    if kind == "numpy":
        return NumpyGenerator(n)
    raise ValueError(f"generator must be one of {GENERATORS}, got {kind!r}")


class SurrogateSimulator:
    """``simulate(theta (B, 4), seeds (B,) uint64) -> eta (B, 3)`` through a surrogate.

    Parameters
    ----------
    surrogate : object
        ``.predict(structures uint8 (B, N, N, N), batch_size=...) -> eta (B, 3)``
        (``microinv.surrogate.load``).
    generator : callable
        ``generator(theta, seeds) -> structures (B, N, N, N)``, a numpy array or a torch
        tensor (moved to the host for the surrogate).
    chunk : int, keyword-only
        Structures generated and predicted at once (memory: about 20 N^3 bytes each with
        torch; 16 at N = 192 is about 2.3 GB).
    accept : callable or None, keyword-only
        ``accept(structure) -> bool``; a structure it refuses gets eta = NaN (a rejected
        proposal) and no prediction. :func:`microinv.microstructure.admissible` restricts
        the prior to the structures the dataset's prior accepts.
    """

    def __init__(self, surrogate, generator, *, chunk: int = 16, accept=None):
        if chunk < 1:
            raise ValueError(f"chunk must be >= 1, got {chunk}")
        self.surrogate = surrogate
        self.generator = generator
        self.chunk = int(chunk)
        self.accept = accept
        self.count = 0  # structures simulated so far
        self.refused = 0  # of which ``accept`` refused

    def __call__(self, theta, seeds) -> np.ndarray:
        theta = np.asarray(theta, dtype=float)
        seeds = np.asarray(seeds, dtype=np.uint64)
        eta = np.full((len(theta), 3), np.nan)
        for start in range(0, len(theta), self.chunk):
            part = slice(start, start + self.chunk)
            structures = self.generator(theta[part], seeds[part])
            if isinstance(structures, torch.Tensor):
                structures = structures.cpu().numpy()
            keep = np.arange(len(structures))
            if self.accept is not None:
                keep = np.array([i for i, s in enumerate(structures) if self.accept(s)], dtype=int)
                self.refused += len(structures) - len(keep)
            if len(keep):
                eta[start + keep] = self.surrogate.predict(structures[keep], batch_size=self.chunk)
        self.count += len(theta)
        return eta

