"""The surrogate's view of ``dataset.h5``: shape, splits and labels of one property, checked.

The labels are those of the property's target kind (:mod:`microinv.surrogate.targets`):
eta per axis for diffusivity, log10 k per axis for permeability.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from microinv.data.dataset import SPLITS, open_dataset
from microinv.errors import InputError
from microinv.surrogate.targets import KINDS, target as make_target

__all__ = ["DatasetLayout", "read_layout"]


@dataclass(frozen=True)
class DatasetLayout:
    """What the surrogate needs from ``dataset.h5``, checked: everything but the voxels."""

    path: Path
    n: int
    rows: dict  # split -> (R,) int64 row indices into ``structures``
    eta: dict  # split -> (R, dim) float32 labels per axis: eta, or log10 k (``target``)
    solver_settings: dict
    dim: int = 3
    target: object = None  # microinv.surrogate.targets kind of the labels (None: diffusivity)

    def sizes(self) -> dict:
        """Structures per split."""
        return {split: len(rows) for split, rows in self.rows.items()}


def read_layout(path, prop: str | None = None, *, log10_k_floor: float | None = None) -> DatasetLayout:
    """Read and check the splits, the labels of ``prop`` and the shape of a campaign dataset.

    ``prop`` None takes the first of :data:`microinv.surrogate.targets.KINDS` the dataset
    holds; the labels are those of its target (:func:`microinv.surrogate.targets.target`,
    ``log10_k_floor`` for permeability). Structures are square (M, N, N) or cubic
    (M, N, N, N); the labels have one column per axis.

    Raises
    ------
    InputError
        If the file is missing or corrupt, a split or the property is missing, a split is
        empty or out of range, or a label of a split row is invalid (eta not in (0, 1],
        log10 k not finite).
    """
    path = Path(path)
    if prop is None:
        with open_dataset(path, required=("structures",)) as fh:
            prop = next((kind for kind in KINDS if f"properties/{kind}/value" in fh), KINDS[0])
    value = f"properties/{prop}/value"
    kind = make_target(prop, log10_k_floor)
    with open_dataset(path, required=("structures", value, *(f"splits/{s}" for s in SPLITS))) as fh:
        shape = fh["structures"].shape
        if len(shape) not in (3, 4) or len(set(shape[1:])) != 1:
            raise InputError(f"{path}: structures: the surrogate needs square 2D (M, N, N) or cubic 3D structures "
                             f"(M, N, N, N), got shape {shape}")
        dim = len(shape) - 1
        eta_all = kind.labels(fh[f"properties/{prop}"], path)
        if eta_all.shape != (shape[0], dim):
            raise InputError(f"{path}: {value}: expected shape ({shape[0]}, {dim}), got {eta_all.shape}")
        rows, eta = {}, {}
        for split in SPLITS:
            rows[split], eta[split] = _split_labels(path, fh[f"splits/{split}"][:], eta_all, value, split, kind)
        settings = json.loads(fh[f"properties/{prop}"].attrs.get("solver_settings", "{}"))
    return DatasetLayout(path, shape[1], rows, eta, settings, dim, kind)


def _split_labels(path, rows, eta_all, value, split, kind):
    """Row indices of a split and their labels, checked: non-empty, in range, valid for ``kind``."""
    r = np.asarray(rows, dtype=np.int64)
    if r.ndim != 1 or r.size == 0:
        raise InputError(f"{path}: splits/{split}: empty; the campaign needs more usable samples "
                         f"or a larger splits.{split} fraction")
    if r.min() < 0 or r.max() >= len(eta_all):
        raise InputError(f"{path}: splits/{split}: row indices outside 0..{len(eta_all) - 1}")
    labels = eta_all[r]
    bad = kind.check(labels)
    if bad.any():
        row, axis = np.argwhere(bad)[0]
        raise InputError(f"{path}: {value}[{r[row]}, {axis}] = {labels[row, axis]}: "
                         + kind.requirement.format(split=split))
    return r, labels.astype(np.float32)
