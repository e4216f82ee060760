"""``microinv summary CAMPAIGN``: the campaign's answer, validated designs first.

Per target and method the design theta, the solver's eta (mean +- standard error over the
validation structures) and its miss from the target; then the surrogate's test error and
the dataset's size and solver cost. Printed as text, or written with ``-o`` as the HTML
fragment the Snakemake report opens on.
"""

from __future__ import annotations

import logging

from microinv.data.atomic import atomic_path

log = logging.getLogger("microinv.summary")


def register(sub):
    p = sub.add_parser("summary", help="the campaign's answer: validated designs, surrogate error, dataset")
    p.add_argument("campaign", help="campaign folder (results/<campaign>)")
    p.add_argument("--design", nargs="*", metavar="TARGET/METHOD",
                   help="design folders under design/ to report, in order (default: every validated one)")
    p.add_argument("-o", "--output", help="HTML file (default: text on standard output)")
    p.set_defaults(func=run)


def run(args) -> int:
    from microinv.figures.answer import campaign_answer, to_html, to_text

    answer = campaign_answer(args.campaign, args.design)
    if args.output is None:
        print(to_text(answer), end="")
        return 0
    with atomic_path(args.output) as tmp:
        tmp.write_text(to_html(answer))
    log.info("wrote %s", args.output)
    return 0
