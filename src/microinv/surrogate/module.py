"""Loss, metrics and optimisation of the surrogate (LightningModule).

The network predicts the target z of the label y along the first array axis
(:mod:`microinv.surrogate.targets`): z = logit(eta) = log(eta / (1 - eta)) for the
diffusivity, z = log10 k (voxel^2) for the permeability. The loss is the mean squared error
of the target, MSE = mean (z_pred - z)^2. The diffusivity reports besides the mean absolute
percentage error in linear space, MAPE = mean |eta_pred - eta| / eta (a fraction: 0.01 is
1 %), with eta_pred = sigmoid(z_pred); the permeability MAE and RMSE of log10 k in decades.
All are logged per stage (``train``, ``val``, ``test``) over all directions pooled
(``{stage}/mse``) and per direction (``{stage}/mse_x`` ...). Model selection and
learning-rate decay follow ``val/mse``.

An ensemble of M members (``ensemble``) trains them side by side in one module, one
checkpoint: the loss is the mean over members of their MSE, each member on its own
samples when the batch has a member axis (the training loader draws order and
augmentation per member), else all on the same ones. Training metrics are the members'
own errors; validation and test metrics are those of the ensemble's mean prediction
(:func:`microinv.uncertainty.moments`), what the surrogate predicts.
"""

from __future__ import annotations

import lightning as L
import torch
from torch import nn
from torch.nn import functional as F

from microinv.data.dataset import SPLITS
from microinv.surrogate.data import DIRECTIONS
from microinv.surrogate.network import CONV_WIDTHS, FC_WIDTHS, EnsembleNet
from microinv.surrogate.targets import target as make_target
from microinv.uncertainty import moments

MONITOR = "val/mse"


def groups(dim: int = 3) -> tuple:
    """(suffix, direction) of the pooled metrics (None) and of each direction's."""
    return (("", None),) + tuple((f"_{name}", d) for d, name in enumerate(DIRECTIONS[:dim]))


GROUPS = groups(3)


def _stage_metrics(kind, dim: int) -> nn.ModuleDict:
    metrics = {}
    for suffix, _ in groups(dim):
        for name, (factory, _) in kind.metrics.items():
            metrics[f"{name}{suffix}"] = factory()
    return nn.ModuleDict(metrics)


class SurrogateModule(L.LightningModule):
    """Surrogate of a property along axis 0 of a voxel structure; see :class:`EnsembleNet`.

    Parameters
    ----------
    n, dim, conv_widths, fc_widths, convs_per_block, padding_mode
        Network of each member, as in :class:`~microinv.surrogate.network.SurrogateNet`.
    target : {"diffusivity", "permeability"}
        What it learns (:func:`microinv.surrogate.targets.target`).
    log10_k_floor : float, optional
        The permeability's floor of non-flowing axes (default: the schema's).
    ensemble : int
        Members M of the deep ensemble (config ``surrogate.ensemble``).
    lr, weight_decay : float
        AdamW learning rate and decoupled weight decay.
    lr_factor : float
        Factor of the learning rate when ``val/mse`` has not improved for ``lr_patience`` epochs.
    """

    def __init__(self, n: int, *, dim: int = 3, target: str = "diffusivity", log10_k_floor: float | None = None,
                 conv_widths=CONV_WIDTHS, fc_widths=FC_WIDTHS, convs_per_block: int = 2,
                 padding_mode: str = "circular", lr: float = 1e-3, weight_decay: float = 1e-4,
                 lr_factor: float = 0.5, lr_patience: int = 4, ensemble: int = 1):
        super().__init__()
        self.target = make_target(target, log10_k_floor)
        if log10_k_floor is None and target != "diffusivity":
            log10_k_floor = self.target.floor  # recorded in the checkpoint
        self.save_hyperparameters()
        self.hparams.conv_widths, self.hparams.fc_widths = list(conv_widths), list(fc_widths)
        self.net = EnsembleNet(n, dim=dim, members=ensemble, conv_widths=conv_widths, fc_widths=fc_widths,
                               convs_per_block=convs_per_block, padding_mode=padding_mode)
        # not a ModuleDict keyed by stage: "train" is a Module method
        self.train_metrics, self.val_metrics, self.test_metrics = (_stage_metrics(self.target, dim)
                                                                   for _ in SPLITS)

    def forward(self, solid: torch.Tensor) -> torch.Tensor:
        """solid : (B, N, ..., N) or (B, M, N, ..., N) 0/1 -> (M, B) targets along axis 0 per member."""
        return self.net(solid)

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """Read a single-network checkpoint of earlier versions (``net.*``) as member 0."""
        state = checkpoint["state_dict"]
        if not any(key.startswith("net.members.") for key in state):
            checkpoint["state_dict"] = {key.replace("net.", "net.members.0.", 1) if key.startswith("net.") else key:
                                        value for key, value in state.items()}

    def _common_step(self, batch, stage: str) -> dict:
        # "eta" is the label y: eta, or log10 k (self.target)
        solid, eta, direction = batch  # (B, M, N, ..., N), (B, M), (B, M) or (B, N, ..., N), (B,), (B,)
        z_members = self(solid).float()  # (M, B)
        z = self.target.to_z(eta)
        own = eta.ndim == 2  # each member its own samples
        if own:
            z, eta, direction = z.T, eta.T, direction.T  # (M, B)
        loss = F.mse_loss(z_members, z.expand_as(z_members))
        eta_members = self.target.from_z(z_members)
        if own:  # metrics of the members
            z_pred, z, eta, direction = z_members.flatten(), z.flatten(), eta.flatten(), direction.flatten()
            eta_pred, eta_std = eta_members.flatten(), None
        else:  # metrics of the ensemble's prediction
            eta_pred, eta_std = moments(eta_members)
            z_pred = self.target.to_z(eta_pred)
        metrics = getattr(self, f"{stage}_metrics")
        pairs = {"z": (z_pred, z), "y": (eta_pred, eta)}
        for suffix, d in groups(self.hparams.dim):
            mask = slice(None) if d is None else direction == d
            for name, (_, space) in self.target.metrics.items():
                pred, true = pairs[space]
                metrics[f"{name}{suffix}"].update(pred[mask], true[mask])
        self.log_dict({f"{stage}/{name}": metric for name, metric in metrics.items()},
                      on_step=False, on_epoch=True, batch_size=len(eta))
        out = {"loss": loss, "eta_pred": eta_pred.detach(), "eta": eta, "direction": direction}
        return out if eta_std is None else {**out, "eta_std": eta_std.detach()}

    def training_step(self, batch, batch_idx):
        out = self._common_step(batch, "train")
        self.log("train/loss", out["loss"], prog_bar=True, batch_size=len(out["eta"]))
        return out["loss"]

    def validation_step(self, batch, batch_idx):
        self._common_step(batch, "val")

    def test_step(self, batch, batch_idx):
        return self._common_step(batch, "test")

    def configure_optimizers(self):
        optimizer = torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=self.hparams.lr_factor, patience=self.hparams.lr_patience)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": MONITOR}}
