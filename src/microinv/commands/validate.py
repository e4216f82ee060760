"""``microinv validate``: solved validation structures of a design against the target and the surrogate.

Reads ``design.json`` (from ``microinv design``), the properties chunk that ``microinv
solve diffusivity`` wrote for its samples and the structures chunk that ``microinv
generate`` wrote; writes ``validation.json`` and, beside it, the figures: validation
histograms and surrogate versus solver. An ABC design's posterior-predictive samples
(``design.validation.predictive``) are summarised apart, as ``predictive``: the
posterior-predictive hit rate.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from microinv.data.atomic import write_json
from microinv.data.chunks import open_h5, read_structure
from microinv.data.provenance import Provenance
from microinv.errors import InputError

log = logging.getLogger("microinv.validate")


def register(sub):
    p = sub.add_parser("validate", help="compare solved validation structures with the target and the surrogate")
    p.add_argument("design", help="design.json from `microinv design`")
    p.add_argument("properties", help="diffusivity properties chunk (HDF5) of the design's samples")
    p.add_argument("structures", help="structures chunk (HDF5) of the design's samples")
    p.add_argument("--surrogate", help="surrogate (model.ckpt) to compare with the solver")
    p.add_argument("-o", "--output", required=True, help="validation.json (figures go beside it)")
    p.add_argument("--tolerance", type=float,
                   help="relative tolerance per axis (default: the design's, 0.05)")
    p.add_argument("--batch-size", type=int, default=8, help="surrogate batch size")
    p.add_argument("--rve", help="rve.json of `microinv rve --design`: flag an RVE size above N")
    p.set_defaults(func=run)


def solved(properties, design_doc) -> tuple[np.ndarray, np.ndarray]:
    """sample_index (K,) and eta (K, 3) of a properties chunk, checked against the design."""
    with open_h5(properties, required=("sample_index", "value", "status"),
                 what="properties chunk") as fh:
        index, value = fh["sample_index"][()], fh["value"][()].astype(float)
    if value.ndim != 2 or value.shape[1] != 3:
        raise InputError(f"{properties}: value: expected shape (S, 3), got {value.shape}")
    expected = {s["index"] for s in design_doc["samples"]}
    unknown = sorted(set(index.tolist()) - expected)
    if unknown:
        raise InputError(f"{properties}: sample_index {unknown[:5]} are not samples of the design")
    return index, value


def predict(surrogate_path, structures, index, design, batch_size) -> tuple[np.ndarray, np.ndarray | None]:
    """Seeds (K,) and surrogate eta (K, 3) of the structures with ``index`` (None without a
    surrogate). Structures validated at f N (upscaled) are coarsened by f to the
    surrogate's N, keeping their porosity."""
    from microinv.design.validation import coarsen
    from microinv.surrogate import load

    surrogate = load(surrogate_path) if surrogate_path else None
    with open_h5(structures, required=("sample_index", "seed", "structures"),
                 what="structures chunk") as fh:
        rows = {int(i): r for r, i in enumerate(fh["sample_index"][()])}
        missing = [int(i) for i in index if int(i) not in rows]
        if missing:
            raise InputError(f"{structures}: sample_index lacks {missing[:5]} of the properties chunk")
        seeds = fh["seed"][()][[rows[int(i)] for i in index]]
        if surrogate is None:
            return seeds, None
        factor = fh["structures"].shape[1] // design["n"]
        # one structure in memory at a time: upscaled ones are large (576^3 = 191 MB)
        solids = np.stack([coarsen(read_structure(fh, rows[int(i)]), factor) if factor > 1
                           else read_structure(fh, rows[int(i)]) for i in index])
    return seeds, np.asarray(surrogate.predict(solids, batch_size=batch_size), dtype=float)


def design_samples(index, design) -> np.ndarray:
    """Which of the samples ``index`` are the design's own validation structures (bool (K,)),
    not posterior-predictive ones."""
    extra = design["validation"].get("predictive")
    return np.asarray(index) < extra["first_index"] if extra else np.ones(len(index), dtype=bool)


def predictive_check(eta, target, tolerance) -> dict:
    """The posterior-predictive check of an ABC design: on the K' structures at posterior
    draws, the hit rate (within ``tolerance`` on all axes) with its binomial standard error,
    the mean eta and the expected discrepancy (`microinv.design.validation.summarise`)."""
    from microinv.design.validation import summarise

    if not len(eta):
        raise InputError("properties chunk: none of the posterior-predictive samples was solved")
    full = summarise(eta, target, tolerance=tolerance)
    return {key: full[key] for key in ("structures", "solved", "mean", "sem", "expected_discrepancy",
                                       "expected_discrepancy_sem", "hit_fraction", "hit_fraction_sem",
                                       "hit_fraction_axes")}


def run(args) -> int:
    from microinv.design.records import read_design
    from microinv.design.validation import VALIDATION_FORMAT, summarise
    from microinv.figures import design as figures

    doc = read_design(args.design)
    design = doc["design"]
    inputs = [args.design, args.properties, args.structures] + ([args.surrogate] if args.surrogate else []) \
        + ([args.rve] if args.rve else [])
    prov = Provenance(inputs=inputs)
    tolerance = args.tolerance or design["validation"].get("tolerance", 0.05)
    index, eta = solved(args.properties, doc)
    seeds, predicted = predict(args.surrogate, args.structures, index, design, args.batch_size)
    extra = design["validation"].get("predictive")
    own = design_samples(index, design)
    record = summarise(eta[own], design["target"], tolerance=tolerance,
                       eta_surrogate=None if predicted is None else predicted[own],
                       sample_index=index[own], seeds=seeds[own])
    if extra:
        record["predictive"] = predictive_check(eta[~own], design["target"], tolerance)
    record = {"format": VALIDATION_FORMAT, "method": design["method"], "theta": design["theta"],
              "validated": design.get("validated"), "validation": design["validation"], **record}
    if args.rve:
        from microinv import rve

        record["rve"] = rve.design_flag(rve.read_rve(args.rve))
        if rve.warning(record["rve"]):
            log.warning("%s", rve.warning(record["rve"]))
    record["provenance"] = prov.finish()
    out = Path(args.output)
    write_json(out, record)
    log.info("solver mean eta %s +- %s (target %s, K = %d), rho of mean %.3g +- %.2g %%, "
             "within +-%g %% on all axes: %.0f %%", np.round(record["mean"], 4).tolist(),
             np.round(record["sem"], 4).tolist() if record["solved"] > 1 else None, design["target"],
             record["solved"], record["discrepancy_of_mean"], record["discrepancy_of_mean_sem"] or 0,
             100 * tolerance, 100 * record["hit_fraction"])

    if extra:
        check = record["predictive"]
        log.info("posterior-predictive check: %d of %d structures at posterior draws within +-%g %% on all "
                 "axes (%.0f +- %.0f %%)", round(check["hit_fraction"] * check["solved"]), check["solved"],
                 100 * tolerance, 100 * check["hit_fraction"], 100 * check["hit_fraction_sem"])
    figures.validation_histograms(eta[own], design["target"], tolerance, out.parent / "validation-histograms.png")
    if predicted is not None:
        figures.surrogate_vs_solver(eta[own], predicted[own], out.parent / "surrogate-vs-solver.png")
    return 0
