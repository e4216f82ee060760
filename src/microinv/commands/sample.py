"""``microinv sample``: draw the accepted prior samples of one chunk of a campaign."""

from __future__ import annotations

import numpy as np

from microinv.commands.common import add_config_argument, load_config
from microinv.data.chunks import write_samples
from microinv.data.layout import chunk_range
from microinv.data.provenance import Provenance
from microinv.errors import InputError


def register(sub):
    p = sub.add_parser("sample", help="draw prior samples (theta, seed) of one chunk, with percolation rejection")
    add_config_argument(p, required=True)
    p.add_argument("--chunk", type=int, required=True, help="chunk number (0-based)")
    p.add_argument("-o", "--output", required=True, help="samples chunk (JSON)")
    p.set_defaults(func=run)


def run(args) -> int:
    from microinv.microstructure import sample_prior

    cfg = load_config(args)
    start, stop = chunk_range(cfg, args.chunk)
    prov = Provenance(inputs=[args.config], config=cfg)
    n, dim = cfg["structure"]["n"], cfg["structure"]["dim"]
    try:
        drawn = sample_prior(stop - start, n=n, dim=dim, start_index=start,
                             seed_sequence=np.random.SeedSequence(cfg["seed"]))
    except RuntimeError as err:  # too few percolating structures for this prior and n
        raise InputError(f"{args.config}: structure.n={n}: {err}") from err
    samples = [{"index": int(i), "seed": int(s), "theta": [float(v) for v in t], "attempts": int(a)}
               for i, s, t, a in zip(drawn.index, drawn.seed, drawn.theta, drawn.attempts)]
    write_samples(args.output, campaign=cfg["campaign"], chunk=args.chunk, n=n, dim=dim,
                  samples=samples, acceptance_rate=float(drawn.acceptance_rate),
                  provenance=prov.finish())
    return 0
