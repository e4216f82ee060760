"""Lightning callbacks that draw a training run's figures on the global-zero rank.

* :class:`TestPredictions`: gathers the test predictions (mean and ensemble spread) of
  every rank and draws :func:`microinv.figures.surrogate.parity` and
  :func:`microinv.figures.surrogate.calibration` at the end of testing;
* :class:`LearningCurves`: draws :func:`microinv.figures.surrogate.learning_curves` from
  every ``version_*/metrics.csv`` of the run's CSV logs after fit.
"""

from __future__ import annotations

from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_only

from microinv.figures.surrogate import calibration, learning_curves, parity, read_epoch_metrics


class TestPredictions(Callback):
    """Collects test predictions and writes the parity and calibration plots at the end of testing.

    :attr:`rows` holds them afterwards, (S, 4) float64: solved label (eta, or log10 k),
    predicted mean, ensemble standard deviation, direction.
    """

    def __init__(self, parity_path, calibration_path):
        self.parity_path, self.calibration_path = Path(parity_path), Path(calibration_path)
        self.outputs, self.rows = [], None

    def on_test_epoch_start(self, trainer, pl_module):
        self.outputs = []

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        self.outputs.append(torch.stack([outputs[key].float() for key in ("eta", "eta_pred", "eta_std", "direction")],
                                        dim=1))

    def on_test_epoch_end(self, trainer, pl_module):
        self.rows = pl_module.all_gather(torch.cat(self.outputs)).reshape(-1, 4).cpu().double().numpy()  # every rank
        self._write(self.rows, pl_module.hparams.ensemble, pl_module.target, pl_module.hparams.dim)

    @rank_zero_only
    def _write(self, rows, members, target, dim):
        eta, mean, std, direction = rows[:, 0], rows[:, 1], rows[:, 2], rows[:, 3].astype(int)
        parity(self.parity_path, eta, mean, direction, dim=dim, symbol=target.symbol, error=target.summary[0])
        calibration(self.calibration_path, eta, mean, std, direction, members=members, symbol=target.symbol)


class LearningCurves(Callback):
    """Writes learning curves from every ``version_*/metrics.csv`` under ``log_root`` after fit."""

    def __init__(self, path, log_root):
        self.path, self.log_root = Path(path), Path(log_root)

    @rank_zero_only
    def on_fit_end(self, trainer, pl_module):
        if trainer.logger is not None:
            trainer.logger.save()
        versions = sorted(self.log_root.glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name[8:]))
        name, scale, unit, label = pl_module.target.summary
        learning_curves(self.path, read_epoch_metrics(versions), loss=f"MSE of {pl_module.target.loss_label}",
                        error=(name, scale, f"{label} ({unit})"))
