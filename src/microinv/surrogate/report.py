"""Figures of a training run, written by callbacks on the global-zero rank.

* :class:`ParityPlot`: predicted versus solved eta on the test split, one panel per
  direction (x, y, z), with the MAPE of each.
* :class:`LearningCurves`: training and validation MSE (logit space) and MAPE per epoch,
  from the CSV log of every run in the folder, so a resumed training shows one curve.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities import rank_zero_only

from microinv.data.atomic import atomic_path
from microinv.surrogate.data import DIRECTIONS


def _figure(ncols: int, width: float = 3.6):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    return plt.subplots(1, ncols, figsize=(width * ncols, 4.0), constrained_layout=True)


def _save(fig, path) -> None:
    from matplotlib import pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def parity_plot(path, eta, eta_pred, direction) -> None:
    """Scatter of predicted against solved eta, one panel per direction.

    eta, eta_pred, direction : (S,) arrays (direction in 0, 1, 2).
    """
    fig, axes = _figure(3)
    lo, hi = min(eta.min(), eta_pred.min()), max(eta.max(), eta_pred.max())
    lo, hi = max(0.0, lo - 0.05 * (hi - lo)), min(1.0, hi + 0.05 * (hi - lo))
    for d, ax in enumerate(axes):
        sel = direction == d
        mape = 100 * np.mean(np.abs(eta_pred[sel] - eta[sel]) / eta[sel]) if sel.any() else np.nan
        ax.plot([lo, hi], [lo, hi], color="0.6", lw=1)
        ax.scatter(eta[sel], eta_pred[sel], s=8, alpha=0.7)
        ax.set(xlabel=f"solved $\\eta_{DIRECTIONS[d]}$", ylabel=f"predicted $\\eta_{DIRECTIONS[d]}$",
               xlim=(lo, hi), ylim=(lo, hi), title=f"{DIRECTIONS[d]}: MAPE {mape:.2f} % ({sel.sum()} samples)")
        ax.set_aspect("equal", adjustable="box")
    _save(fig, path)


def read_epoch_metrics(csv_paths) -> dict:
    """Per-epoch metrics from Lightning CSV logs: {name: {epoch: value}}.

    Later files win for an epoch logged twice (a run resumed after being killed mid-epoch).
    """
    table = {}
    for path in csv_paths:
        with open(path, newline="") as fh:
            for row in csv.DictReader(fh):
                if not row.get("epoch"):
                    continue
                epoch = int(float(row["epoch"]))
                for name, value in row.items():
                    if value and name not in ("epoch", "step"):
                        table.setdefault(name, {})[epoch] = float(value)
    return table


def learning_curves(path, table: dict) -> None:
    """MSE (logit, log scale) and MAPE (%) per epoch for training and validation."""
    fig, axes = _figure(2, width=4.5)
    panels = ((axes[0], "mse", 1, "MSE of logit($\\eta$)", "log"), (axes[1], "mape", 100, "MAPE (%)", "linear"))
    for ax, metric, scale, unit, yscale in panels:
        for stage in ("train", "val"):
            series = table.get(f"{stage}/{metric}", {})
            epochs = sorted(series)
            ax.plot(epochs, [scale * series[e] for e in epochs], marker=".", label=stage)
        ax.set(xlabel="epoch", ylabel=unit, yscale=yscale)
        ax.legend()
    _save(fig, path)


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
        parity_plot(self.path, rows[:, 0], rows[:, 1], rows[:, 2].astype(int))


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
