"""``microinv sample``: draw the accepted prior samples of one chunk of a campaign.

Spinodoid campaigns draw theta from the spinodoid prior with percolation rejection; process
campaigns (a ``process`` section) draw phi uniformly over the family's box, one phi per
group of ``process.structures_per_phi`` samples, and keep every structure.
"""

from __future__ import annotations

import numpy as np

from microinv.commands.common import add_config_argument, load_config
from microinv.config import is_process_campaign
from microinv.data.chunks import write_samples
from microinv.data.layout import chunk_range
from microinv.data.provenance import Provenance
from microinv.errors import InputError


def register(sub):
    p = sub.add_parser("sample", help="draw prior samples (theta or phi, seed) of one chunk")
    add_config_argument(p, required=True)
    p.add_argument("--chunk", type=int, required=True, help="chunk number (0-based)")
    p.add_argument("-o", "--output", required=True, help="samples chunk (JSON)")
    p.set_defaults(func=run)


def run(args) -> int:
    from microinv.microstructure import ProcessPrior, sample_prior, sample_process
    from microinv.microstructure.models import process_settings

    cfg = load_config(args)
    start, stop = chunk_range(cfg, args.chunk)
    prov = Provenance(inputs=[args.config], config=cfg)
    n, dim = cfg["structure"]["n"], cfg["structure"]["dim"]
    campaign, model = np.random.SeedSequence(cfg["seed"]), None
    if is_process_campaign(cfg):  # phi uniform over the family's box, every structure kept
        model = process_settings(cfg["process"])
        drawn = sample_process(stop - start, seed_sequence=campaign, prior=ProcessPrior(model["family"]),
                               structures_per_phi=cfg["process"]["structures_per_phi"], start_index=start)
    else:
        try:
            drawn = sample_prior(stop - start, n=n, dim=dim, start_index=start, seed_sequence=campaign)
        except RuntimeError as err:  # too few percolating structures for this prior and n
            raise InputError(f"{args.config}: structure.n={n}: {err}") from err
    samples = [{"index": int(i), "seed": int(s), "theta": [float(v) for v in t], "attempts": int(a)}
               for i, s, t, a in zip(drawn.index, drawn.seed, drawn.theta, drawn.attempts)]
    write_samples(args.output, campaign=cfg["campaign"], chunk=args.chunk, n=n, dim=dim,
                  samples=samples, acceptance_rate=float(drawn.acceptance_rate),
                  provenance=prov.finish(), model=model)
    return 0
