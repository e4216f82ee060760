"""``microinv aggregate``: one training set from all chunks of a campaign.

Rows are the samples in sample-index order. Every sample is kept, with its per-property
solver status; ``usable`` marks those whose every requested property converged along
every axis, and only those enter the deterministic train/val/test split. A manifest
records the SHA-256 of every chunk the dataset was built from.
"""

from __future__ import annotations

import os

import h5py
import numpy as np

from microinv.commands.common import add_config_argument, load_config, progress
from microinv.data import provenance
from microinv.data.atomic import atomic_path
from microinv.data.chunks import create_structures_dataset, open_h5
from microinv.errors import InputError
from microinv.physics.result import CONVERGED
from microinv.seeds import SPLIT, stream

PER_SAMPLE = ("sample_index", "seed", "theta", "percolates")
PROPERTY_FIELDS = ("value", "status", "iterations", "residual")


def register(sub):
    p = sub.add_parser("aggregate", help="merge chunks into dataset.h5 with splits and a manifest")
    add_config_argument(p, required=True)
    p.add_argument("--structures", nargs="+", required=True, help="structures chunks (HDF5)")
    p.add_argument("--property", nargs="+", action="append", default=[], metavar=("NAME", "CHUNK"),
                   help="a property name followed by its chunks, in the same order as --structures")
    p.add_argument("-o", "--output", required=True, help="dataset (HDF5)")
    p.set_defaults(func=run)


def split_rows(usable_rows, fractions, seed):
    """Deterministic train/val/test partition of ``usable_rows`` (a permutation drawn from
    the split stream of ``seed``, :data:`microinv.seeds.SPLIT`)."""
    rng = np.random.default_rng(stream(seed, SPLIT))
    rows = rng.permutation(usable_rows)
    n_train = int(round(fractions["train"] * len(rows)))
    n_val = int(round(fractions["val"] * len(rows)))
    return {"train": np.sort(rows[:n_train]), "val": np.sort(rows[n_train:n_train + n_val]),
            "test": np.sort(rows[n_train + n_val:])}


def run(args) -> int:
    cfg = load_config(args)
    props = {spec[0]: spec[1:] for spec in args.property}
    for name, chunks in props.items():
        if len(chunks) != len(args.structures):
            raise InputError(f"--property {name}: {len(chunks)} chunks for {len(args.structures)} structures chunks")
    for name in cfg["solve"]["properties"]:
        if name not in props:
            raise InputError(f"solve.properties lists {name!r} but no --property {name} chunks were given")
    prov = provenance.Provenance(inputs=[args.config], config=cfg)
    sources = []
    try:
        for path in args.structures:
            sources.append(open_h5(path, required=PER_SAMPLE + ("structures",), what="structures chunk"))
        files = list(args.structures) + [c for chunks in props.values() for c in chunks]
        out_dir = os.path.dirname(os.path.abspath(args.output))
        manifest = [(os.path.relpath(os.path.abspath(f), out_dir), provenance.sha256_file(f)) for f in files]
        sizes = [len(s["sample_index"]) for s in sources]
        total, shape, dim = sum(sizes), sources[0]["structures"].shape[1:], sources[0]["structures"].ndim - 1
        with atomic_path(args.output) as tmp, h5py.File(tmp, "w") as out:
            dest = create_structures_dataset(out, total, shape)
            row = 0
            for src, path in progress(list(zip(sources, args.structures)), desc="aggregate"):
                if src["structures"].shape[1:] != shape:
                    raise InputError(f"{path}: structures: shape {src['structures'].shape[1:]} differs from {shape}")
                for r in range(len(src["sample_index"])):  # copy compressed chunks as they are
                    mask, data = src["structures"].id.read_direct_chunk((r,) + (0,) * dim)
                    dest.id.write_direct_chunk((row,) + (0,) * dim, data, mask)
                    row += 1
            for name in PER_SAMPLE:
                out[name] = np.concatenate([s[name][:] for s in sources])
            for name in sources[0]["descriptors"]:
                out[f"descriptors/{name}"] = np.concatenate([s["descriptors"][name][:] for s in sources])
            index = out["sample_index"][:]
            if np.any(np.diff(index) <= 0):
                raise InputError("--structures: chunks must be given in sample-index order without repeats")
            usable = np.ones(total, dtype=bool)
            for name, chunks in props.items():
                parts = {k: [] for k in PROPERTY_FIELDS}
                for path, sub_index in zip(chunks, np.split(index, np.cumsum(sizes)[:-1])):
                    with open_h5(path, required=PROPERTY_FIELDS + ("sample_index",), what=f"{name} chunk") as pc:
                        if not np.array_equal(pc["sample_index"][:], sub_index):
                            raise InputError(f"{path}: sample_index does not match its structures chunk")
                        for k in PROPERTY_FIELDS:
                            parts[k].append(pc[k][:])
                        settings = pc.attrs.get("solver_settings", "{}")
                for k in PROPERTY_FIELDS:
                    out[f"properties/{name}/{k}"] = np.concatenate(parts[k])
                out[f"properties/{name}"].attrs["solver_settings"] = settings  # bc, sides, rtol...
                usable &= np.all(out[f"properties/{name}/status"][:] == CONVERGED, axis=1)
            out["usable"] = usable
            for split, rows in split_rows(np.flatnonzero(usable), cfg["splits"], cfg["seed"]).items():
                out[f"splits/{split}"] = rows.astype(np.int64)
            out["manifest"] = np.array(manifest, dtype=h5py.string_dtype())
            provenance.attach(out, prov.finish())
    finally:
        for s in sources:
            s.close()
    return 0
