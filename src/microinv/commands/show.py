"""``microinv show``: a PNG of slices of structures, from a chunk/dataset or from parameters."""

from __future__ import annotations

from microinv.data.chunks import open_structures, read_structure
from microinv.errors import InputError


def register(sub):
    p = sub.add_parser("show", help="write a PNG of slices of structures")
    p.add_argument("source", nargs="?", help="structures chunk or dataset (HDF5); omit to generate from --theta")
    rows = p.add_mutually_exclusive_group()
    rows.add_argument("--rows", type=int, nargs="+", help="rows of the file to show")
    rows.add_argument("--first", type=int, default=1, help="show the first FIRST rows (default 1)")
    p.add_argument("--theta", type=float, nargs="+", help="(a_x, a_y[, a_z], eps) to generate a structure")
    p.add_argument("--n", type=int, default=64, help="voxels per side with --theta")
    p.add_argument("--seed", type=int, default=0, help="structure seed with --theta")
    p.add_argument("-o", "--output", required=True, help="PNG file")
    p.set_defaults(func=run)


def run(args) -> int:
    from microinv.figures.structures import slices
    from microinv.microstructure import spinodoid

    if args.source is None:
        if not args.theta:
            raise InputError("give a structures file or --theta (a_x, a_y[, a_z], eps)")
        dim = len(args.theta) - 1
        try:
            solids = [spinodoid(args.theta, args.n, args.seed, dim=dim)]
        except ValueError as err:
            raise InputError(f"--theta: {err}") from err
        titles = [f"theta={args.theta} n={args.n} seed={args.seed}"]
    else:
        with open_structures(args.source, what="structures file") as fh:
            count = len(fh["sample_index"])
            args.rows = args.rows or list(range(min(args.first, count)))
            bad = [r for r in args.rows if not 0 <= r < count]
            if bad:
                raise InputError(f"{args.source}: --rows {bad}: the file has rows 0..{count - 1}")
            solids = [read_structure(fh, r) for r in args.rows]
            titles = [f"sample {fh['sample_index'][r]}" for r in args.rows]
    slices(solids, args.output, titles=titles)
    return 0
