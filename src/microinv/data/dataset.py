"""The campaign dataset ``dataset.h5``: its layout, its assembly from chunks, its reading.

One row per sample, in sample-index order (docs/data-format.md):

=============================================  ==============================================
``structures`` (M, N, N[, N]) uint8            every structure, its compressed HDF5 chunk copied
                                               from its structures chunk unchanged
``sample_index``, ``seed``, ``theta``,         as in the structures chunks (:data:`PER_SAMPLE`)
``percolates``, ``descriptors/*``
``properties/<p>/<field>`` (M, dim)            :data:`PROPERTY_FIELDS` of property p; attribute
                                               ``solver_settings`` (JSON)
``usable`` (M,) bool                           every property converged along every axis
``splits/{train,val,test}`` int64              sorted rows, :func:`split_rows` of the usable rows
``manifest`` (F, 2) str                        (path relative to the dataset, SHA-256) of every
                                               chunk it was built from
=============================================  ==============================================

:func:`assemble` writes it (``microinv aggregate``); :func:`open_dataset` opens it for the
audit, the figures and the surrogate (:func:`microinv.surrogate.labels.read_layout`).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import h5py
import numpy as np

from microinv.data import provenance
from microinv.data.atomic import atomic_path
from microinv.data.chunks import create_structures_dataset, open_h5, open_structures
from microinv.errors import InputError
from microinv.physics.result import CONVERGED
from microinv.progress import progress
from microinv.seeds import SPLIT, stream
from microinv.splits import split_sizes

PER_SAMPLE = ("sample_index", "seed", "theta", "percolates")
PROPERTY_FIELDS = ("value", "status", "iterations", "residual")
SPLITS = ("train", "val", "test")


def split_rows(usable_rows, fractions, seed) -> dict:
    """Deterministic train/val/test partition of ``usable_rows``.

    The rows are permuted by the split stream of ``seed`` (:data:`microinv.seeds.SPLIT`);
    the first ``round(f_train R)`` go to train, the next ``round(f_val R)`` to val, the rest
    to test, R the number of usable rows (:func:`microinv.splits.split_sizes`). Each split
    is returned sorted.
    """
    rng = np.random.default_rng(stream(seed, SPLIT))
    rows = rng.permutation(usable_rows)
    sizes = split_sizes(fractions, len(rows))
    n_train, n_val = sizes["train"], sizes["val"]
    return {"train": np.sort(rows[:n_train]), "val": np.sort(rows[n_train:n_train + n_val]),
            "test": np.sort(rows[n_train + n_val:])}


def open_dataset(path, *, required=()):
    """Open ``dataset.h5`` for reading, checking that ``required`` datasets exist."""
    return open_h5(path, required=required, what="dataset")


def assemble(path, structures, properties, *, fractions, seed, prov: provenance.Provenance,
             added: int = 0) -> None:
    """Write the dataset ``path`` (atomically) from its chunks.

    Parameters
    ----------
    path : path-like
        The dataset to write.
    structures : list of path-like
        Structures chunks, in sample-index order.
    properties : dict
        Property name -> its properties chunks, one per structures chunk, in the same order.
    fractions : dict
        ``splits`` fractions (train, val, test) of the usable rows.
    seed : int
        Campaign seed, whose split stream orders the usable rows (:func:`split_rows`).
    prov : Provenance
        Record of this run, finished and attached once the file is complete.
    added : int, optional
        The last ``added`` structures chunks (and properties chunks) are additions of the
        active-learning loop (:mod:`microinv.design.active`): their usable rows join the
        train split only, and the other rows are split as without them, so the test and
        val splits are those of the campaign's dataset. Attribute ``splits.added_from``:
        the first added row.

    Raises
    ------
    InputError
        Naming the chunk at fault: missing, corrupt, of another shape, out of order, or a
        properties chunk whose samples are not those of its structures chunk; or the output,
        when its file system cannot hold it.
    """
    for name, chunks in properties.items():
        if len(chunks) != len(structures):
            raise InputError(f"{name}: {len(chunks)} properties chunks for {len(structures)} "
                             f"structures chunks")
    files = [*structures, *(c for chunks in properties.values() for c in chunks)]
    with contextlib.ExitStack() as stack:
        sources = [stack.enter_context(open_structures(p, required=PER_SAMPLE)) for p in structures]
        out_dir = os.path.dirname(os.path.abspath(path))
        manifest = [(os.path.relpath(os.path.abspath(f), out_dir), provenance.sha256_file(f)) for f in files]
        size = sum(os.path.getsize(f) for f in files)  # the dataset holds no more than its chunks
        with atomic_path(path, size=size) as tmp, h5py.File(tmp, "w") as out:
            sizes = _copy_samples(out, sources)
            index = out["sample_index"][:]
            usable = np.ones(len(index), dtype=bool)
            for name, chunks in properties.items():
                usable &= _copy_property(out, name, chunks, np.split(index, np.cumsum(sizes)[:-1]))
            out["usable"] = usable
            first_added = sum(sizes[:len(sizes) - added])
            splits = split_rows(np.flatnonzero(usable[:first_added]), fractions, seed)
            splits["train"] = np.concatenate([splits["train"], first_added + np.flatnonzero(usable[first_added:])])
            for split, rows in splits.items():
                out[f"splits/{split}"] = rows.astype(np.int64)
            out["splits"].attrs["added_from"] = first_added
            out["manifest"] = np.array(manifest, dtype=h5py.string_dtype())
            provenance.attach(out, prov.finish())


def _copy_samples(out, sources) -> list[int]:
    """Structures (their compressed chunks as stored), per-sample data and descriptors of
    every structures chunk into ``out``; the number of samples of each chunk."""
    sizes = [len(s["sample_index"]) for s in sources]
    shape, dim = sources[0]["structures"].shape[1:], sources[0]["structures"].ndim - 1
    dest = create_structures_dataset(out, sum(sizes), shape)
    row = 0
    for src in progress(sources, desc="aggregate"):
        if src["structures"].shape[1:] != shape:
            raise InputError(f"{src.filename}: structures: shape {src['structures'].shape[1:]} differs from {shape}")
        for r in range(len(src["sample_index"])):
            try:
                mask, data = src["structures"].id.read_direct_chunk((r,) + (0,) * dim)
            except OSError as err:
                raise InputError(f"{src.filename}: structures[{r}] (sample {src['sample_index'][r]}): "
                                 f"unreadable, the file is corrupt ({err})") from err
            dest.id.write_direct_chunk((row,) + (0,) * dim, data, mask)
            row += 1
    for name in PER_SAMPLE:
        out[name] = np.concatenate([s[name][:] for s in sources])
    for name in sources[0]["descriptors"]:
        out[f"descriptors/{name}"] = np.concatenate([s["descriptors"][name][:] for s in sources])
    if np.any(np.diff(out["sample_index"][:]) <= 0):
        raise InputError("structures chunks must be given in sample-index order without repeats")
    return sizes


def _copy_property(out, name, chunks, chunk_index) -> np.ndarray:
    """:data:`PROPERTY_FIELDS` of property ``name`` from its chunks into ``out``; the rows
    whose every axis converged. ``chunk_index``: the sample indices of each chunk."""
    parts = {k: [] for k in PROPERTY_FIELDS}
    for path, sub_index in zip(chunks, chunk_index):
        with open_h5(path, required=PROPERTY_FIELDS + ("sample_index",), what=f"{name} chunk") as pc:
            if not np.array_equal(pc["sample_index"][:], sub_index):
                raise InputError(f"{path}: sample_index does not match its structures chunk")
            for k in PROPERTY_FIELDS:
                parts[k].append(pc[k][:])
            settings = pc.attrs.get("solver_settings", "{}")
    for k in PROPERTY_FIELDS:
        out[f"properties/{name}/{k}"] = np.concatenate(parts[k])
    out[f"properties/{name}"].attrs["solver_settings"] = settings  # bc, sides, rtol...
    return np.all(out[f"properties/{name}/status"][:] == CONVERGED, axis=1)
