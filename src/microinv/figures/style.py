"""One look for every figure: the canvas, axis names and labels.

The names of the structure parameters are those of the spinodoid model,
theta = (a_x, a_y, a_z, eps) (``a_i`` the length scale of the spectral density along axis
i, ``eps`` the porosity), and of the process model, phi = (phi1, phi2[, phi3]); directions
are x, y, z.
"""

from __future__ import annotations

from microinv.design.validation import AXES

__all__ = ["AXES", "LABELS", "PARAMETER_LABELS", "PHASE_COLOURS", "figure", "parameter_label"]

#: Axis label of each property (permeability is plotted as log10 k).
LABELS = {"diffusivity": r"$\eta$", "conductivity": r"$\sigma_\mathrm{eff} / \sigma_\mathrm{pore}$",
          "permeability": r"$\log_{10} k$ (voxel$^2$)"}

#: Pore white, solid dark grey (voxel values 0 and 1).
PHASE_COLOURS = ("white", "#2b2b2b")

#: Axis label of each spinodoid parameter.
PARAMETER_LABELS = {"a_x": "$a_x$", "a_y": "$a_y$", "a_z": "$a_z$", "eps": r"porosity $\varepsilon$",
                    **{f"phi{i}": rf"$\varphi_{i}$" for i in (1, 2, 3)}}


def parameter_label(name: str) -> str:
    """Axis label of a structure (or process) parameter: typeset when known, else the name."""
    return PARAMETER_LABELS.get(name, name)


def figure(ncols: int = 1, nrows: int = 1, *, width: float = 3.4, height: float = 3.0, sharey=False):
    """A figure of ``nrows`` x ``ncols`` panels of ``width`` x ``height`` inches each.

    Returns
    -------
    fig : matplotlib.figure.Figure
        On its own Agg canvas, constrained layout.
    axes : (nrows, ncols) ndarray of matplotlib.axes.Axes
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height * nrows), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.subplots(nrows, ncols, squeeze=False, sharey=sharey)
