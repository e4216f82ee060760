"""Batched spinodoid generators for the inversion: numpy (reference) and torch (device).

Both make the level-cut Gaussian random field of DESIGN.md ("Microstructure model") for a
batch of (theta, seed):

    Psi = IFFT( sqrt(gamma(q)) FFT(W) ),  W ~ N(0, 1) per voxel,
    gamma(q) = [1 + ((a_x q_x)^2 + (a_y q_y)^2 + (a_z q_z)^2)^4]^-2,

q the integer wavenumbers of the N^3 grid, and mark the round(eps N^3) voxels of lowest Psi
as pore (0), the rest solid (1), so the porosity is exact. :class:`NumpyGenerator` calls
``microinv.microstructure.spinodoid``, the structure that ``microinv generate`` writes.
:class:`TorchGenerator` runs the same recipe with torch's FFT on a device (a GPU when
present); it draws the white noise from a ``torch.Generator`` seeded with the structure's
own seed, so a structure depends only on (theta, N, seed) and the device, not on the batch
it came in, but its noise differs from numpy's: the two generators give statistically
equal, not identical, structures.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["NumpyGenerator", "TorchGenerator", "resolve_device", "spectral_filter"]


def resolve_device(device: str = "auto") -> torch.device:
    """``"auto"``: the first CUDA device when torch sees one, else the CPU."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(device)


def spectral_filter(a: torch.Tensor, n: int) -> torch.Tensor:
    """sqrt(gamma(q)) = 1 / (1 + s^4), s = sum_i (a_i q_i)^2, on the rfft half-grid.

    Parameters
    ----------
    a : (B, 3) tensor
        Length parameters (a_x, a_y, a_z).
    n : int
        Grid side N.

    Returns
    -------
    (B, N, N, N // 2 + 1) tensor, dtype and device of ``a``.
    """
    q = torch.fft.fftfreq(n, d=1.0 / n, dtype=a.dtype, device=a.device) ** 2
    qz = torch.fft.rfftfreq(n, d=1.0 / n, dtype=a.dtype, device=a.device) ** 2
    a2 = (a**2)[:, :, None, None, None]
    s = a2[:, 0] * q[:, None, None] + a2[:, 1] * q[None, :, None] + a2[:, 2] * qz[None, None, :]
    return 1.0 / (1.0 + s**4)


def _level_cut(psi: torch.Tensor, eps: float) -> torch.Tensor:
    """Solid (1) / pore (0) uint8 of one field: exactly round(eps * size) pore voxels.

    The pore phase is the voxels below the k-th smallest value T plus, when values tie at
    T, the first of the tied voxels in memory order, up to k.
    """
    flat = psi.reshape(-1)
    k = int(round(eps * flat.numel()))
    pore = torch.zeros_like(flat, dtype=torch.bool)
    if k > 0:
        threshold = torch.kthvalue(flat, k).values
        pore = flat < threshold
        tied = torch.nonzero(flat == threshold).squeeze(1)
        pore[tied[: k - int(pore.sum())]] = True
    return (~pore).to(torch.uint8).reshape(psi.shape)


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
        theta = torch.as_tensor(np.asarray(theta), dtype=self.dtype, device=self.device)
        spectrum = torch.fft.rfftn(self.white_noise(seeds), dim=(1, 2, 3))
        spectrum *= spectral_filter(theta[:, :3], self.n)
        return torch.fft.irfftn(spectrum, s=(self.n,) * 3, dim=(1, 2, 3))

    @torch.no_grad()
    def __call__(self, theta, seeds) -> torch.Tensor:
        """Structures of (theta (B, 4), seeds (B,)): uint8 (B, N, N, N) on the device."""
        psi = self.field(theta, seeds)
        eps = np.asarray(theta, dtype=float)[:, 3]
        return torch.stack([_level_cut(p, e) for p, e in zip(psi, eps)])


class NumpyGenerator:
    """Spinodoids of one size from ``microinv.microstructure.spinodoid``, one by one.

    Parameters
    ----------
    n : int
        Grid side N.
    """

    def __init__(self, n: int):
        from microinv.microstructure import spinodoid

        self.n = int(n)
        self._spinodoid = spinodoid

    def __call__(self, theta, seeds) -> np.ndarray:
        """Structures of (theta (B, 4), seeds (B,)): uint8 (B, N, N, N)."""
        return np.stack([self._spinodoid(t, self.n, int(s), dim=3) for t, s in zip(theta, seeds)])
