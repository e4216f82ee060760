"""The ``microinv`` command: one sub-command per campaign stage.

Each stage lives in ``microinv.commands.<name>`` with ``register(subparsers)`` and
``run(args) -> int``. Errors the user can fix (:class:`~microinv.errors.InputError`) are
printed as one line naming the file and field, with exit status 2; under MPI every rank
reads the same inputs and raises the same error, which rank 0 prints. Any other operating
system error (an I/O error of the disk, say) is one line too, with exit status 1.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from microinv import __version__
from microinv.errors import InputError

COMMANDS = ("config", "sample", "generate", "show", "solve", "aggregate", "train", "design", "validate", "rve", "process", "active", "audit", "crate", "figures", "summary", "xdmf")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="microinv",
        description="Inverse design of porous two-phase microstructures, stage by stage.")
    parser.add_argument("--version", action="version", version=f"microinv {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="<stage>")
    for name in COMMANDS:
        importlib.import_module(f"microinv.commands.{name}").register(sub)
    return parser


def mpi_rank() -> int:
    """This process's rank in an MPI job as its launcher exports it (Open MPI, PMIx, PMI); 0 outside one."""
    for key in ("OMPI_COMM_WORLD_RANK", "PMIX_RANK", "PMI_RANK"):
        if key in os.environ:
            return int(os.environ[key])
    return 0


def main(argv=None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "accepts_petsc_options", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.petsc_options = extra
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO,
                        format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S",
                        stream=sys.stderr)
    try:
        return args.func(args) or 0
    except InputError as err:
        if mpi_rank() == 0:
            print(f"microinv: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:  # HDF5 messages span lines; the file is in them or in err.filename
        where = f"{err.filename}: " if err.filename else ""
        print(f"microinv: error: {where}{' '.join(str(err).split())}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("microinv: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
