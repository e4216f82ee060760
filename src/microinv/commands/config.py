"""``microinv config``: validate a campaign config, fill defaults, write the resolved JSON."""

from __future__ import annotations

import json

from microinv import config
from microinv.data.atomic import write_json
from microinv.errors import InputError


def register(sub):
    p = sub.add_parser("config", help="validate a config and write it resolved (defaults filled)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("path", nargs="?", help="YAML or JSON config file")
    src.add_argument("--json", dest="text", help="the config as a JSON string")
    p.add_argument("-o", "--output", help="resolved config (JSON); stdout if omitted")
    p.set_defaults(func=run)


def run(args) -> int:
    if args.text is not None:
        try:
            data = json.loads(args.text)
        except json.JSONDecodeError as err:
            raise InputError(f"--json: not valid JSON: {err}") from err
        resolved = config.resolve(data, source="--json config")
    else:
        resolved = config.load(args.path)
    if args.output:
        write_json(args.output, resolved)
    else:
        print(json.dumps(resolved, indent=1))
    return 0
