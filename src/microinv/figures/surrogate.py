"""Figures of a training run, PNG.

* :func:`parity`: predicted versus solved eta (or log10 k) on the test split, one panel per
  direction (x, y[, z]), with the MAPE (or MAE in decades) of each;
* :func:`learning_curves`: training and validation MSE (of the target) and MAPE (or MAE) per epoch,
  from the CSV logs of every run (:func:`read_epoch_metrics`), so a resumed training shows
  one curve;
* :func:`calibration`: how well the ensemble's standard deviation covers the test errors.

The Lightning callbacks that draw them at the end of a run live in
:mod:`microinv.surrogate.callbacks`.
"""

from __future__ import annotations

import csv
from pathlib import Path
from statistics import NormalDist

import numpy as np

from microinv.figures import save
from microinv.figures.style import AXES, figure
from microinv.uncertainty import NOMINAL, coverage

__all__ = ["calibration", "learning_curves", "parity", "read_epoch_metrics"]


def parity(path, eta, eta_pred, direction, *, dim: int = 3, symbol: str = "\\eta", error: str = "mape") -> Path:
    """Scatter of predicted against solved labels, one panel per direction.

    eta, eta_pred, direction : (S,) arrays (direction in 0 .. dim - 1): eta (``symbol``
    ``\\eta``, axes clipped to [0, 1]) or log10 k (``\\log_{10} k``). The title of each panel
    gives, over that direction's samples, ``error`` "mape" = 100 mean |eta_pred - eta| / eta
    (%) or "mae" = mean |eta_pred - eta| (decades of k).
    """
    fig, axes = figure(dim, width=3.6, height=4.0)
    lo, hi = min(eta.min(), eta_pred.min()), max(eta.max(), eta_pred.max())
    lo, hi = lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)
    if error == "mape":
        lo, hi = max(0.0, lo), min(1.0, hi)
    for d, ax in enumerate(axes[0]):
        sel = direction == d
        if error == "mape":
            value = 100 * np.mean(np.abs(eta_pred[sel] - eta[sel]) / eta[sel]) if sel.any() else np.nan
            summary = f"MAPE {value:.2f} %"
        else:
            value = np.mean(np.abs(eta_pred[sel] - eta[sel])) if sel.any() else np.nan
            summary = f"MAE {value:.3f} decades"
        ax.plot([lo, hi], [lo, hi], color="0.6", lw=1)
        ax.scatter(eta[sel], eta_pred[sel], s=8, alpha=0.7)
        ax.set(xlabel=f"solved ${symbol}_{AXES[d]}$", ylabel=f"predicted ${symbol}_{AXES[d]}$",
               xlim=(lo, hi), ylim=(lo, hi), title=f"{AXES[d]}: {summary} ({sel.sum()} samples)")
        ax.set_aspect("equal", adjustable="box")
    return save(fig, path)


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


def learning_curves(path, table: dict, *, loss: str = "MSE of logit($\\eta$)",
                    error: tuple = ("mape", 100.0, "MAPE (%)")) -> Path:
    """MSE (log scale) and an error (MAPE in %, or MAE in decades) per epoch for training and validation.

    table : {name: {epoch: value}} as :func:`read_epoch_metrics` gives it; ``loss`` labels
    the MSE panel, ``error`` = (metric, scale, label) the other.
    """
    fig, axes = figure(2, width=4.5, height=4.0)
    panels = ((axes[0, 0], "mse", 1, loss, "log"), (axes[0, 1], *error, "linear"))
    for ax, metric, scale, unit, yscale in panels:
        for stage in ("train", "val"):
            series = table.get(f"{stage}/{metric}", {})
            epochs = sorted(series)
            ax.plot(epochs, [scale * series[e] for e in epochs], marker=".", label=stage)
        ax.set(xlabel="epoch", ylabel=unit, yscale=yscale)
        ax.legend()
    return save(fig, path)


def calibration(path, eta, mean, std, direction, *, members: int, symbol: str = "\\eta") -> Path:
    """Observed against nominal coverage, and |error| against std, on the test split.

    eta, mean, std, direction : (S,) arrays (direction in 0, 1, 2). Left: for nominal
    Gaussian probabilities p, the fraction of samples with |eta - mean| <= k(p) std,
    k(p) = sqrt(2) erfinv(p), per direction and pooled (on the diagonal: calibrated; below:
    overconfident). Right: |eta - mean| against std with the lines |error| = std and
    2 std. A single network (``members`` = 1) has no spread: the figure says so.
    """
    fig, axes = figure(2, width=4.0, height=3.8)
    left, right = axes[0]
    if members < 2:
        for ax in (left, right):
            ax.text(0.5, 0.5, "one network (surrogate.ensemble = 1):\nno predictive spread", ha="center",
                    va="center", transform=ax.transAxes)
            ax.set_axis_off()
        return save(fig, path)
    eta, mean, std, direction = (np.asarray(a) for a in (eta, mean, std, direction))
    p = np.linspace(0.0, 0.99, 100)
    k = np.array([NormalDist().inv_cdf((1 + q) / 2) for q in p])
    left.plot([0, 1], [0, 1], color="0.6", lw=1)
    for d, name in enumerate(AXES):
        sel = direction == d
        if not sel.any():  # z of a 2D surrogate
            continue
        left.plot(p, coverage(eta[sel], mean[sel], std[sel], k), label=name)
        right.scatter(std[sel], np.abs(eta[sel] - mean[sel]), s=8, alpha=0.6, label=name)
    left.plot(p, coverage(eta, mean, std, k), color="k", lw=2, label="all")
    for kk in NOMINAL:
        left.axvline(NOMINAL[kk], color="0.8", lw=0.8, ls=":")
    left.set(xlabel="nominal coverage (Gaussian)", ylabel="observed fraction within k std", xlim=(0, 1), ylim=(0, 1),
             title=f"test split, {members} members")
    left.legend()
    top = max(std.max(), np.abs(eta - mean).max()) * 1.05
    for kk in NOMINAL:
        right.plot([0, top / kk], [0, top], color="0.6", lw=1, ls="-" if kk == 1 else "--", label=f"{kk} std")
    right.set(xlabel=f"ensemble std of ${symbol}$", ylabel="|error| of the mean", xlim=(0, top), ylim=(0, top))
    right.legend()
    return save(fig, path)
