"""``microinv figures FILE -o FOLDER``: the report's figures of a dataset or an ABC posterior.

``dataset.h5`` gives, per property, histograms per direction, joint scatters of two
directions and a solver convergence summary, plus the structure descriptors;
``posterior.h5`` gives the posterior marginals and acceptance rates per generation; a BO
``study.journal`` its optimisation history; a ``design.json`` the figures of the search
that made it.
"""

from __future__ import annotations

import logging

from microinv.data.chunks import open_h5

log = logging.getLogger("microinv.figures")


def register(sub):
    p = sub.add_parser("figures", help="report figures of dataset.h5, posterior.h5, study.journal or design.json (PNG)")
    p.add_argument("source", help="campaign dataset (dataset.h5), ABC posterior (posterior.h5), BO study "
                                  "(*.journal) or a design (design.json)")
    p.add_argument("-o", "--output", required=True, help="folder of the PNG files")
    p.add_argument("--study-name", help="study name in a BO journal (default: its newest study)")
    p.set_defaults(func=run)


def run(args) -> int:
    from microinv.figures import dataset, design

    if args.source.endswith(".journal"):
        paths = design.study_figures(args.source, args.output, study_name=args.study_name)
    elif args.source.endswith(".json"):
        paths = design.design_figures(args.source, args.output)
    else:
        with open_h5(args.source, what="dataset or posterior") as fh:
            is_dataset = "properties" in fh and "structures" in fh
        draw = dataset.dataset_figures if is_dataset else design.posterior_figures
        paths = draw(args.source, args.output)
    for path in paths:
        log.info("wrote %s", path)
    return 0
