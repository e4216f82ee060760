"""The ``microinv`` command: one sub-command per campaign stage.

Each stage lives in ``microinv.commands.<name>`` with ``register(subparsers)`` and
``run(args) -> int``. Errors the user can fix (:class:`~microinv.errors.InputError`) are
printed as one line naming the file and field, with exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from microinv import __version__
from microinv.errors import InputError

COMMANDS = ("config", "sample", "generate", "show", "solve", "aggregate", "train", "design", "validate", "audit", "crate", "figures", "summary", "xdmf")


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
        print(f"microinv: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("microinv: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
