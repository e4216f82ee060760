"""``microinv aggregate``: one training set from all chunks of a campaign.

Rows are the samples in sample-index order. Every sample is kept, with its per-property
solver status; ``usable`` marks those whose every requested property converged along
every axis, and only those enter the deterministic train/val/test split. A manifest
records the SHA-256 of every chunk the dataset was built from. The format is
:mod:`microinv.data.dataset`'s.
"""

from __future__ import annotations

from microinv.commands.common import add_config_argument, load_config
from microinv.data import provenance
from microinv.data.dataset import assemble
from microinv.errors import InputError


def register(sub):
    p = sub.add_parser("aggregate", help="merge chunks into dataset.h5 with splits and a manifest")
    add_config_argument(p, required=True)
    p.add_argument("--structures", nargs="+", required=True, help="structures chunks (HDF5)")
    p.add_argument("--property", nargs="+", action="append", default=[], metavar=("NAME", "CHUNK"),
                   help="a property name followed by its chunks, in the same order as --structures")
    p.add_argument("--added", type=int, default=0, metavar="N",
                   help="the last N structures (and properties) chunks are active-learning additions: "
                        "their rows join the train split only, the other splits stay the campaign's")
    p.add_argument("-o", "--output", required=True, help="dataset (HDF5)")
    p.set_defaults(func=run)


def run(args) -> int:
    cfg = load_config(args)
    props = {spec[0]: spec[1:] for spec in args.property}
    for name in cfg["solve"]["properties"]:
        if name not in props:
            raise InputError(f"solve.properties lists {name!r} but no --property {name} chunks were given")
    prov = provenance.Provenance(inputs=[args.config], config=cfg)
    if not 0 <= args.added <= len(args.structures):
        raise InputError(f"--added: must lie in 0..{len(args.structures)} (the structures chunks), got {args.added}")
    assemble(args.output, args.structures, props, fractions=cfg["splits"], seed=cfg["seed"], prov=prov,
             added=args.added)
    return 0
