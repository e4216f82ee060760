"""``microinv xdmf FILE.h5``: an XDMF file beside a structures chunk or dataset for ParaView."""

from __future__ import annotations

import logging

log = logging.getLogger("microinv.xdmf")


def register(sub):
    p = sub.add_parser("xdmf", help="write FILE.xdmf so ParaView opens the structures of FILE.h5 in place")
    p.add_argument("source", help="structures chunk or dataset (HDF5)")
    p.add_argument("-o", "--output", help="XDMF file (default: SOURCE with suffix .xdmf; keep it beside SOURCE)")
    p.set_defaults(func=run)


def run(args) -> int:
    from microinv.data.xdmf import write_xdmf

    log.info("wrote %s", write_xdmf(args.source, args.output))
    return 0
