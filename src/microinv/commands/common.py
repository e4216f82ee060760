"""Argument helpers shared by the stage commands."""

from __future__ import annotations

from microinv import config as campaign_config


def add_config_argument(parser, *, required=False):
    parser.add_argument("--config", required=required,
                        help="campaign config (YAML, or the resolved JSON of `microinv config`)")


def load_config(args):
    """The resolved config of ``--config`` (None when not given)."""
    return campaign_config.load(args.config) if args.config else None

