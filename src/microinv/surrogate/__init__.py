"""CNN surrogate of a property per axis: voxel structure -> eta along x, y, z (3D diffusivity)
or log10 k along x, y (2D permeability of process campaigns; :mod:`microinv.surrogate.targets`).

>>> surrogate = load("results/default/surrogate")          # doctest: +SKIP
>>> eta = surrogate.predict(structures, batch_size=64)      # (B, 3)  # doctest: +SKIP
>>> eta, std = surrogate.predict(structures, return_std=True)  # ensembles  # doctest: +SKIP
>>> m = load("results/psp2d/surrogate").predict(structures)  # (B, 2) log10 k  # doctest: +SKIP

Training: :func:`microinv.surrogate.train.train` (``microinv train``); hyper-parameter
search: :mod:`microinv.surrogate.tuning`.
"""

from __future__ import annotations

import pickle
from contextlib import nullcontext
from pathlib import Path

import numpy as np
import torch

from microinv.errors import InputError
from microinv.surrogate.data import direction_axes
from microinv.surrogate.module import SurrogateModule
from microinv.uncertainty import moments

__all__ = ["Surrogate", "load"]


class Surrogate:
    """A trained surrogate ready for batched prediction (no gradients), an ensemble of :attr:`members` networks.

    Parameters
    ----------
    module : SurrogateModule
    device : str or torch.device, optional
        Default: CUDA when available, else CPU. On CUDA the network runs in bf16 with
        channels-last 3D tensors (3D networks).
    source : str, optional
        Where the weights came from, for error messages.
    """

    def __init__(self, module: SurrogateModule, device=None, source: str = "surrogate"):
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.net = module.net.eval().to(self.device)
        self.dim = self.net.dim
        if self.device.type == "cuda" and self.dim == 3:
            self.net = self.net.to(memory_format=torch.channels_last_3d)
        self.n = self.net.n
        #: What it predicts (:mod:`microinv.surrogate.targets`).
        self.target = module.target
        #: Ensemble size M (config ``surrogate.ensemble``).
        self.members = len(self.net.members)
        self.source = source

    def predict(self, structures, batch_size: int = 64, *, return_std: bool = False):
        """The label along each axis of each structure: the ensemble's mean, and its spread if asked.

        Parameters
        ----------
        structures : (B, N, ..., N) or (N, ..., N) uint8 ndarray
            Voxel structures at full resolution (dim axes), 1 = solid, 0 = pore.
        batch_size : int
            Structures per forward pass (each is passed once per direction and member).
        return_std : bool
            Also return the standard deviation of the members' predictions.

        Returns
        -------
        eta : (B, dim) float64 ndarray
            Predicted eta_x, eta_y, eta_z, each in (0, 1): the mean of the members' eta
            (linear space, :func:`microinv.uncertainty.moments`); for a permeability
            surrogate log10 k_x, log10 k_y[, log10 k_z] (the members' mean), the floor where
            the pore phase does not wrap along the axis (no flow) or the prediction is below it.
        std : (B, dim) float64 ndarray
            With ``return_std``: the members' standard deviation per direction.

        Raises
        ------
        InputError
            ``return_std`` of a single network (M = 1), which has no spread: the error names
            the checkpoint and the config key ``surrogate.ensemble``.
        """
        if return_std and self.members == 1:
            raise InputError(f"{self.source}: surrogate.ensemble: a single network has no predictive spread; "
                             "train an ensemble (surrogate.ensemble >= 2) to predict a standard deviation")
        solid = np.asarray(structures)
        dim = self.dim
        if solid.ndim == dim:
            solid = solid[None]
        if solid.ndim != dim + 1 or solid.shape[1:] != (self.n,) * dim:
            side = ", ".join([str(self.n)] * dim)
            raise InputError(f"{self.source}: n: the surrogate takes structures of shape (B, {side}) or "
                             f"({side}), got {solid.shape}")
        eta = np.empty((self.members, len(solid), dim))
        cuda = self.device.type == "cuda"
        autocast = torch.autocast("cuda", dtype=torch.bfloat16) if cuda else nullcontext()
        with torch.inference_mode(), autocast:
            for start in range(0, len(solid), batch_size):
                batch = torch.from_numpy(np.ascontiguousarray(solid[start:start + batch_size], dtype=np.uint8))
                batch = batch.to(self.device, non_blocking=cuda)
                for d, axes in enumerate(direction_axes(dim)):
                    z = self.net(batch.permute(0, *(a + 1 for a in axes)))
                    eta[:, start:start + len(batch), d] = self.target.from_z(z.float()).cpu().numpy()
        mean, std = moments(eta)
        mean = self.target.finish(solid, mean)
        return (mean, std) if return_std else mean


def load(path, *, device=None) -> Surrogate:
    """Load a trained surrogate from ``model.ckpt`` or from the folder that holds it."""
    path = Path(path)
    ckpt = path / "model.ckpt" if path.is_dir() else path
    if not ckpt.is_file():
        raise InputError(f"{ckpt}: surrogate checkpoint does not exist; train one with `microinv train`")
    try:
        module = SurrogateModule.load_from_checkpoint(ckpt, map_location="cpu")
    except (pickle.UnpicklingError, RuntimeError, KeyError, TypeError, EOFError) as err:
        raise InputError(f"{ckpt}: not a readable surrogate checkpoint ({type(err).__name__})") from err
    return Surrogate(module, device=device, source=str(ckpt))
