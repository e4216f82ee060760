"""Pictures of voxel structures: orthogonal mid-slices, PNG."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from microinv.figures import save
from microinv.figures.style import AXES, PHASE_COLOURS, figure

__all__ = ["slices"]

def _panels(solid: np.ndarray):
    """(image, horizontal axis name, vertical axis name, caption) of each panel."""
    if solid.ndim == 2:
        return [(solid, "x", "y", "")]
    panels = []
    for normal in range(3):
        across = [a for a in range(3) if a != normal]
        image = np.take(solid, solid.shape[normal] // 2, axis=normal)
        caption = f"{AXES[normal]} = {solid.shape[normal] // 2}"
        panels.append((image, AXES[across[0]], AXES[across[1]], caption))
    return panels


def slices(structures, path, *, titles=None) -> Path:
    """Write a PNG of the mid-slices of one or more structures.

    Parameters
    ----------
    structures : (M, N[, P]) ndarray of uint8, (S, M, N, P) ndarray, or sequence
        One structure (a 2D or 3D array), a stack of 3D structures (a 4D array), or a
        sequence of 2D or 3D structures (shapes may differ); 1 = solid, 0 = pore. A
        stack of 2D structures must be passed as a sequence (``list(stack)``): a 3D
        array is one 3D structure.
    path : str or os.PathLike
        Output PNG file; written atomically (temporary file, then renamed), its folder
        created if needed.
    titles : sequence of str, optional
        One title per structure.

    Returns
    -------
    pathlib.Path
        The written file.

    Notes
    -----
    A 3D structure gives one row of three panels, the mid-slices normal to x, y and z;
    a 2D structure one panel. Pore is white, solid dark. In every panel the first
    in-plane axis runs to the right and the second upwards (``origin="lower"``).
    """
    from matplotlib.colors import ListedColormap

    if isinstance(structures, np.ndarray) and structures.ndim in (2, 3):
        structures = [structures]
    structures = [np.asarray(s) for s in structures]
    if not structures:
        raise ValueError("structures is empty: nothing to plot")
    for k, s in enumerate(structures):
        if s.ndim not in (2, 3):
            raise ValueError(f"structures[{k}] must be 2D or 3D, got shape {s.shape}")
    titles = list(titles) if titles is not None else [""] * len(structures)
    if len(titles) != len(structures):
        raise ValueError(f"titles has {len(titles)} entries for {len(structures)} structures")

    rows = [_panels(s) for s in structures]
    columns = max(len(r) for r in rows)
    fig, axes = figure(columns, len(rows), width=3.2, height=3.2)
    colours = ListedColormap(PHASE_COLOURS)
    for row, (panels, title) in enumerate(zip(rows, titles)):
        for column, ax in enumerate(axes[row]):
            if column >= len(panels):
                ax.set_axis_off()
                continue
            image, horizontal, vertical, caption = panels[column]
            ax.imshow(image.T, cmap=colours, vmin=0, vmax=1, origin="lower",
                      interpolation="nearest")
            ax.set_xlabel(horizontal)
            ax.set_ylabel(vertical)
            ax.set_title(" ".join(t for t in (title, caption) if t), fontsize=9)
    return save(fig, path)
