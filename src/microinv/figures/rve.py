"""Figures of an ``rve.json`` (`microinv.rve`), PNG.

* ``eta_against_size``: per direction, eta (mean +- standard deviation over the K
  structures) against the size L under affine, periodic and uniform-flux BC, one colour per
  theta, one line style per BC: the bracket D_A >= D_P >= D_F closing as L grows;
* ``cv_against_size``: per direction, the coefficient of variation of the periodic eta
  against L on log axes with the fitted power law (slope -p / 2 for Var ~ L^-p) and the
  tolerance.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from microinv.figures import save
from microinv.figures.style import AXES, LABELS, figure

__all__ = ["cv_against_size", "eta_against_size"]

#: Line style of each BC.
BC_STYLES = {"affine": "--", "periodic": "-", "flux": ":"}


def eta_against_size(doc: dict, path) -> Path:
    """eta against L with the three BCs, a panel per direction."""
    fig, axes = figure(3, width=3.2)
    for e, entry in enumerate(doc["entries"]):
        sizes = np.asarray(entry["sizes"])
        for bc, style in BC_STYLES.items():
            mean, std = np.asarray(entry["eta_mean"][bc]), np.asarray(entry["eta_std"][bc])
            for axis, ax in enumerate(axes[0]):
                ax.errorbar(sizes, mean[:, axis], yerr=std[:, axis], color=f"C{e % 10}", ls=style,
                            marker="o", ms=3, capsize=2, label=bc if e == 0 else None)
    for axis, ax in enumerate(axes[0]):
        ax.set_xlabel("size L (voxels)")
        ax.set_ylabel(f"{LABELS['diffusivity']} along {AXES[axis]}")
    axes[0, 0].legend(fontsize="small", title=f"s = {doc['settings']['solid_conductivity']:g}")
    fig.suptitle("apparent diffusivity: affine >= periodic >= flux", fontsize="small")
    return save(fig, path)


def cv_against_size(doc: dict, path) -> Path:
    """CV of the periodic eta against L, log axes, with the fitted slope and the tolerance."""
    fig, axes = figure(3, width=3.2, sharey=True)
    tolerance = doc["settings"]["cv_tolerance"]
    for e, entry in enumerate(doc["entries"]):
        sizes = np.asarray(entry["sizes"], dtype=float)
        cv = np.asarray(entry["cv"])
        for axis, ax in enumerate(axes[0]):
            ax.loglog(sizes, cv[:, axis], "o", color=f"C{e % 10}", ms=4)
            fit = entry["variance"][axis]
            if fit is not None:
                reach = entry["cv_size"][axis]["size"] or sizes[-1]
                line = np.geomspace(sizes[0], max(sizes[-1], reach), 20)
                ax.loglog(line, np.sqrt(fit["prefactor"]) * line ** (-fit["exponent"] / 2), "-",
                          color=f"C{e % 10}", lw=1, label=f"p = {fit['exponent']:.2f}")
    from matplotlib.ticker import NullFormatter, ScalarFormatter

    for axis, ax in enumerate(axes[0]):
        ax.set_xticks(doc["entries"][0]["sizes"] if doc["entries"] else [])
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.axhline(tolerance, color="0.4", ls="--", lw=1)
        ax.set_xlabel("size L (voxels)")
        ax.set_title(f"{AXES[axis]}: Var ~ L^-p", fontsize="small")
        if len(doc["entries"]) <= 4:
            ax.legend(fontsize="x-small")
    axes[0, 0].set_ylabel(f"CV of periodic {LABELS['diffusivity']}")
    return save(fig, path)
