"""``microinv generate``: voxel structures, percolation flags and descriptors of a samples chunk,
and with ``structure.field`` the level-set field f of each structure (voxels = f >= 0)."""

from __future__ import annotations

import h5py
import numpy as np

from microinv import config as campaign_config
from microinv.commands.common import add_config_argument, load_config
from microinv.data import provenance
from microinv.data.atomic import atomic_path
from microinv.data.chunks import create_field_dataset, create_structures_dataset, read_samples
from microinv.errors import InputError
from microinv.progress import progress


def register(sub):
    p = sub.add_parser("generate", help="generate the structures of a samples chunk (HDF5)")
    p.add_argument("samples", help="samples chunk (JSON) from `microinv sample`")
    add_config_argument(p)
    p.add_argument("-o", "--output", required=True, help="structures chunk (HDF5)")
    p.set_defaults(func=run)


def run(args) -> int:
    from microinv.microstructure import describe, percolation_flags, spinodoid_field
    from microinv.microstructure.models import structures_of

    doc = read_samples(args.samples)
    cfg = load_config(args)
    with_field = (cfg or campaign_config.resolve({}))["structure"]["field"]
    if with_field and "model" in doc:
        raise InputError(f"{args.config}: structure.field: process campaigns store no level-set field "
                         "(solve them with solve.geometry: voxel)")
    inputs = [args.samples] + ([args.config] if args.config else [])
    prov = provenance.Provenance(inputs=inputs, config=cfg)
    n, dim, samples = doc["n"], doc["dim"], doc["samples"]
    count = len(samples)
    with atomic_path(args.output) as tmp, h5py.File(tmp, "w") as fh:
        structures = create_structures_dataset(fh, count, (n,) * dim)
        fh["sample_index"] = np.array([s["index"] for s in samples], dtype=np.int64)
        fh["seed"] = np.array([s["seed"] for s in samples], dtype=np.uint64)
        theta = np.array([s["theta"] for s in samples], dtype=np.float64).reshape(count, -1)
        fh["theta"] = theta
        if "model" in doc:  # process campaign: one batch, the parameter names beside phi
            fh["theta"].attrs["names"] = doc["model"]["parameters"]
            made = structures_of(n, dim, doc["model"], theta, fh["seed"][()])
        flags = fh.create_dataset("percolates", shape=(count, 2, dim), dtype=bool)
        fields = create_field_dataset(fh, count, (n,) * dim) if with_field else None
        for row, s in enumerate(progress(samples, desc="generate")):
            if "model" in doc:
                solid = made[row]
            elif fields is None:
                solid = structures_of(n, dim, None, [s["theta"]], [s["seed"]])[0]
            else:
                fields[row] = f = spinodoid_field(s["theta"], n, s["seed"], dim=dim)
                solid = (f >= 0).view(np.uint8)
            structures[row] = solid
            flags[row] = percolation_flags(solid)
            for name, value in describe(solid).items():
                value = np.asarray(value, dtype=np.float64)
                if name not in fh.get("descriptors", {}):
                    fh.create_dataset(f"descriptors/{name}", shape=(count, *value.shape), dtype=np.float64)
                fh["descriptors"][name][row] = value
        provenance.attach(fh, prov.finish())
    return 0
