"""``microinv crate results/<campaign>``: the campaign as a Workflow Run RO-Crate.

Copies the workflow definition (Snakefile, rules, schema, captions) into the campaign
folder and writes ``ro-crate-metadata.json`` there; see :mod:`microinv.crate`.
"""

from __future__ import annotations

import logging

log = logging.getLogger("microinv.crate")


def register(sub):
    p = sub.add_parser("crate", help="write the campaign's Workflow Run RO-Crate (ro-crate-metadata.json)")
    p.add_argument("campaign", help="campaign folder, results/<campaign>")
    p.add_argument("--workflow", help="the workflow's Snakefile (default: the one of this source tree)")
    p.add_argument("--exclude", nargs="+", default=[], metavar="GLOB",
                   help="campaign files (globs relative to the campaign folder) left out of the crate")
    p.set_defaults(func=run)


def run(args) -> int:
    from microinv.crate import write_crate

    out = write_crate(args.campaign, workflow=args.workflow, exclude=args.exclude)
    log.info("wrote %s", out)
    return 0
