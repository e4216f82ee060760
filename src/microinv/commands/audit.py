"""``microinv audit results/<campaign>``: check where every number of a campaign came from.

Prints what was checked and what failed (file and sample index), writes the same as JSON
and exits with status 1 on any mismatch. See :mod:`microinv.audit` for the checks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from microinv.data.atomic import write_json


def _fraction(text):
    value = float(text)
    if not 0 < value <= 1:
        raise argparse.ArgumentTypeError(f"{text}: must be in (0, 1]")
    return value


def register(sub):
    p = sub.add_parser("audit", help="verify hashes, records, splits; regenerate and re-solve a random subset")
    p.add_argument("campaign", help="campaign folder, results/<campaign>")
    p.add_argument("--sample-fraction", type=_fraction, default=0.01, metavar="F",
                   help="fraction of the samples regenerated and re-solved, at least one (default 0.01)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random subset (default 0)")
    p.add_argument("--skip-solve", action="store_true", help="do not re-solve (the expensive check)")
    p.add_argument("--ranks", type=int, help="MPI ranks of the re-solve (default: the recorded ranks)")
    p.add_argument("--mpiexec", default="mpiexec",
                   help="MPI launcher, e.g. 'srun' or 'mpiexec --oversubscribe' (default mpiexec)")
    p.add_argument("--tolerance", type=float,
                   help="relative tolerance of re-solved properties (default: from the recorded rtol)")
    p.add_argument("--json", metavar="FILE", help="JSON report (default: <campaign>/audit.json)")
    p.set_defaults(func=run)


def run(args) -> int:
    from microinv.audit import audit_campaign

    report = audit_campaign(args.campaign, sample_fraction=args.sample_fraction, seed=args.seed,
                            solve=not args.skip_solve, ranks=args.ranks, mpiexec=args.mpiexec,
                            tolerance=args.tolerance)
    out = Path(args.json) if args.json else Path(args.campaign) / "audit.json"
    write_json(out, report.to_json())
    print(report.summary())
    print(f"JSON report: {out}", file=sys.stderr)
    return 0 if report.ok else 1
