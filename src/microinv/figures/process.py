"""Figures of a goal-oriented process design: the p(M_d | phi) map, the property cloud, structures.

* :func:`probability_map`: per target box, the reference grid's p(m in M_d | phi) over the
  two process parameters, with the design phi* and the grid's best phi_ref marked (as in
  the reference study's figure of the three boxes);
* :func:`property_cloud`: the (log10 k_x, log10 k_y) of the solved structures with the
  target boxes drawn over them;
* :func:`structures.slices` shows sample structures of each phi*.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from microinv.figures import save
from microinv.figures.style import LABELS, figure, parameter_label

__all__ = ["probability_map", "property_cloud"]


def probability_map(grid_phi, p, designs, path, *, names=("phi1", "phi2")) -> Path:
    """One panel per box: the grid's p(m in M_d | phi) with phi* (star) and phi_ref (cross).

    Parameters
    ----------
    grid_phi : (G * G, 2) ndarray
        The reference grid (:func:`microinv.design.goal.grid_points`, C order).
    p : dict
        Box name -> (G * G,) probabilities at the grid points.
    designs : dict
        Box name -> validation record (``phi``, ``p_in_target``, ``phi_ref``, ``p_ref``,
        ``p_ref_validated`` when present); the legend gives p at phi* and at phi_ref, both over
        fresh structures, and the grid's p_ref.
    path : path-like
        Output PNG.
    """
    side = int(round(np.sqrt(len(grid_phi))))
    x, y = grid_phi[:, 0].reshape(side, side), grid_phi[:, 1].reshape(side, side)
    fig, axes = figure(len(p), width=3.2, height=3.4)
    for ax, (name, values) in zip(axes[0], p.items()):
        top = float(np.max(values))
        mesh = ax.pcolormesh(x, y, np.asarray(values).reshape(side, side), shading="nearest", vmin=0,
                             vmax=top if top > 0 else 1.0, cmap="viridis")
        fig.colorbar(mesh, ax=ax, label=r"$p(m \in M_d \mid \varphi)$")
        record = designs[name]
        # the like-for-like p of phi_ref (re-solved on fresh structures) first, the grid's inflated one after
        reference = record.get("p_ref_validated", record["p_ref"])
        ax.plot(*record["phi"][:2], marker="*", color="red", markersize=12, linestyle="none",
                label=rf"$\varphi^*$: {record['p_in_target']:.2f}")
        ax.plot(*record["phi_ref"][:2], marker="x", color="white", markeredgecolor="black", markersize=9, mew=2,
                linestyle="none", label=rf"$\varphi_\mathrm{{ref}}$: {reference:.2f} (grid {record['p_ref']:.2f})")
        ax.set(title=name, xlabel=parameter_label(names[0]), ylabel=parameter_label(names[1]))
        # below the panel: the optima sit on the edges of the box of phi, where a legend inside would hide them
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), fontsize="small", frameon=False)
    return save(fig, path)


def property_cloud(m, boxes, path, *, floor=None) -> Path:
    """(log10 k_x, log10 k_y) of solved structures with the target boxes.

    ``m`` (S, 2); structures at the ``floor`` along an axis (not flowing) are counted in the
    title and left out of the scatter, which they would squash.
    """
    from matplotlib.patches import Rectangle

    m = np.asarray(m, dtype=float)
    flowing = np.isfinite(m).all(axis=1) & ((m > floor).all(axis=1) if floor is not None else True)
    fig, axes = figure(width=3.6, height=3.4)
    ax = axes[0, 0]
    ax.scatter(m[flowing, 0], m[flowing, 1], s=4, alpha=0.4, color="grey", linewidths=0)
    colours = ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")
    for colour, box in zip(colours, boxes):
        (x0, x1), (y0, y1) = box.bounds[:2]
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=colour, linewidth=1.5,
                               label=box.name))
    label = LABELS["permeability"]
    ax.set(xlabel=label.replace("k", "k_x"), ylabel=label.replace("k", "k_y"),
           title=f"{flowing.sum()} structures ({(~flowing).sum()} not flowing)")
    ax.legend(fontsize="small")
    return save(fig, path)
