"""Argument helpers shared by the stage commands."""

from __future__ import annotations

import sys

from microinv import config as campaign_config


def add_config_argument(parser, *, required=False):
    parser.add_argument("--config", required=required,
                        help="campaign config (YAML, or the resolved JSON of `microinv config`)")


def load_config(args):
    """The resolved config of ``--config`` (None when not given)."""
    return campaign_config.load(args.config) if args.config else None


def progress(iterable, *, total=None, desc=""):
    """A progress bar on stderr that also reads well in a log file."""
    from tqdm import tqdm

    return tqdm(iterable, total=total, desc=desc, file=sys.stderr, mininterval=2.0,
                dynamic_ncols=False, ncols=80, disable=None)
