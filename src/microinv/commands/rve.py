"""``microinv rve``: how big a structure must be, for a design or a sample of the prior.

For each theta (``--design design.json``, ``--theta`` a_x a_y a_z eps, or ``--prior``: the
config's ``rve.prior_draws`` draws) and each size L of ``rve.sizes`` (a L fixed), K =
``rve.seeds`` structures are solved under affine, periodic and uniform-flux BC
(`microinv.rve`). Writes ``rve.json`` (per theta: apparent tensors, mean and spread per L,
bound gap, fitted variance scaling, the RVE size each criterion needs; the campaign guard:
the fraction of theta whose RVE size exceeds ``structure.n``) and, beside it,
``<stem>-eta.png`` and ``<stem>-cv.png``. Run under ``mpiexec -n P``: every structure's
unknowns are distributed over the ranks; rank 0 writes.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from microinv.commands.common import add_config_argument, load_config
from microinv.errors import InputError

log = logging.getLogger("microinv.rve")


def register(sub):
    p = sub.add_parser("rve", help="RVE size: apparent tensors under affine, periodic and flux BC at growing L")
    add_config_argument(p, required=True)
    what = p.add_mutually_exclusive_group(required=True)
    what.add_argument("--design", help="design.json of `microinv design`: its theta")
    what.add_argument("--theta", type=float, nargs=4, action="append", metavar=("A_X", "A_Y", "A_Z", "EPS"),
                      help="theta at structure.n (repeat for several)")
    what.add_argument("--prior", action="store_true", help="rve.prior_draws draws from the prior")
    p.add_argument("--sizes", type=int, nargs="+", help="sizes L (default: rve.sizes)")
    p.add_argument("--seeds", type=int, help="structures K per size (default: rve.seeds)")
    p.add_argument("-o", "--output", required=True, help="rve.json (figures go beside it)")
    p.set_defaults(func=run, accepts_petsc_options=True)


def settings(args, cfg) -> dict:
    """The rve section with the command line's overrides, checked."""
    section = dict(cfg["rve"])
    if args.sizes is not None:
        section["sizes"] = args.sizes
    if args.seeds is not None:
        section["seeds"] = args.seeds
    sizes = section["sizes"]
    if len(sizes) < 2 or any(s < 4 for s in sizes) or sorted(set(sizes)) != list(sizes):
        raise InputError(f"rve.sizes: expected two or more increasing sizes >= 4, got {sizes}")
    if section["seeds"] < 2:
        raise InputError(f"rve.seeds: the spread needs K >= 2, got {section['seeds']}")
    return section


def thetas(args, cfg, section) -> tuple[list, int, list]:
    """theta (at n), n and the inputs read."""
    from microinv.microstructure import SpinodoidPrior
    from microinv.rve import prior_draws

    n = cfg["structure"]["n"]
    if args.design:
        from microinv.design.records import read_design

        doc = read_design(args.design)
        return [list(doc["design"]["theta"])], int(doc.get("n", n)), [args.design]
    if args.theta:
        return [list(t) for t in args.theta], n, []
    if section["prior_draws"] < 1:
        raise InputError("rve.prior_draws: --prior needs at least 1 draw, got 0")
    return prior_draws(SpinodoidPrior(n=n, dim=3), cfg["seed"], section["prior_draws"]).tolist(), n, []


def run(args) -> int:
    import petsc4py

    petsc4py.init(["microinv", *args.petsc_options])
    from petsc4py import PETSc

    from microinv import rve
    from microinv.commands.solve import on_rank0
    from microinv.data.atomic import check_writable, write_json
    from microinv.data.provenance import Provenance
    from microinv.figures import rve as figures

    comm = PETSc.COMM_WORLD
    cfg = load_config(args)
    section = settings(args, cfg)
    theta, n, inputs = thetas(args, cfg, section)
    prov = Provenance(inputs=inputs, config=cfg)
    on_rank0(comm, lambda: check_writable(args.output))
    sizes, count = section["sizes"], section["seeds"]
    entries = []
    for e, t in enumerate(theta):
        tensors = np.zeros((len(sizes), count, len(rve.BCS), 3, 3))
        seeds = {}
        for s, size in enumerate(sizes):
            seeds[size] = rve.structure_seeds(cfg["seed"], e, size, count)
            for k, seed in enumerate(seeds[size]):
                tensors[s, k] = rve.apparent_tensors(t, size, seed, n_reference=n,
                                                     solid_conductivity=section["solid_conductivity"],
                                                     rtol=section["rtol"], comm=comm)
        summary = rve.summarise(sizes, tensors, cv_tolerance=section["cv_tolerance"],
                                gap_tolerance=section["gap_tolerance"])
        entries.append({"theta": t, "seeds": {str(k): v.tolist() for k, v in seeds.items()},
                        "tensors": tensors.tolist(), **summary})
        if comm.getRank() == 0:
            log.info("theta %d/%d %s: RVE size %s%s (CV at L = %d: %s, gap %s)", e + 1, len(theta),
                     np.round(t, 4).tolist(), entries[-1]["rve_size"],
                     " (extrapolated)" if entries[-1]["extrapolated"] else "", sizes[-1],
                     np.round(summary["cv"][-1], 3).tolist(), np.round(summary["gap"][-1], 3).tolist())
    doc = {"format": rve.RVE_FORMAT, "n": n, "source": "design" if args.design else "theta" if args.theta else "prior",
           "bcs": list(rve.BCS), "settings": section, "entries": entries}
    doc["guard"] = rve.guard(doc)

    def write():
        out = Path(args.output)
        write_json(out, {**doc, "provenance": prov.finish()})
        stem = out.with_suffix("")
        figures.eta_against_size(doc, f"{stem}-eta.png")
        figures.cv_against_size(doc, f"{stem}-cv.png")
        log.info("%d of %d theta need more than N = %d (wrote %s)", doc["guard"]["exceeding"],
                 doc["guard"]["entries"], n, out)

    on_rank0(comm, write)
    return 0
