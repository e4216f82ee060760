"""The one progress bar of the package's long loops (generate, aggregate)."""

from __future__ import annotations

import sys


def progress(iterable, *, total=None, desc=""):
    """``iterable`` wrapped in a tqdm bar on stderr, updated at most every two seconds at a
    fixed width of 80 columns; shown only when stderr is a terminal (tqdm's
    ``disable=None``), so job logs and captured output stay free of it."""
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, file=sys.stderr, mininterval=2.0,
                dynamic_ncols=False, ncols=80, disable=None)
