"""What the surrogate learns of a property: label, network target, inverse, metrics, units.

A dataset property gives each structure a label per axis, y (B, dim); the network predicts
z = f(y) along array axis 0 and is trained with MSE(z_pred, z). Two kinds:

* :data:`DIFFUSIVITY`: y = eta in (0, 1], z = logit(eta) = log(eta / (1 - eta)) of eta
  clipped to [ETA_CLIP, 1 - ETA_CLIP]; inverse eta = sigmoid(z). Reported: MSE of the
  logit and MAPE = mean |eta_pred - eta| / eta (a fraction) in linear space.
* :class:`LogPermeability`: y = log10 k (k in voxel^2, periodic Stokes), with the floor
  ``log10_k_floor`` (config ``process_design.log10_k_floor``) where the pore phase does not
  flow (:func:`microinv.physics.log_permeability.log10_permeability`); z = y, a linear head.
  Reported: MSE (decades^2), MAE = mean |y_pred - y| and RMSE = sqrt(MSE), in decades.

An ensemble's prediction is the mean of its members' y (:func:`microinv.uncertainty.moments`).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torchmetrics import MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredError

from microinv.errors import InputError

#: eta is clipped to [ETA_CLIP, 1 - ETA_CLIP] before the logit, so eta = 1 stays finite.
ETA_CLIP = 1e-6


def logit(eta: torch.Tensor) -> torch.Tensor:
    """log(eta / (1 - eta)) of eta clipped to [ETA_CLIP, 1 - ETA_CLIP]."""
    return torch.logit(eta.float(), eps=ETA_CLIP)


def _log10_k_floor_default() -> float:
    from microinv.config import schema

    return float(schema()["properties"]["process_design"]["properties"]["log10_k_floor"]["default"])


@dataclasses.dataclass(frozen=True)
class Diffusivity:
    """eta along axis 0, learned as logit(eta)."""

    name = "diffusivity"
    symbol = "\\eta"  # figure labels (TeX)
    loss_label = "logit($\\eta$)"
    #: Metric name -> (factory, space): "z" compares network targets, "y" labels.
    metrics = {"mse": (MeanSquaredError, "z"), "mape": (MeanAbsolutePercentageError, "y")}
    #: The metric of the epoch log and the parity panels, with its scale and unit.
    summary = ("mape", 100.0, "%", "MAPE")
    units = {"mse": "squared error of logit(eta)", "mape": "fraction (0.01 = 1 %)"}
    space = "linear eta; sample std of the members"

    def hparams(self) -> dict:
        return {}

    def labels(self, group, path) -> np.ndarray:
        """eta (M, dim) of the property group ``properties/diffusivity``; checked per split later."""
        return group["value"][()]

    def check(self, labels: np.ndarray) -> np.ndarray:
        """Mask of labels outside (0, 1]."""
        return ~(np.isfinite(labels) & (labels > 0) & (labels <= 1))

    requirement = "eta of a row in splits/{split} must lie in (0, 1]"

    def to_z(self, y: torch.Tensor) -> torch.Tensor:
        return logit(y)

    def finish(self, solid: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The prediction y (B, dim) as is."""
        return y

    def from_z(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(z)


@dataclasses.dataclass(frozen=True)
class LogPermeability:
    """log10 k along axis 0 (voxel^2), learned directly by a linear head; ``floor`` where k = 0."""

    floor: float = -3.0
    name = "permeability"
    symbol = "\\log_{10} k"
    loss_label = "$\\log_{10} k$ (decades$^2$)"
    metrics = {"mse": (MeanSquaredError, "z"), "mae": (MeanAbsoluteError, "y"),
               "rmse": (lambda: MeanSquaredError(squared=False), "y")}
    summary = ("mae", 1.0, "decades", "MAE")
    units = {"mse": "squared error of log10 k (decades^2)", "mae": "decades of k", "rmse": "decades of k"}
    space = "log10 k (decades); sample std of the members"
    requirement = "log10 k of a row in splits/{split} must be finite (a failed solve, status diverged or error)"

    def hparams(self) -> dict:
        return {"log10_k_floor": float(self.floor)}

    def labels(self, group, path) -> np.ndarray:
        """log10 k (M, dim) of ``properties/permeability``: ``value`` and ``status`` with the floor."""
        from microinv.physics.log_permeability import log10_permeability

        if "status" not in group:
            raise InputError(f"{path}: properties/permeability/status: missing; aggregate the dataset again")
        return log10_permeability(group["value"][()], group["status"][()], self.floor)

    def check(self, labels: np.ndarray) -> np.ndarray:
        return ~np.isfinite(labels)

    def to_z(self, y: torch.Tensor) -> torch.Tensor:
        return y.float()

    def finish(self, solid: np.ndarray, y: np.ndarray) -> np.ndarray:
        """The prediction y (B, dim) with the floor where the pore phase of ``solid`` (B, N, ..., N)
        does not wrap along the axis (k = 0, as the solver records it: the training data hold no
        such axis) and below it (as :func:`~microinv.physics.log_permeability.log10_permeability`)."""
        from microinv.microstructure.percolation import wrapping_mask

        flows = np.array([[wrapping_mask(s == 0, axis).any() for axis in range(y.shape[1])] for s in solid],
                         dtype=bool).reshape(y.shape)
        return np.where(flows, np.maximum(y, self.floor), self.floor)

    def from_z(self, z: torch.Tensor) -> torch.Tensor:
        return z


DIFFUSIVITY = Diffusivity()
#: The properties a surrogate can learn, in the order a dataset is searched for one.
KINDS = ("diffusivity", "permeability")


def target(kind: str = "diffusivity", log10_k_floor: float | None = None):
    """The target of property ``kind``; the permeability floor defaults to the schema's."""
    if kind == "diffusivity":
        return DIFFUSIVITY
    if kind == "permeability":
        return LogPermeability(_log10_k_floor_default() if log10_k_floor is None else float(log10_k_floor))
    raise InputError(f"target: {kind!r} is not a property the surrogate learns ({', '.join(KINDS)})")
