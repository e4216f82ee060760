"""Training data of the surrogate: ``dataset.h5`` read chunk-wise, one sample per direction.

Every structure of a split enters dim times (3 in 3D, 2 in 2D), once per direction d in
(x, y[, z]), with its axes permuted so that d comes first (:func:`direction_axes`); the
label is that of d (eta_d, or log10 k_d). One network therefore predicts one direction,
the first array axis.

Training samples are augmented by transformations that leave the label along axis 0
unchanged: flips along each axis, in 3D the swap of the two transverse axes, and circular
shifts of the periodic structure. Shifts along an axis are physics-preserving only where the solve was
periodic along it; :func:`invariant_shift_axes` reads that from the solver settings.

Structures are never all in memory: each item reads one HDF5 chunk (one structure). Every
process (DataLoader worker) opens its own file handle on first use, never one inherited
across a fork. Order and augmentation come from a seeded :class:`EpochSampler`, so they
depend on the seed and the epoch only, not on the number of workers or on a restart. An
ensemble of M members trains on batches with a member axis (:class:`MemberSamples`,
:class:`EnsembleSampler`): member m draws its own order and augmentation.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from microinv.checks import AXIS_NAMES as DIRECTIONS
from microinv.data.dataset import SPLITS
from microinv.surrogate.labels import DatasetLayout, read_layout
from microinv.seeds import AUGMENTATION, stream

#: Axis order that puts direction d first, the others following in increasing order (3D).
DIRECTION_AXES = ((0, 1, 2), (1, 0, 2), (2, 0, 1))


def direction_axes(dim: int = 3) -> tuple[tuple[int, ...], ...]:
    """Axis orders that put direction d first, the others following in increasing order:
    ``((0, 1, 2), (1, 0, 2), (2, 0, 1))`` in 3D, ``((0, 1), (1, 0))`` in 2D."""
    return tuple((d, *(a for a in range(dim) if a != d)) for d in range(dim))


def direction_first(solid: np.ndarray, direction: int) -> np.ndarray:
    """View of ``solid`` (N, ..., N) with axis ``direction`` moved first (:func:`direction_axes`)."""
    return np.transpose(solid, direction_axes(solid.ndim)[direction])


def invariant_shift_axes(settings: dict, dim: int = 3) -> tuple[int, ...]:
    """Axes (of a direction-first structure) along which a circular shift leaves the label unchanged.

    A periodic solve (``bc="periodic"``, and the periodic Stokes permeability) is invariant
    under shifts along every axis; a fixed inlet/outlet solve (``bc="fixed"``) only along
    the periodic sides, never along the flow axis 0; with ``sides="noflux"`` along none.
    """
    if settings.get("bc", "periodic") == "periodic":
        return tuple(range(dim))
    return tuple(range(1, dim)) if settings.get("sides", "periodic") == "periodic" else ()


@dataclass(frozen=True)
class Augmentation:
    """A random symmetry of the label along axis 0, applied to a direction-first structure (N, ..., N).

    Each axis is flipped with probability 1/2; in 3D the transverse axes 1 and 2 are
    swapped with probability 1/2 (2D has one transverse axis); the structure is rolled by a
    uniform random offset along each of ``shift_axes``.
    """

    shift_axes: tuple[int, ...] = (0, 1, 2)

    def __call__(self, solid: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        flips = rng.random(solid.ndim) < 0.5
        swap = rng.random() < 0.5 if solid.ndim == 3 else False
        shifts = [int(rng.integers(solid.shape[a])) for a in self.shift_axes]
        solid = np.flip(solid, tuple(np.flatnonzero(flips)))
        if swap:
            solid = solid.transpose(0, 2, 1)
        if self.shift_axes:
            solid = np.roll(solid, shifts, axis=self.shift_axes)
        return np.ascontiguousarray(solid)


class DirectionalStructures(Dataset):
    """Item ``dim i + d``: structure ``rows[i]`` with axis d first, its label along d, and d.

    ``eta`` (R, dim) holds the labels (eta, or log10 k); dim is its number of columns. An
    item key is an index, or ``(index, seed)`` to augment with a generator seeded by
    ``seed`` (see :class:`EpochSampler`). Returns ``(solid, label, direction)``: a uint8
    tensor (N, ..., N), a float32 scalar and an int.
    """

    def __init__(self, path, rows, eta, augmentation: Augmentation | None = None):
        self.path = str(path)
        self.rows = np.asarray(rows)
        self.eta = np.asarray(eta, dtype=np.float32)
        self.dim = self.eta.shape[1] if self.eta.ndim == 2 else 3
        self.augmentation = augmentation
        self._file, self._pid = None, None

    def __len__(self) -> int:
        return self.dim * len(self.rows)

    def __getstate__(self):
        return {**self.__dict__, "_file": None, "_pid": None}

    def _structures(self) -> h5py.Dataset:
        if self._pid != os.getpid():  # first use in this process, e.g. a freshly forked worker
            self._file, self._pid = h5py.File(self.path, "r"), os.getpid()
        return self._file["structures"]

    def __getitem__(self, key):
        index, seed = key if isinstance(key, tuple) else (key, None)
        row, direction = divmod(int(index), self.dim)
        solid = direction_first(self._structures()[self.rows[row]], direction)
        if self.augmentation is not None and seed is not None:
            solid = self.augmentation(solid, np.random.default_rng(seed))
        return torch.from_numpy(np.ascontiguousarray(solid)), torch.tensor(self.eta[row, direction]), direction


class EpochSampler(Sampler):
    """A seeded random order of ``size`` items, each with its own augmentation seed.

    Epoch e of ensemble member m draws from the augmentation stream ``(AUGMENTATION, e)``
    of ``seed`` for m = 0 (the stream of a single network) and ``(AUGMENTATION, e, m)`` for
    m > 0 (:mod:`microinv.seeds`): a resumed training sees the same sequence as an
    uninterrupted one. Lightning calls :meth:`set_epoch` every epoch.
    """

    def __init__(self, size: int, seed: int, member: int = 0):
        self.size, self.seed, self.member, self.epoch = size, seed, member, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self):
        index = (self.epoch, self.member) if self.member else (self.epoch,)
        rng = np.random.default_rng(stream(self.seed, AUGMENTATION, *index))
        order, seeds = rng.permutation(self.size), rng.integers(2**63, size=self.size)
        return iter(zip(order.tolist(), seeds.tolist()))


class EnsembleSampler(Sampler):
    """Keys of M members at once: item j is the tuple of item j of each member's :class:`EpochSampler`."""

    def __init__(self, size: int, seed: int, members: int):
        self.samplers = [EpochSampler(size, seed, m) for m in range(members)]

    def set_epoch(self, epoch: int) -> None:
        for sampler in self.samplers:
            sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.samplers[0])

    def __iter__(self):
        return zip(*self.samplers)


class MemberSamples(Dataset):
    """One sample per ensemble member: keys ``(key_0, ..., key_{M-1})`` of ``dataset``.

    Returns ``(solid, label, direction)`` stacked over the members: (M, N, ..., N) uint8,
    (M,) float32 and (M,) int.
    """

    def __init__(self, dataset: DirectionalStructures):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, keys):
        solid, eta, direction = zip(*(self.dataset[key] for key in keys))
        return torch.stack(solid), torch.stack(eta), torch.tensor(direction)


class StructureDataModule(L.LightningDataModule):
    """Train/val/test loaders over the splits of ``dataset.h5``.

    Parameters
    ----------
    path : path-like
        Campaign dataset (docs/data-format.md).
    batch_size : int
        Samples (structure-direction pairs) per batch.
    log10_k_floor : float, optional
        Label of a non-flowing axis of a permeability dataset (:mod:`microinv.surrogate.targets`).
    num_workers : int
        DataLoader worker processes per loader.
    seed : int
        Seed of the training order and augmentation.
    augment : bool
        Augment training samples (:class:`Augmentation`).
    train_limit : int, optional
        Train on the first ``train_limit`` structures of the train split only (how the error
        scales with data); validation and test splits stay whole.
    members : int
        Ensemble members: training batches carry one sample per member, (B, M, N, ..., N).
    """

    def __init__(self, path, *, batch_size: int = 32, num_workers: int = 0, seed: int = 0, augment: bool = True,
                 train_limit: int | None = None, members: int = 1, log10_k_floor: float | None = None):
        super().__init__()
        path = str(path)  # hyper-parameters go into checkpoints, which hold plain types only
        self.save_hyperparameters()
        self.path = Path(path)
        self.datasets = {}

    @functools.cached_property
    def layout(self) -> DatasetLayout:
        layout = read_layout(self.path, log10_k_floor=self.hparams.log10_k_floor)
        limit = self.hparams.train_limit
        if limit is not None:
            layout.rows["train"], layout.eta["train"] = layout.rows["train"][:limit], layout.eta["train"][:limit]
        return layout

    def setup(self, stage: str) -> None:
        layout = self.layout
        shifts = invariant_shift_axes(layout.solver_settings, layout.dim)
        augmentation = Augmentation(shifts) if self.hparams.augment else None
        for split in SPLITS:
            self.datasets[split] = DirectionalStructures(layout.path, layout.rows[split], layout.eta[split],
                                                         augmentation if split == "train" else None)

    def _loader(self, split: str, sampler=None) -> DataLoader:
        workers = self.hparams.num_workers
        data = self.datasets[split] if sampler is None else MemberSamples(self.datasets[split])
        return DataLoader(data, batch_size=self.hparams.batch_size, sampler=sampler,
                          num_workers=workers, persistent_workers=workers > 0,
                          pin_memory=torch.cuda.is_available())

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", EnsembleSampler(len(self.datasets["train"]), self.hparams.seed,
                                                     self.hparams.members))

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")
