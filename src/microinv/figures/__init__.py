"""The campaign's figures, one module per subject, and their one way to a file.

* :mod:`~microinv.figures.dataset`: property distributions, solver convergence and
  structure descriptors of ``dataset.h5``;
* :mod:`~microinv.figures.structures`: mid-slices of voxel structures;
* :mod:`~microinv.figures.surrogate`: parity plot, calibration and learning curves of a training run;
* :mod:`~microinv.figures.design`: ABC posterior, BO history and validation of a design;
* :mod:`~microinv.figures.answer`: the campaign's answer, the table the report opens on.
* :mod:`~microinv.figures.active`: validated discrepancy against active-learning round and solves;
* :mod:`~microinv.figures.rve`: apparent eta under three BCs and its spread against the size L.

Every figure is a :class:`matplotlib.figure.Figure` on the Agg canvas made by
:func:`microinv.figures.style.figure` (no pyplot, no global backend: importing a figure
module changes nothing for the caller) and is written by :func:`save`.
"""

from __future__ import annotations

from pathlib import Path

from microinv.data.atomic import atomic_path

#: Resolution of every PNG (dots per inch).
DPI = 110


def save(fig, path) -> Path:
    """Write ``fig`` to ``path`` as PNG, atomically (a killed job leaves no partial picture).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        A figure from :func:`microinv.figures.style.figure`.
    path : str or os.PathLike
        Output file; its folder is created if needed.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI)
    return Path(path)
