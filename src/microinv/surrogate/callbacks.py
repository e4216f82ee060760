"""Lightning callbacks that draw a training run's figures on the global-zero rank.

* :class:`ParityPlot`: gathers the test predictions of every rank and draws
  :func:`microinv.figures.surrogate.parity` at the end of testing;
* :class:`LearningCurves`: draws :func:`microinv.figures.surrogate.learning_curves` from
  every ``version_*/metrics.csv`` of the run's CSV logs after fit.
"""

from __future__ import annotations

from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_only

from microinv.figures.surrogate import learning_curves, parity, read_epoch_metrics


class ParityPlot(Callback):
    """Collects test predictions and writes the parity plot at the end of testing."""

    def __init__(self, path):
        self.path = Path(path)
        self.outputs = []

    def on_test_epoch_start(self, trainer, pl_module):
        self.outputs = []

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        self.outputs.append(torch.stack([outputs["eta"].float(), outputs["eta_pred"].float(),
                                         outputs["direction"].float()], dim=1))

    def on_test_epoch_end(self, trainer, pl_module):
        rows = pl_module.all_gather(torch.cat(self.outputs)).reshape(-1, 3).cpu().numpy()  # every rank
        self._write(rows)

    @rank_zero_only
    def _write(self, rows):
        parity(self.path, rows[:, 0], rows[:, 1], rows[:, 2].astype(int))


class LearningCurves(Callback):
    """Writes learning curves from every ``version_*/metrics.csv`` under ``log_root`` after fit."""

    def __init__(self, path, log_root):
        self.path, self.log_root = Path(path), Path(log_root)

    @rank_zero_only
    def on_fit_end(self, trainer, pl_module):
        if trainer.logger is not None:
            trainer.logger.save()
        versions = sorted(self.log_root.glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name[8:]))
        learning_curves(self.path, read_epoch_metrics(versions))
