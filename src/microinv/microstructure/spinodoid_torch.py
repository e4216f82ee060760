"""Spinodoids on a torch device (a GPU when present), batch by batch.

The same structure model as :func:`microinv.microstructure.spinodoid` (DESIGN.md,
"Microstructure model"), with the same spectral filter :math:`\\sqrt{\\gamma(q)}`
(:func:`~microinv.microstructure.spinodoid.spectral_filter`) and the same exact
:math:`\\varepsilon`-quantile level cut, run with torch's FFT on a whole batch at once:

.. math:: \\Psi = \\mathrm{Re}\\,\\mathcal{F}^{-1}\\left[\\sqrt{\\gamma(q)}\\,
          \\mathcal{F}[W]\\right], \\quad W \\sim N(0, 1) \\text{ per voxel},

pore (0) at the ``round(eps N^3)`` voxels of lowest :math:`\\Psi`, solid (1) elsewhere.
The white noise of each structure comes from a ``torch.Generator`` seeded with its own
seed, so a structure depends only on (theta, N, seed) and the device, not on the batch it
came in; but its noise differs from numpy's (PCG64): the two generators give statistically
equal, not identical, structures. ``microinv generate`` writes the numpy ones.

This module imports torch; ``microinv.microstructure`` does not import it.
"""

from __future__ import annotations

import numpy as np
import torch

from .spinodoid import _level_cut, spectral_filter

__all__ = ["TorchGenerator", "resolve_device"]


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"``: the first CUDA device when torch sees one, else the CPU."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


class TorchGenerator:
    """Spinodoids of one size on a torch device, batch by batch.

    Parameters
    ----------
    n : int
        Grid side N.
    device : str, keyword-only
        ``"auto"``, ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
    dtype : torch.dtype, keyword-only
        Precision of the field (float32: a level cut needs no more).
    """

    def __init__(self, n: int, *, device: str = "auto", dtype: torch.dtype = torch.float32):
        self.n = int(n)
        self.device = resolve_device(device)
        self.dtype = dtype

    def white_noise(self, seeds) -> torch.Tensor:
        """W (B, N, N, N): standard normal, each structure's from its own seed."""
        seeds = np.asarray(seeds, dtype=np.uint64)
        white = torch.empty((len(seeds),) + (self.n,) * 3, dtype=self.dtype, device=self.device)
        for w, seed in zip(white, seeds):
            w.normal_(generator=torch.Generator(device=self.device).manual_seed(int(seed)))
        return white

    def field(self, theta, seeds) -> torch.Tensor:
        """Gaussian random fields Psi (B, N, N, N) of a batch."""
        lengths = torch.as_tensor(np.asarray(theta, dtype=float)[:, :3], device=self.device)
        spectrum = torch.fft.rfftn(self.white_noise(seeds), dim=(1, 2, 3))
        spectrum *= spectral_filter(lengths, self.n, dtype=self.dtype)
        return torch.fft.irfftn(spectrum, s=(self.n,) * 3, dim=(1, 2, 3))

    @torch.no_grad()
    def __call__(self, theta, seeds) -> torch.Tensor:
        """Structures of (theta (B, 4), seeds (B,)): uint8 (B, N, N, N) on the device."""
        psi = self.field(theta, seeds)
        eps = np.asarray(theta, dtype=float)[:, 3]
        return torch.stack([_level_cut(p, e) for p, e in zip(psi, eps)])
